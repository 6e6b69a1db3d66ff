"""Pictures of the main screens (pytest-textual-snapshot), with the clock fixed and sync off.

Review a changed snapshot in snapshot_report.html before updating with --snapshot-update.
"""

from csconsole.app import CSConsole
from csconsole.widgets.ticket_list import TicketList
from tests.pilot import wait_for


async def _queue_ready(pilot) -> None:
    ticket_list = await wait_for(pilot, lambda: pilot.app.screen.query_one(TicketList))
    await wait_for(pilot, lambda: ticket_list.current is not None)
    await wait_for(pilot, lambda: "…" not in str(pilot.app.screen.query_one("#views").render()), what="view counts")


def test_queue_screen(workspace, snap_compare):
    """The landing queue: My open, sorted by SLA, with counts of every view."""

    async def run_before(pilot) -> None:
        await _queue_ready(pilot)
        await pilot.press("j", "j")

    assert snap_compare(CSConsole(workspace, sync=False), run_before=run_before, terminal_size=(160, 40))


def test_ticket_screen(workspace, snap_compare):
    """A ticket with a multi-message thread, notes marked, requester and orders beside it."""
    with workspace.open_cache() as conn:
        tid = conn.execute("SELECT t.id FROM ticket t WHERE t.message_count BETWEEN 4 AND 6 AND EXISTS"
                           " (SELECT 1 FROM message m WHERE m.ticket_id = t.id AND m.public = 0)"
                           " ORDER BY t.id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE person SET orders_synced_at = 1")

    async def run_before(pilot) -> None:
        await _queue_ready(pilot)
        pilot.app.open_ticket(tid)
        await wait_for(pilot, lambda: pilot.app.screen.detail is not None)
        await wait_for(pilot, lambda: pilot.app.screen.query(".message"))
        await pilot.pause()

    assert snap_compare(CSConsole(workspace, sync=False), run_before=run_before, terminal_size=(160, 45))


def test_a_dialog_keeps_the_ticket_in_sight(workspace, snap_compare):
    """A chooser (here the status keys) sits over the ticket, dimmed, not over a blank page:
    the agent still reads the thread while deciding."""
    with workspace.open_cache() as conn:
        tid = conn.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
        conn.execute("UPDATE person SET orders_synced_at = 1")

    async def run_before(pilot) -> None:
        from csconsole.screens.pickers import KeyChoice

        await _queue_ready(pilot)
        pilot.app.open_ticket(tid)
        await wait_for(pilot, lambda: pilot.app.screen.query(".message"))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.pause()

    assert snap_compare(CSConsole(workspace, sync=False), run_before=run_before, terminal_size=(120, 35))
