"""The README's two commands are the ones that work, and CI runs the test command verbatim."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands() -> list[str]:
    text = (ROOT / "README.md").read_text()
    setup = text.split("## Set up", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```sh\n(.+?)\n```", setup)


def test_exactly_two_setup_commands():
    run, test = commands()
    assert run.endswith(".venv/bin/csconsole")
    assert "pytest" in test


def test_ci_runs_the_readme_test_command():
    _, test = commands()
    assert test in (ROOT / ".ci" / "run").read_text().splitlines()
