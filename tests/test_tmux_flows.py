"""Issues 4, 5 and 6 as a new user tries them, in the real program in a real terminal."""

import json
import sqlite3
from pathlib import Path

import pytest

from tests.tmux import Terminal, csconsole_env

pytestmark = pytest.mark.tmux


def outbox(isolated: Path) -> list[tuple]:
    db = isolated / "data" / "workspaces" / "demo.sqlite"
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT kind, ticket_id, payload FROM outbox WHERE state != 'undone' ORDER BY id").fetchall()
    finally:
        conn.close()


def start(isolated: Path, config: str = "") -> Terminal:
    if config:
        path = isolated / "config" / "config.toml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config, encoding="utf-8")
    term = Terminal(170, 48)
    term.start([], csconsole_env(isolated))
    term.wait_for("synced", timeout=40)
    term.wait_for("tickets  ·  1/", timeout=30)
    return term


def test_search_reply_and_solve_flow(isolated):
    """/ search, open, reply, solve: the next ticket of the search opens by itself."""
    term = start(isolated)
    try:
        term.keys("/")
        term.type("status:open")
        term.keys("Enter")
        term.wait_for("search: status:open")
        term.keys("Enter")
        screen = term.wait_for("Back to queue")
        first = screen.splitlines()[0].split()[0]  # "#40123"
        term.keys("r")
        term.wait_for("Public reply to")
        term.type("Thanks for your patience, it ships today.")
        term.keys("C-s")
        term.wait_for("sending in")
        term.keys("s")
        term.wait_for("Status")
        term.keys("s")
        screen = term.wait_for("status → solved")
        for _ in range(50):
            screen = term.screen()
            if screen.splitlines()[0].split()[0] != first:
                break
            term.wait_for("Back to queue")
        assert screen.splitlines()[0].split()[0] != first, screen
        kinds = [k for k, *_ in outbox(isolated)]
        assert kinds[:2] == ["reply", "status"]
    finally:
        term.close()


def test_a_new_macro_file_appears_and_applies(isolated):
    macros = isolated / "config" / "macros"
    macros.mkdir(parents=True)
    (macros / "thanks-and-hold.toml").write_text(
        'name = "Thanks and hold"\n'
        'description = "Acknowledge and put the ticket on hold"\n'
        'key = "h"\n'
        'reply = """\nHi {{ requester.first_name }},\n\nThanks, we are on it.\n\n{{ agent.first_name }}\n"""\n'
        '[actions]\nstatus = "hold"\n', encoding="utf-8")
    term = start(isolated)
    try:
        term.keys("Enter")
        term.wait_for("Back to queue")
        term.keys("m")
        term.wait_for("Macros")
        term.type("thanks and")
        screen = term.wait_for("Thanks and hold")
        term.wait_for("Thanks, we are on it.")
        term.keys("Enter")
        term.wait_for("hold ·")  # applied at once in the ticket's header
        rows = outbox(isolated)
        assert [k for k, *_ in rows] == ["reply", "status"]
        assert "Thanks, we are on it." in json.loads(rows[0][2])["body"] and "{{" not in json.loads(rows[0][2])["body"]
        assert "Thanks and hold" in screen
    finally:
        term.close()


def test_refund_one_line_of_a_damaged_item(isolated):
    term = start(isolated, '[policy]\nphoto_required_reasons = []\n')
    try:
        term.keys("/")
        term.type("tag:damaged status:unsolved")
        term.keys("Enter")
        term.wait_for("search: tag:damaged")
        term.keys("Enter")
        term.wait_for("refundable", timeout=30)
        term.keys("R")
        term.wait_for("Refund on order")
        term.keys("1")
        screen = term.wait_for("Refund $") if "$" in term.screen() else term.wait_for("Refund ")
        amount_line = next(line for line in screen.splitlines() if "│ Refund " in line and "on order" not in line)
        amount = amount_line.split("Refund ", 1)[1].split()[0]  # like $74.52 or €74.00
        term.keys("C-s")
        term.wait_for("Refund exactly")
        term.keys("y")
        term.wait_for("Refund confirmation", timeout=30)
        screen = term.wait_for(amount.lstrip("$€£").split(".")[0], timeout=30)
        assert "Refund confirmation" in screen
        rows = outbox(isolated)
        assert rows[0][0] == "refund"
    finally:
        term.close()
