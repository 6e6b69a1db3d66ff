"""`csconsole accounts` as a subprocess: config edits, keyring or environment, verify against a fake Zendesk."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.zendesk import FakeZendesk

REPO = Path(__file__).resolve().parent.parent
TOKEN = "zd-cli-t0ken-never-shown"
CONFIG_TEXT = """\
# Team console settings: keep this comment.
workspace = "demo"  # the default stays the demo

[ui]
undo_seconds = 3  # a short grace
"""


def run(*args: str, stdin: str | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    out = subprocess.run([sys.executable, "-m", "csconsole", *args], input=stdin, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "PYTHONPATH": str(REPO), **(env or {})})
    assert "Traceback" not in out.stderr, out.stderr
    assert TOKEN not in out.stdout + out.stderr
    return out


@pytest.fixture
def config(isolated) -> Path:
    path = Path(os.environ["CSCONSOLE_CONFIG"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(CONFIG_TEXT)
    return path


@pytest.fixture
def keyring_file(isolated, monkeypatch) -> Path:
    path = isolated / "keyring.json"
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "tests.keyring_file_backend.FileKeyring")
    monkeypatch.setenv("CSCONSOLE_TEST_KEYRING", str(path))
    return path


@pytest.fixture
def zd():
    with FakeZendesk() as fake:
        fake.add_user("Ada Admin", "ada@acme.example", "admin", token=TOKEN)
        fake.add_user("Al Agent", "al@acme.example", "agent", token="agent-" + TOKEN)
        jane = fake.add_user("Jane Doe", "jane@example.com")
        for n in range(3):
            fake.add_ticket(f"Order #{1000 + n} missing", jane)
        yield fake


def listing() -> dict:
    out = run("accounts", "list", "--json")
    assert out.returncode == 0, out.stderr
    return {row["name"]: row for row in json.loads(out.stdout)}


def test_without_a_keyring_it_says_to_use_the_environment_and_still_writes(config):
    out = run("accounts", "add", "zd", "--adapter", "zendesk", "--url", "https://acme.zendesk.com",
              "--user", "ada@acme.example", "--option", "view=360001", "--option", "auth=oauth", "--secret-stdin",
              stdin=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert "no system keyring" in out.stderr and "CSCONSOLE_SECRET_ZD" in out.stderr
    text = config.read_text()
    assert text.startswith(CONFIG_TEXT)  # comments and layout kept
    assert '[accounts.zd]\nadapter = "zendesk"\nurl = "https://acme.zendesk.com"\nuser = "ada@acme.example"' in text
    assert '[accounts.zd.options]\nview = 360001\nauth = "oauth"' in text and TOKEN not in text
    row = listing()["zd"]
    assert row["secret"] == "missing: no keyring on this machine; set CSCONSOLE_SECRET_ZD"
    assert row["options"] == {"view": 360001, "auth": "oauth"} and row["workspaces"] == []
    out = run("accounts", "list", "--json", env={"CSCONSOLE_SECRET_ZD": TOKEN})
    assert json.loads(out.stdout)[0]["secret"] == "environment variable CSCONSOLE_SECRET_ZD"
    out = run("accounts", "verify", "zd")  # the way out, not `add` (which refuses an existing account)
    assert out.returncode == 1 and "set CSCONSOLE_SECRET_ZD" in out.stderr and "accounts remove zd" in out.stderr


def test_keyring_path_add_list_verify_sync_remove(config, keyring_file, zd):
    out = run("accounts", "add", "zd", "--adapter", "zendesk", "--url", zd.server.url, "--user", "ada@acme.example",
              "--workspace", "acme", "--secret-stdin", stdin=TOKEN + "\n")
    assert out.returncode == 0, out.stderr
    assert "token is in the system keyring" in out.stderr and "csconsole -w acme" in out.stderr
    assert json.loads(keyring_file.read_text()) == {"csconsole/zd": TOKEN}
    assert TOKEN not in config.read_text() and '[workspaces.acme]\nhelpdesk = "zd"' in config.read_text()
    assert listing()["zd"] | {"options": None} == {"name": "zd", "adapter": "zendesk", "url": zd.server.url,
                                                   "user": "ada@acme.example", "options": None,
                                                   "secret": "system keyring", "workspaces": ["acme"]}
    out = run("accounts", "verify", "zd")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "zd: OK, signed in as Ada Admin <ada@acme.example> (admin); sync mode: incremental export"
    synced = run("sync", "--json", "-w", "acme")
    assert synced.returncode == 0 and json.loads(synced.stdout)["tickets"] == 3, synced.stderr
    # A second account, unused by any workspace, goes away with its keyring entry.
    out = run("accounts", "add", "fd", "--adapter", "freshdesk", "--url", "https://acme.freshdesk.com",
              "--secret-stdin", stdin="fd-key\n")
    assert out.returncode == 0 and json.loads(keyring_file.read_text())["csconsole/fd"] == "fd-key"
    out = run("accounts", "remove", "fd")
    assert out.returncode == 0, out.stderr
    assert "fd" not in listing() and "csconsole/fd" not in json.loads(keyring_file.read_text())
    assert "[accounts.fd]" not in config.read_text() and config.read_text().startswith(CONFIG_TEXT)
    out = run("accounts", "remove", "zd")
    assert out.returncode == 1 and out.stderr.strip() == (
        "csconsole: account 'zd' is used by workspace acme: point it at another account first")


def test_verify_failures_are_one_line(config, keyring_file, zd):
    for name, url, token in (("zd", zd.server.url, "wrong-token"), ("agent", zd.server.url, "agent-" + TOKEN),
                             ("dead", "http://127.0.0.1:1", TOKEN)):
        user = "al@acme.example" if name == "agent" else "ada@acme.example"
        assert run("accounts", "add", name, "--adapter", "zendesk", "--url", url, "--user", user, "--secret-stdin",
                   stdin=token + "\n").returncode == 0
    out = run("accounts", "verify", "zd")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1
    assert out.stderr.startswith("csconsole: zd: bad credentials:") and "401" in out.stderr
    out = run("accounts", "verify", "agent", "--json")
    assert out.returncode == 0 and json.loads(out.stdout)["mode"] == "search (no incremental export with this token)"
    out = run("accounts", "verify", "dead")
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "cannot connect" in out.stderr
    out = run("accounts", "verify", "ghost")
    assert out.returncode == 2 and "no account named 'ghost'" in out.stderr
    out = run("accounts", "verify", "zd", env={"PYTHON_KEYRING_BACKEND": "keyring.backends.null.Keyring"})
    assert out.returncode == 1 and "CSCONSOLE_SECRET_ZD" in out.stderr


def test_refusals_write_nothing(config):
    cases = [
        (["zd", "--adapter", "zendesk", "--url", "http://acme.zendesk.com"], 2, "use https"),
        (["zd", "--adapter", "zendesk"], 2, "--url is required"),
        (["bad name", "--adapter", "zendesk", "--url", "https://a.example"], 2, "cannot name an account"),
        (["demo", "--adapter", "zendesk", "--url", "https://a.example"], 2, "cannot name an account"),
        (["zd", "--adapter", "nosuch", "--url", "https://a.example"], 2, "no adapter named 'nosuch'"),
        (["zd", "--adapter", "zendesk", "--url", "https://a.example", "--option", "token=abc"], 2, "secrets do not go"),
        (["zd", "--adapter", "zendesk", "--url", "https://a.example", "--option", "novalue"], 2, "KEY=VALUE"),
    ]
    for args, code, words in cases:
        out = run("accounts", "add", *args, "--secret-stdin", stdin=TOKEN + "\n")
        assert out.returncode == code and words in out.stderr, (args, out.stderr)
    out = run("accounts", "add", "zd", "--adapter", "zendesk", "--url", "https://a.example", "--secret-stdin", stdin="\n")
    assert out.returncode == 1 and "no token given" in out.stderr
    # From a script without --secret-stdin there is no terminal to ask on: say how, never a traceback.
    out = run("accounts", "add", "zd", "--adapter", "zendesk", "--url", "https://a.example", stdin="")
    assert out.returncode == 2 and "no terminal to ask for zd's token" in out.stderr and "--secret-stdin" in out.stderr
    assert config.read_text() == CONFIG_TEXT
    assert run("accounts", "add", "zd", "--adapter", "zendesk", "--url", "http://127.0.0.1:8089", "--secret-stdin",
               stdin="x\n").returncode == 0  # plain http is fine on loopback
    out = run("accounts", "add", "zd", "--adapter", "zendesk", "--url", "https://b.example", "--secret-stdin", stdin="x\n")
    assert out.returncode == 1 and "already exists" in out.stderr
    out = run("accounts", "remove", "nobody")
    assert out.returncode == 2 and "no account named 'nobody'" in out.stderr


def test_add_creates_a_missing_config_file(isolated):
    path = Path(os.environ["CSCONSOLE_CONFIG"])
    assert not path.exists()
    out = run("accounts", "add", "shop", "--adapter", "zendesk", "--url", "https://acme.zendesk.com", "--secret-stdin",
              stdin="t\n")
    assert out.returncode == 0, out.stderr
    assert path.read_text() == '[accounts.shop]\nadapter = "zendesk"\nurl = "https://acme.zendesk.com"\n'
    out = run("accounts", "list")
    assert out.returncode == 0 and out.stdout.startswith("shop: zendesk https://acme.zendesk.com")
