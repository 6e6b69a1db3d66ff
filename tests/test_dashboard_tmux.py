"""The dashboard in a real terminal, driven the way a team lead new to it would: find the
keys with ?, open the dashboard, spot the most loaded agent, list their tickets and move
three of them to someone else; then check the cache and the outbox."""

import re
import time

import pytest

from tests.tmux import Terminal, csconsole_env

pytestmark = pytest.mark.tmux

AGENTS = ("Sam Okoye", "Alex Rivera", "Priya Shah", "Marco Bianchi", "Hana Sato", "Jordan Lee", "Elena Petrova",
          "Dana Whitfield")


def open_counts(screen: str) -> dict[str, int]:
    """The Open column of the agents table, as read off the screen."""
    counts = {}
    for line in screen.splitlines():
        health = line.rsplit("▊", 1)[-1]
        for name in AGENTS:
            match = re.match(rf"\s*{name}\s+(\d+)\s", health)
            if match:
                counts[name] = int(match.group(1))
    return counts


def test_lead_moves_three_tickets_off_the_most_loaded_agent(workspace, isolated):
    with workspace.open_cache() as conn:
        sams = {r[0] for r in conn.execute("SELECT t.id FROM ticket t JOIN person p ON p.id = t.assignee_id"
                                           " WHERE p.name = 'Sam Okoye' AND t.unsolved = 1")}
    term = Terminal(160, 45)
    try:
        term.start([], csconsole_env(isolated))
        term.wait_for("tickets  ·  1/", timeout=30)
        term.keys("?")
        term.wait_for("Keys on this screen")
        term.wait_for("Lead dashboard")  # the g d chord is listed (the overlay may fill in over two frames)
        term.keys("Escape", "g", "d")
        screen = term.wait_for("Agents", timeout=15)
        screen = term.wait_for("(unassigned)", timeout=15)
        loads = open_counts(screen)
        busiest = max(loads, key=loads.get)
        assert busiest == "Sam Okoye" and loads[busiest] == len(sams)
        term.keys("Tab", "Tab")  # list → SLA table → agents table, cursor on the top (busiest) row
        term.keys("Enter")
        term.wait_for('assignee:"Sam Okoye" status:unsolved')
        term.wait_for(f"{len(sams)} tickets  ·  1/{len(sams)}")
        term.keys("x", "x", "x")
        term.wait_for("3 selected")
        term.keys("A")
        term.wait_for("Assign 3 tickets to")
        term.keys("p", "r", "i", "y", "a")
        term.wait_for("Priya Shah")
        term.keys("Enter")
        term.wait_for("to 3 tickets?")
        term.keys("y")
        term.wait_for("assign → Priya Shah on 3 tickets")
        term.wait_for(f"{len(sams) - 3} tickets  ·  ", timeout=15)  # the queue side follows
        deadline = time.monotonic() + 30
        while open_counts(term.screen()).get("Sam Okoye") != len(sams) - 3:  # and the health side, next round
            assert time.monotonic() < deadline, term.screen()
            time.sleep(0.1)
        term.keys("q")
        term.wait_for("EXITED-0", timeout=20)
    finally:
        term.close()
    with workspace.open_cache() as conn:
        rows = conn.execute("SELECT ticket_id, payload, state FROM outbox WHERE kind = 'assign'").fetchall()
        moved = {r[0] for r in rows}
        holders = {r[0] for r in conn.execute(
            f"SELECT p.name FROM ticket t JOIN person p ON p.id = t.assignee_id WHERE t.id IN ({','.join('?' * len(moved))})",
            sorted(moved))}
    assert len(rows) == 3 and moved <= sams
    assert all('"priya@northwind-outfitters.example"' in r[1] for r in rows)
    assert {r[2] for r in rows} <= {"pending", "sending", "sent"}
    assert holders == {"Priya Shah"}
