"""The outbox screen: pending, failed and conflicting actions, retry, re-apply, discard."""

import asyncio

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.screens.outbox import OutboxScreen
from csconsole.screens.ticket import TicketScreen
from csconsole.store import outbox
from csconsole.store.outbox import Intent
from tests.pilot import screen_text, wait_for
from tests.test_outbox_sync import ME, open_ticket, push
from tests.test_triage import app_for, ready


async def test_conflict_shown_then_reapplied(workspace, cache):
    tid = open_ticket(cache)
    DemoBackend(workspace.demo_backend).customer_message(tid, "Hello? Still waiting")
    outbox.enqueue(cache, [Intent("status", tid, {"status": "solved"})], actor=ME)
    outbox.enqueue(cache, [Intent("note", tid, {"body": "will not go"})], actor=ME, grace=3600)
    await asyncio.to_thread(push, workspace)
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("O")
        screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, OutboxScreen) and pilot.app.screen)
        await wait_for(pilot, lambda: len(screen.rows) == 2)
        text = screen_text(pilot.app)
        assert "conflict" in text and "status → solved" in text and "internal note" in text
        await pilot.pause(0.2)
        assert "The ticket changed in the helpdesk" in str(screen.query_one("#outbox-detail").render())
        await pilot.press("r")
        await wait_for(pilot, lambda: cache.execute("SELECT state FROM outbox WHERE kind = 'status'").fetchone()[0]
                       == "pending")
        await wait_for(pilot, lambda: screen.rows[0]["state"] == "pending", what="the list reloaded after the retry")
        await pilot.pause(0.5)
        await pilot.press("down", "S")
        await wait_for(pilot, lambda: cache.execute("SELECT not_before FROM outbox WHERE kind = 'note'").fetchone()[0] == 0)
        await pilot.press("up", "enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen))
    assert [o.state for o in await asyncio.to_thread(push, workspace)] == ["sent", "sent"]
    assert DemoBackend(workspace.demo_backend).ticket(tid)["status"] == "solved"


async def test_failed_action_discarded_with_its_local_effect(workspace, cache):
    tid = open_ticket(cache)
    outbox.enqueue(cache, [Intent("assign", tid, {"assignee": "sam@northwind-outfitters.example"})], actor=ME)
    DemoBackend(workspace.demo_backend).conn.execute("DELETE FROM agent WHERE email = 'sam@northwind-outfitters.example'")
    assert [o.state for o in await asyncio.to_thread(push, workspace)] == ["failed"]
    before = cache.execute("SELECT undo FROM outbox").fetchone()[0]
    assert before
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("O")
        screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, OutboxScreen) and pilot.app.screen)
        await wait_for(pilot, lambda: screen.rows)
        assert "Refused:" in str(screen.query_one("#outbox-detail").render())
        await pilot.press("d")
        await wait_for(pilot, lambda: cache.execute("SELECT state FROM outbox").fetchone()[0] == "discarded")
        await wait_for(pilot, lambda: not screen.rows)
        assert "Nothing waiting" in str(screen.query_one("#outbox-detail").render())
