"""Zendesk Support (API v2): tickets, comments, collision-safe updates, agents and macros.

How it pulls depends on the token's rights, found out by verify() and shown as
``Identity.mode``:

- **incremental export** (admin tokens): ``/incremental/tickets/cursor.json``, ``start_time``
  once and then ``cursor=after_cursor`` while ``end_of_stream`` is false. Our cursor *is*
  Zendesk's ``after_cursor``, so a killed pull resumes after the last batch stored. The next
  page is requested before the engine stores the current one, and small pages are handed on
  in batches of ``BATCH`` (fewer cache commits): a 100,000-ticket first sync is bound by
  SQLite, not by waiting.
- **search** (agent tokens, where the export answers 403): ``/search.json`` ordered by
  ``updated_at`` ascending in windows of at most 1,000 results (Zendesk's cap), sliding the
  window start forward. Search lags by minutes, so the cursor never runs ahead of
  ``now - SEARCH_LAG``. Cursor ``search:<epoch>``.
- **view** (agent tokens, ``options.view = <id>``): the view's tickets with cursor paging,
  keeping those changed since the last pass. Cursor ``view:<epoch>``.

Writes are one ``PUT /tickets/{id}`` per outbox action, with ``safe_update`` and the
``updated_stamp`` the action was based on (our ticket version is Zendesk's ``updated_at``).
A 409 ``UpdateConflict`` is first reconciled (did our own earlier attempt land? then it is
done) and otherwise becomes a ConflictError carrying the remote ticket; a retried PUT whose
first attempt landed answers 409 too, which is why reconciling comes before overwriting.
Comments carry no idempotency key, so ``find_applied`` reads the newest comments for the
same body and visibility after the action was first tried.

Options (``[accounts.NAME.options]``): ``auth = "oauth"`` (Bearer token instead of
``email/token``), ``mode = "export" | "search" | "view"``, ``view``, ``start_time`` (epoch of
the first pull), ``page_size`` (export page size), ``timeout``, ``rate_reserve``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterable, Mapping
from typing import Any, ClassVar

import httpx

from csconsole import clock
from csconsole.adapters import base
from csconsole.adapters.base import (
    Action, ActionResult, AdapterError, AuthError, ConflictError, HelpdeskAdapter, Identity, MessageRecord,
    PersonRecord, RejectedError, RemoteMacro, TicketPage, TicketRecord, TransientError,
)
from csconsole.adapters.payload import (
    as_int, as_text, epoch, header_int, iso, number_option, reason, unreadable, words,
)
from csconsole.adapters.http import HttpClient, parse_json
from csconsole.text import clean_line, normalise_tag

API = "/api/v2"
EXPORT, SEARCH, VIEW = "export", "search", "view"
SEARCH_LAG = 300
"""Seconds: search (and views) may not show a change for minutes; the cursor stays this far behind now."""
SEARCH_PAGES = 10
"""Zendesk answers 422 past page 10 of 100: a window holds at most 1,000 results."""
RECONCILE_SLACK = 300
"""Seconds of clock skew allowed when looking for a comment an earlier attempt may have made."""
SHOW_MANY = 100
BATCH = 1000
"""Tickets handed to the engine per page, gathering small export pages: each page is one cache
transaction with its cursor, and committing every 100 tickets costs as much as storing them."""

STATUS_MAP = {"new": "new", "open": "open", "pending": "pending", "hold": "hold", "solved": "solved", "closed": "closed"}
PRIORITY_MAP = {"urgent": 4, "high": 3, "normal": 2, "low": 1}
PRIORITY_NAMES = {level: name for name, level in PRIORITY_MAP.items()}
AGENT_ROLES = ("agent", "admin")


class ZendeskAdapter(HelpdeskAdapter):
    name: ClassVar[str] = "zendesk"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        base.REPLY, base.NOTE, base.STATUS, base.PRIORITY, base.ASSIGN, base.TAGS, base.CUSTOM_FIELDS,
        base.LIST_AGENTS, base.LIST_MACROS, base.CONFLICTS,
    })

    def __init__(self, account: base.AccountSpec, secret: str | None = None, driver: base.Driver | None = None) -> None:
        super().__init__(account, secret, driver)
        options = account.options
        if not secret:
            raise AuthError(f"zendesk account {account.name!r} has no API token")
        auth: httpx.Auth | None = None
        headers: dict[str, str] = {}
        if options.get("auth") == "oauth":
            headers["Authorization"] = f"Bearer {secret}"
        else:
            if not account.user:
                raise AuthError(f"zendesk account {account.name!r} needs user = the agent's email address")
            auth = httpx.BasicAuth(f"{account.user}/token", secret)
        self.http = HttpClient(api_url(account.url), what="zendesk", auth=auth, headers=headers,
                               timeout=number_option("zendesk", account, "timeout", 30.0))
        self.mode: str | None = options.get("mode") if options.get("mode") in (EXPORT, SEARCH, VIEW) else None
        try:
            self.view = None if options.get("view") is None else as_int(options["view"], "view")
        except ValueError:
            raise AdapterError(f"zendesk account {account.name!r}: options.view must be a view id") from None
        if self.mode == VIEW and self.view is None:
            raise AdapterError(f"zendesk account {account.name!r}: mode = \"view\" needs view = <view id>")
        self.start_time = int(number_option("zendesk", account, "start_time", 0))
        self.page_size = int(number_option("zendesk", account, "page_size", 0)) or None
        self.rate_reserve = int(number_option("zendesk", account, "rate_reserve", 10))
        self.me: int | None = None
        self._users: dict[int, tuple[str, str | None, str]] = {}
        self._people: dict[tuple[int, str], PersonRecord] = {}
        self._groups: dict[int, str] | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ reading

    async def _get(self, path: str, params: Mapping[str, Any] | None = None, *, ok: tuple[int, ...] = ()) -> Any:
        """GET and parse; leaves room in the account's shared budget (see _pace)."""
        response = await self.http.request("GET", path, params=params, ok=ok)
        if response.status_code in ok:
            return response
        await self._pace(response)
        data = parse_json(response, f"zendesk GET {path}")
        if not isinstance(data, dict):
            raise unreadable("zendesk", path, "the answer is not a JSON object")
        return data

    async def _pace(self, response: httpx.Response) -> None:
        """The rate limit is per account and the team's web UI spends it too: when our reads
        have nearly used it up, wait for the window to reset instead of starving the humans."""
        remaining = header_int(response, "X-Rate-Limit-Remaining")
        if remaining is None or remaining > self.rate_reserve:
            return
        reset = header_int(response, "ratelimit-reset")
        wait = 10 if reset is None else min(reset, 60)
        self.driver.notify(f"Zendesk API budget nearly spent ({remaining} calls left): pausing {wait}s")
        await asyncio.sleep(wait)

    async def _cursor_pages(self, path: str, key: str, params: Mapping[str, Any]) -> AsyncIterator[dict]:
        """Follow Zendesk cursor pagination (meta.has_more / after_cursor).

        We build the next request from ``after_cursor`` rather than following ``links.next``
        verbatim, so credentials only ever go to the configured host.
        """
        query = {**params, "page[size]": 100}
        while True:
            data = await self._get(path, query)
            if not isinstance(data.get(key), list):
                raise unreadable("zendesk", path, f"no {key!r} list")
            yield data
            meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
            after = meta.get("after_cursor")
            if not meta.get("has_more") or not isinstance(after, str) or not after:
                return
            query = {**query, "page[after]": after}

    # ------------------------------------------------------------------ identity and mode

    async def verify(self) -> Identity:
        data = await self._get("/users/me.json")
        user = data.get("user")
        if not isinstance(user, dict) or user.get("id") is None:
            raise AuthError("zendesk: signed in as an anonymous user; check the account's email and API token")
        try:
            me = as_int(user.get("id"), "user id")
        except ValueError as exc:
            raise unreadable("zendesk", "/users/me.json", str(exc)) from None
        role = str(user.get("role") or "agent")
        if role not in AGENT_ROLES:
            raise AuthError(f"zendesk: {clean_line(user.get('email'), 80)} is an end user, not an agent")
        self.me = me
        self._remember_users([user])
        mode = await self._detect_mode()
        await self._load_groups()
        return Identity(remote_id=str(me), name=clean_line(user.get("name"), 200) or str(me),
                        email=user.get("email") if isinstance(user.get("email"), str) else None, role=role,
                        mode=self.describe_mode(mode))

    def describe_mode(self, mode: str) -> str:
        if mode == EXPORT:
            return "incremental export"
        if mode == VIEW:
            return f"view {self.view} (no incremental export with this token)"
        return "search (no incremental export with this token)"

    async def _detect_mode(self) -> str:
        """Incremental export needs an admin; ask it once, and fall back when it answers 403."""
        if self.mode is None:
            probe = await self._get("/incremental/tickets/cursor.json",
                                    {"start_time": max(clock.now() - 3600, 0), "per_page": 1}, ok=(403,))
            if isinstance(probe, httpx.Response):
                self.mode = VIEW if self.view is not None else SEARCH
            else:
                self.mode = EXPORT
        return self.mode

    async def _load_groups(self) -> None:
        """Group names for the queue (best effort: some roles may not list groups)."""
        if self._groups is not None:
            return
        groups: dict[int, str] = {}
        try:
            async for data in self._cursor_pages("/groups.json", "groups", {}):
                for g in data["groups"]:
                    if isinstance(g, dict) and isinstance(g.get("id"), int) and isinstance(g.get("name"), str):
                        groups[g["id"]] = g["name"]
        except RejectedError:
            pass  # names stay ids
        self._groups = groups

    # ------------------------------------------------------------------ pulling

    async def changed_tickets(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        mode = await self._detect_mode()
        await self._load_groups()
        if mode == EXPORT:
            pages = self._export(cursor)
        elif mode == VIEW:
            pages = self._view(cursor)
        else:
            pages = self._search(cursor)
        async for page in pages:
            yield page

    async def _count(self) -> int | None:
        """How many tickets a full pull will bring, for the progress display (best effort)."""
        try:
            data = await self._get("/tickets/count.json")
        except (RejectedError, TransientError):
            return None
        value = data.get("count", {}).get("value") if isinstance(data.get("count"), dict) else None
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    async def _export(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        path = "/incremental/tickets/cursor.json"
        params: dict[str, Any] = {"include": "users"}
        if self.page_size:
            params["per_page"] = int(self.page_size)
        since = _fallback_since(cursor)
        total = await self._count() if cursor is None else None
        if cursor is None or since is not None:
            start = self.start_time if since is None else max(since - SEARCH_LAG, 0)
            query = {**params, "start_time": start}
        else:
            query = {**params, "cursor": cursor}
        ahead = asyncio.ensure_future(self._get(path, query))
        batch: dict[int, TicketRecord] = {}
        try:
            while True:
                data = await ahead
                raw, users = data.get("tickets"), data.get("users", [])
                if not isinstance(raw, list) or not isinstance(users, list):
                    raise unreadable("zendesk", path, "no 'tickets' list")
                done = data.get("end_of_stream")
                after = data.get("after_cursor")
                if not isinstance(done, bool):
                    raise unreadable("zendesk", path, "no end_of_stream flag")
                if not isinstance(after, str) or not after:
                    if not done or raw:
                        raise unreadable("zendesk", path, "no after_cursor to continue from")
                    after = query.get("cursor") or cursor
                if not done:
                    # Ask for the next page now: Zendesk builds it while the engine stores this one.
                    query = {**params, "cursor": after}
                    ahead = asyncio.ensure_future(self._get(path, query))
                self._remember_users(users)
                for ticket in await self._tickets(_newest_copies(raw, path)):
                    batch.pop(ticket.number, None)
                    batch[ticket.number] = ticket  # a later server page holds the newer copy
                if done or len(batch) >= BATCH:
                    yield TicketPage(list(batch.values()), after, done, total)
                    batch = {}
                if done:
                    return
        finally:
            _drop(ahead)

    async def _search(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        """Windows of at most 1,000 results, ordered by updated_at, each starting where the last ended."""
        since = _fallback_since(cursor)
        if cursor is not None and since is None:
            self.driver.notify("Zendesk: this token cannot use the incremental export any more; re-reading by search")
        since = self.start_time if since is None else since
        total: int | None = None
        while True:
            window_start, newest, results = since, since, 0
            for page in range(1, SEARCH_PAGES + 1):
                query = f"type:ticket updated>{iso(window_start - 1)} order_by:updated_at sort:asc"
                data = await self._get("/search.json", {"query": query, "page": page, "per_page": 100})
                raw = data.get("results")
                if not isinstance(raw, list):
                    raise unreadable("zendesk", "/search.json", "no 'results' list")
                if total is None and isinstance(data.get("count"), int):
                    total = data["count"]
                items = [r for r in raw if not isinstance(r, dict) or r.get("result_type", "ticket") == "ticket"]
                tickets = await self._tickets(_newest_copies(items, "/search.json"))
                results += len(raw)
                newest = max([newest, *(t.updated_at for t in tickets)])
                more = bool(data.get("next_page")) and raw
                window_full = more and page == SEARCH_PAGES
                done = not more
                yield TicketPage(tickets, f"search:{min(newest, clock.now() - SEARCH_LAG)}", done, total)
                if done:
                    return
                if window_full:
                    break
            if newest <= window_start:
                # Over 1,000 tickets changed within one second: step past it rather than loop.
                self.driver.notify(f"Zendesk search: more than {results} tickets changed at {iso(window_start)};"
                                   " some of them were skipped")
                newest = window_start + 1
            since = newest

    async def _view(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        """A view has no 'changed since' filter: read it all, keep what changed since the last pass."""
        since = _fallback_since(cursor)
        floor = -1 if since is None else since - SEARCH_LAG
        newest = since or 0
        path = f"/views/{self.view}/tickets.json"
        pages = self._cursor_pages(path, "tickets", {})
        async for data in pages:
            tickets = [t for t in await self._tickets(_newest_copies(data["tickets"], path)) if t.updated_at >= floor]
            newest = max([newest, *(t.updated_at for t in tickets)])
            yield TicketPage(tickets, f"view:{min(newest, clock.now() - SEARCH_LAG)}", False)
        yield TicketPage([], f"view:{min(newest, clock.now() - SEARCH_LAG)}", True)

    async def _tickets(self, raw: Iterable[dict]) -> list[TicketRecord]:
        items = list(raw)
        await self._fill_users(uid for t in items for uid in (t.get("requester_id"), t.get("assignee_id")))
        return [self._ticket(t) for t in items]

    async def fetch_ticket(self, ticket_remote_id: str) -> TicketRecord:
        path = f"/tickets/{_ticket_path_id(ticket_remote_id)}.json"
        data = await self._get(path, {"include": "users"})
        raw = data.get("ticket")
        if not isinstance(raw, dict):
            raise unreadable("zendesk", path, "no 'ticket' object")
        self._remember_users(data.get("users") if isinstance(data.get("users"), list) else [])
        return (await self._tickets([raw]))[0]

    # ------------------------------------------------------------------ people

    def _remember_users(self, users: Iterable[Any]) -> None:
        for u in users:
            if isinstance(u, dict) and isinstance(u.get("id"), int) and not isinstance(u.get("id"), bool):
                name = u.get("name") if isinstance(u.get("name"), str) else ""
                email = u.get("email") if isinstance(u.get("email"), str) else None
                role = u.get("role") if isinstance(u.get("role"), str) else "end-user"
                if self._users.get(u["id"]) != (name, email, role):
                    self._users[u["id"]] = (name, email, role)
                    self._people.pop((u["id"], "customer"), None)
                    self._people.pop((u["id"], "agent"), None)

    async def _fill_users(self, ids: Iterable[Any]) -> None:
        """Names for people the page did not sideload (search and views cannot sideload)."""
        missing = sorted({i for i in ids if isinstance(i, int) and not isinstance(i, bool) and i > 0
                          and i not in self._users})
        for start in range(0, len(missing), SHOW_MANY):
            chunk = missing[start:start + SHOW_MANY]
            data = await self._get("/users/show_many.json", {"ids": ",".join(map(str, chunk))})
            users = data.get("users")
            self._remember_users(users if isinstance(users, list) else [])
            for uid in chunk:  # deleted users: remember that we asked
                self._users.setdefault(uid, (f"user {uid}", None, "end-user"))

    def _person(self, user_id: Any, kind: str) -> PersonRecord | None:
        if user_id is None:
            return None
        uid = as_int(user_id, "user id")
        key = (uid, kind)
        person = self._people.get(key)
        if person is None:
            name, email, _role = self._users.get(uid, (f"user {uid}", None, "end-user"))
            person = PersonRecord(remote_id=str(uid), name=name, email=email, kind=kind)
            self._people[key] = person
        return person

    # ------------------------------------------------------------------ mapping

    def _ticket(self, t: Mapping[str, Any]) -> TicketRecord:
        """One Zendesk ticket onto our record; unknown keys are ignored, a broken one is named."""
        try:
            number = as_int(t.get("id"), "id")
            stamp = t.get("updated_at")
            updated = epoch(stamp, "updated_at")
            created = epoch(t.get("created_at"), "created_at") if t.get("created_at") is not None else updated
            remote_status = t.get("status")
            status = STATUS_MAP.get(remote_status, "open") if isinstance(remote_status, str) else "open"
            remote_priority = t.get("priority") if isinstance(t.get("priority"), str) else None
            tags = t.get("tags") or []
            fields = t.get("custom_fields") or []
            if not isinstance(tags, list) or not isinstance(fields, list):
                raise ValueError("tags or custom_fields is not a list")
            via = t.get("via") if isinstance(t.get("via"), dict) else {}
            group = t.get("group_id")
            return TicketRecord(
                remote_id=str(number), number=number, subject=as_text(t.get("subject") or t.get("raw_subject"), "subject"),
                status=status, priority=PRIORITY_MAP.get(remote_priority or "", 2),
                created_at=created, updated_at=updated,
                requester=self._person(t.get("requester_id"), "customer"),
                assignee=self._person(t.get("assignee_id"), "agent"),
                remote_status=remote_status if isinstance(remote_status, str) else None,
                remote_priority=remote_priority, version=stamp,
                tags=tuple(tag for tag in tags if isinstance(tag, str)),
                description=as_text(t.get("description"), "description"),
                group=(self._groups or {}).get(group, str(group)) if isinstance(group, int) else None,
                channel=via.get("channel") if isinstance(via.get("channel"), str) else None,
                custom_fields={str(f["id"]): f["value"] for f in fields
                               if isinstance(f, dict) and "id" in f and f.get("value") is not None},
                deleted=remote_status == "deleted",
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise unreadable("zendesk", "tickets", f"ticket {_ident(t)}: {reason(exc)}") from None

    def _message(self, c: Mapping[str, Any]) -> MessageRecord:
        try:
            author_id = c.get("author_id")
            role = "system"
            author = None
            if isinstance(author_id, int) and author_id > 0:
                user_role = self._users.get(author_id, ("", None, "end-user"))[2]
                kind = "agent" if user_role in AGENT_ROLES else "customer"
                role = kind
                author = self._person(author_id, kind)
            body = c.get("body") if c.get("body") is not None else c.get("plain_body")
            files = c.get("attachments") or []
            return MessageRecord(
                remote_id=str(as_int(c.get("id"), "comment id")), author=author, author_role=role,
                public=c.get("public") is not False, body=as_text(body, "body"),
                created_at=epoch(c.get("created_at"), "created_at"),
                attachments=tuple(a["file_name"] for a in files if isinstance(a, dict) and isinstance(a.get("file_name"), str)),
            )
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            raise unreadable("zendesk", "comments", f"comment {_ident(c)}: {reason(exc)}") from None

    # ------------------------------------------------------------------ threads

    async def fetch_thread(self, ticket_remote_id: str) -> list[MessageRecord]:
        path = f"/tickets/{_ticket_path_id(ticket_remote_id)}/comments.json"
        messages: list[MessageRecord] = []
        async for data in self._cursor_pages(path, "comments", {"include": "users"}):
            messages.extend(await self._comments(data))
        return messages

    async def _comments(self, data: Mapping[str, Any]) -> list[MessageRecord]:
        self._remember_users(data.get("users") if isinstance(data.get("users"), list) else [])
        comments = [c for c in data["comments"] if isinstance(c, dict)]
        await self._fill_users(c.get("author_id") for c in comments)
        return [self._message(c) for c in comments]

    # ------------------------------------------------------------------ writing

    async def apply(self, action: Action) -> ActionResult:
        ticket = await self._macro_update(action) if action.kind == "macro" else _update(action)
        if action.base_version:
            ticket |= {"safe_update": True, "updated_stamp": action.base_version}
        path = f"/tickets/{_ticket_path_id(action.ticket_remote_id)}.json"
        response = await self.http.request("PUT", path, json={"ticket": ticket}, ok=(409, 422))
        if response.status_code == 409:
            return await self._conflict(action, response)
        if response.status_code == 422:
            raise RejectedError(f"Zendesk refused the change: {_refusal(response)}")
        data = parse_json(response, f"zendesk PUT {path}", maybe_applied=True)
        updated = data.get("ticket") if isinstance(data, dict) else None
        if not isinstance(updated, dict) or not isinstance(updated.get("updated_at"), str):
            raise TransientError(f"zendesk PUT {path}: the answer has no ticket; checking before any retry",
                                 maybe_applied=True)
        return ActionResult(version=updated["updated_at"], remote_id=_comment_id(data.get("audit")))

    async def _macro_update(self, action: Action) -> dict[str, Any]:
        """A Zendesk macro: ask Zendesk what the ticket looks like after it (placeholders
        filled in), then update the ticket with exactly that, collision-protected as usual."""
        path = f"/tickets/{_ticket_path_id(action.ticket_remote_id)}/macros/{as_int(action.payload['macro'], 'macro')}/apply.json"
        data = await self.http.json("GET", path)
        try:
            result = data["result"]
            ticket = result.get("ticket") or {}
            comment = ticket.get("comment") or result.get("comment")  # clients report both places
            update = {k: ticket[k] for k in MACRO_FIELDS if k in ticket}
            if isinstance(comment, dict) and (comment.get("body") or comment.get("html_body")):
                body = comment.get("body") or comment.get("html_body")
                update["comment"] = {"body": as_text(body, "comment"), "public": comment.get("public", True) is not False}
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise unreadable("zendesk", f"GET {path}", reason(exc)) from None
        if not update:
            raise RejectedError(f"the Zendesk macro “{clean_line(action.payload.get('title'), 60)}” changes nothing here")
        return update

    async def _conflict(self, action: Action, response: httpx.Response) -> ActionResult:
        """409: UpdateConflict means the ticket moved since our stamp (maybe by our own earlier
        attempt: reconcile before calling it a conflict); DatabaseConflict is transient."""
        try:
            code = response.json().get("error")
        except (ValueError, AttributeError):
            code = None
        if code != "UpdateConflict":
            raise TransientError(f"zendesk: the update collided with another ({clean_line(code, 40) or '409'}); will retry")
        found = await self.find_applied(action)
        if found is not None:
            return found
        remote = await self.fetch_ticket(str(action.ticket_remote_id))
        raise ConflictError("the ticket changed in Zendesk since you opened it", remote=remote)

    async def find_applied(self, action: Action) -> ActionResult | None:
        """Did the action land already? Comments: look for ours among the newest; fields: does
        the ticket already show the change (absolute values, so that is as good as done)."""
        if action.kind in ("reply", "note"):
            return await self._find_comment(action)
        if action.kind == "macro":
            update = await self._macro_update(action)
            comment = update.get("comment")
            if not comment:
                return None  # fields only: setting them again is harmless
            probe = Action(action.outbox_id, "reply" if comment["public"] else "note", {"body": comment["body"]},
                           action.idempotency_key, action.ticket_remote_id, first_tried_at=action.first_tried_at)
            return await self._find_comment(probe)
        remote = await self.fetch_ticket(str(action.ticket_remote_id))
        if _shows(remote, action):
            return ActionResult(version=remote.version)
        return None

    async def _find_comment(self, action: Action) -> ActionResult | None:
        since = (action.first_tried_at or 0) - RECONCILE_SLACK
        wanted = words(str(action.payload.get("body", "")))
        public = action.kind == "reply"
        path = f"/tickets/{_ticket_path_id(action.ticket_remote_id)}/comments.json"
        async for data in self._cursor_pages(path, "comments", {"include": "users", "sort": "-created_at"}):
            for raw, message in zip([c for c in data["comments"] if isinstance(c, dict)], await self._comments(data)):
                if message.created_at < since:
                    return None
                mine = self.me is None or raw.get("author_id") == self.me
                if mine and message.public == public and words(message.body) == wanted:
                    return ActionResult(version=raw.get("created_at"), remote_id=message.remote_id)
        return None

    # ------------------------------------------------------------------ agents and macros

    async def list_agents(self) -> list[PersonRecord]:
        agents: list[PersonRecord] = []
        try:
            async for data in self._cursor_pages("/users.json", "users", {"role[]": ["agent", "admin"]}):
                self._remember_users(data["users"])
                agents.extend(self._person(u["id"], "agent") for u in data["users"]
                              if isinstance(u, dict) and isinstance(u.get("id"), int) and u.get("active", True) is not False)
        except RejectedError:
            return []  # a restricted agent may not list users; 'me' is added by the engine
        return agents

    async def list_macros(self) -> list[RemoteMacro]:
        macros: list[RemoteMacro] = []
        async for data in self._cursor_pages("/macros/active.json", "macros", {}):
            for m in data["macros"]:
                if not isinstance(m, dict) or m.get("id") is None:
                    continue
                actions = m.get("actions") if isinstance(m.get("actions"), list) else []
                macros.append(RemoteMacro(
                    remote_id=str(m["id"]), title=clean_line(m.get("title"), 200),
                    description=m.get("description") if isinstance(m.get("description"), str) else "",
                    actions=tuple((str(a.get("field")), _frozen(a.get("value"))) for a in actions if isinstance(a, dict))))
        return macros


# ---------------------------------------------------------------------- helpers


MACRO_FIELDS = ("status", "priority", "type", "assignee_id", "group_id", "tags", "custom_fields")
"""What a macro's 'ticket after the macro' may change, sent back as the update."""


def api_url(url: str | None) -> str | None:
    """The account URL is the helpdesk's address; the API lives under /api/v2."""
    if not url:
        return url
    url = url.rstrip("/")
    return url if url.endswith(API) else url + API


def _update(action: Action) -> dict[str, Any]:
    """The ticket fields one outbox action sets (a comment is always added through an update)."""
    p = action.payload
    kind = action.kind
    if kind in ("reply", "note"):
        return {"comment": {"body": str(p["body"]), "public": kind == "reply"}}
    if kind == "status":
        return {"status": p["status"]}
    if kind == "priority":
        return {"priority": PRIORITY_NAMES[int(p["priority"])]}
    if kind == "assign":
        return {"assignee_id": None if p.get("assignee") is None else as_int(p["assignee"], "assignee")}
    if kind == "tags":
        update: dict[str, Any] = {}
        if p.get("add"):
            update["additional_tags"] = list(p["add"])
        if p.get("remove"):
            update["remove_tags"] = list(p["remove"])
        return update
    if kind == "custom_field":
        return {"custom_fields": [{"id": as_int(p["field"], "field"), "value": p["value"]}]}
    raise RejectedError(f"Zendesk cannot {kind.replace('_', ' ')}")


def _shows(remote: TicketRecord, action: Action) -> bool:
    """Does the remote ticket already carry this action's effect?"""
    p = action.payload
    if action.kind == "status":
        return remote.remote_status == p["status"]
    if action.kind == "priority":
        return remote.remote_priority == PRIORITY_NAMES.get(int(p["priority"]))
    if action.kind == "assign":
        current = remote.assignee.remote_id if remote.assignee else None
        return current == (None if p.get("assignee") is None else str(p["assignee"]))
    if action.kind == "tags":
        tags = {normalise_tag(t) for t in remote.tags}
        return set(p.get("add", [])) <= tags and not (set(p.get("remove", [])) & tags)
    if action.kind == "custom_field":
        return str(p["field"]) in remote.custom_fields and remote.custom_fields[str(p["field"])] == p["value"]
    return False


def _comment_id(audit: Any) -> str | None:
    if not isinstance(audit, dict) or not isinstance(audit.get("events"), list):
        return None
    for event in audit["events"]:
        if isinstance(event, dict) and event.get("type") in ("Comment", "VoiceComment") and event.get("id") is not None:
            return str(event["id"])
    return None


def _drop(future: asyncio.Future) -> None:
    """Abandon a page fetched ahead that nobody will read (the pull stopped), quietly."""
    future.cancel()
    future.add_done_callback(lambda f: f.cancelled() or f.exception())


def _newest_copies(raw: list[Any], where: str) -> list[dict]:
    """The export may send a ticket twice: keep the copy with the newest generated_timestamp/updated_at."""
    best: dict[Any, dict] = {}
    for t in raw:
        if not isinstance(t, dict):
            raise unreadable("zendesk", where, "a ticket is not a JSON object")
        key = t.get("id")
        old = best.get(key)
        if old is None or _freshness(t) >= _freshness(old):
            best[key] = t
    return list(best.values())


def _freshness(t: Mapping[str, Any]) -> tuple[int, str]:
    generated = t.get("generated_timestamp")
    stamp = t.get("updated_at")
    return (generated if isinstance(generated, int) else 0, stamp if isinstance(stamp, str) else "")


def _fallback_since(cursor: str | None) -> int | None:
    """The epoch in a search/view cursor ('search:1795000000'); None for an export cursor."""
    if cursor and cursor.startswith((SEARCH + ":", VIEW + ":")):
        value = cursor.partition(":")[2]
        if value.lstrip("-").isdigit():
            return int(value)
    return None


def _frozen(value: Any) -> Any:
    return tuple(_frozen(v) for v in value) if isinstance(value, list) else value


def _ticket_path_id(remote_id: str | None) -> int:
    try:
        return as_int(remote_id, "ticket id")
    except ValueError:
        raise RejectedError(f"{clean_line(remote_id, 40)!r} is not a Zendesk ticket id") from None


def _ident(item: Mapping[str, Any]) -> str:
    value = item.get("id") if isinstance(item, Mapping) else None
    return str(value) if isinstance(value, int) else clean_line(json.dumps(value, default=str), 30)


def _refusal(response: httpx.Response) -> str:
    """Zendesk's own words for a 422: the descriptions under ``details``, else the summary."""
    try:
        body = response.json()
    except ValueError:
        return clean_line(response.text, 300) or "422"
    words: list[Any] = []
    if isinstance(body, dict):
        details = body.get("details")
        for problems in details.values() if isinstance(details, dict) else ():
            words += [p.get("description") for p in problems if isinstance(p, dict)] if isinstance(problems, list) else []
        words = [w for w in words if isinstance(w, str)] or [body.get("description") or body.get("error")]
    return clean_line("; ".join(w for w in words if isinstance(w, str)), 300) or "422"


