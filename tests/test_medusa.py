"""The Medusa adapter against a real Medusa 2.21 server (tests/medusa/start.sh); skipped without one.

Every test places its own orders through Medusa's store API (cart, shipping, payment session,
complete), so the tests do not depend on each other or on an earlier run.
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import httpx
import pytest

from csconsole.adapters import base
from csconsole.adapters.base import AccountSpec, Action
from csconsole.adapters.medusa import MedusaStore
from csconsole.store import db, outbox
from csconsole.sync.push import push_one

pytestmark = pytest.mark.medusa

PEER = Path(os.environ.get("CSCONSOLE_MEDUSA_DIR", "/var/tmp/csconsole-medusa")) / "peer.json"


def _peer() -> dict | None:
    try:
        peer = json.loads(PEER.read_text())
        httpx.get(peer["url"] + "/health", timeout=2).raise_for_status()
        peer["seed"] = json.loads(Path(peer["seed"]).read_text())
        return peer
    except (OSError, ValueError, KeyError, httpx.HTTPError):
        return None


PEER_INFO = _peer()
if PEER_INFO is None:
    pytest.skip("no Medusa server running (start one with tests/medusa/start.sh)", allow_module_level=True)


@pytest.fixture
def peer() -> dict:
    return PEER_INFO


@pytest.fixture
async def store(peer):
    adapter = MedusaStore(AccountSpec("medusa", "medusa", url=peer["url"], user=peer["email"]), peer["password"])
    yield adapter
    await adapter.aclose()


def admin(peer: dict) -> httpx.Client:
    client = httpx.Client(base_url=peer["url"], timeout=60)
    login = {"email": peer["email"], "password": peer["password"]}
    token = httpx.post(peer["url"] + "/auth/user/emailpass", json=login, timeout=60).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    return client


def place_order(peer: dict, email: str, items: dict[str, int], *, capture: bool = True, fulfill: bool = True) -> dict:
    """An order through the storefront's real checkout, then captured and shipped by an admin."""
    seed = peer["seed"]
    shop = httpx.Client(base_url=peer["url"], timeout=60, headers={"x-publishable-api-key": seed["publishable_key"]})

    def ok(response: httpx.Response) -> dict:
        assert response.status_code < 400, f"{response.request.url} -> {response.status_code} {response.text[:300]}"
        return response.json()

    address = {"first_name": "Ada", "last_name": "Buyer", "address_1": "1 Main St", "city": "Austin",
               "country_code": "us", "postal_code": "73301"}
    cart = ok(shop.post("/store/carts", json={
        "region_id": seed["region_id"], "email": email, "shipping_address": address, "billing_address": address,
        "items": [{"variant_id": seed["variants"][sku], "quantity": q} for sku, q in items.items()]}))["cart"]
    ok(shop.post(f"/store/carts/{cart['id']}/shipping-methods", json={"option_id": seed["shipping_option_id"]}))
    collection = ok(shop.post("/store/payment-collections", json={"cart_id": cart["id"]}))["payment_collection"]
    ok(shop.post(f"/store/payment-collections/{collection['id']}/payment-sessions",
                 json={"provider_id": "pp_system_default"}))
    order = ok(shop.post(f"/store/carts/{cart['id']}/complete"))["order"]
    shop.close()
    with admin(peer) as client:
        detail = ok(client.get(f"/admin/orders/{order['id']}",
                               params={"fields": "id,display_id,*items,*payment_collections.payments"}))["order"]
        if capture:
            ok(client.post(f"/admin/payments/{detail['payment_collections'][0]['payments'][0]['id']}/capture", json={}))
        if fulfill:
            ok(client.post(f"/admin/orders/{order['id']}/fulfillments", json={
                "location_id": seed["stock_location_id"],
                "items": [{"id": i["id"], "quantity": i["quantity"]} for i in detail["items"]]}))
    return detail


def action(kind: str, order_id: str, payload: dict) -> Action:
    return Action(outbox_id=1, kind=kind, payload=payload, idempotency_key=uuid.uuid4().hex, order_remote_id=order_id)


def refund_of(record, lines: dict[str, int], shipping: int = 0, amount: int | None = None) -> dict:
    by_id = {line.remote_id: line for line in record.lines}
    total = sum(by_id[line].unit_price * q for line, q in lines.items()) + shipping
    return {"currency": record.currency, "lines": [{"line": line, "quantity": q, "amount": by_id[line].unit_price * q}
                                                   for line, q in lines.items()],
            "shipping": shipping, "restock": False, "reason": "damaged", "note": "", "notify": False,
            "amount": total if amount is None else amount}


async def test_verify_and_find_orders_by_email_and_number(peer, store):
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    first = place_order(peer, email, {"SHIRT-M": 2, "MUG-W": 1})
    second = place_order(peer, email, {"MUG-W": 3}, fulfill=False)
    assert (await store.verify()).email == peer["email"]
    orders = await store.orders_for_customer(email)
    assert [o.remote_id for o in orders] == [second["id"], first["id"]]
    record = orders[1]
    assert record.currency == "USD" and record.financial_status == "paid" and record.fulfillment_status == "fulfilled"
    assert record.total == 2 * 2500 + 1250 + 1000 and record.paid == record.total and record.shipping == 1000
    assert {line.sku: line.unit_price for line in record.lines} == {"SHIRT-M": 2500, "MUG-W": 1250}
    named = await store.orders_for_customer("", (f"#{first['display_id']}",))
    assert [o.remote_id for o in named] == [first["id"]]


async def test_refund_exact_amount_once_and_never_more_than_paid(peer, store, tmp_path):
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    order = place_order(peer, email, {"MUG-W": 3}, fulfill=False)
    record = await store.get_order(order["id"])
    mug = record.lines[0].remote_id
    with pytest.raises(base.RejectedError, match="not the \\$20.00 that was confirmed"):
        await store.apply(action("refund", order["id"], refund_of(record, {mug: 1}, amount=2000)))
    act = action("refund", order["id"], refund_of(record, {mug: 1}, shipping=1000))
    result = await store.apply(act)
    assert result.detail == "refunded $22.50" and result.order.refunded == 2250
    assert result.order.financial_status == "partially_refunded"
    assert result.order.refunds[0].idempotency_key == act.idempotency_key

    # The answer was lost: the outbox row stayed 'sending', and the push looks before it resends.
    conn = db.connect(tmp_path / "cache.sqlite")
    conn.execute("INSERT INTO orders (remote_id, number, currency, created_at, financial_status, fulfillment_status)"
                 " VALUES (?, ?, 'USD', 0, 'paid', 'unfulfilled')", (order["id"], record.number))
    conn.execute("INSERT INTO outbox (order_id, kind, payload, idempotency_key, state, created_at) VALUES"
                 " (1, 'refund', ?, ?, 'sending', 0)", (json.dumps(act.payload), act.idempotency_key))
    row = outbox.Row.from_sql(conn.execute("SELECT * FROM outbox").fetchone())
    outcome = await push_one(conn, row, store)
    assert outcome.state == "sent"
    assert len((await store.get_order(order["id"])).refunds) == 1
    conn.close()

    left = await store.get_order(order["id"])
    too_much = refund_of(left, {mug: 3})
    with pytest.raises(base.RejectedError, match="more than the \\$25.00 still refundable"):
        await store.apply(action("refund", order["id"], too_much))
    assert (await store.get_order(order["id"])).refunded == 2250


async def test_return_requested_received_then_refunded(peer, store):
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    order = place_order(peer, email, {"SHIRT-M": 2})
    shirt = order["items"][0]["id"]
    create = action("return_create", order["id"], {"lines": [{"line": shirt, "quantity": 1}], "reason": "SIZE_TOO_SMALL",
                                                   "note": "too tight"})
    assert await store.find_applied(create) is None
    result = await store.apply(create)
    [ret] = result.order.returns
    assert ret.status == "requested" and ret.lines == ((shirt, 1),) and result.remote_id == ret.remote_id
    assert (await store.find_applied(create)).remote_id == ret.remote_id
    assert (await store.apply(create)).remote_id == ret.remote_id  # resumed, not made twice
    receive = action("return_receive", order["id"], {"return": ret.remote_id})
    received = await store.apply(receive)
    assert received.order.returns[0].status == "received" and len(received.order.returns) == 1
    assert (await store.find_applied(receive)).remote_id == ret.remote_id
    record = received.order
    refunded = await store.apply(action("refund", order["id"], refund_of(record, {shirt: 1})))
    assert refunded.order.refunded == 2500
    with pytest.raises(base.RejectedError, match="approve or decline"):
        await store.apply(action("return_approve", order["id"], {"return": ret.remote_id}))


async def test_cancel_an_unpaid_order(peer, store):
    email = f"{uuid.uuid4().hex[:10]}@example.test"
    order = place_order(peer, email, {"SHIRT-S": 1}, capture=False, fulfill=False)
    act = action("cancel", order["id"], {"reason": "CUSTOMER", "refund": False, "restock": True, "notify": False})
    assert await store.find_applied(act) is None
    result = await store.apply(act)
    assert result.order.fulfillment_status == "cancelled" and result.order.cancelled_at
    assert (await store.find_applied(act)).remote_id == order["id"]
