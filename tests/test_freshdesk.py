"""The Freshdesk adapter against a stateful fake Freshdesk over real HTTP on loopback.

Covers the pull (windows sliding on updated_since, Link headers, the page-300 wall, resume),
the numeric codes, threads (the description plus conversations), every action, finding a
reply whose answer was lost, 429, 5xx, timeouts and malformed answers, the sync engine with
a configured workspace, and that no error ever carries the API key.
"""

from __future__ import annotations

import asyncio
import json
import logging
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csconsole import paths
from csconsole.adapters import base, freshdesk
from csconsole.adapters.base import AccountSpec, Action
from csconsole.adapters.freshdesk import FreshdeskAdapter
from csconsole.store import ingest, outbox
from csconsole.store.outbox import Intent
from csconsole.sync.engine import SyncEngine
from csconsole.workspace import Workspace
from tests.fakes.freshdesk import API, FakeFreshdesk, iso
from tests.fakes.server import Reply

KEY = "fd-api-key-never-shown"


class Notes:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def progress(self, done: int, total: int | None) -> None:
        pass


@pytest.fixture
def fd():
    with FakeFreshdesk() as fake:
        fake.me = fake.add_agent("Fran Agent", "fran@acme.example", key=KEY)
        fake.other = fake.add_agent("Oli Other", "oli@acme.example")
        fake.jane = fake.add_contact("Jane Doe", "jane@example.com")
        fake.billing = fake.add_group("Billing")
        yield fake


def adapter(fd: FakeFreshdesk, *, key: str = KEY, driver=None, **options) -> FreshdeskAdapter:
    return FreshdeskAdapter(AccountSpec("fd", "freshdesk", fd.server.url, None, options), key, driver)


async def pull(a: FreshdeskAdapter, cursor: str | None = None) -> list[base.TicketPage]:
    return [page async for page in a.changed_tickets(cursor)]


def seed(fd: FakeFreshdesk, count: int, **kw) -> list[int]:
    return [fd.add_ticket(f"Where is my order #{1000 + n}?", fd.jane, **kw) for n in range(count)]


def action(kind: str, tid: int, payload: dict, first_tried_at: int = 0) -> Action:
    return Action(outbox_id=1, kind=kind, payload=payload, idempotency_key="k", ticket_remote_id=str(tid),
                  first_tried_at=first_tried_at)


async def test_verify_names_the_agent_and_the_mode(fd):
    a = adapter(fd)
    me = await a.verify()
    assert (me.remote_id, me.name, me.email, me.mode) == (str(fd.me), "Fran Agent", "fran@acme.example",
                                                          "ticket list by updated_since (all tickets)")
    assert fd.server.requests[0].headers["Authorization"].startswith("Basic ")
    await a.aclose()


async def test_pull_slides_the_window_and_resumes_from_the_cursor(fd):
    ids = seed(fd, 250)
    a = adapter(fd)
    pages = await pull(a)
    assert [len(p.tickets) for p in pages] == [100, 100, 54] and pages[-1].done  # 2 re-read at each edge
    assert {t.number for p in pages for t in p.tickets} == set(ids)
    lists = fd.server.calls("GET", API + "/tickets")
    assert [r.arg("page") for r in lists] == ["1", "1", "1"]  # slid forward, never paged deeper
    assert all(r.arg("order_by") == "updated_at" and r.arg("order_type") == "asc" and r.arg("per_page") == "100"
               and r.arg("include") == "requester,stats" for r in lists)
    assert lists[0].arg("updated_since") == "1970-01-01T00:00:00Z"
    fd.set(ids[7], priority=4)
    fd.customer_reply(ids[9], "Any news?")
    again = await pull(a, pages[-1].cursor)
    assert {t.number for p in again for t in p.tickets} >= {ids[7], ids[9]}
    assert len([t for p in again for t in p.tickets]) <= 4  # the window's edge second is read again, no more
    resumed = await pull(a, pages[0].cursor)  # a pull killed after its first page
    assert {t.number for p in resumed for t in p.tickets} >= set(ids[99:])
    await a.aclose()


async def test_a_crowded_second_pages_on_and_stops_at_the_page_300_wall(fd, monkeypatch):
    at = fd.now + 10
    ids = [fd.add_ticket(f"Same second {n}", fd.jane, at=at) for n in range(305)]
    later = fd.add_ticket("Later", fd.jane, at=at + 5)
    fd.rate_total = fd.rate_remaining = 10**6  # 600 list calls: more than any real minute allows
    notes = Notes()
    a = adapter(fd, page_size=1, driver=notes)
    pages = await pull(a)
    lists = fd.server.calls("GET", API + "/tickets")
    assert max(int(r.arg("page")) for r in lists) == 300  # never asked for page 301 (Freshdesk answers 400)
    got = {t.number for p in pages for t in p.tickets}
    assert later in got and len(got & set(ids)) >= 300
    assert any("some of them were skipped" in m for m in notes.messages)
    fd.server.queue("GET", API + "/tickets", Reply(400, {"description": "Validation failed", "errors": [
        {"field": "page", "message": "You cannot access tickets beyond the 300th page. Please provide a smaller page"
                                     " number.", "code": "invalid_value"}]}))
    with pytest.raises(base.RejectedError, match="beyond the 300th page"):
        await pull(a, pages[-1].cursor)
    await a.aclose()


async def test_codes_and_mapping(fd):
    tids = [fd.add_ticket("Damaged parcel", fd.jane, status=s, priority=p, responder=fd.other, tags=["Damaged"],
                          group=fd.billing, custom_fields={"cf_order_number": "1001", "cf_empty": None}, source=src)
            for s, p, src in ((2, 1, 1), (3, 2, 3), (4, 3, 7), (5, 4, 2), (6, 9, 10), (7, 4, 1))]
    fd.tickets[tids[0]]["fresh_new_key"] = {"x": 1}
    a = adapter(fd, hold_status=7)
    got = {t.number: t for p in await pull(a) for t in p.tickets}
    shapes = [(got[t].status, got[t].priority, got[t].remote_status, got[t].remote_priority, got[t].channel)
              for t in tids]
    assert shapes == [("open", 1, "2", "1", "email"), ("pending", 2, "3", "2", "phone"), ("solved", 3, "4", "3", "chat"),
                      ("closed", 4, "5", "4", "portal"), ("open", 2, "6", "9", "outbound_email"),
                      ("hold", 4, "7", "4", "email")]
    t = got[tids[0]]
    assert t.requester == base.PersonRecord(str(fd.jane), "Jane Doe", "jane@example.com", "customer")
    assert t.assignee == base.PersonRecord(str(fd.other), "Oli Other", "oli@acme.example", "agent")
    assert t.group == "Billing" and t.tags == ("Damaged",) and t.custom_fields == {"cf_order_number": "1001"}
    assert t.version == fd.tickets[tids[0]]["updated_at"] == iso(t.updated_at)
    assert t.sla_due_at == t.created_at + 3600 and t.last_customer_at == t.created_at  # first response due
    assert got[tids[2]].sla_due_at is None and got[tids[4]].last_customer_at is None  # solved; outbound
    await a.aclose()


async def test_thread_is_the_description_then_conversations(fd):
    tid = seed(fd, 1)[0]
    for n in range(120):
        fd.customer_reply(tid, f"customer {n}")
    await adapter(fd).apply(action("note", tid, {"body": "Label made, not scanned."}))
    a = adapter(fd)
    thread = await a.fetch_thread(str(tid))
    assert len(thread) == 122 and len(fd.server.calls("GET", API + rf"/tickets/{tid}/conversations")) == 2
    opening, first, note = thread[0], thread[1], thread[-1]
    assert (opening.remote_id, opening.author_role, opening.body) == (f"{tid}-description", "customer",
                                                                      "Where is my order #1000?")
    assert (first.author.name, first.author_role, first.public, first.body) == ("Jane Doe", "customer", True, "customer 0")
    assert (note.author.name, note.author_role, note.public, note.body) == ("Fran Agent", "agent", False,
                                                                            "Label made, not scanned.")
    await a.aclose()


async def test_every_action(fd):
    tid = seed(fd, 1, tags=["keep", "old"])[0]
    a = adapter(fd, hold_status=6)
    await a.verify()
    reply = await a.apply(action("reply", tid, {"body": "Hi Jane,\n<b>it ships</b> today & tomorrow."}))
    note = await a.apply(action("note", tid, {"body": "Checked the warehouse."}))
    assert reply.remote_id and note.remote_id and reply.remote_id != note.remote_id
    posted = fd.server.calls("POST", API + rf"/tickets/{tid}/(reply|notes)")
    assert posted[0].json() == {"body": "<div>Hi Jane,<br>&lt;b&gt;it ships&lt;/b&gt; today &amp; tomorrow.</div>"}
    assert posted[1].json()["private"] is True
    results = [await a.apply(action(kind, tid, payload)) for kind, payload in (
        ("status", {"status": "pending"}), ("priority", {"priority": 4}),
        ("assign", {"assignee": str(fd.other), "name": "Oli Other"}), ("tags", {"add": ["vip"], "remove": ["old"]}),
        ("custom_field", {"field": "cf_order_number", "value": "1001"}), ("status", {"status": "hold"}))]
    assert all(r.version for r in results)
    puts = [r.json() for r in fd.server.calls("PUT", API + rf"/tickets/{tid}")]
    assert puts == [{"status": 3}, {"priority": 4}, {"responder_id": fd.other}, {"tags": ["keep", "vip"]},
                    {"custom_fields": {"cf_order_number": "1001"}}, {"status": 6}]
    ticket = fd.tickets[tid]
    assert (ticket["status"], ticket["priority"], ticket["responder_id"], ticket["tags"]) == (6, 4, fd.other,
                                                                                             ["keep", "vip"])
    convs = fd.conversations[tid]
    assert [(c["body_text"], c["private"], c["incoming"]) for c in convs] == [
        ("Hi Jane,\n<b>it ships</b> today & tomorrow.", False, False), ("Checked the warehouse.", True, False)]
    await a.apply(action("assign", tid, {"assignee": None}))
    assert fd.tickets[tid]["responder_id"] is None
    with pytest.raises(base.RejectedError, match="no 'hold' status"):
        await adapter(fd).apply(action("status", tid, {"status": "hold"}))
    await a.aclose()


async def test_refusals_in_freshdesks_words(fd):
    tid = seed(fd, 1)[0]
    a = adapter(fd)
    with pytest.raises(base.RejectedError, match="responder_id: There is no agent"):
        await a.apply(action("assign", tid, {"assignee": "12345"}))
    with pytest.raises(base.NotFound):
        await a.apply(action("status", 999999, {"status": "open"}))
    await a.aclose()


async def test_lost_reply_is_found_not_resent(fd):
    tid = seed(fd, 1)[0]
    a = adapter(fd, timeout=0.5)
    await a.verify()
    fd.lose_answers, fd.lost_delay = 1, 1.5
    reply = action("reply", tid, {"body": "Exactly once,\nplease."}, first_tried_at=fd.now)
    with pytest.raises(base.TransientError) as info:
        await a.apply(reply)
    assert info.value.maybe_applied
    found = await a.find_applied(reply)
    assert found is not None and found.remote_id == str(fd.conversations[tid][-1]["id"])
    assert await a.find_applied(action("note", tid, {"body": "Exactly once, please."}, fd.now)) is None
    assert await a.find_applied(action("status", tid, {"status": "open"})) is None  # absolute: safe to resend
    await a.aclose()


async def test_rate_limits_budget_errors_and_garbage(fd, monkeypatch):
    tid = seed(fd, 2)[0]
    notes = Notes()
    monkeypatch.setattr(freshdesk, "PACE_SECONDS", 0.0)
    a = adapter(fd, timeout=0.5, driver=notes, rate_reserve=10)
    fd.rate_limited("GET", rf"/tickets/{tid}", retry_after=0)
    assert (await a.fetch_ticket(str(tid))).number == tid
    fd.rate_limited("PUT", rf"/tickets/{tid}", retry_after=9)
    with pytest.raises(base.RateLimited) as info:
        await a.apply(action("priority", tid, {"priority": 3}))
    assert info.value.retry_after == 9
    path = API + rf"/tickets/{tid}"
    fd.server.queue("GET", path, Reply(200, {}, delay=1.0))
    fd.server.queue("GET", path, Reply(503, raw=b"upstream down", headers={"Retry-After": "0"}))
    assert (await a.fetch_ticket(str(tid))).number == tid
    fd.server.queue("GET", path, Reply(500, {"code": "internal_error"}, headers={"Retry-After": "0"}), times=3)
    with pytest.raises(base.TransientError, match="server error 500"):
        await a.fetch_ticket(str(tid))
    fd.server.queue("GET", path, Reply(200, raw=b"<html>maintenance</html>"))
    with pytest.raises(base.TransientError, match="not valid JSON"):
        await a.fetch_ticket(str(tid))
    fd.server.queue("GET", API + "/tickets", Reply(200, {"tickets": []}))
    with pytest.raises(base.AdapterError, match="cannot read"):
        await pull(a)
    fd.server.queue("POST", path + "/reply", Reply(201, ["not", "a", "conversation"]))
    with pytest.raises(base.TransientError) as info:
        await a.apply(action("reply", tid, {"body": "hi"}))
    assert info.value.maybe_applied
    fd.rate_remaining = 5
    await pull(a)
    assert any("budget nearly spent" in m and "of 400" in m for m in notes.messages)
    await a.aclose()


async def test_no_secret_in_any_error_message(fd, caplog):
    caplog.set_level(logging.DEBUG)
    tid = seed(fd, 1)[0]
    messages = []
    bad = adapter(fd, key="wr0ng-" + KEY)
    with pytest.raises(base.AuthError) as info:
        await bad.verify()
    messages += [str(info.value), repr(info.value), repr(bad)]
    await bad.aclose()
    a = adapter(fd, timeout=0.3)
    fd.lose_answers, fd.lost_delay = 1, 0.6
    with pytest.raises(base.TransientError) as info:
        await a.apply(action("note", tid, {"body": "x"}))
    messages += [str(info.value), repr(info.value)]
    await a.aclose()
    text = "\n".join(messages + [caplog.text])
    assert "credentials rejected (401)" in text and "logged in" in text
    assert KEY not in text and "Authorization" not in text


def test_hostile_or_missing_fields_give_an_adapter_error_never_a_crash():
    values = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=20),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                          max_leaves=6)
    stamps = st.sampled_from(["2026-11-18T10:00:00Z", "2026-11-18", "soon"]) | values
    ticket = st.fixed_dictionaries({}, optional={
        "id": st.integers(min_value=1, max_value=2**62) | values, "updated_at": stamps, "created_at": stamps,
        "status": st.integers(0, 9) | values, "priority": st.integers(0, 5) | values, "subject": st.text() | values,
        "requester_id": st.integers(min_value=1) | values, "requester": values, "responder_id": values,
        "group_id": values, "tags": st.lists(st.text()) | values, "custom_fields": values, "stats": values,
        "source": values, "description_text": values, "due_by": stamps, "fr_due_by": stamps, "deleted": values})
    conversation = st.fixed_dictionaries({}, optional={
        "id": st.integers(min_value=1) | values, "incoming": values, "private": values, "user_id": values,
        "body": st.text() | values, "body_text": values, "created_at": stamps, "attachments": values,
        "from_email": values})
    parent = base.TicketRecord("1", 1, "s", "open", 2, 0, 0, requester=base.PersonRecord("5", "Jane", None))

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.one_of(ticket, values), conversation)
    def check(raw_ticket, raw_conversation):
        try:
            record = freshdesk._ticket(raw_ticket, {}, {})
            assert record.status in base.STATUSES and record.priority in (1, 2, 3, 4)
            assert isinstance(record.number, int) and isinstance(record.subject, str)
        except base.AdapterError as exc:
            assert "cannot read" in str(exc)
        try:
            message = freshdesk._message(raw_conversation, parent, {})
            assert isinstance(message.body, str) and isinstance(message.created_at, int)
        except base.AdapterError as exc:
            assert "cannot read" in str(exc)

    check()


# --------------------------------------------------------------------------- through the sync engine


def workspace_for(fd: FakeFreshdesk, isolated, monkeypatch, **options) -> Workspace:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in options.items())
    config.write_text(textwrap.dedent(f"""\
        workspace = "acme"
        [accounts.fd]
        adapter = "freshdesk"
        url = "{fd.server.url}"
        [accounts.fd.options]
        """) + extra + '[workspaces.acme]\nhelpdesk = "fd"\n')
    monkeypatch.setenv("CSCONSOLE_SECRET_FD", KEY)
    return Workspace.load(paths.resolve(config, isolated / "data"))


def engine_pass(workspace: Workspace, *, push: bool = False) -> SyncEngine:
    engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)

    async def go():
        await engine.open()
        try:
            if await engine._guarded(engine.identify):
                if push:
                    await engine.push_due()
                await engine._guarded(engine.pull_once)
        finally:
            await engine.close()

    asyncio.run(go())
    return engine


def test_engine_pulls_and_pushes_exactly_once(fd, isolated, monkeypatch):
    ids = seed(fd, 150)
    workspace = workspace_for(fd, isolated, monkeypatch, timeout=0.5)
    engine = engine_pass(workspace)
    assert engine.status.state == "idle" and engine.status.mode.startswith("ticket list"), engine.status
    cache = workspace.open_cache()
    assert cache.execute("SELECT count(*) FROM ticket").fetchone()[0] == 150
    assert cache.execute("SELECT p.name FROM ticket t JOIN person p ON p.id = t.requester_id WHERE t.id = ?",
                         (ids[0],)).fetchone()[0] == "Jane Doe"
    assert {r[0] for r in cache.execute("SELECT name FROM person WHERE kind = 'agent'")} == {"Fran Agent", "Oli Other"}
    outbox.enqueue(cache, [Intent("reply", ids[0], {"body": "It ships today."}),
                           Intent("status", ids[0], {"status": "solved"}),
                           Intent("tags", ids[0], {"add": ["wismo"]})], actor="fran@acme.example")
    fd.lose_answers, fd.lost_delay = 1, 1.5
    engine_pass(workspace, push=True)
    assert cache.execute("SELECT state FROM outbox ORDER BY id LIMIT 1").fetchone()[0] == "sending"
    cache.execute("UPDATE outbox SET not_before = 0")
    engine_pass(workspace, push=True)
    assert [r[0] for r in cache.execute("SELECT state FROM outbox ORDER BY id")] == ["sent"] * 3
    assert sum(c["body_text"] == "It ships today." for c in fd.conversations[ids[0]]) == 1
    assert fd.tickets[ids[0]]["status"] == 4 and fd.tickets[ids[0]]["tags"] == ["wismo"]
    assert cache.execute("SELECT status FROM ticket WHERE id = ?", (ids[0],)).fetchone()[0] == "solved"
    cache.close()


def test_engine_survives_a_malformed_page_and_rate_limits(fd, isolated, monkeypatch):
    seed(fd, 5)
    workspace = workspace_for(fd, isolated, monkeypatch)
    engine_pass(workspace)
    cache = workspace.open_cache()
    cursor = ingest.load_cursor(cache, "fd")
    fd.server.queue("GET", API + "/tickets", Reply(200, [{"id": "x", "updated_at": 5}]))
    engine = engine_pass(workspace)
    assert engine.status.state == "error" and "cannot read" in engine.status.last_error
    fd.rate_limited("GET", "/tickets", retry_after=3600)
    engine = engine_pass(workspace)
    assert engine.status.state == "offline" and "rate limited (429)" in engine.status.last_error
    assert ingest.load_cursor(cache, "fd") == cursor and KEY not in engine.status.last_error
    cache.close()


def test_engine_reconciles_a_5xx_reply_before_sending_again(fd, isolated, monkeypatch):
    ids = seed(fd, 3)
    workspace = workspace_for(fd, isolated, monkeypatch)
    engine_pass(workspace)
    cache = workspace.open_cache()
    outbox.enqueue(cache, [Intent("reply", ids[1], {"body": "Refund issued."})], actor="fran@acme.example")
    fd.server.queue("POST", API + rf"/tickets/{ids[1]}/reply", Reply(500, {"code": "internal_error"}))
    engine_pass(workspace, push=True)
    assert cache.execute("SELECT state FROM outbox").fetchone()[0] == "sending"  # a 500 may have landed: look first
    cache.execute("UPDATE outbox SET not_before = 0")
    engine_pass(workspace, push=True)
    assert cache.execute("SELECT state FROM outbox").fetchone()[0] == "sent"
    assert sum(c["body_text"] == "Refund issued." for c in fd.conversations[ids[1]]) == 1
    cache.close()


def test_bad_account_settings_are_named_not_crashed_on():
    for options, words in (({"page_size": "many"}, "options.page_size must be a number"),
                           ({"hold_status": 3}, "hold_status must be the number of a custom status"),
                           ({"start": "last week"}, "start must be an ISO 8601 time")):
        with pytest.raises(base.AdapterError, match=words):
            FreshdeskAdapter(AccountSpec("fd", "freshdesk", "https://acme.freshdesk.com", None, options), KEY)
    with pytest.raises(base.AdapterError, match="plain http"):
        FreshdeskAdapter(AccountSpec("fd", "freshdesk", "http://acme.freshdesk.com", None), KEY)
