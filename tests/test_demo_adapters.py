"""The demo helpdesk and store through the adapter contract, as the sync engine uses them."""

import asyncio
from pathlib import Path

import pytest

from csconsole.adapters import base
from csconsole.adapters.base import AccountSpec, Action
from csconsole.adapters.demo import generator
from csconsole.adapters.demo.backend import DemoBackend
from csconsole.adapters.demo.commerce import DemoStore
from csconsole.adapters.demo.helpdesk import DemoHelpdesk
from csconsole.adapters.registry import adapter_names, load_adapter
from tests.conftest import ANCHOR

ME = "alex@northwind-outfitters.example"


@pytest.fixture
def backend_path(tmp_path) -> Path:
    return generator.build(tmp_path / "backend.sqlite", tickets=300, seed=3, anchor=ANCHOR)


def helpdesk(path: Path) -> DemoHelpdesk:
    return DemoHelpdesk(AccountSpec("demo", "demo", user=ME, options={"path": str(path)}))


def run(coro):
    return asyncio.run(coro)


async def pull_all(adapter, cursor=None):
    tickets, last = [], cursor
    async for page in adapter.changed_tickets(cursor):
        tickets.extend(page.tickets)
        last = page.cursor
    return tickets, last


def test_registered_through_entry_points():
    assert {"demo", "demo-store"} <= set(adapter_names())
    assert load_adapter("demo") is DemoHelpdesk
    assert load_adapter("demo-store") is DemoStore


def test_generation_is_deterministic(tmp_path):
    a = generator.build(tmp_path / "a.sqlite", tickets=200, seed=11, anchor=ANCHOR)
    b = generator.build(tmp_path / "b.sqlite", tickets=200, seed=11, anchor=ANCHOR)
    c = generator.build(tmp_path / "c.sqlite", tickets=200, seed=12, anchor=ANCHOR)
    dump = lambda p: DemoBackend(p).conn.execute("SELECT * FROM ticket ORDER BY id").fetchall()  # noqa: E731
    rows_a, rows_b, rows_c = ([tuple(r) for r in dump(p)] for p in (a, b, c))
    assert rows_a == rows_b
    assert rows_a != rows_c


def test_the_store_reads_like_a_real_one(tmp_path):
    path = generator.build(tmp_path / "b.sqlite", tickets=1000, seed=7, anchor=ANCHOR)
    conn = DemoBackend(path).conn
    one = lambda sql: conn.execute(sql).fetchone()[0]  # noqa: E731
    assert one("SELECT count(*) FROM customer WHERE shopper = 1") >= 300
    assert one("SELECT count(*) FROM orders") >= 500
    assert one("SELECT count(*) FROM order_line") > one("SELECT count(*) FROM orders")
    assert one("SELECT count(*) FROM txn WHERE kind = 'sale'") == one("SELECT count(*) FROM orders")
    assert one("SELECT count(*) FROM fulfillment WHERE tracking_number IS NOT NULL") > 300
    assert one("SELECT count(*) FROM ticket") == 1000
    intents = {r[0] for r in conn.execute("SELECT DISTINCT intent FROM ticket")}
    assert intents >= {"wismo", "damaged", "wrong_item", "size_exchange", "return_request", "refund_request", "cancel",
                       "address_change", "discount_code", "product_question"}
    assert {r[0] for r in conn.execute("SELECT DISTINCT status FROM ticket")} == set(base.STATUSES)
    assert one("SELECT count(DISTINCT priority) FROM ticket") == 4
    assert one("SELECT count(*) FROM ticket WHERE message_count >= 3") > 100
    assert one("SELECT max(message_count) FROM ticket") >= 25
    assert one("SELECT count(DISTINCT assignee_id) FROM ticket") >= 7
    assert one("SELECT count(*) FROM ticket WHERE sla_due_at < 253402300799 AND sla_due_at < "
               f"{ANCHOR}") > 0  # some SLAs are already breached
    # a where-is-my-order ticket that is still open points at a parcel in transit
    row = conn.execute("SELECT t.order_id FROM ticket t WHERE intent = 'wismo' AND status IN ('new','open')"
                       " AND order_id IS NOT NULL LIMIT 1").fetchone()
    assert conn.execute("SELECT status FROM fulfillment WHERE order_id = ?", (row[0],)).fetchone()[0] == "in_transit"


def test_pull_pages_and_resumes_from_the_cursor(backend_path):
    adapter = helpdesk(backend_path)
    tickets, cursor = run(pull_all(adapter))
    assert len(tickets) == 300 and len({t.number for t in tickets}) == 300
    again, same_cursor = run(pull_all(adapter, cursor))
    assert again == [] and same_cursor == cursor
    first = tickets[0]
    assert first.requester and first.requester.email and first.version == "1"
    assert first.status in base.STATUSES and first.priority in base.PRIORITIES


def test_thread_matches_the_ticket(backend_path):
    adapter = helpdesk(backend_path)
    tickets, _ = run(pull_all(adapter))
    for t in tickets[:60]:
        thread = run(adapter.fetch_thread(t.remote_id))
        assert len(thread) == t.message_count
        assert thread[0].body == t.description
        assert [m.created_at for m in thread] == sorted(m.created_at for m in thread)
        assert thread[0].author_role == "customer"


def test_actions_apply_bump_version_and_show_in_the_next_pull(backend_path):
    adapter = helpdesk(backend_path)
    tickets, cursor = run(pull_all(adapter))
    t = next(x for x in tickets if x.status == "open")
    reply = Action(1, "reply", {"body": "On its way!"}, "key-1", t.remote_id, base_version=t.version)
    result = run(adapter.apply(reply))
    assert result.version == str(int(t.version) + 1) and result.remote_id
    status = Action(2, "status", {"status": "pending"}, "key-2", t.remote_id, base_version=result.version)
    run(adapter.apply(status))
    changed, _ = run(pull_all(adapter, cursor))
    assert [c.number for c in changed] == [t.number]
    assert changed[0].status == "pending" and changed[0].message_count == t.message_count + 1
    thread = run(adapter.fetch_thread(t.remote_id))
    assert thread[-1].body == "On its way!" and thread[-1].public and thread[-1].author_role == "agent"


def test_stale_version_is_a_conflict(backend_path):
    adapter = helpdesk(backend_path)
    tickets, _ = run(pull_all(adapter))
    t = tickets[5]
    DemoBackend(backend_path).customer_message(t.number, "Any news??")
    with pytest.raises(base.ConflictError) as info:
        run(adapter.apply(Action(1, "priority", {"priority": 4}, "k", t.remote_id, base_version=t.version)))
    assert info.value.remote is not None and info.value.remote.message_count == t.message_count + 1


def test_rejections_and_injected_failures(backend_path):
    adapter = helpdesk(backend_path)
    with pytest.raises(base.NotFound):
        run(adapter.apply(Action(1, "status", {"status": "open"}, "k", "999999")))
    with pytest.raises(base.RejectedError):
        run(adapter.apply(Action(1, "assign", {"assignee": "nobody@x"}, "k", "1")))
    backend = DemoBackend(backend_path)
    backend.inject("pull", "rate_limit", retry_after=7)
    with pytest.raises(base.RateLimited) as info:
        run(pull_all(adapter))
    assert info.value.retry_after == 7
    backend.inject("thread", "server_error")
    with pytest.raises(base.TransientError):
        run(adapter.fetch_thread("1"))


def test_lost_answer_is_found_not_repeated(backend_path):
    adapter = helpdesk(backend_path)
    tickets, _ = run(pull_all(adapter))
    t = tickets[0]
    DemoBackend(backend_path).inject("apply", "timeout_after_apply")
    action = Action(1, "note", {"body": "checked the warehouse"}, "key-lost", t.remote_id)
    with pytest.raises(base.TransientError) as info:
        run(adapter.apply(action))
    assert info.value.maybe_applied
    found = run(adapter.find_applied(action))
    assert found is not None and found.remote_id
    thread = run(adapter.fetch_thread(t.remote_id))
    assert sum(m.body == "checked the warehouse" for m in thread) == 1


def test_store_orders_for_a_customer(backend_path):
    store = DemoStore(AccountSpec("demo-store", "demo-store", options={"path": str(backend_path)}))
    conn = DemoBackend(backend_path).conn
    email = conn.execute("SELECT c.email FROM customer c JOIN orders o ON o.customer_id = c.id LIMIT 1").fetchone()[0]
    orders = run(store.orders_for_customer(email))
    assert orders and all(o.email == email for o in orders)
    o = orders[0]
    assert o.total == o.subtotal + o.shipping + o.tax - o.discount
    assert o.paid == o.total and o.lines and o.payments[0].kind == "sale"
    assert o.currency in ("USD", "EUR", "GBP", "CAD", "AUD")
    other = conn.execute("SELECT number FROM orders WHERE customer_id != (SELECT id FROM customer WHERE email = ?)"
                         " LIMIT 1", (email,)).fetchone()[0]
    with_ref = run(store.orders_for_customer(email, (f"#{other}",)))
    assert other in [x.number for x in with_ref]
    with pytest.raises(base.NotFound):
        run(store.get_order("99999999"))
