"""The real program in a real terminal, as a newcomer starts it."""

import pytest

from tests.tmux import Terminal, csconsole_env

pytestmark = pytest.mark.tmux


def test_newcomer_opens_the_demo_and_a_ticket(isolated):
    term = Terminal(160, 45)
    try:
        term.start([], csconsole_env(isolated))
        term.wait_for("My open", timeout=30)
        term.wait_for("demo workspace")
        term.wait_for("synced", timeout=30)
        term.wait_for("tickets  ·  1/", timeout=30)  # rows are on screen
        term.wait_for("Subject") and term.wait_for("Requester")
        term.keys("j")
        term.wait_for("tickets  ·  2/")
        term.keys("Enter")
        term.wait_for("Back to queue")
        term.wait_for("Customer ·")  # the thread, which loads just after the screen
        term.wait_for("lifetime")  # the requester's spend in the orders panel
        term.keys("Escape")
        term.wait_for("Views")
        term.keys("?")
        term.wait_for("Keys on this screen")
        term.keys("Escape", "q")
        term.wait_for("EXITED-0")
    finally:
        term.close()
