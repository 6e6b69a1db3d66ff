"""The Request Tracker adapter against a real RT 5 server (tests/rt/start.sh).

Each test works in a queue of its own, so tests can run side by side on one server. Results
are read back from RT itself with tests/rt/client.py, which shares no code with the adapter.
Skipped when no RT answers (CSCONSOLE_RT_URL, default http://127.0.0.1:8089).
"""

from __future__ import annotations

import asyncio
import calendar
import time

import pytest

from csconsole import paths
from csconsole.adapters import base
from csconsole.adapters.base import AccountSpec, Action, RejectedError
from csconsole.adapters.rt import RTHelpdesk
from csconsole.store import outbox
from csconsole.store.outbox import Intent
from csconsole.sync.engine import SyncEngine
from csconsole.workspace import Workspace
from tests.rt import client
from tests.rt.client import RT

pytestmark = [pytest.mark.rt,
              pytest.mark.skipif(not client.reachable(), reason="no RT server answers (run tests/rt/start.sh)")]


@pytest.fixture
def rt():
    server = RT()
    yield server
    server.close()


@pytest.fixture
def queue(rt) -> str:
    return rt.queue()


@pytest.fixture
async def adapters():
    made: list[RTHelpdesk] = []

    def make(queue: str | None = None, *, user: str = client.USER, secret: str = client.PASSWORD,
             **options) -> RTHelpdesk:
        if queue:
            options["queues"] = [queue]
        adapter = RTHelpdesk(AccountSpec("rt", "rt", url=client.URL, user=user, options=options), secret)
        made.append(adapter)
        return adapter

    yield make
    for adapter in made:
        await adapter.aclose()


@pytest.fixture
def workspace(isolated, queue, monkeypatch) -> Workspace:
    """A workspace whose helpdesk is this test's queue on the real RT."""
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text(
        f'workspace = "rt"\n[accounts.rt]\nadapter = "rt"\nurl = "{client.URL}"\nuser = "{client.USER}"\n'
        f'options = {{ queues = ["{queue}"] }}\n[workspaces.rt]\nhelpdesk = "rt"\n', encoding="utf-8")
    monkeypatch.setenv("CSCONSOLE_SECRET_RT", client.PASSWORD)
    return Workspace.load(paths.resolve(config, isolated / "data"))


async def sync(workspace: Workspace) -> list:
    """What `csconsole sync` does once: who am I, push the outbox, pull."""
    engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk)
    await engine.open()
    try:
        await engine.identify()
        outcomes = await engine.push_due(drain=True)
        await engine.pull_once()
        return outcomes
    finally:
        await engine.close()


async def pull_all(adapter: RTHelpdesk, cursor: str | None = None) -> tuple[list[base.TicketRecord], str | None]:
    tickets = []
    async for page in adapter.changed_tickets(cursor):
        tickets += page.tickets
        cursor = page.cursor
    return tickets, cursor


def action(kind: str, ticket: int, version: str | None, **payload) -> Action:
    return Action(outbox_id=1, kind=kind, payload=payload, idempotency_key="k", ticket_remote_id=str(ticket),
                  base_version=version, first_tried_at=int(time.time()))


# ----------------------------------------------------------------------------- identity


async def test_verify_names_the_agent_and_the_server(adapters):
    adapter = adapters()
    me = await adapter.verify()
    assert me.remote_id == client.USER and me.role == "agent"
    assert me.mode.startswith("REST 2.0, RT 5.")
    agents = {a.remote_id for a in await adapter.list_agents()}
    assert client.USER in agents and client.VIEWER in agents and not agents & {"RT_System", "Nobody"}
    assert not adapter.can(base.TAGS) and adapters(tags_field="Tags").can(base.TAGS)


async def test_bad_credentials_never_show_the_secret(adapters):
    secret = "not-the-password-5f0c2a"
    adapter = adapters(secret=secret)
    with pytest.raises(base.AuthError) as caught:
        await adapter.verify()
    assert secret not in str(caught.value) and secret not in repr(adapter)


# ----------------------------------------------------------------------------- pull


async def test_engine_pulls_a_queue_then_only_what_changed(rt, queue, workspace):
    jane = rt.customer("Jane Doe")
    first = rt.ticket(queue, "Where is order #1042?", requestor=jane, content="It has not arrived.")
    urgent = rt.ticket(queue, "Parcel arrived damaged", requestor=rt.customer("Sam Roe"), Priority=100)
    waiting = rt.ticket(queue, "Refund please", requestor=jane)
    rt.update(waiting, Status="stalled")
    elsewhere = rt.ticket(rt.queue(), "Not in this workspace", requestor=jane)
    # Let the seeding's last second pass: a ticket changed in the second RT answers in is
    # read again on its own (for its ETag) and comes again in the next pull.
    await asyncio.sleep(2.05)

    await sync(workspace)
    cache = workspace.open_cache()
    rows = {r["id"]: r for r in cache.execute(
        "SELECT t.*, p.email, p.name AS requester FROM ticket t LEFT JOIN person p ON p.id = t.requester_id")}
    assert set(rows) == {first, urgent, waiting} and elsewhere not in rows
    assert (rows[first]["subject"], rows[first]["status"], rows[first]["remote_status"]) == (
        "Where is order #1042?", "new", "new")
    assert (rows[first]["requester"], rows[first]["email"], rows[first]["group_name"]) == ("Jane Doe", jane, queue)
    assert (rows[urgent]["priority"], rows[urgent]["remote_priority"]) == (3, "100")
    assert rows[waiting]["status"] == "pending" and rows[waiting]["sla_due_at"] == base.NO_SLA
    assert all(row["version"].startswith("@") for row in rows.values())  # versions from LastUpdated
    assert cache.execute("SELECT order_ref FROM ticket_order WHERE ticket_id = ?", (first,)).fetchone()[0] == "1042"

    rt.update(first, Status="open", Priority=50)
    cursor = cache.execute("SELECT cursor FROM sync_cursor").fetchone()[0]
    adapter = workspace.make_helpdesk()
    try:
        changed, _ = await pull_all(adapter, cursor)
    finally:
        await adapter.aclose()
    assert [t.number for t in changed] == [first]

    # A colleague answers in RT; an action based on the pulled version is a conflict.
    rt.correspond(urgent, "Answered from RT by a colleague.")
    outbox.enqueue(cache, [Intent("status", urgent, {"status": "solved"})], actor=client.USER)
    assert [o.state for o in await sync(workspace)] == ["conflict"]
    assert rt.get(urgent)["Status"] == "open"
    rows = dict(cache.execute("SELECT id, status FROM ticket").fetchall())
    assert rows[first] == "open" and rows[urgent] == "solved"  # the agent's intent stays visible
    cache.close()


async def test_statuses_map_and_deleted_or_merged_tickets_leave_the_cache(rt, queue, workspace):
    jane = rt.customer()
    ids = {status: rt.ticket(queue, f"ticket {status}", requestor=jane)
           for status in ("new", "open", "stalled", "resolved", "rejected")}
    for status, ticket in ids.items():
        if status != "new":
            rt.update(ticket, Status=status)
    doomed = rt.ticket(queue, "to be deleted", requestor=jane)
    merged = rt.ticket(queue, "duplicate of the open one", requestor=jane)
    await sync(workspace)
    cache = workspace.open_cache()
    status = dict(cache.execute("SELECT id, status FROM ticket").fetchall())
    assert {s: status[i] for s, i in ids.items()} == {
        "new": "new", "open": "open", "stalled": "pending", "resolved": "solved", "rejected": "closed"}
    assert doomed in status and merged in status

    rt.update(doomed, Status="deleted")
    rt.update(merged, MergeInto=ids["open"])
    await sync(workspace)
    left = {r[0] for r in cache.execute("SELECT id FROM ticket")}
    assert left == set(ids.values())
    cache.close()


async def test_dates_are_written_in_the_zone_rt_reads_them_in(rt, queue, adapters):
    """RT reads TicketSQL dates in the user's timezone: a UTC cursor sent as is would miss
    every change of the last five hours for a user in New York."""
    rt.http.put(f"/user/{client.VIEWER}", json={"Timezone": "America/New_York"}).raise_for_status()
    try:
        ticket = rt.ticket(queue, "changed just now", requestor=rt.customer())
        updated = rt.get(ticket)["LastUpdated"]
        viewer = RT(client.VIEWER)
        naive = updated.replace("T", " ").rstrip("Z")
        seen = viewer.http.get("/tickets", params={"query": f"Queue = '{queue}' AND LastUpdated >= '{naive}'"}).json()
        viewer.close()
        assert seen["count"] == 0  # the pitfall, shown by RT itself

        adapter = adapters(queue, user=client.VIEWER)
        await adapter.verify()
        since = calendar.timegm(time.strptime(updated, "%Y-%m-%dT%H:%M:%SZ"))
        tickets, _ = await pull_all(adapter, f'{{"since": {since - 1}, "after": 0}}')
        assert [t.number for t in tickets] == [ticket]
        assert await adapter._measure_offset() == -5 * 3600  # what it would assume without a Timezone
    finally:
        rt.http.put(f"/user/{client.VIEWER}", json={"Timezone": ""}).raise_for_status()

    # root has no Timezone of its own here: the offset is measured (the test server runs UTC).
    root = adapters(queue)
    await root.verify()
    assert (root._dates.zone, root._dates.offset) == (None, 0)
    tickets, _ = await pull_all(root, f'{{"since": {since - 1}, "after": 0}}')
    assert [t.number for t in tickets] == [ticket]


# ----------------------------------------------------------------------------- threads


async def test_thread_has_customer_and_agent_messages_with_their_text(rt, queue, adapters):
    customer = rt.customer("Ana Lima")
    as_customer = RT(customer)
    ticket = as_customer.ticket(queue, "Wrong size", requestor=customer, content="I got an M, ordered an L. ünï")
    rt.correspond(ticket, "Sorry! A replacement L is on its way.")
    response = as_customer.http.post(f"/ticket/{ticket}/correspond", json={
        "Content": "<p>Thanks <b>a lot</b></p><script>alert(1)</script>", "ContentType": "text/html"})
    response.raise_for_status()
    as_customer.close()
    adapter = adapters(queue)
    await adapter.verify()
    await adapter.apply(action("note", ticket, None, body="Replacement shipped with DHL."))

    thread = await adapter.fetch_thread(str(ticket))
    assert [(m.author_role, m.public, m.body.strip()) for m in thread] == [
        ("customer", True, "I got an M, ordered an L. ünï"),
        ("agent", True, "Sorry! A replacement L is on its way."),
        ("customer", True, "Thanks a lot"),
        ("agent", False, "Replacement shipped with DHL."),
    ]
    assert thread[0].author.name == "Ana Lima" and thread[0].author.email == customer
    record = await adapter.fetch_ticket(str(ticket))
    assert record.last_customer_at is not None and record.requester.remote_id == customer


# ----------------------------------------------------------------------------- actions


async def test_outbox_actions_reach_rt_and_the_cache_agrees(rt, queue, workspace):
    ticket = rt.ticket(queue, "Cancel my order", requestor=rt.customer())
    await sync(workspace)
    cache = workspace.open_cache()
    me = client.USER
    outbox.enqueue(cache, [Intent("reply", ticket, {"body": "Done: your order is cancelled."})], actor=me)
    outbox.enqueue(cache, [Intent("note", ticket, {"body": "Cancelled in the shop admin."})], actor=me)
    outbox.enqueue(cache, [Intent("status", ticket, {"status": "pending"}),
                           Intent("priority", ticket, {"priority": "high"}),
                           Intent("assign", ticket, {"assignee": me})], actor=me)
    outcomes = await sync(workspace)
    assert [o.state for o in outcomes] == ["sent"] * 5

    assert rt.messages(ticket, "Correspond") == [(me, "Done: your order is cancelled.")]
    assert rt.messages(ticket, "Comment") == [(me, "Cancelled in the shop admin.")]
    remote = rt.get(ticket)
    assert (remote["Status"], str(remote["Priority"]), remote["Owner"]["id"]) == ("stalled", "100", me)
    row = cache.execute("SELECT t.status, t.priority, t.pending_actions, p.remote_id FROM ticket t"
                        " LEFT JOIN person p ON p.id = t.assignee_id WHERE t.id = ?", (ticket,)).fetchone()
    assert row[:] == ("pending", 3, 0, me)
    sent = [r[0] for r in cache.execute("SELECT json_extract(result, '$.remote_id') FROM outbox"
                                        " WHERE kind IN ('reply', 'note') ORDER BY id")]
    assert sent == [str(txn) for txn in _message_txns(rt, ticket)]

    outbox.enqueue(cache, [Intent("assign", ticket, {"assignee": None}),
                           Intent("status", ticket, {"status": "solved"})], actor=me)
    assert [o.state for o in await sync(workspace)] == ["sent", "sent"]
    remote = rt.get(ticket)
    assert (remote["Status"], remote["Owner"]["id"]) == ("resolved", "Nobody")
    assert cache.execute("SELECT status, assignee_id FROM ticket WHERE id = ?", (ticket,)).fetchone()[:] == ("solved", None)
    cache.close()


def _message_txns(rt: RT, ticket: int) -> list[int]:
    history = rt.http.get(f"/ticket/{ticket}/history", params={"fields": "Type", "per_page": 100}).json()["items"]
    return [int(t["id"]) for t in history if t["Type"] in ("Correspond", "Comment")]


async def test_a_change_made_in_rt_is_a_conflict_not_overwritten(rt, queue, workspace):
    ticket = rt.ticket(queue, "Address change", requestor=rt.customer())
    await sync(workspace)
    cache = workspace.open_cache()
    base_version = cache.execute("SELECT version FROM ticket WHERE id = ?", (ticket,)).fetchone()[0]
    assert base_version.isdigit()  # just changed: the pull read its ETag
    rt.update(ticket, Priority=100)  # a colleague, in RT's own UI
    outbox.enqueue(cache, [Intent("priority", ticket, {"priority": "low"})], actor=client.USER)
    outbox.enqueue(cache, [Intent("reply", ticket, {"body": "Updated your address."})], actor=client.USER)
    assert [o.state for o in await sync(workspace)] == ["conflict"]
    conflict = cache.execute("SELECT id, result FROM outbox WHERE state = 'conflict'").fetchone()
    assert '"version"' in conflict["result"]
    assert str(rt.get(ticket)["Priority"]) == "100" and rt.messages(ticket, "Correspond") == []

    outbox.retry(cache, conflict["id"], rebase=True)  # the agent looked and re-applies
    assert [o.state for o in await sync(workspace)] == ["sent", "sent"]
    assert str(rt.get(ticket)["Priority"]) == "0" and len(rt.messages(ticket, "Correspond")) == 1
    cache.close()


async def test_refused_changes_are_rejections_with_rts_words(rt, queue, adapters):
    ticket = rt.ticket(queue, "Only look", requestor=rt.customer())
    viewer = adapters(queue, user=client.VIEWER)
    await viewer.verify()
    version = (await viewer.fetch_ticket(str(ticket))).version
    with pytest.raises(RejectedError, match="Permission Denied"):
        await viewer.apply(action("status", ticket, version, status="solved"))
    assert rt.get(ticket)["Status"] == "new"


async def test_find_applied_finds_our_reply_and_field_values_without_writing(rt, queue, adapters):
    ticket = rt.ticket(queue, "Lost answer", requestor=rt.customer())
    adapter = adapters(queue)
    await adapter.verify()
    version = (await adapter.fetch_ticket(str(ticket))).version
    reply = action("reply", ticket, version, body="We refunded the shipping.\n")
    sent = await adapter.apply(reply)
    found = await adapter.find_applied(reply)
    assert found is not None and found.remote_id == sent.remote_id and found.version == sent.version
    assert await adapter.find_applied(action("reply", ticket, version, body="Something else")) is None
    assert await adapter.find_applied(action("reply", ticket, sent.version, body="We refunded the shipping.")) is None
    assert await adapter.find_applied(action("note", ticket, version, body="We refunded the shipping.")) is None
    assert len(rt.messages(ticket, "Correspond")) == 1

    await adapter.apply(action("status", ticket, sent.version, status="pending"))
    assert await adapter.find_applied(action("status", ticket, sent.version, status="pending")) is not None
    assert await adapter.find_applied(action("status", ticket, sent.version, status="solved")) is None


async def test_tags_live_in_a_multi_value_custom_field(rt, queue, adapters):
    ticket = rt.ticket(queue, "Tagged", requestor=rt.customer(), CustomFields={"Tags": ["vip", "wismo"]})
    adapter = adapters(queue, tags_field="Tags")
    await adapter.verify()
    (pulled,), _ = await pull_all(adapter)
    assert sorted(pulled.tags) == ["vip", "wismo"] and "Tags" not in pulled.custom_fields
    await adapter.apply(action("tags", ticket, pulled.version, add=["refund"], remove=["wismo"]))
    assert sorted(_tags(rt, ticket)) == ["refund", "vip"]

    fields = adapters(queue, custom_fields=True)
    assert fields.can(base.CUSTOM_FIELDS) and not adapter.can(base.CUSTOM_FIELDS)
    await fields.verify()
    current = await fields.fetch_ticket(str(ticket))
    assert sorted(current.custom_fields["Tags"]) == ["refund", "vip"]
    await fields.apply(action("custom_field", ticket, current.version, field="Tags", value=["gift"]))
    assert _tags(rt, ticket) == ["gift"]


def _tags(rt: RT, ticket: int) -> list[str]:
    return next(cf["values"] for cf in rt.get(ticket)["CustomFields"] if cf["name"] == "Tags")
