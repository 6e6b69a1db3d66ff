"""The Shopify adapter's reads, errors and throttling against the contract fake on loopback."""

from __future__ import annotations

import pytest

from csconsole.adapters import base, http
from csconsole.adapters.base import AccountSpec
from csconsole.adapters.registry import adapter_names, load_adapter
from csconsole.adapters.shopify import ShopifyStore
from csconsole.adapters.shopify import documents as gql
from csconsole.adapters.shopify.transport import CostBucket, throttle_wait
from tests.fakes.server import FakeServer, Reply
from tests.fakes.shopify import ShopifyFake


class Clock:
    """One clock for the fake's bucket and the adapter's; the adapter's sleep moves it."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def fake():
    with FakeServer() as server:
        yield ShopifyFake(server)


def make_store(fake: ShopifyFake, clock: Clock | None = None, **options) -> ShopifyStore:
    spec = AccountSpec(name="northwind", adapter="shopify", url=fake.url, options={"timeout": 5.0, **options})
    store = ShopifyStore(spec, fake.token)
    clock = clock or Clock()
    store.graphql.sleep = clock.sleep
    store.graphql.bucket.clock = clock
    return store


async def test_registered_under_its_name():
    assert "shopify" in adapter_names()
    assert load_adapter("shopify") is ShopifyStore
    assert ShopifyStore.capabilities >= {base.ORDERS, base.REFUND, base.RETURNS, base.CANCEL}


def test_https_only_and_shop_names():
    with pytest.raises(base.AdapterError, match="plain http"):
        ShopifyStore(AccountSpec("s", "shopify", url="http://northwind.myshopify.com"), "t")
    with pytest.raises(base.AdapterError, match="not a shop name"):
        ShopifyStore(AccountSpec("s", "shopify", options={"shop": "evil.example/x"}), "t")
    store = ShopifyStore(AccountSpec("s", "shopify", options={"shop": "northwind"}), "shpat_x1")
    assert store.http.base_url == "https://northwind.myshopify.com"
    assert "shpat_x1" not in repr(store)


async def test_verify_names_the_shop_version_and_order_window(fake):
    store = make_store(fake)
    identity = await store.verify()
    assert identity.name == "Northwind Outfitters" and identity.role == "store"
    assert f"Admin GraphQL {gql.API_VERSION}" in identity.mode and "last 60 days" in identity.mode
    sent = fake.server.requests[-1]
    assert sent.path == f"/admin/api/{gql.API_VERSION}/graphql.json"
    assert {k.lower(): v for k, v in sent.headers.items()}["x-shopify-access-token"] == fake.token
    fake.scopes.add("read_all_orders")
    assert "all orders" in (await store.verify()).mode
    await store.aclose()


async def test_bad_token_is_an_auth_error_without_the_token(fake):
    store = ShopifyStore(AccountSpec("s", "shopify", url=fake.url), "shpat_wrong_secret_value")
    with pytest.raises(base.AuthError) as info:
        await store.verify()
    assert "Invalid API key" in str(info.value) and "shpat_wrong_secret_value" not in str(info.value)
    # Even a server that echoes the token back never gets it into a message.
    fake.server.queue("POST", r"/admin/api/.*", Reply(403, {"errors": f"token {fake.token} lacks read_orders"}))
    good = make_store(fake)
    with pytest.raises(base.RejectedError) as info:
        await good.verify()
    assert fake.token not in str(info.value) and "lacks read_orders" in str(info.value)
    await store.aclose()
    await good.aclose()


async def test_orders_by_email_and_by_number_mapped_to_records(fake):
    old = fake.add_order(email="jane@example.com", days_ago=90, name="#0900")
    mine = fake.add_order(email="Jane@Example.com", days_ago=2, lines=[("Canvas Tote", 2, 2495), ("Wool Socks", 1, 1200)],
                          shipping=495, tax=0, split=True)
    older = fake.add_order(email="jane@example.com", days_ago=20, fulfilled=False)
    named = fake.add_order(email="other@example.com", days_ago=1, name="#4242")
    fake.add_order(email="someone@example.com")
    store = make_store(fake)
    orders = await store.orders_for_customer("jane@example.com", ("4242", "#0900", "not a number!"))
    assert [o.remote_id for o in orders] == [named.id, mine.id, older.id]  # newest first; #0900 is past 60 days
    assert old.id not in {o.remote_id for o in orders}
    o = orders[1]
    assert (o.number, o.currency, o.financial_status, o.fulfillment_status) == (mine.name, "EUR", "paid", "fulfilled")
    assert (o.subtotal, o.shipping, o.total, o.paid, o.refunded) == (6190, 495, 6685, 6685, 0)
    assert o.email == "Jane@Example.com" and o.customer.name == "Jane Doe"
    tote = o.lines[0]
    assert (tote.title, tote.quantity, tote.unit_price, tote.total, tote.fulfilled_quantity) == ("Canvas Tote", 2, 2495,
                                                                                                 4990, 2)
    assert len(o.fulfillments) == 2 and o.fulfillments[0].carrier == "UPS" and o.fulfillments[0].status == "delivered"
    assert o.payments[0].kind == "sale" and o.payments[0].amount == 6685 and o.payments[0].status == "success"
    assert orders[2].fulfillment_status == "unfulfilled"
    fake.scopes.add("read_all_orders")
    assert old.id in {o.remote_id for o in await store.orders_for_customer("jane@example.com", ("#0900",))}
    await store.aclose()


async def test_customer_text_cannot_add_search_terms(fake):
    fake.add_order(email="jane@example.com")
    store = make_store(fake)
    assert await store.orders_for_customer('x" OR email:jane@example.com OR "') == []
    assert fake.calls("orders")[-1]["query"] == 'email:"x\\" OR email:jane@example.com OR \\""'
    await store.aclose()


async def test_unknown_order_is_not_found(fake):
    store = make_store(fake)
    with pytest.raises(base.NotFound, match="read_all_orders"):
        await store.get_order("gid://shopify/Order/1")
    await store.aclose()


async def test_documents_stay_within_the_cost_ceiling(fake):
    order = fake.add_order()
    store = make_store(fake)
    await store.get_order(order.id)
    assert 0 < store.graphql.bucket.costs["Order"] < 1000


async def test_a_throttled_read_waits_the_computed_time_then_the_next_waits_beforehand(fake):
    clock = Clock()
    fake.clock = clock
    fake.filled_at = clock.now
    order = fake.add_order()
    store = make_store(fake, clock)
    await store.get_order(order.id)
    cost = store.graphql.bucket.costs["Order"]
    fake.drain(to=cost - 200)  # someone else spent the bucket
    await store.get_order(order.id)  # THROTTLED, then retried after the computed wait
    assert fake.throttled == 1
    assert clock.sleeps == [pytest.approx(200 / fake.restore_rate)]
    fake.drain(to=0)
    store.graphql.bucket.observe("Order", {"requestedQueryCost": cost, "throttleStatus": {
        "maximumAvailable": 2000, "currentlyAvailable": 0, "restoreRate": fake.restore_rate}})
    await store.get_order(order.id)  # the adapter knows the bucket is empty: it waits first
    assert fake.throttled == 1
    assert clock.sleeps[-1] == pytest.approx(cost / fake.restore_rate)
    await store.aclose()


@pytest.mark.parametrize("status", [200, 429])
async def test_throttled_write_is_rate_limited_with_the_computed_wait(fake, status):
    clock = Clock()
    fake.clock = clock
    fake.throttle_status = status
    store = make_store(fake, clock)
    fake.drain(to=5)
    data = None
    with pytest.raises(base.RateLimited) as info:
        data = await store.graphql.run(gql.RETURN_APPROVE, {"input": {"id": "gid://shopify/Return/1"}}, write=True)
    assert data is None and fake.calls("returnApproveRequest") == []
    requested = store.graphql.bucket.costs["ReturnApprove"]
    assert info.value.retry_after == pytest.approx((requested - 5) / fake.restore_rate)
    await store.aclose()


def test_bucket_arithmetic():
    clock = Clock()
    bucket = CostBucket(clock)
    assert bucket.wait_before("Order") == 0  # nothing known yet
    bucket.observe("Order", {"requestedQueryCost": 300, "throttleStatus": {
        "maximumAvailable": 1000.0, "currentlyAvailable": 100, "restoreRate": 50.0}})
    assert bucket.wait_before("Order") == pytest.approx(4.0)
    clock.now += 3
    assert bucket.wait_before("Order") == pytest.approx(1.0)
    clock.now += 100
    assert bucket.wait_before("Order") == 0
    assert throttle_wait({"requestedQueryCost": 752, "throttleStatus": {
        "maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0}}) == pytest.approx(1.72)


async def test_graphql_errors_and_garbage(fake):
    store = make_store(fake)
    fake.server.queue("POST", r"/admin/api/.*", Reply(200, {"errors": [
        {"message": "Access denied for orders field.", "extensions": {"code": "ACCESS_DENIED"}}]}))
    with pytest.raises(base.AuthError, match="Access denied"):
        await store.verify()
    fake.server.queue("POST", r"/admin/api/.*", Reply(200, raw=b"<html>maintenance</html>"))
    with pytest.raises(base.TransientError, match="not valid JSON"):
        await store.verify()
    fake.server.queue("POST", r"/admin/api/.*", Reply(200, {"errors": [
        {"message": "Query cost is 1200, which exceeds the single query max cost limit (1000).",
         "extensions": {"code": "MAX_COST_EXCEEDED"}}]}))
    with pytest.raises(base.RejectedError, match="max cost"):
        await store.verify()
    await store.aclose()


async def test_a_field_the_fixtures_lack_is_an_error_not_a_silent_none(fake):
    store = make_store(fake)
    with pytest.raises(base.RejectedError, match="doesn't exist on type 'Shop'"):
        await store.graphql.run("query Shop { shop { id planDisplayName } }")
    await store.aclose()


async def test_served_version_is_reported_when_shopify_falls_forward(fake):
    store = make_store(fake)
    store.graphql.path = "/admin/api/2019-01/graphql.json"
    identity = await store.verify()
    assert "2026-01" in identity.mode and f"asked for {gql.API_VERSION}" in identity.mode
    await store.aclose()


async def test_connection_errors_carry_no_token(monkeypatch):
    monkeypatch.setattr(http, "READ_RETRIES", 1)
    store = ShopifyStore(AccountSpec("s", "shopify", url="http://127.0.0.1:9", options={"timeout": 1}), "shpat_secret")
    with pytest.raises(base.TransientError) as info:
        await store.verify()
    assert "shpat_secret" not in str(info.value)
    await store.aclose()
