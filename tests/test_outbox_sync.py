"""Outbox and sync engine against the demo backend: local effects, undo, exactly-once push."""

import asyncio
import json

import pytest

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.store import outbox
from csconsole.store.outbox import ActionError, Intent
from csconsole.sync.engine import SyncEngine

ME = "alex@northwind-outfitters.example"


def engine_for(workspace) -> SyncEngine:
    return SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)


def push(workspace):
    async def go():
        engine = engine_for(workspace)
        await engine.open()
        try:
            await engine.identify()
            outcomes = await engine.push_due()
            await engine.pull_once()
            return outcomes
        finally:
            await engine.close()

    return asyncio.run(go())


def open_ticket(cache) -> int:
    return cache.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]


def test_local_effect_is_instant_and_undo_restores(cache):
    tid = open_ticket(cache)
    before = dict(cache.execute("SELECT status, tags, message_count, sla_due_at FROM ticket WHERE id = ?", (tid,)).fetchone())
    outbox.enqueue(cache, [Intent("reply", tid, {"body": "Your parcel is on the way."}),
                           Intent("status", tid, {"status": "pending"}),
                           Intent("tags", tid, {"add": ["wismo-answered"]})], actor=ME, grace=5)
    row = cache.execute("SELECT status, tags, message_count, pending_actions FROM ticket WHERE id = ?", (tid,)).fetchone()
    assert row["status"] == "pending" and "wismo-answered" in row["tags"].split()
    assert row["message_count"] == before["message_count"] + 1 and row["pending_actions"] == 3
    local = cache.execute("SELECT body, outbox_id FROM message WHERE ticket_id = ? ORDER BY id DESC LIMIT 1", (tid,)).fetchone()
    assert local["body"] == "Your parcel is on the way." and local["outbox_id"]
    undone = outbox.undo_last(cache, ME)
    assert [r.kind for r in undone] == ["reply", "status", "tags"]
    after = dict(cache.execute("SELECT status, tags, message_count, sla_due_at FROM ticket WHERE id = ?", (tid,)).fetchone())
    assert after == before
    assert cache.execute("SELECT count(*) FROM message WHERE outbox_id IS NOT NULL").fetchone()[0] == 0
    assert {r[0] for r in cache.execute("SELECT state FROM outbox")} == {"undone"}
    assert outbox.undo_last(cache, ME) == []


def test_bad_actions_write_nothing(cache):
    tid = open_ticket(cache)
    for intent in (Intent("reply", tid, {"body": "   "}), Intent("status", tid, {"status": "done"}),
                   Intent("priority", tid, {"priority": "extreme"}), Intent("assign", tid, {"assignee": "ghost@x"}),
                   Intent("refund", tid, {"amount": 5})):
        with pytest.raises(ActionError):
            outbox.enqueue(cache, [Intent("status", tid, {"status": "solved"}), intent], actor=ME)
    assert cache.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert cache.execute("SELECT status FROM ticket WHERE id = ?", (tid,)).fetchone()[0] == "open"


def test_push_reaches_the_backend_once_and_in_order(workspace, cache):
    tid = open_ticket(cache)
    outbox.enqueue(cache, [Intent("note", tid, {"body": "Checked with the warehouse."})], actor=ME)
    outbox.enqueue(cache, [Intent("reply", tid, {"body": "Hi! It ships tomorrow."})], actor=ME)
    outbox.enqueue(cache, [Intent("status", tid, {"status": "pending"})], actor=ME)
    outcomes = push(workspace)
    assert [o.state for o in outcomes] == ["sent", "sent", "sent"]
    backend = DemoBackend(workspace.demo_backend)
    thread = backend.thread(tid)
    assert [m["body"] for m in thread[-2:]] == ["Checked with the warehouse.", "Hi! It ships tomorrow."]
    assert [m["public"] for m in thread[-2:]] == [0, 1]
    assert backend.ticket(tid)["status"] == "pending"
    # The cache agrees after the pull, with no duplicated messages.
    cached = [r[0] for r in cache.execute("SELECT body FROM message WHERE ticket_id = ? ORDER BY created_at, id", (tid,))]
    assert cached.count("Hi! It ships tomorrow.") == 1
    assert cache.execute("SELECT pending_actions, status FROM ticket WHERE id = ?", (tid,)).fetchone()[:] == (0, "pending")


def test_grace_holds_actions_until_it_ends(workspace, cache):
    tid = open_ticket(cache)
    outbox.enqueue(cache, [Intent("reply", tid, {"body": "Held for undo"})], actor=ME, grace=60)
    assert push(workspace) == []
    ids = [r[0] for r in cache.execute("SELECT id FROM outbox")]
    outbox.send_now(cache, ids)
    assert [o.state for o in push(workspace)] == ["sent"]


def test_rate_limit_and_5xx_wait_and_retry(workspace, cache):
    tid = open_ticket(cache)
    backend = DemoBackend(workspace.demo_backend)
    outbox.enqueue(cache, [Intent("priority", tid, {"priority": "urgent"})], actor=ME)
    backend.inject("apply", "rate_limit", retry_after=0)
    first = push(workspace)
    assert [o.state for o in first] == ["retry"]
    backend.inject("apply", "server_error")
    cache.execute("UPDATE outbox SET not_before = 0")
    assert [o.state for o in push(workspace)] == ["retry"]
    cache.execute("UPDATE outbox SET not_before = 0")
    assert [o.state for o in push(workspace)] == ["sent"]
    assert backend.ticket(tid)["priority"] == 4
    row = cache.execute("SELECT attempts, state FROM outbox").fetchone()
    assert row["state"] == "sent" and row["attempts"] == 3


def test_lost_answer_is_reconciled_not_resent(workspace, cache):
    tid = open_ticket(cache)
    backend = DemoBackend(workspace.demo_backend)
    outbox.enqueue(cache, [Intent("reply", tid, {"body": "Exactly once, please."})], actor=ME)
    backend.inject("apply", "timeout_after_apply")
    assert [o.state for o in push(workspace)] == ["retry"]
    assert cache.execute("SELECT state FROM outbox").fetchone()[0] == "sending"
    cache.execute("UPDATE outbox SET not_before = 0")
    assert [o.state for o in push(workspace)] == ["sent"]
    assert sum(m["body"] == "Exactly once, please." for m in backend.thread(tid)) == 1


def test_conflict_pauses_the_ticket_until_the_agent_decides(workspace, cache):
    tid = open_ticket(cache)
    backend = DemoBackend(workspace.demo_backend)
    backend.customer_message(tid, "Hello?? Anyone there?")
    outbox.enqueue(cache, [Intent("status", tid, {"status": "solved"})], actor=ME)
    outbox.enqueue(cache, [Intent("tags", tid, {"add": ["followup"]})], actor=ME)
    outcomes = push(workspace)
    assert [o.state for o in outcomes] == ["conflict"]
    conflict = cache.execute("SELECT * FROM outbox WHERE state = 'conflict'").fetchone()
    assert json.loads(conflict["result"])["remote"]["message_count"] >= 2
    assert backend.ticket(tid)["status"] == "open"
    # Local effect stays while the agent decides; the tag action waits behind it.
    assert cache.execute("SELECT status FROM ticket WHERE id = ?", (tid,)).fetchone()[0] == "solved"
    outbox.retry(cache, conflict["id"], rebase=True)
    assert [o.state for o in push(workspace)] == ["sent", "sent"]
    assert backend.ticket(tid)["status"] == "solved" and "followup" in backend.ticket(tid)["tags"].split()


def test_discarding_a_conflict_takes_back_its_local_effect(workspace, cache):
    tid = open_ticket(cache)
    DemoBackend(workspace.demo_backend).customer_message(tid, "one more thing")
    outbox.enqueue(cache, [Intent("priority", tid, {"priority": "low"})], actor=ME)
    push(workspace)
    conflict = cache.execute("SELECT id FROM outbox WHERE state = 'conflict'").fetchone()[0]
    outbox.discard(cache, conflict)
    assert cache.execute("SELECT priority FROM ticket WHERE id = ?", (tid,)).fetchone()[0] != 1


def test_pull_keeps_unsent_local_effects(workspace, cache):
    tid = open_ticket(cache)
    outbox.enqueue(cache, [Intent("status", tid, {"status": "hold"})], actor=ME, grace=60)
    DemoBackend(workspace.demo_backend).customer_message(tid, "new info")
    push(workspace)  # pulls the customer's message; the hold is still in its grace
    assert cache.execute("SELECT status, pending_actions FROM ticket WHERE id = ?", (tid,)).fetchone()[:] == ("hold", 1)


def test_offline_backend_keeps_everything_local(workspace, cache):
    tid = open_ticket(cache)
    workspace.demo_backend.rename(workspace.demo_backend.with_suffix(".gone"))
    outbox.enqueue(cache, [Intent("reply", tid, {"body": "still here"})], actor=ME)

    async def go():
        engine = engine_for(workspace)
        with pytest.raises(Exception):
            await engine.open()

    asyncio.run(go())
    assert cache.execute("SELECT state FROM outbox").fetchone()[0] == "pending"


def test_only_queue_heads_go_and_set_the_next_wakeup(cache):
    """Each ticket's actions go one at a time, oldest first; a queue headed by a failed
    action waits for the agent and neither sends nor wakes the worker."""
    first, second = [r[0] for r in cache.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 2")]
    outbox.enqueue(cache, [Intent("priority", first, {"priority": "high"}),
                           Intent("status", first, {"status": "pending"})], actor=ME, grace=30)
    outbox.enqueue(cache, [Intent("priority", second, {"priority": "high"})], actor=ME, grace=60)
    heads = {r.ticket_id: r for r in outbox.ready(cache, now=10**12)}
    assert set(heads) == {first, second} and heads[first].kind == "priority"
    assert outbox.ready(cache, now=0) == []
    earliest = outbox.next_wakeup(cache)
    assert earliest == heads[first].not_before < heads[second].not_before
    outbox.mark_failed(cache, heads[first].id, "rejected by the helpdesk")
    assert [r.ticket_id for r in outbox.ready(cache, now=10**12)] == [second]  # its status change waits too
    assert outbox.next_wakeup(cache) == heads[second].not_before
    outbox.mark_failed(cache, heads[second].id, "rejected by the helpdesk")
    assert outbox.next_wakeup(cache) is None
