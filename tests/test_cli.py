"""The csconsole command as a subprocess: exit codes, messages, JSON."""

import json
import os
import subprocess
import sys
from pathlib import Path

from csconsole import __version__


def run(*args: str, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csconsole", *args], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, **(env or {})})


def test_version_and_help():
    out = run("--version")
    assert out.returncode == 0 and out.stdout.strip() == f"csconsole {__version__}"
    out = run("--help")
    assert out.returncode == 0 and "demo" in out.stdout and "sync" in out.stdout


def test_version_does_not_load_textual():
    code = "import sys; from csconsole.cli import main\ntry:\n main(['--version'])\nexcept SystemExit: pass\nprint('textual' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.splitlines()[-1] == "False"


def test_sync_builds_the_demo_and_reports_json(isolated):
    out = run("sync", "--json")
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["tickets"] == 1000 and result["error"] is None
    again = json.loads(run("sync", "--json").stdout)
    assert again["tickets"] == 0


def test_demo_builds_a_bigger_named_workspace(isolated):
    out = run("demo", "--tickets", "2500", "--seed", "3", "--workspace", "demo-big")
    assert out.returncode == 0, out.stderr
    assert "2,500 tickets" in out.stderr and "csconsole --workspace demo-big" in out.stderr
    assert (isolated / "data" / "workspaces" / "demo-big.sqlite").exists()
    assert run("demo", "--tickets", "0").returncode == 2


def test_config_error_is_one_clear_line(isolated):
    config = Path(os.environ["CSCONSOLE_CONFIG"])
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text('[ui]\nundo_seconds = "soon"\n')
    out = run("sync")
    assert out.returncode == 2
    assert out.stderr.strip() == f'csconsole: config error: {config}:2: [ui] undo_seconds: expected a number, got \'soon\''
    assert "Traceback" not in out.stderr


def test_flags_override_the_environment(tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text('[ui\n')
    out = run("--config", str(config), "--data-dir", str(tmp_path / "d"), "sync")
    assert out.returncode == 2 and str(config) in out.stderr


def test_unknown_workspace(isolated):
    out = run("--workspace", "acme", "sync")
    assert out.returncode == 2 and "no workspace named 'acme'" in out.stderr
