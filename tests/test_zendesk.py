"""The Zendesk adapter against a stateful fake Zendesk over real HTTP on loopback.

Covers the pull (export pages, resume, dedupe, deletions, the agent-token fallbacks), the
mapping, threads, every action with collision protection, reconciling lost answers, 429,
5xx, timeouts and malformed answers, through the adapter and through the sync engine with
a configured workspace, and that no error ever carries the token.
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
from csconsole.adapters import base, zendesk
from csconsole.adapters.base import AccountSpec, Action, TicketRecord
from csconsole.adapters.zendesk import ZendeskAdapter
from csconsole.store import ingest, outbox
from csconsole.store.outbox import Intent
from csconsole.sync.engine import SyncEngine
from csconsole.workspace import Workspace
from tests.fakes.server import Reply
from tests.fakes.zendesk import API, FakeZendesk, iso

TOKEN = "zd-t0ken-never-shown"
AGENT_TOKEN = "zd-agent-t0ken-never-shown"
ADMIN = "ada@acme.example"
AGENT = "al@acme.example"


class Notes:
    def __init__(self) -> None:
        self.messages: list[str] = []

    def notify(self, message: str) -> None:
        self.messages.append(message)

    def progress(self, done: int, total: int | None) -> None:
        pass


@pytest.fixture
def zd():
    with FakeZendesk() as fake:
        fake.admin = fake.add_user("Ada Admin", ADMIN, "admin", token=TOKEN, oauth="oauth-" + TOKEN)
        fake.agent = fake.add_user("Al Agent", AGENT, "agent", token=AGENT_TOKEN)
        fake.jane = fake.add_user("Jane Doe", "jane@example.com")
        fake.support = fake.add_group("Tier 1")
        yield fake


def adapter(zd: FakeZendesk, *, user: str = ADMIN, token: str = TOKEN, driver=None, **options) -> ZendeskAdapter:
    return ZendeskAdapter(AccountSpec("zd", "zendesk", zd.server.url, user, {"page_size": 100, **options}), token, driver)


async def pull(a: ZendeskAdapter, cursor: str | None = None) -> tuple[list[base.TicketPage], str | None]:
    pages = [page async for page in a.changed_tickets(cursor)]
    return pages, pages[-1].cursor


def seed(zd: FakeZendesk, count: int, **kw) -> list[int]:
    return [zd.add_ticket(f"Where is my order #{1000 + n}?", zd.jane, **kw) for n in range(count)]


def action(kind: str, tid: int, payload: dict, version: str | None = None, first_tried_at: int = 0) -> Action:
    return Action(outbox_id=1, kind=kind, payload=payload, idempotency_key="k", ticket_remote_id=str(tid),
                  base_version=version, first_tried_at=first_tried_at)


# --------------------------------------------------------------------------- identity and modes


async def test_admin_token_uses_the_incremental_export(zd):
    a = adapter(zd)
    me = await a.verify()
    assert (me.remote_id, me.name, me.email, me.role, me.mode) == (str(zd.admin), "Ada Admin", ADMIN, "admin",
                                                                    "incremental export")
    auth = zd.server.requests[0].headers["Authorization"]
    assert auth.startswith("Basic ") and TOKEN not in auth  # email/token:TOKEN, base64
    await a.aclose()


async def test_oauth_token_is_sent_as_bearer(zd):
    a = ZendeskAdapter(AccountSpec("zd", "zendesk", zd.server.url, None, {"auth": "oauth"}), "oauth-" + TOKEN)
    assert (await a.verify()).name == "Ada Admin"
    assert zd.server.requests[0].headers["Authorization"] == f"Bearer oauth-{TOKEN}"
    await a.aclose()


async def test_agent_token_falls_back_to_search_and_slides_past_1000_results(zd):
    zd.now -= 86400  # changes older than search's indexing lag
    ids = seed(zd, 1150)
    a = adapter(zd, user=AGENT, token=AGENT_TOKEN)
    me = await a.verify()
    assert me.mode == "search (no incremental export with this token)"
    assert zd.server.calls("GET", API + r"/incremental/tickets/cursor(\.json)?")  # it asked once, got 403
    pages, cursor = await pull(a)
    got = {t.number for p in pages for t in p.tickets}
    assert got == set(ids)
    searches = zd.server.calls("GET", API + r"/search(\.json)?")
    assert max(int(r.arg("page")) for r in searches) == 10  # never past Zendesk's 1,000-result cap
    assert len({r.arg("query") for r in searches}) == 2  # a second window started where the first ended
    assert cursor.startswith("search:") and pages[-1].done and pages[0].total == 1150
    assert all(t.requester and t.requester.name == "Jane Doe" for p in pages for t in p.tickets)  # via show_many
    # Nothing new: the next pass re-reads only the last few minutes, which are long past here.
    zd.set(ids[3], status="pending")
    again, _ = await pull(a, cursor)
    assert {t.number for p in again for t in p.tickets} == {ids[3], ids[-1]}  # the window's edge is read again
    await a.aclose()


async def test_agent_token_with_a_view(zd):
    ids = seed(zd, 130)
    zd.views[42] = lambda t: t["status"] != "solved"
    zd.set(ids[0], status="solved")
    a = adapter(zd, user=AGENT, token=AGENT_TOKEN, view=42)
    assert (await a.verify()).mode == "view 42 (no incremental export with this token)"
    pages, cursor = await pull(a)
    assert {t.number for p in pages for t in p.tickets} == set(ids[1:])
    assert cursor.startswith("view:") and pages[-1].done
    await a.aclose()


# --------------------------------------------------------------------------- pulling and mapping


async def test_small_export_pages_reach_the_engine_in_batches(zd):
    seed(zd, 250)
    a = adapter(zd)
    pages, cursor = await pull(a)
    exports = zd.server.calls("GET", API + r"/incremental/tickets/cursor(\.json)?")
    assert len(exports) == 1 + 3 and [len(p.tickets) for p in pages] == [250] and pages[0].done
    again, _ = await pull(a, cursor)  # the batch carried the last page's after_cursor
    assert [t for p in again for t in p.tickets] == []
    await a.aclose()


async def test_export_pages_resume_from_the_cursor_and_flag_deletions(zd, monkeypatch):
    monkeypatch.setattr(zendesk, "BATCH", 100)
    ids = seed(zd, 250)
    a = adapter(zd)
    pages, cursor = await pull(a)
    assert [len(p.tickets) for p in pages] == [100, 100, 50]
    assert [p.done for p in pages] == [False, False, True] and pages[0].total == 250
    probe, first, *rest = zd.server.calls("GET", API + r"/incremental/tickets/cursor(\.json)?")
    assert probe.arg("per_page") == "1"  # can this token export? asked once
    assert first.arg("start_time") == "0" and first.arg("include") == "users"
    assert len(rest) == 2 and all(r.arg("cursor") and not r.arg("start_time") for r in rest)
    # A second pull from the persisted after_cursor brings exactly what changed since.
    zd.set(ids[10], priority="urgent")
    zd.customer_reply(ids[20], "Any news?")
    zd.delete(ids[30])
    again, _ = await pull(a, cursor)
    changed = {t.number: t for p in again for t in p.tickets}
    assert set(changed) == {ids[10], ids[20], ids[30]}
    assert changed[ids[10]].priority == 4 and changed[ids[30]].deleted and not changed[ids[20]].deleted
    # Resuming mid-stream (a killed pull) starts on the page after the last one stored.
    resumed, _ = await pull(a, pages[0].cursor)
    assert {t.number for p in resumed for t in p.tickets} == set(ids[100:]) | {ids[10], ids[20], ids[30]}
    await a.aclose()


async def test_mapping_keeps_remote_values(zd):
    fields = {27642: "745", 27648: None}
    tids = [zd.add_ticket("Hold it", zd.jane, status=s, priority=p, assignee=zd.agent, tags=["VIP", "wismo"],
                          group=zd.support, custom_fields=fields, channel="web")
            for s, p in (("new", "low"), ("hold", None), ("solved", "urgent"), ("closed", "high"))]
    zd.tickets[tids[0]]["brand_new_key"] = {"nested": [1, 2]}  # unknown keys are ignored
    zd.set(tids[1], status="custom_thing")
    a = adapter(zd)
    await a.verify()
    pages, _ = await pull(a)
    got = {t.number: t for p in pages for t in p.tickets}
    new, hold, solved, closed = (got[t] for t in tids)
    assert (new.status, new.priority, new.remote_status, new.remote_priority) == ("new", 1, "new", "low")
    assert (hold.status, hold.priority, hold.remote_status, hold.remote_priority) == ("open", 2, "custom_thing", None)
    assert (solved.status, solved.priority) == ("solved", 4) and (closed.status, closed.priority) == ("closed", 3)
    assert new.requester == base.PersonRecord(str(zd.jane), "Jane Doe", "jane@example.com", "customer")
    assert new.assignee == base.PersonRecord(str(zd.agent), "Al Agent", AGENT, "agent")
    assert new.tags == ("VIP", "wismo") and new.group == "Tier 1" and new.channel == "web"
    assert new.custom_fields == {"27642": "745"}
    assert new.version == zd.tickets[tids[0]]["updated_at"] == iso(new.updated_at)
    assert new.remote_id == str(tids[0]) and new.number == tids[0] and new.description == "Hold it"
    await a.aclose()


async def test_export_keeps_the_newest_copy_of_a_repeated_ticket(zd):
    tid = seed(zd, 1)[0]
    old = zd.tickets[tid] | {"generated_timestamp": 100, "status": "open", "updated_at": "2026-10-01T10:00:00Z"}
    new = zd.tickets[tid] | {"generated_timestamp": 200, "status": "pending", "updated_at": "2026-09-30T10:00:00Z"}
    export = API + r"/incremental/tickets/cursor(\.json)?"
    zd.server.queue("GET", export, Reply(200, {"tickets": [new, old], "after_cursor": "abc", "end_of_stream": True,
                                               "users": []}))
    a = adapter(zd, mode="export")
    pages, cursor = await pull(a, "xyz")
    assert [(t.number, t.status) for t in pages[0].tickets] == [(tid, "pending")] and cursor == "abc"
    # Across the pages of one batch too: the later page has the newer copy.
    zd.server.queue("GET", export, Reply(200, {"tickets": [old], "after_cursor": "c1", "end_of_stream": False}))
    zd.server.queue("GET", export, Reply(200, {"tickets": [new], "after_cursor": "c2", "end_of_stream": True}))
    pages, cursor = await pull(a, "abc")
    assert [(t.number, t.status) for p in pages for t in p.tickets] == [(tid, "pending")] and cursor == "c2"
    await a.aclose()


async def test_thread_pages_visibility_and_authors(zd):
    tid = seed(zd, 1)[0]
    for n in range(150):
        zd.add_comment(tid, zd.agent if n % 2 else zd.jane, f"message {n}", public=n % 3 != 0 or n == 0)
    a = adapter(zd)
    thread = await a.fetch_thread(str(tid))
    assert len(thread) == 151 and len(zd.server.calls("GET", API + rf"/tickets/{tid}/comments(\.json)?")) == 2
    assert [m.created_at for m in thread] == sorted(m.created_at for m in thread)
    first, note = thread[1], thread[4]
    assert (first.author_role, first.author.name, first.public, first.body) == ("customer", "Jane Doe", True, "message 0")
    assert (note.author_role, note.author.name, note.public) == ("agent", "Al Agent", False)
    await a.aclose()


# --------------------------------------------------------------------------- writing


async def test_every_action_is_one_collision_safe_put(zd):
    tid = seed(zd, 1)[0]
    zd.tickets[tid]["tags"] = ["keep", "old"]
    a = adapter(zd)
    await a.verify()
    plan = [("reply", {"body": "Hi Jane,\nit ships today."}), ("note", {"body": "Checked the warehouse."}),
            ("status", {"status": "pending"}), ("priority", {"priority": 4}),
            ("assign", {"assignee": str(zd.agent), "name": "Al Agent"}), ("tags", {"add": ["vip"], "remove": ["old"]}),
            ("custom_field", {"field": "27642", "value": "999"}), ("assign", {"assignee": None})]
    version = zd.tickets[tid]["updated_at"]
    for kind, payload in plan:
        result = await a.apply(action(kind, tid, payload, version))
        assert result.version == zd.tickets[tid]["updated_at"] != version
        version = result.version
    puts = [r.json()["ticket"] for r in zd.server.calls("PUT", API + rf"/tickets/{tid}(\.json)?")]
    assert len(puts) == len(plan) and all(p["safe_update"] is True and p["updated_stamp"] for p in puts)
    assert puts[0]["comment"] == {"body": "Hi Jane,\nit ships today.", "public": True}
    assert puts[1]["comment"]["public"] is False and puts[3]["priority"] == "urgent"
    assert puts[5]["additional_tags"] == ["vip"] and puts[5]["remove_tags"] == ["old"] and "tags" not in puts[5]
    ticket = zd.tickets[tid]
    assert (ticket["status"], ticket["priority"], ticket["assignee_id"]) == ("pending", "urgent", None)
    assert ticket["tags"] == ["keep", "vip"] and {"id": 27642, "value": "999"} in ticket["custom_fields"]
    comments = zd.comments[tid]
    assert [(c["body"], c["public"]) for c in comments[-2:]] == [("Hi Jane,\nit ships today.", True),
                                                                   ("Checked the warehouse.", False)]
    await a.aclose()


async def test_reply_result_names_the_new_comment(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd)
    result = await a.apply(action("reply", tid, {"body": "On its way"}, zd.tickets[tid]["updated_at"]))
    assert result.remote_id == str(zd.comments[tid][-1]["id"])
    await a.aclose()


async def test_stale_stamp_is_a_conflict_carrying_the_remote_ticket(zd):
    tid = seed(zd, 1)[0]
    stale = zd.tickets[tid]["updated_at"]
    zd.customer_reply(tid, "Hello?? Anyone there?")
    zd.set(tid, priority="high")
    a = adapter(zd)
    with pytest.raises(base.ConflictError) as info:
        await a.apply(action("status", tid, {"status": "solved"}, stale))
    assert info.value.remote.remote_priority == "high" and info.value.remote.version == zd.tickets[tid]["updated_at"]
    assert zd.tickets[tid]["status"] == "open"
    with pytest.raises(base.ConflictError):
        await a.apply(action("note", tid, {"body": "Never sent twice"}, stale, first_tried_at=zd.now))
    assert all(c["body"] != "Never sent twice" for c in zd.comments[tid])
    await a.aclose()


async def test_database_conflict_is_transient_and_closed_tickets_are_rejected_in_zendesks_words(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd)
    zd.server.queue("PUT", API + rf"/tickets/{tid}(\.json)?", Reply(409, {"error": "DatabaseConflict",
                                                                          "description": "Database collision"}))
    with pytest.raises(base.TransientError) as info:
        await a.apply(action("status", tid, {"status": "pending"}))
    assert not info.value.maybe_applied
    zd.set(tid, status="closed")
    with pytest.raises(base.RejectedError, match="Status: closed prevents ticket update"):
        await a.apply(action("reply", tid, {"body": "too late"}))
    with pytest.raises(base.NotFound):
        await a.apply(action("status", 999999, {"status": "open"}))
    await a.aclose()


async def test_lost_answer_is_found_not_resent(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd, timeout=0.5)
    await a.verify()
    zd.lose_answers, zd.lost_delay = 1, 1.5
    reply = action("reply", tid, {"body": "Exactly  once,\nplease."}, zd.tickets[tid]["updated_at"],
                   first_tried_at=zd.now)
    with pytest.raises(base.TransientError) as info:
        await a.apply(reply)
    assert info.value.maybe_applied
    found = await a.find_applied(reply)
    assert found is not None and found.remote_id == str(zd.comments[tid][-1]["id"])
    assert sum(c["body"] == "Exactly  once,\nplease." for c in zd.comments[tid]) == 1
    assert await a.find_applied(action("note", tid, {"body": "Exactly once, please."}, first_tried_at=zd.now)) is None
    await a.aclose()


async def test_retried_put_with_the_same_stamp_reconciles_instead_of_overwriting(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd, timeout=0.5)
    zd.lose_answers, zd.lost_delay = 1, 1.5
    status = action("status", tid, {"status": "solved"}, zd.tickets[tid]["updated_at"])
    with pytest.raises(base.TransientError):
        await a.apply(status)
    landed = zd.tickets[tid]["updated_at"]
    await asyncio.sleep(1.2)  # let the slow answer go
    result = await a.apply(status)  # the same stamp again: Zendesk answers 409, we look and find it done
    assert result.version == landed and zd.tickets[tid]["status"] == "solved"
    assert [r.json()["ticket"]["updated_stamp"] for r in zd.server.calls("PUT", API + rf"/tickets/{tid}(\.json)?")] \
        == [status.base_version] * 2
    await a.aclose()


# --------------------------------------------------------------------------- agents and macros


async def test_agents_and_macros(zd):
    zd.add_macro("Where is my order", [{"field": "status", "value": "pending"},
                                       {"field": "comment_value", "value": ["channel:all", "Hi {{ticket.requester.first_name}}"]}],
                 description="WISMO first answer")
    zd.add_macro("Retired", [], active=False)
    a = adapter(zd)
    agents = await a.list_agents()
    assert {(p.remote_id, p.name, p.kind) for p in agents} == {(str(zd.admin), "Ada Admin", "agent"),
                                                               (str(zd.agent), "Al Agent", "agent")}
    macros = await a.list_macros()
    assert [(m.title, m.description) for m in macros] == [("Where is my order", "WISMO first answer")]
    assert macros[0].actions == (("status", "pending"),
                                 ("comment_value", ("channel:all", "Hi {{ticket.requester.first_name}}")))
    assert a.can(base.CONFLICTS) and a.can(base.LIST_MACROS)
    await a.aclose()


# --------------------------------------------------------------------------- failures


async def test_rate_limits_wait_for_retry_after_on_reads_and_surface_on_writes(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd)
    zd.rate_limited("GET", r"/tickets/\d+\.json", retry_after=0)
    assert (await a.fetch_ticket(str(tid))).number == tid
    zd.rate_limited("PUT", r"/tickets/\d+\.json", retry_after=7)
    with pytest.raises(base.RateLimited) as info:
        await a.apply(action("status", tid, {"status": "pending"}))
    assert info.value.retry_after == 7 and zd.tickets[tid]["status"] == "open"
    await a.aclose()


async def test_budget_nearly_spent_pauses_reads(zd):
    seed(zd, 3)
    notes = Notes()
    a = adapter(zd, driver=notes, rate_reserve=650)
    zd.rate_remaining, zd.rate_reset = 600, 0
    await pull(a)
    assert notes.messages and "budget nearly spent" in notes.messages[0]
    await a.aclose()


async def test_server_errors_timeouts_and_garbage(zd):
    tid = seed(zd, 1)[0]
    a = adapter(zd, timeout=0.5)
    ticket_path = API + rf"/tickets/{tid}(\.json)?"
    zd.server.queue("GET", ticket_path, Reply(200, {"ticket": {}}, delay=1.0))  # a read that times out
    zd.server.queue("GET", ticket_path, Reply(503, raw=b"<html>Service Unavailable</html>",
                                              headers={"Retry-After": "0", "Content-Type": "text/html"}))
    assert (await a.fetch_ticket(str(tid))).number == tid  # reads retry by themselves
    zd.server.queue("GET", ticket_path, Reply(500, {"error": "InternalError"}, headers={"Retry-After": "0"}), times=3)
    with pytest.raises(base.TransientError, match="server error 500"):
        await a.fetch_ticket(str(tid))
    zd.server.queue("GET", ticket_path, Reply(200, raw=b'{"ticket": {"id": '))
    with pytest.raises(base.TransientError, match="not valid JSON"):
        await a.fetch_ticket(str(tid))
    zd.server.queue("GET", ticket_path, Reply(200, {"ticket": {"id": "twelve", "updated_at": "yesterday"}}))
    with pytest.raises(base.AdapterError, match="cannot read .*id is not a number"):
        await a.fetch_ticket(str(tid))
    zd.server.queue("PUT", ticket_path, Reply(502, raw=b"Bad Gateway", headers={"Content-Type": "text/plain"}))
    with pytest.raises(base.TransientError) as info:
        await a.apply(action("reply", tid, {"body": "hello"}))
    assert info.value.maybe_applied
    zd.server.queue("PUT", ticket_path, Reply(200, {"unexpected": True}))
    with pytest.raises(base.TransientError) as info:
        await a.apply(action("reply", tid, {"body": "hello"}))
    assert info.value.maybe_applied  # it may have landed: the outbox looks before resending
    await a.aclose()


async def test_no_secret_in_any_error_message(zd, caplog):
    caplog.set_level(logging.DEBUG)
    seed(zd, 1)
    messages = []
    bad = adapter(zd, token="wr0ng-" + TOKEN)
    with pytest.raises(base.AuthError) as info:
        await bad.verify()
    messages.append(str(info.value))
    await bad.aclose()
    a = adapter(zd, timeout=0.3)
    zd.lose_answers, zd.lost_delay = 1, 0.6
    for failure in (lambda: a.apply(action("reply", 1, {"body": "x"})),
                    lambda: a.apply(action("status", 1, {"status": "solved"}, "2000-01-01T00:00:00Z"))):
        with pytest.raises(base.AdapterError) as info:
            await failure()
        messages.append(str(info.value))
        messages.append(repr(info.value))
    messages.append(repr(a))
    await a.aclose()
    text = "\n".join(messages + [caplog.text])
    assert "credentials rejected (401)" in text and "Couldn't authenticate you" in text
    assert TOKEN not in text and "Authorization" not in text and "Basic " not in text


def test_hostile_or_missing_fields_give_an_adapter_error_never_a_crash():
    a = ZendeskAdapter(AccountSpec("zd", "zendesk", "https://acme.zendesk.com", ADMIN), TOKEN)
    json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                               lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
                               max_leaves=6)
    stamps = st.sampled_from(["2026-11-18T10:00:00Z", "2026-11-18T10:00:00+01:00", "not a time", ""]) | json_values
    ticket = st.fixed_dictionaries({}, optional={
        "id": st.integers(min_value=1, max_value=2**63 - 1) | json_values, "updated_at": stamps, "created_at": stamps,
        "subject": st.text() | json_values, "status": st.sampled_from(["new", "hold", "deleted", "weird"]) | json_values,
        "priority": st.sampled_from(["urgent", "low", None]) | json_values, "tags": st.lists(st.text()) | json_values,
        "requester_id": st.integers(min_value=1) | json_values, "assignee_id": json_values, "group_id": json_values,
        "custom_fields": st.lists(st.fixed_dictionaries({"id": json_values, "value": json_values})) | json_values,
        "via": json_values, "description": json_values})
    comment = st.fixed_dictionaries({}, optional={
        "id": st.integers(min_value=1) | json_values, "author_id": json_values, "public": json_values,
        "body": st.text() | json_values, "created_at": stamps, "attachments": json_values})

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(ticket, comment)
    def check(raw_ticket, raw_comment):
        for parse, raw in ((a._ticket, raw_ticket), (a._message, raw_comment)):
            try:
                record = parse(raw)
            except base.AdapterError as exc:
                assert "cannot read" in str(exc)
                continue
            if isinstance(record, TicketRecord):
                assert isinstance(record.number, int) and isinstance(record.updated_at, int)
                assert record.status in base.STATUSES and record.priority in (1, 2, 3, 4)
                assert isinstance(record.subject, str) and all(isinstance(t, str) for t in record.tags)
            else:
                assert isinstance(record.body, str) and isinstance(record.created_at, int)

    check()


# --------------------------------------------------------------------------- through the sync engine


def workspace_for(zd: FakeZendesk, isolated, monkeypatch, **options) -> Workspace:
    config = isolated / "config" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    extra = "".join(f"{k} = {json.dumps(v)}\n" for k, v in {"page_size": 100, **options}.items())
    config.write_text(textwrap.dedent(f"""\
        workspace = "acme"
        [accounts.zd]
        adapter = "zendesk"
        url = "{zd.server.url}"
        user = "{ADMIN}"
        [accounts.zd.options]
        """) + extra + '[workspaces.acme]\nhelpdesk = "zd"\n')
    monkeypatch.setenv("CSCONSOLE_SECRET_ZD", TOKEN)
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


def test_engine_pulls_pushes_and_resumes_against_fake_zendesk(zd, isolated, monkeypatch):
    ids = seed(zd, 230, assignee=None)
    workspace = workspace_for(zd, isolated, monkeypatch, timeout=0.5)
    engine = engine_pass(workspace)
    assert engine.status.state == "idle" and engine.status.mode == "incremental export", engine.status
    cache = workspace.open_cache()
    assert cache.execute("SELECT count(*) FROM ticket").fetchone()[0] == 230
    row = cache.execute("SELECT t.subject, p.name, t.version FROM ticket t JOIN person p ON p.id = t.requester_id"
                        " WHERE t.id = ?", (ids[5],)).fetchone()
    assert tuple(row) == ("Where is my order #1005?", "Jane Doe", zd.tickets[ids[5]]["updated_at"])
    assert cache.execute("SELECT name FROM person WHERE is_me = 1").fetchone()[0] == "Ada Admin"
    assert ingest.load_cursor(cache, "zd")
    assert cache.execute("SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH 'order'").fetchone()  # index rebuilt
    # Agent actions go out once and in order; a lost answer is reconciled, not resent.
    outbox.enqueue(cache, [Intent("reply", ids[5], {"body": "It ships today."}),
                           Intent("status", ids[5], {"status": "pending"}),
                           Intent("tags", ids[5], {"add": ["wismo-answered"]})], actor=ADMIN)
    zd.lose_answers, zd.lost_delay = 1, 1.5
    engine_pass(workspace, push=True)
    assert cache.execute("SELECT state FROM outbox ORDER BY id LIMIT 1").fetchone()[0] == "sending"
    for _ in range(3):
        cache.execute("UPDATE outbox SET not_before = 0")
        engine_pass(workspace, push=True)
    assert [r[0] for r in cache.execute("SELECT state FROM outbox ORDER BY id")] == ["sent"] * 3
    assert sum(c["body"] == "It ships today." for c in zd.comments[ids[5]]) == 1
    assert zd.tickets[ids[5]]["status"] == "pending" and "wismo-answered" in zd.tickets[ids[5]]["tags"]
    assert cache.execute("SELECT status, version FROM ticket WHERE id = ?", (ids[5],)).fetchone()[:] == (
        "pending", zd.tickets[ids[5]]["updated_at"])
    cache.close()


def test_engine_shows_a_conflict_and_a_malformed_page_without_crashing(zd, isolated, monkeypatch):
    ids = seed(zd, 20)
    workspace = workspace_for(zd, isolated, monkeypatch, mode="export")
    engine_pass(workspace)
    cache = workspace.open_cache()
    cursor = ingest.load_cursor(cache, "zd")
    outbox.enqueue(cache, [Intent("priority", ids[2], {"priority": "urgent"})], actor=ADMIN)
    zd.customer_reply(ids[2], "Cancel it please")
    zd.server.queue("GET", API + r"/incremental/tickets/cursor(\.json)?", Reply(200, {"tickets": "nope"}))
    engine = engine_pass(workspace, push=True)
    row = cache.execute("SELECT state, last_error, result FROM outbox").fetchone()
    assert row["state"] == "conflict" and "changed in Zendesk" in row["last_error"]
    assert json.loads(row["result"])["remote"]["version"] == zd.tickets[ids[2]]["updated_at"]
    assert zd.tickets[ids[2]]["priority"] == "normal"
    assert engine.status.state == "error" and "cannot read" in engine.status.last_error
    assert ingest.load_cursor(cache, "zd") == cursor  # nothing half-stored
    cache.close()


def test_engine_reports_bad_credentials_and_429_in_one_line(zd, isolated, monkeypatch):
    seed(zd, 2)
    workspace = workspace_for(zd, isolated, monkeypatch)
    monkeypatch.setenv("CSCONSOLE_SECRET_ZD", "wrong")
    engine = engine_pass(workspace)
    assert engine.status.state == "error" and "credentials rejected (401)" in engine.status.last_error
    monkeypatch.setenv("CSCONSOLE_SECRET_ZD", TOKEN)
    zd.rate_limited("GET", r"/incremental/tickets/cursor\.json", retry_after=3600, times=1)
    engine = engine_pass(workspace)
    assert engine.status.state == "offline" and "rate limited (429)" in engine.status.last_error
    assert TOKEN not in engine.status.last_error


def test_engine_retries_a_5xx_push_and_sends_once(zd, isolated, monkeypatch):
    ids = seed(zd, 3)
    workspace = workspace_for(zd, isolated, monkeypatch)
    engine_pass(workspace)
    cache = workspace.open_cache()
    outbox.enqueue(cache, [Intent("note", ids[1], {"body": "Carrier says Tuesday."})], actor=ADMIN)
    zd.server.queue("PUT", API + rf"/tickets/{ids[1]}(\.json)?", Reply(503, raw=b"Service Unavailable",
                                                                        headers={"Retry-After": "0"}))
    engine_pass(workspace, push=True)
    row = cache.execute("SELECT state, last_error FROM outbox").fetchone()
    assert row["state"] == "pending" and "server error 503" in row["last_error"]  # 503: not applied, send again
    cache.execute("UPDATE outbox SET not_before = 0")
    engine_pass(workspace, push=True)
    assert cache.execute("SELECT state FROM outbox").fetchone()[0] == "sent"
    assert sum(c["body"] == "Carrier says Tuesday." for c in zd.comments[ids[1]]) == 1
    cache.close()


def test_bad_account_settings_are_named_not_crashed_on():
    for options, words in (({"timeout": "soon"}, "options.timeout must be a number"),
                           ({"view": "sales"}, "options.view must be a view id"),
                           ({"mode": "view"}, "needs view")):
        with pytest.raises(base.AdapterError, match=words):
            ZendeskAdapter(AccountSpec("zd", "zendesk", "https://acme.zendesk.com", ADMIN, options), TOKEN)
    with pytest.raises(base.AuthError, match="needs user"):
        ZendeskAdapter(AccountSpec("zd", "zendesk", "https://acme.zendesk.com", None), TOKEN)
    with pytest.raises(base.AdapterError, match="plain http"):
        ZendeskAdapter(AccountSpec("zd", "zendesk", "http://acme.zendesk.com", ADMIN), TOKEN)
