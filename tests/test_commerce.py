"""Refunds, returns and cancels: never more than was paid, limits, approvals, audit,
exactly once through the outbox against the demo store."""

import asyncio
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.commerce import approvals, refunds
from csconsole.commerce.actions import order_money
from csconsole.config import Policy
from csconsole.store import outbox
from csconsole.store.outbox import ActionError, Intent
from csconsole.sync.engine import SyncEngine

ME = "alex@northwind-outfitters.example"


def sync_orders(workspace, cache, ticket_id: int) -> None:
    async def go():
        engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)
        await engine.open()
        try:
            await engine.fetch_orders(ticket_id)
        finally:
            await engine.close()

    asyncio.run(go())


def push(workspace):
    async def go():
        engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)
        await engine.open()
        try:
            await engine.identify()
            return await engine.push_due()
        finally:
            await engine.close()

    return asyncio.run(go())


@pytest.fixture
def delivered(workspace, cache):
    """A ticket whose requester has a delivered multi-line order, orders loaded in the cache."""
    backend = DemoBackend(workspace.demo_backend)
    row = backend.conn.execute(
        """SELECT t.id AS ticket, o.id AS backend_order FROM ticket t JOIN orders o ON o.id = t.order_id
           JOIN fulfillment f ON f.order_id = o.id WHERE f.status = 'delivered' AND t.intent = 'damaged'
           AND (SELECT count(*) FROM order_line l WHERE l.order_id = o.id) >= 2 AND o.cancelled_at IS NULL
           ORDER BY t.id LIMIT 1""").fetchone()
    sync_orders(workspace, cache, row["ticket"])
    order = cache.execute("SELECT * FROM orders WHERE remote_id = ?", (str(row["backend_order"]),)).fetchone()
    return {"ticket": row["ticket"], "order": order["id"], "remote": order["remote_id"], "backend": backend}


def refund_intent(cache, order_id: int, ticket_id: int, picks: dict[str, int], shipping: int = 0, **extra) -> Intent:
    plan = refunds.plan_refund(order_money(cache, order_id), picks, shipping)
    return Intent("refund", ticket_id, {"lines": [{"line": k, "quantity": v} for k, v in picks.items()],
                                        "shipping": shipping, "reason": "damaged", "amount": plan.total,
                                        "currency": plan.currency, **extra}, order_id=order_id)


def first_line(cache, order_id: int) -> str:
    return cache.execute("SELECT remote_id FROM order_line WHERE order_id = ? ORDER BY id", (order_id,)).fetchone()[0]


def test_shares_add_up_to_what_was_paid():
    assert refunds.shares([1000, 2000, 3001], 6001) == [1000, 2000, 3001]
    shares = refunds.shares([999, 1, 5000], 5400)
    assert sum(shares) == 5400 and all(s >= 0 for s in shares)


@given(st.lists(st.integers(min_value=1, max_value=50_000), min_size=1, max_size=6),
       st.integers(min_value=0, max_value=200_000), st.integers(min_value=0, max_value=1500),
       st.data())
def test_random_partial_refunds_never_exceed_what_was_paid(totals, paid_goods, shipping, data):
    quantities = [data.draw(st.integers(min_value=1, max_value=4)) for _ in totals]
    lines = [{"id": str(n), "title": f"item {n}", "quantity": q, "total": t, "refunded_quantity": 0, "refunded_amount": 0}
             for n, (t, q) in enumerate(zip(totals, quantities))]
    paid = paid_goods + shipping
    refunded = shipping_refunded = 0
    for _ in range(data.draw(st.integers(min_value=1, max_value=12))):
        money = refunds.order_money(currency="USD", paid=paid, refunded=refunded, shipping=shipping,
                                    shipping_refunded=shipping_refunded, lines=lines)
        n = data.draw(st.integers(min_value=0, max_value=len(lines) - 1))
        qty = data.draw(st.integers(min_value=0, max_value=quantities[n] + 1))
        ship = data.draw(st.integers(min_value=0, max_value=shipping + 10))
        try:
            plan = refunds.plan_refund(money, {str(n): qty}, ship)
        except refunds.RefundError:
            continue
        for line_id, q, amount in plan.lines:
            lines[int(line_id)]["refunded_quantity"] += q
            lines[int(line_id)]["refunded_amount"] += amount
        refunded += plan.total
        shipping_refunded += plan.shipping
        assert refunded <= paid and shipping_refunded <= shipping
        assert all(line["refunded_quantity"] <= line["quantity"] for line in lines)
    # refunding everything that is left lands exactly on what was paid
    money = refunds.order_money(currency="USD", paid=paid, refunded=refunded, shipping=shipping,
                                shipping_refunded=shipping_refunded, lines=lines)
    rest = {line.line_id: line.refundable_quantity for line in money.lines if line.refundable_quantity}
    if rest or money.shipping_refundable:
        try:
            plan = refunds.plan_refund(money, rest, money.shipping_refundable)
            assert refunded + plan.total <= paid
        except refunds.RefundError:
            pass


def test_refund_above_refundable_never_reaches_the_outbox(delivered, cache):
    line = first_line(cache, delivered["order"])
    quantity = cache.execute("SELECT quantity FROM order_line WHERE remote_id = ? AND order_id = ?",
                             (line, delivered["order"])).fetchone()[0]
    bad = Intent("refund", delivered["ticket"], {"lines": [{"line": line, "quantity": quantity + 1}], "reason": "damaged"},
                 order_id=delivered["order"])
    with pytest.raises(ActionError, match="can still be refunded"):
        outbox.enqueue(cache, [bad], actor=ME)
    good = refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})
    tampered = Intent(good.kind, good.ticket_id, {**good.payload, "amount": good.payload["amount"] + 1},
                      order_id=good.order_id)
    with pytest.raises(ActionError, match="not the .* confirmed"):
        outbox.enqueue(cache, [tampered], actor=ME)
    assert cache.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_refund_local_effect_then_sent_once_with_audit(workspace, delivered, cache):
    line = first_line(cache, delivered["order"])
    intent = refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})
    before = order_money(cache, delivered["order"])
    [row_id] = outbox.enqueue(cache, [intent], actor=ME, policy=Policy(refund_limit=refunds_limit()))
    after = order_money(cache, delivered["order"])
    assert after.refundable == before.refundable - intent.payload["amount"]
    # the same refund again is refused: it already counts
    with pytest.raises(ActionError, match="can still be refunded"):
        outbox.enqueue(cache, [Intent("refund", delivered["ticket"], {"lines": [{"line": line, "quantity": 1}]},
                                      order_id=delivered["order"])], actor=ME)
    outcomes = push(workspace)
    assert [o.state for o in outcomes] == ["sent"]
    backend_refunds = delivered["backend"].conn.execute("SELECT * FROM refund WHERE order_id = ?",
                                                        (int(delivered["remote"]),)).fetchall()
    assert len(backend_refunds) == 1 and backend_refunds[0]["amount"] == intent.payload["amount"]
    audit = cache.execute("SELECT action, result, amount, currency, actor, order_id, ticket_id FROM audit"
                          " WHERE outbox_id = ? ORDER BY id", (row_id,)).fetchall()
    assert [(a["action"], a["result"]) for a in audit] == [("refund", "queued"), ("refund", "done")]
    assert audit[0]["amount"] == intent.payload["amount"] and audit[0]["actor"] == ME
    assert audit[0]["order_id"] == delivered["order"] and audit[0]["ticket_id"] == delivered["ticket"]
    # the cache now holds the store's refund, not the placeholder
    refunds_rows = cache.execute("SELECT remote_id FROM refund WHERE order_id = ?", (delivered["order"],)).fetchall()
    assert [r[0] for r in refunds_rows] == [str(backend_refunds[0]["id"])]


def refunds_limit():
    from decimal import Decimal

    return Decimal("100000")


def test_over_the_limit_waits_for_a_lead(workspace, delivered, cache):
    from decimal import Decimal

    line = first_line(cache, delivered["order"])
    intent = refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})
    [row_id] = outbox.enqueue(cache, [intent], actor=ME, policy=Policy(refund_limit=Decimal("0.01")))
    assert cache.execute("SELECT state FROM outbox WHERE id = ?", (row_id,)).fetchone()[0] == "approval"
    assert push(workspace) == []  # nothing is sent while it waits
    waiting = approvals.pending(cache)
    assert [(a.outbox_id, a.amount, a.requested_by) for a in waiting] == [(row_id, intent.payload["amount"], ME)]
    approvals.decline(cache, row_id, "dana@northwind-outfitters.example", "goodwill already given")
    assert order_money(cache, delivered["order"]).refundable == cache.execute(
        "SELECT paid - refunded FROM orders WHERE id = ?", (delivered["order"],)).fetchone()[0]
    [again] = outbox.enqueue(cache, [refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})],
                             actor=ME, policy=Policy(refund_limit=Decimal("0.01")))
    approvals.approve(cache, again, "dana@northwind-outfitters.example")
    assert [o.state for o in push(workspace)] == ["sent"]
    results = [r[0] for r in cache.execute("SELECT result FROM audit WHERE action IN ('refund', 'refund_approval')"
                                           " ORDER BY id")]
    assert results == ["awaiting_approval", "declined", "awaiting_approval", "approved", "done"]


def test_lost_answer_is_reconciled_without_a_second_refund(workspace, delivered, cache):
    line = first_line(cache, delivered["order"])
    [row_id] = outbox.enqueue(cache, [refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})], actor=ME)
    delivered["backend"].inject("store", "timeout_after_apply")
    assert [o.state for o in push(workspace)] == ["retry"]
    assert cache.execute("SELECT state, attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()[:] == ("sending", 1)
    cache.execute("UPDATE outbox SET not_before = 0")
    assert [o.state for o in push(workspace)] == ["sent"]
    assert cache.execute("SELECT attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()[0] == 1  # looked, not resent
    count = delivered["backend"].conn.execute("SELECT count(*) FROM refund WHERE order_id = ?",
                                              (int(delivered["remote"]),)).fetchone()[0]
    assert count == 1


def test_store_refusal_takes_the_local_effect_back(workspace, delivered, cache):
    line = first_line(cache, delivered["order"])
    intent = refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})
    before = order_money(cache, delivered["order"]).refundable
    [row_id] = outbox.enqueue(cache, [intent], actor=ME)
    # Meanwhile someone refunds the same line in the store itself.
    delivered["backend"].refund(int(delivered["remote"]), {line: cache.execute(
        "SELECT quantity FROM order_line WHERE order_id = ? AND remote_id = ?", (delivered["order"], line)).fetchone()[0]},
        0, restock=False, reason="other", note="", key="elsewhere")
    assert [o.state for o in push(workspace)] == ["failed"]
    row = cache.execute("SELECT state, last_error FROM outbox WHERE id = ?", (row_id,)).fetchone()
    assert "the store refused" in row["last_error"]
    assert order_money(cache, delivered["order"]).refundable == before
    assert cache.execute("SELECT result FROM audit WHERE outbox_id = ? ORDER BY id DESC", (row_id,)).fetchone()[0] == "failed"


def test_return_then_receive_and_cancel_rules(workspace, delivered, cache):
    line = first_line(cache, delivered["order"])
    [ret] = outbox.enqueue(cache, [Intent("return_create", delivered["ticket"], {
        "lines": [{"line": line, "quantity": 1}], "reason": "DEFECTIVE", "note": "seam split"},
        order_id=delivered["order"])], actor=ME)
    local = cache.execute("SELECT status, remote_id FROM order_return WHERE order_id = ?", (delivered["order"],)).fetchone()
    assert local["status"] == "open" and local["remote_id"] == f"outbox:{ret}"
    assert [o.state for o in push(workspace)] == ["sent"]
    remote = cache.execute("SELECT remote_id FROM order_return WHERE order_id = ?", (delivered["order"],)).fetchone()[0]
    outbox.enqueue(cache, [Intent("return_receive", delivered["ticket"], {"return": remote},
                                  order_id=delivered["order"])], actor=ME)
    assert [o.state for o in push(workspace)] == ["sent"]
    assert delivered["backend"].conn.execute("SELECT status FROM ret WHERE id = ?", (int(remote),)).fetchone()[0] == "received"
    with pytest.raises(ActionError, match="has shipped"):
        outbox.enqueue(cache, [Intent("cancel", delivered["ticket"], {"reason": "CUSTOMER"}, order_id=delivered["order"])],
                       actor=ME)


def test_cancel_an_unfulfilled_order_with_refund(workspace, cache):
    backend = DemoBackend(workspace.demo_backend)
    row = backend.conn.execute(
        """SELECT t.id AS ticket, t.order_id FROM ticket t JOIN orders o ON o.id = t.order_id
           WHERE t.intent = 'cancel' AND t.status IN ('new', 'open') AND o.cancelled_at IS NULL
           AND NOT EXISTS (SELECT 1 FROM fulfillment f WHERE f.order_id = o.id) LIMIT 1""").fetchone()
    sync_orders(workspace, cache, row["ticket"])
    order_id = cache.execute("SELECT id FROM orders WHERE remote_id = ?", (str(row["order_id"]),)).fetchone()[0]
    paid = cache.execute("SELECT paid FROM orders WHERE id = ?", (order_id,)).fetchone()[0]
    [cancel] = outbox.enqueue(cache, [Intent("cancel", row["ticket"], {"reason": "CUSTOMER", "refund": True,
                                                                      "restock": True}, order_id=order_id)], actor=ME)
    local = cache.execute("SELECT fulfillment_status, refunded FROM orders WHERE id = ?", (order_id,)).fetchone()
    assert local[:] == ("cancelled", paid)
    assert [o.state for o in push(workspace)] == ["sent"]
    b = backend.conn.execute("SELECT cancelled_at FROM orders WHERE id = ?", (row["order_id"],)).fetchone()
    assert b[0] is not None
    assert backend.conn.execute("SELECT sum(amount + shipping) FROM refund WHERE order_id = ?",
                                (row["order_id"],)).fetchone()[0] == paid
    assert json.loads(cache.execute("SELECT detail FROM audit WHERE outbox_id = ? ORDER BY id DESC",
                                    (cancel,)).fetchone()[0])["key"]


def test_undo_takes_a_queued_refund_back(delivered, cache):
    line = first_line(cache, delivered["order"])
    before = order_money(cache, delivered["order"]).refundable
    outbox.enqueue(cache, [refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})], actor=ME, grace=30)
    assert order_money(cache, delivered["order"]).refundable < before
    outbox.undo_last(cache, ME)
    assert order_money(cache, delivered["order"]).refundable == before
    assert cache.execute("SELECT count(*) FROM refund WHERE remote_id LIKE 'outbox:%'").fetchone()[0] == 0


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3), st.integers(0, 1200)), min_size=1, max_size=6))
def test_random_refund_sequences_through_the_outbox_stay_within_paid(delivered, cache, steps):
    lines = [r[0] for r in cache.execute("SELECT remote_id FROM order_line WHERE order_id = ? ORDER BY id",
                                         (delivered["order"],))]
    paid = cache.execute("SELECT paid FROM orders WHERE id = ?", (delivered["order"],)).fetchone()[0]
    for n, qty, shipping in steps:
        picks = {lines[n % len(lines)]: qty}
        try:
            intent = refund_intent(cache, delivered["order"], delivered["ticket"], picks, shipping)
            outbox.enqueue(cache, [intent], actor=ME)
        except (refunds.RefundError, ActionError):
            pass
        refunded = cache.execute("SELECT refunded FROM orders WHERE id = ?", (delivered["order"],)).fetchone()[0]
        assert refunded <= paid
    outbox.undo_last(cache)  # leave the fixture's order as we found it for the next example
    while outbox.undo_last(cache):
        pass
