"""Shopify refunds, returns and cancels against the contract fake: exactly once, never more than paid."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csconsole.adapters import base
from csconsole.adapters.base import AccountSpec, Action
from csconsole.adapters.shopify import ShopifyStore
from csconsole.adapters.shopify import documents as gql
from csconsole.store import db, outbox
from csconsole.sync.push import push_one
from tests.fakes.server import FakeServer, Reply
from tests.fakes.shopify import LOCATION, Line, Order, ShopifyFake

RETURN_REQUEST = """
mutation Req($input: ReturnRequestInput!) {
  returnRequest(input: $input) { return { id status name } userErrors { field message code } }
}
"""


@pytest.fixture
def fake():
    with FakeServer() as server:
        yield ShopifyFake(server)


class Sleeps(list):
    async def __call__(self, seconds: float) -> None:
        self.append(seconds)


def make_store(fake: ShopifyFake, **options) -> ShopifyStore:
    spec = AccountSpec(name="northwind", adapter="shopify", url=fake.url, options={"timeout": 5.0, **options})
    store = ShopifyStore(spec, fake.token)
    store.graphql.sleep = Sleeps()
    return store


def action(kind: str, order: Order, payload: dict, key: str | None = None) -> Action:
    return Action(outbox_id=1, kind=kind, payload=payload, idempotency_key=key or uuid.uuid4().hex,
                  ticket_remote_id="ZD-35436", order_remote_id=order.id)


def refund(order: Order, lines: list[tuple[Line, int]] = (), shipping: int = 0, amount: int | None = None,
           restock: bool = False, key: str | None = None) -> Action:
    total = sum(line.price * q for line, q in lines) + shipping
    return action("refund", order, {
        "currency": order.currency, "lines": [{"line": line.id, "quantity": q, "amount": line.price * q} for line, q in lines],
        "shipping": shipping, "restock": restock, "reason": "damaged", "note": "arrived torn", "notify": True,
        "amount": total if amount is None else amount}, key)


# ----------------------------------------------------------------------------- refunds


async def test_refund_of_one_line_and_shipping(fake):
    order = fake.add_order(lines=[("Canvas Tote", 2, 2495)], shipping=495)
    tote = order.lines[0]
    store = make_store(fake)
    act = refund(order, [(tote, 1)], shipping=495, restock=True)
    result = await store.apply(act)
    [made] = order.refunds
    assert result.remote_id == made.id and result.detail == "refunded €29.90"
    assert made.total == 2990 and made.shipping == 495
    assert made.lines == [(tote.id, 1, 2495, 0, "RETURN", LOCATION)]
    assert made.transactions[0].parent == order.transactions[0].id and made.transactions[0].kind == "REFUND"
    assert f"[csconsole {act.idempotency_key}]" in made.note and "ticket ZD-35436" in made.note
    sent = json.loads(fake.server.calls("POST", r"/admin/api/.*")[-2].body)
    assert f'@idempotent(key: "{act.idempotency_key}")' in sent["query"]
    assert sent["variables"]["input"]["currency"] == "EUR" and sent["variables"]["input"]["notify"] is True
    after = result.order
    assert (after.financial_status, after.refunded, after.shipping_refunded) == ("partially_refunded", 2990, 495)
    assert after.lines[0].refunded_quantity == 1 and after.lines[0].refunded_amount == 2495
    assert after.refunds[0].idempotency_key == act.idempotency_key and after.refunds[0].note.startswith("csconsole: damaged")
    await store.aclose()


async def test_restock_of_unshipped_items_cancels_them_into_the_configured_location(fake):
    order = fake.add_order(fulfilled=False)
    store = make_store(fake, location="gid://shopify/Location/9")
    await store.apply(refund(order, [(order.lines[0], 2)], restock=True))
    assert order.refunds[0].lines[0][4:] == ("CANCEL", "gid://shopify/Location/9")
    await store.aclose()


@pytest.mark.parametrize("case, message", [
    ("more items than bought", "only 2 of line"),
    ("amount differs", "Shopify computes €24.95 for this refund, not the €20.00"),
    ("tax not confirmed", "Shopify computes €54.90"),
    ("shipping refunded twice", "of shipping is still refundable"),
    ("wrong currency", "is in EUR"),
    ("nothing", "needs lines or shipping"),
])
async def test_a_refund_shopify_prices_differently_is_refused_before_money_moves(fake, case, message):
    order = fake.add_order(lines=[("Canvas Tote", 2, 2495)], shipping=495, tax=250 if case == "tax not confirmed" else 0)
    tote = order.lines[0]
    store = make_store(fake)
    if case == "shipping refunded twice":
        await store.apply(refund(order, shipping=495))
    act = {"more items than bought": refund(order, [(tote, 3)]),
           "amount differs": refund(order, [(tote, 1)], amount=2000),
           "tax not confirmed": refund(order, [(tote, 2)]),
           "shipping refunded twice": refund(order, shipping=495),
           "wrong currency": refund(order, [(tote, 1)]),
           "nothing": refund(order)}[case]
    if case == "wrong currency":
        act = Action(**{**act.__dict__, "payload": {**act.payload, "currency": "USD"}})
    before = (len(fake.calls("refundCreate")), len(order.refunds))
    with pytest.raises(base.RejectedError, match=message) as info:
        await store.apply(act)
    assert "nothing was refunded" in str(info.value) or case in ("wrong currency", "nothing")
    assert (len(fake.calls("refundCreate")), len(order.refunds)) == before
    await store.aclose()


async def test_user_errors_on_http_200_are_rejections_in_shopifys_words(fake):
    order = fake.add_order()
    store = make_store(fake)
    fake.fail_next("refundCreate", Reply(200, {"data": {"refundCreate": {"refund": None, "order": None, "userErrors": [
        {"field": ["transactions", "0", "amount"], "message": "Amount cannot exceed the refundable amount"}]}}}))
    with pytest.raises(base.RejectedError, match=r"Amount cannot exceed the refundable amount \[transactions.0.amount\]"):
        await store.apply(refund(order, [(order.lines[0], 1)]))
    assert order.refunds == []
    await store.aclose()


def raw_refund(order: Order, amount: str) -> dict:
    return {"orderId": order.id, "note": "by hand", "transactions": [
        {"orderId": order.id, "parentId": order.transactions[0].id, "gateway": "shopify_payments", "kind": "REFUND",
         "amount": amount}]}


async def test_the_fake_honours_idempotent_keys_and_refuses_over_refunds(fake):
    order = fake.add_order(lines=[("Canvas Tote", 2, 2495)], shipping=0)
    store = make_store(fake)
    key = uuid.uuid4().hex
    first = await store.graphql.run(gql.refund_create(key), {"input": raw_refund(order, "10.00")}, write=True)
    again = await store.graphql.run(gql.refund_create(key), {"input": raw_refund(order, "10.00")}, write=True)
    assert first["refundCreate"]["refund"]["id"] == again["refundCreate"]["refund"]["id"] and len(order.refunds) == 1
    with pytest.raises(base.RejectedError, match="already saw this refund's key"):
        await store.graphql.run(gql.refund_create(key), {"input": raw_refund(order, "11.00")}, write=True)
    over = await store.graphql.run(gql.refund_create(uuid.uuid4().hex), {"input": raw_refund(order, "49.00")}, write=True)
    assert over["refundCreate"]["refund"] is None
    assert over["refundCreate"]["userErrors"][0]["message"] == "Amount cannot exceed the refundable amount"
    without = gql.refund_create(key).replace(f'@idempotent(key: "{key}")', "")
    with pytest.raises(base.RejectedError, match="@idempotent"):
        await store.graphql.run(without, {"input": raw_refund(order, "1.00")}, write=True)
    assert len(order.refunds) == 1
    with pytest.raises(ValueError):
        gql.refund_create('x") { injected }')
    await store.aclose()


async def test_applying_the_same_refund_twice_moves_money_once(fake):
    order = fake.add_order()
    store = make_store(fake)
    act = refund(order, [(order.lines[0], 1)])
    first = await store.apply(act)
    second = await store.apply(act)
    assert second.remote_id == first.remote_id and second.detail == "already refunded"
    assert len(order.refunds) == 1 and len(fake.calls("refundCreate")) == 1
    await store.aclose()


async def test_refund_pending_at_the_gateway_says_so(fake):
    order = fake.add_order()
    fake.refund_status = "PENDING"
    store = make_store(fake)
    result = await store.apply(refund(order, [(order.lines[0], 1)]))
    assert result.detail.endswith("(pending at the payment gateway)")
    assert result.order.payments[-1].status == "pending"
    await store.aclose()


# ----------------------------------------------------------------------------- exactly once through the push path


def queue_refund(conn, order: Order, act: Action) -> outbox.Row:
    conn.execute("INSERT INTO orders (remote_id, number, currency, created_at, financial_status, fulfillment_status)"
                 " VALUES (?, ?, ?, 0, 'paid', 'fulfilled')", (order.id, order.name, order.currency))
    order_id = conn.execute("SELECT id FROM orders WHERE remote_id = ?", (order.id,)).fetchone()[0]
    conn.execute("INSERT INTO outbox (order_id, kind, payload, idempotency_key, state, created_at)"
                 " VALUES (?, 'refund', ?, ?, 'pending', 0)", (order_id, json.dumps(act.payload), act.idempotency_key))
    return reload(conn, act.idempotency_key)


def reload(conn, key: str) -> outbox.Row:
    return outbox.Row.from_sql(conn.execute("SELECT * FROM outbox WHERE idempotency_key = ?", (key,)).fetchone())


@pytest.fixture
def conn(tmp_path):
    connection = db.connect(tmp_path / "cache.sqlite")
    yield connection
    connection.close()


async def test_a_refund_whose_answer_is_lost_is_applied_exactly_once(fake, conn):
    order = fake.add_order()
    store = make_store(fake, timeout=0.5)
    act = refund(order, [(order.lines[0], 1)])
    row = queue_refund(conn, order, act)
    fake.delay_next("refundCreate", 1.5)  # Shopify refunds, then the answer arrives too late
    first = await push_one(conn, row, store)
    assert first.state == "retry" and "timed out" in first.message
    row = reload(conn, act.idempotency_key)
    assert row.state == "sending"  # ambiguous: look before sending again
    assert len(order.refunds) == 1
    second = await push_one(conn, row, store)
    row = reload(conn, act.idempotency_key)
    assert second.state == "sent" and row.state == "sent" and row.result["remote_id"] == order.refunds[0].id
    assert len(order.refunds) == 1 and len(fake.calls("refundCreate")) == 1
    await store.aclose()


async def test_a_refund_lost_before_it_landed_is_sent_again_once(fake, conn):
    order = fake.add_order()
    store = make_store(fake)
    act = refund(order, [(order.lines[0], 1)])
    row = queue_refund(conn, order, act)
    fake.fail_next("refundCreate", Reply(502, {"errors": "Bad gateway"}))
    assert (await push_one(conn, row, store)).state == "retry"
    row = reload(conn, act.idempotency_key)
    assert row.state == "sending" and order.refunds == []
    assert (await push_one(conn, row, store)).state == "sent"
    assert len(order.refunds) == 1 and order.refunds[0].total == order.lines[0].price
    await store.aclose()


async def test_a_throttled_refund_waits_and_is_not_ambiguous(fake, conn):
    order = fake.add_order()
    store = make_store(fake)
    act = refund(order, [(order.lines[0], 1)])
    row = queue_refund(conn, order, act)
    fake.fail_next("refundCreate", Reply(200, {"errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED"}}],
                                              "extensions": {"cost": {"requestedQueryCost": 40, "actualQueryCost": None,
                                                                      "throttleStatus": {"maximumAvailable": 2000.0,
                                                                                         "currentlyAvailable": 10,
                                                                                         "restoreRate": 100.0}}}}))
    outcome = await push_one(conn, row, store)
    assert outcome.state == "retry" and outcome.pause == pytest.approx(0.3)
    assert reload(conn, act.idempotency_key).state == "pending" and order.refunds == []
    await store.aclose()


# ----------------------------------------------------------------------------- never more than paid


@pytest.fixture(scope="module")
def shared_fake():
    """One shop for every example; its bucket refills fast (throttling has its own tests)."""
    with FakeServer() as server:
        yield ShopifyFake(server, restore_rate=1e6)


steps = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 3), st.sampled_from([0, 200, 495, 700]),
                           st.sampled_from([0, 0, 1, -1, 999])), min_size=1, max_size=5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=steps, attack=st.integers(1, 20000))
def test_random_partial_refunds_never_exceed_what_was_paid(shared_fake, plan, attack):
    fake = shared_fake
    order = fake.add_order(lines=[("Canvas Tote", 2, 2495), ("Wool Socks", 3, 1200)], shipping=495)

    async def go():
        store = make_store(fake)
        moved = []
        try:
            for line_index, quantity, shipping, fudge in plan:
                line = order.lines[line_index]
                act = refund(order, [(line, quantity)] if quantity else [], shipping=shipping)
                act = Action(**{**act.__dict__, "payload": {**act.payload, "amount": act.payload["amount"] + fudge}})
                before = order.refunded
                try:
                    await store.apply(act)
                except base.RejectedError:
                    assert order.refunded == before  # refused: nothing moved
                else:
                    moved.append(act.payload["amount"])
                    assert order.refunded - before == act.payload["amount"]  # exactly what was confirmed
            # Going around the adapter does not help either: the fake itself refuses an over-refund.
            room = order.paid - order.refunded
            raw = await store.graphql.run(gql.refund_create(uuid.uuid4().hex),
                                          {"input": raw_refund(order, f"{(room + attack) / 100:.2f}")}, write=True)
            assert raw["refundCreate"]["refund"] is None and raw["refundCreate"]["userErrors"]
            record = await store.get_order(order.id)
        finally:
            await store.aclose()
        return moved, record

    moved, record = asyncio.run(go())
    assert order.refunded == sum(moved) <= order.paid
    assert all(order.refunded_quantity(x.id) <= x.quantity for x in order.lines)
    assert order.shipping_refunded <= order.shipping
    assert record.refunded == order.refunded and sum(r.amount + r.shipping for r in record.refunds) == order.refunded


# ----------------------------------------------------------------------------- returns


async def customer_requests(store: ShopifyStore, order: Order, quantity: int = 1) -> str:
    fli = order.fulfillments[0].lines[0][0]
    data = await store.graphql.run(RETURN_REQUEST, {"input": {"orderId": order.id, "returnLineItems": [
        {"fulfillmentLineItemId": fli, "quantity": quantity, "returnReason": "WRONG_ITEM",
         "customerNote": "Ordered the wrong colour"}]}}, write=True)
    assert data["returnRequest"]["return"]["status"] == "REQUESTED"
    return data["returnRequest"]["return"]["id"]


async def test_requested_return_approved_then_received(fake):
    order = fake.add_order()
    store = make_store(fake)
    return_id = await customer_requests(store, order)
    approve = action("return_approve", order, {"return": return_id})
    assert await store.find_applied(approve) is None
    result = await store.apply(approve)
    assert result.remote_id == return_id and result.detail == f"return {order.name}-R1 open"
    assert result.order.returns[0].status == "open" and result.order.lines[0].returned_quantity == 1
    assert (await store.find_applied(approve)).remote_id == return_id
    with pytest.raises(base.RejectedError, match="Only returns with status REQUESTED can be approved"):
        await store.apply(approve)  # Shopify's own words on a second approve
    receive = action("return_receive", order, {"return": return_id})
    assert await store.find_applied(receive) is None
    result = await store.apply(receive)
    assert order.returns[0].status == "CLOSED" and order.returns[0].lines[0].processed == 1
    assert result.order.returns[0].status == "closed" and order.refunds == []  # receiving moves no money
    assert (await store.find_applied(receive)).remote_id == return_id
    assert fake.calls("returnProcess")[0]["input"] == {
        "returnId": return_id, "returnLineItems": [{"id": order.returns[0].lines[0].id, "quantity": 1}],
        "notifyCustomer": False}
    await store.aclose()


async def test_requested_return_declined_with_reason_and_note(fake):
    order = fake.add_order()
    store = make_store(fake)
    return_id = await customer_requests(store, order)
    decline = action("return_decline", order, {"return": return_id, "reason": "RETURN_PERIOD_ENDED",
                                               "note": "Outside 30 days"})
    result = await store.apply(decline)
    record = result.order.returns[0]
    assert (record.status, record.decline_reason, record.note) == ("declined", "RETURN_PERIOD_ENDED", "Outside 30 days")
    assert (await store.find_applied(decline)).remote_id == return_id
    with pytest.raises(base.RejectedError, match="unknown decline reason"):
        await store.apply(action("return_decline", order, {"return": return_id, "reason": "TOO_LATE"}))
    await store.aclose()


async def test_return_created_across_parcels_and_found_after_a_lost_answer(fake):
    order = fake.add_order(lines=[("Canvas Tote", 3, 2495)], split=True)  # shipped as 2 + 1
    store = make_store(fake)
    create = action("return_create", order, {"lines": [{"line": order.lines[0].id, "quantity": 3}],
                                             "reason": "DEFECTIVE", "note": "seams open"})
    fake.delay_next("returnCreate", 1.5)
    store.http.client.timeout = 0.5
    with pytest.raises(base.TransientError) as info:
        await store.apply(create)
    assert info.value.maybe_applied
    found = await store.find_applied(create)
    [ret] = order.returns
    assert found.remote_id == ret.id and [x.quantity for x in ret.lines] == [2, 1]
    assert found.order.returns[0].lines == ((order.lines[0].id, 3),) and found.order.returns[0].note == "seams open"
    assert (await store.apply(create)).detail == "already created"
    more = action("return_create", order, {"lines": [{"line": order.lines[0].id, "quantity": 1}], "reason": "DEFECTIVE"})
    with pytest.raises(base.RejectedError, match="only shipped items can be returned"):
        await store.apply(more)  # all three are already on a return
    assert len(fake.calls("returnCreate")) == 1
    await store.aclose()


async def test_return_rules_checked_before_sending(fake):
    order = fake.add_order(fulfilled=False)
    store = make_store(fake)
    line = order.lines[0].id
    with pytest.raises(base.RejectedError, match="needs a note"):
        await store.apply(action("return_create", order, {"lines": [{"line": line, "quantity": 1}], "reason": "OTHER"}))
    with pytest.raises(base.RejectedError, match="only shipped items"):
        await store.apply(action("return_create", order, {"lines": [{"line": line, "quantity": 1}], "reason": "STYLE"}))
    assert fake.calls("returnCreate") == []
    await store.aclose()


# ----------------------------------------------------------------------------- cancel


def cancel(order: Order, **payload) -> Action:
    return action("cancel", order, {"reason": "CUSTOMER", "refund": True, "restock": True, "notify": True,
                                    "note": "customer changed their mind", **payload})


async def test_cancel_waits_for_the_job_and_refunds_to_the_original_payment(fake):
    order = fake.add_order(fulfilled=False)
    store = make_store(fake)
    act = cancel(order)
    assert await store.find_applied(act) is None
    result = await store.apply(act)
    assert result.detail == "cancelled and refunded" and result.order.fulfillment_status == "cancelled"
    assert result.order.financial_status == "refunded" and result.order.refunded == order.paid
    assert order.cancel_reason == "CUSTOMER" and order.staff_note == "customer changed their mind"
    assert fake.calls("orderCancel")[0] == {
        "orderId": order.id, "reason": "CUSTOMER", "restock": True,
        "refundMethod": {"originalPaymentMethodsRefund": True}, "notifyCustomer": True,
        "staffNote": "customer changed their mind"}
    assert len(fake.calls("job")) == 2 and store.graphql.sleep == [0.5, 1.0]
    assert (await store.find_applied(act)).remote_id == order.id
    with pytest.raises(base.RejectedError, match="already been cancelled"):
        await store.apply(act)
    await store.aclose()


async def test_cancel_without_refund_and_of_a_shipped_order(fake):
    order = fake.add_order(fulfilled=False)
    store = make_store(fake)
    result = await store.apply(cancel(order, refund=False, restock=False))
    assert result.detail == "cancelled" and order.refunds == [] and fake.calls("orderCancel")[0]["refundMethod"] is None
    shipped = fake.add_order()
    with pytest.raises(base.RejectedError, match="Cannot cancel an order that has been fulfilled"):
        await store.apply(cancel(shipped))
    await store.aclose()


async def test_a_slow_cancel_job_goes_back_to_the_outbox_as_maybe_applied(fake):
    order = fake.add_order(fulfilled=False)
    fake.cancel_polls = 100
    store = make_store(fake)
    act = cancel(order)
    with pytest.raises(base.TransientError) as info:
        await store.apply(act)
    assert info.value.maybe_applied and order.cancelled_at is None
    fake.cancel_polls = 0
    next(iter(fake.jobs.values())).looks_left = 1
    await store.graphql.run(gql.JOB, {"id": next(iter(fake.jobs))})  # Shopify finishes meanwhile
    assert (await store.find_applied(act)).remote_id == order.id
    await store.aclose()
