"""`csconsole stats` as a subprocess: the same figures as the dashboard, as text or JSON."""

import json
import os
import subprocess
import sys

from csconsole import stats
from tests.conftest import ANCHOR


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csconsole", *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TZ": "UTC"})


def test_json_is_what_the_dashboard_computes(workspace, monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    out = run("stats", "--json")
    assert out.returncode == 0, out.stderr
    printed = json.loads(out.stdout)
    with workspace.open_cache() as conn:
        expected = json.loads(stats.compute(conn, now=ANCHOR, day_start=ANCHOR - ANCHOR % 86400).to_json())
    assert printed == expected
    assert printed["at"] == ANCHOR and printed["agents"][0]["name"] == "Sam Okoye"
    assert len(printed["team"]["created_per_hour"]) == 24


def test_text_report_for_people(workspace):
    out = run("stats")
    assert out.returncode == 0, out.stderr
    with workspace.open_cache() as conn:
        figures = stats.compute(conn, now=ANCHOR)
    text = out.stdout
    assert text.startswith("Queue health · demo · 2026-11-18 11:06")
    assert f"Backlog          {figures.backlog:>6,}  new {figures.by_status['new']}" in text
    assert "SLA breached" in text and "Median first reply       today" in text
    sam = next(line for line in text.splitlines() if line.startswith("Sam Okoye"))
    assert sam.split()[2] == str(figures.agents[0].open)
    assert "(unassigned)" in text and "Approvals waiting: 0" in text


def test_workspace_without_a_cache_says_what_to_do(isolated):
    out = run("stats", "--json")
    assert out.returncode == 1
    assert "has no cache yet: run `csconsole sync` first" in out.stderr and out.stdout == ""


def test_help_lists_the_command():
    out = run("--help")
    assert out.returncode == 0 and "stats" in out.stdout
    out = run("stats", "--help")
    assert "--json" in out.stdout
