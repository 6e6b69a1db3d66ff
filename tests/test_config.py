from pathlib import Path

import pytest

from csconsole import config as cfg


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_missing_file_means_defaults(tmp_path):
    conf = cfg.load(tmp_path / "nope.toml")
    assert conf.workspace == "demo"
    assert [v.name for v in conf.views][:2] == ["My open", "Unassigned"]
    assert conf.current_workspace().helpdesk == "demo"


def test_full_config_is_read(tmp_path):
    path = write(tmp_path, """
workspace = "acme"

[accounts.acme-zd]
adapter = "zendesk"
url = "https://acme.zendesk.com/"
user = "agent@acme.com"

[workspaces.acme]
helpdesk = "acme-zd"
store = "demo"

[policy]
return_window_days = 45
refund_limit = "200.00"
refund_limits = { "lead@acme.com" = "5000" }

[ui]
undo_seconds = 3

[[views]]
name = "VIP"
query = "tag:vip status:unsolved"
sort = "priority"

[keys]
"list.down" = "n"
""")
    conf = cfg.load(path)
    assert conf.workspace == "acme"
    assert conf.accounts["acme-zd"].url == "https://acme.zendesk.com"
    assert conf.current_workspace().helpdesk == "acme-zd"
    assert str(conf.policy.limit_for("lead@acme.com")) == "5000"
    assert str(conf.policy.limit_for("someone")) == "200.00"
    assert conf.ui.undo_seconds == 3.0
    assert conf.views[-1].name == "VIP" and conf.views[-1].sort == "priority"
    assert conf.keys == {"list.down": "n"}
    assert conf.keys_lines["list.down"] == 27


@pytest.mark.parametrize("text, line, words", [
    ('workspace = "demo"\n[ui\nundo_seconds = 2\n', 2, "not valid TOML"),
    ('[ui]\nundo_seconds = "soon"\n', 2, "undo_seconds: expected a number"),
    ('[policy]\n\nrefund_limit = 12.5\n', 3, 'amount in quotes'),
    ('[sync]\ninterval = 0\n', 2, "at least 1 second"),
    ('[accounts.zd]\nadapter = "zendesk"\ntoken = "abc123456"\n', 3, "secrets do not belong"),
    ('[accounts.zd]\nurl = "https://x"\n', 1, "missing adapter"),
    ('[workspaces.w]\nhelpdesk = "nowhere"\n', 2, "no [accounts.nowhere]"),
    ('[[views]]\nname = "A"\n[[views]]\nname = "B"\nquery = "status:bogus"\n', 5, "unknown status"),
    ('[[views]]\nname = "A"\nsort = "random"\n', 3, "unknown sort"),
    ('[colours]\nx = 1\n', 1, "unknown setting"),
    ('[keys]\n"list.down" = 5\n', 2, "expected keys in quotes"),
])
def test_mistakes_name_file_and_line(tmp_path, text, line, words):
    path = write(tmp_path, text)
    with pytest.raises(cfg.ConfigError) as info:
        cfg.load(path)
    assert info.value.line == line, str(info.value)
    assert words in str(info.value)
    assert str(info.value).startswith(f"{path}:{line}: ")


def test_unknown_workspace_is_explained(tmp_path):
    path = write(tmp_path, 'workspace = "acme"\n')
    with pytest.raises(cfg.ConfigError, match=r"no \[workspaces.acme\]"):
        cfg.load(path)
