"""Request Tracker 5 through its REST 2.0 API (``/REST/2.0/``), tested against a real RT 5.0.

What RT does, and what this adapter does about it (details and sources:
../shared/reference/api-contracts.md, section 4):

- **Dates in TicketSQL are read in the API user's timezone** (the user's own Timezone, else
  the server's ``$Timezone``, which defaults to America/New_York), while RT writes dates as
  UTC. The adapter converts with the zone it knows: ``options.timezone``, else the user's own
  Timezone from RT. When neither is set RT does not say which zone it uses, so the adapter
  measures the offset against the server once and widens each pull by an hour (a DST change
  since the measurement); what it already delivered is dropped by (LastUpdated, id).
- **Pull.** TicketSQL ``LastUpdated >= '…'`` ordered by LastUpdated then id. RT pages by
  offset, and a ticket updated while we page moves to the end and shifts the rest, so a
  page boundary could skip a ticket for good. Each page is therefore a fresh query from the
  last (LastUpdated, id) delivered; ``next_page`` is followed (never a computed page number:
  a page past the end repeats the last one) only while a page brings nothing new. The very
  first sync lists tickets by id, which never move, then catches up from its start time.
- **Deleted and merged tickets vanish from TicketSQL**, even when asked for by status; their
  transactions do not, so every pull asks TransactionSQL for deletions and merges.
- **Versions.** A ticket's ETag is the id of its newest transaction, and only
  ``GET /ticket/{id}`` gives it. A pull cannot afford one GET per ticket, so a pulled
  ticket's version is ``@<LastUpdated epoch>``. An action based on it re-reads the ticket,
  is a conflict if the ticket changed since, and otherwise sends its PUT with ``If-Match``
  of the fresh ETag (412 → ConflictError with the remote ticket).
- **A 200 from PUT is not proof**: RT answers 200 with ``["Ticket 1: Permission Denied"]``.
  The ticket is read back and compared with what was asked; a difference is a RejectedError
  carrying RT's own messages.
- **No idempotency key on correspond or comment.** ``find_applied`` looks for our own
  transaction of that type, newer than the action's base version, with the same text,
  before anything is sent again. Field changes are looked up the same way (is the field
  already at the value?), so a retried PUT never trips over our own earlier success.
- **Tags** do not exist in RT; a multi-value custom field named by ``options.tags_field``
  stands in (setting it replaces the whole list). Without that option there is no TAGS
  capability.

Account options: ``queues`` (queue names to sync; default every queue the user sees),
``timezone``, ``tags_field``, ``custom_fields`` (true: pull every custom field and allow
changing them; RT takes nearly twice as long per page with them), ``priorities`` (RT numbers
for low/normal/high/urgent, default 0/50/100/150), ``page_size`` (tickets per request, at
most RT's 100; smaller pages commit a pull's progress more often), ``timeout`` (seconds).
Authentication is basic (account user + secret), or RT's auth token (``Authorization:
token …``) when the secret looks like one (``1-<user id>-<32 hex>``).
"""

from __future__ import annotations

import base64
import binascii
import email.utils
import json
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from html.parser import HTMLParser
from typing import Any, ClassVar
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import httpx

from csconsole import clock, sla
from csconsole.adapters import base
from csconsole.adapters.base import (
    Action, ActionResult, AdapterError, AuthError, ConflictError, HelpdeskAdapter, Identity, MessageRecord, NotFound,
    PersonRecord, RejectedError, TicketPage, TicketRecord,
)
from csconsole.adapters.http import HttpClient, parse_json
from csconsole.text import clean_line

API = "/REST/2.0"
PAGE = 100
"""RT's largest page."""
SQL_DATE = "%Y-%m-%d %H:%M:%S"
DST_MARGIN = 3600
"""Seconds a pull is widened by when RT might read its date an hour off (a DST change)."""
UNKNOWN_MARGIN = 14 * 3600
"""Seconds a pull is widened by while RT's offset is unknown: covers UTC-12 to UTC+14."""
FIND_SLACK = 3600
"""Seconds of clock difference allowed when find_applied has only the action's time to go by."""

STATUS_FROM_RT = {"new": "new", "open": "open", "stalled": "pending", "resolved": "solved", "rejected": "closed",
                  "deleted": "closed"}
STATUS_TO_RT = {"new": "new", "open": "open", "pending": "stalled", "hold": "stalled", "solved": "resolved",
                "closed": "rejected"}
"""RT's default lifecycle has no 'hold': it becomes stalled (and comes back as pending)."""
DEFAULT_PRIORITIES = {"low": 0, "normal": 50, "high": 100, "urgent": 150}
MESSAGE_TYPES = {"Create": True, "Correspond": True, "Comment": False}
"""Transaction types that carry a message, and whether the customer sees it."""
TOKEN = re.compile(r"^1-(\d+)-[0-9a-fA-F]{32}$")

TICKET_FIELDS = "Subject,Status,Queue,Owner,Priority,Created,LastUpdated,LastUpdatedBy,Requestor,Due,Told,Resolved"
PERSON_FIELDS = "Name,RealName,EmailAddress"


class RTHelpdesk(HelpdeskAdapter):
    name: ClassVar[str] = "rt"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        base.REPLY, base.NOTE, base.STATUS, base.PRIORITY, base.ASSIGN, base.LIST_AGENTS, base.CONFLICTS,
    })

    def __init__(self, account, secret=None, driver=None) -> None:
        super().__init__(account, secret, driver)
        options = dict(account.options)
        if not secret:
            raise AuthError(f"RT account {account.name!r}: no password or auth token")
        token = TOKEN.match(secret)
        if token:
            auth, headers = None, {"Authorization": f"token {secret}"}
            self._login: str = token.group(1)
        elif account.user:
            auth, headers = httpx.BasicAuth(account.user, secret), {}
            self._login = account.user
        else:
            raise AuthError(f"RT account {account.name!r}: set user = \"...\" (basic auth needs a user name)")
        self.http = HttpClient(account.url, what="RT", auth=auth, headers=headers,
                               timeout=float(options.get("timeout", 30.0)))
        self.queues: tuple[str, ...] = tuple(str(q) for q in options.get("queues", ()) or ())
        self.tags_field: str | None = options.get("tags_field") or None
        self.custom_fields = bool(options.get("custom_fields", False))
        extra = {base.TAGS} if self.tags_field else set()
        if self.custom_fields:
            extra.add(base.CUSTOM_FIELDS)
        self.capabilities = type(self).capabilities | extra
        self.priorities = _priorities(options.get("priorities"))
        self.page_size = max(1, min(int(options.get("page_size", PAGE)), PAGE))
        self._zone_option = options.get("timezone")
        self._dates: _DateReader | None = None
        self._me: str | None = None
        self._users: dict[str, dict[str, Any]] = {}

    # ----------------------------------------------------------------------------- session

    async def verify(self) -> Identity:
        about = await self.http.json("GET", f"{API}/rt")
        user = await self._user(self._login, refresh=True)
        if not user:
            raise AuthError(f"RT does not know the user {self._login!r}")
        if not _flag(user.get("Privileged")):
            raise AuthError(f"RT user {user.get('Name')!r} is not privileged: the console needs an agent's account")
        self._me = str(user.get("Name") or self._login)
        await self._date_reader(user)
        version = str((about or {}).get("Version") or "?").split("+")[0]
        return Identity(remote_id=self._me, name=str(user.get("RealName") or self._me),
                        email=user.get("EmailAddress") or None, role="agent", mode=f"REST 2.0, RT {version}")

    async def aclose(self) -> None:
        await self.http.aclose()

    async def list_agents(self) -> list[PersonRecord]:
        """Enabled privileged users: the people a ticket can be given to.

        Where RT's REST 2.0 still searches system groups, the Privileged group's members come
        at once. Builds that search only user-defined groups (Debian's 5.0.3 security update
        deb12u7 among them), and that never offer Privileged as a user search field, leave
        the users with a login name rather than an email address (RT names the customers it
        creates from mail by their address), each confirmed privileged from its own record.
        """
        groups = await self.http.json("POST", f"{API}/groups", idempotent=True,
                                      json=[{"field": "Domain", "value": "SystemInternal"},
                                            {"field": "Name", "value": "Privileged"}])
        items = (groups or {}).get("items") or []
        if items:
            members = self._collection(f"{API}/group/{items[0]['id']}/members", {"per_page": str(PAGE)})
        else:
            login_names = json.dumps([{"field": "Name", "operator": "NOT LIKE", "value": "@"}])
            members = self._collection(f"{API}/users", {"query": login_names, "per_page": str(PAGE)})
        agents = []
        async for member in members:
            user = await self._user(str(member.get("id")))
            if (user and _flag(user.get("Privileged", 1)) and not _flag(user.get("Disabled"))
                    and user.get("Name") not in ("RT_System", "Nobody")):
                person = _person(user, "agent")
                if person is not None:
                    agents.append(person)
        return agents

    async def _user(self, name_or_id: str, *, refresh: bool = False) -> dict[str, Any] | None:
        """A user's record (cached for this session): name, email, privileged, timezone."""
        if not refresh and name_or_id in self._users:
            return self._users[name_or_id]
        try:
            record = await self.http.json("GET", f"{API}/user/{quote(name_or_id, safe='')}")
        except (NotFound, RejectedError):
            record = None
        self._users[name_or_id] = record
        if record and record.get("Name"):
            self._users[str(record["Name"])] = record
        return record

    # ----------------------------------------------------------------------------- dates

    async def _date_reader(self, user: Mapping[str, Any] | None = None) -> _DateReader:
        """How to write dates RT will read right: the account's zone, the user's, or measured."""
        if self._dates is not None:
            return self._dates
        name = self._zone_option or (user or await self._user(self._login) or {}).get("Timezone")
        if name:
            try:
                self._dates = _DateReader(zone=ZoneInfo(str(name)))
            except (ZoneInfoNotFoundError, ValueError):
                raise AdapterError(f"RT account {self.account.name!r}: unknown timezone {name!r}") from None
            return self._dates
        offset = await self._measure_offset()
        if offset is None:
            # No ticket to measure against yet: allow for every offset there is, and measure
            # again next time.
            return _DateReader(offset=0, margin=UNKNOWN_MARGIN)
        self._dates = _DateReader(offset=offset, margin=DST_MARGIN)
        self.driver.notify(
            f"RT does not say which timezone it reads dates in; measured UTC{_format_offset(offset)}, so each "
            "pull overlaps the last by an hour. Set the account option timezone (or the RT user's timezone) "
            "to avoid the overlap.")
        return self._dates

    async def _measure_offset(self) -> int | None:
        """The offset RT applies to TicketSQL dates, from how it compares the newest ticket's Created.

        Created never changes, so asking whether that ticket matches ``Created >= 'C + d'``
        for a naive C is true exactly while d <= the offset: a binary search over quarter
        hours (UTC-12 to UTC+14) takes seven small queries. Any ticket the user can see will
        do (our own queues may be empty still); None when there is none.
        """
        newest = await self._search("id > 0", fields="Created", order=(("Created", "DESC"),), per_page=1)
        items = newest[0].get("items") or []
        created = _epoch(items[0].get("Created")) if items else None
        if created is None:
            return None
        ticket = int(items[0]["id"])

        async def matches(quarters: int) -> bool:
            literal = _utc_literal(created + quarters * 900)
            data, _ = await self._search(f"id = {ticket} AND Created >= '{literal}'", fields="", per_page=1)
            return bool(data.get("items"))

        low, high = -48, 56
        if not await matches(low):
            return low * 900
        while low < high:
            middle = (low + high + 1) // 2
            if await matches(middle):
                low = middle
            else:
                high = middle - 1
        return low * 900

    # ----------------------------------------------------------------------------- pull

    def changed_tickets(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        return self._changed(_Cursor.parse(cursor))

    async def _changed(self, cursor: _Cursor) -> AsyncIterator[TicketPage]:
        dates = await self._date_reader()
        delivered: set[tuple[int, int]] = set()
        if cursor.since is None:
            async for page in self._list_all(cursor):
                delivered.update((t.updated_at, t.number) for t in page.tickets)
                yield page
                cursor = _Cursor.parse(page.cursor)
        start = cursor.since or 0
        key = (start, cursor.after)
        url: str | None = None
        total = None
        while True:
            if url is None:  # a fresh query from the last ticket delivered (keyset)
                data, scanned = await self._search(
                    self._scoped(f"LastUpdated >= '{dates.literal(key[0])}'"), fields="LastUpdated",
                    order=(("LastUpdated", "ASC"), ("id", "ASC")))
            else:
                data, scanned = await self._get(url)
            total = total if total is not None else data.get("total")
            fresh = []
            for item in data.get("items") or []:
                item_key = (_epoch(item.get("LastUpdated")) or 0, int(item["id"]))
                if item_key > key and item_key not in delivered:
                    fresh.append(item_key)
            more = bool(data.get("next_page"))
            if not fresh and more:
                url = _relative(data["next_page"])  # a page of tickets already delivered: step over it
                continue
            delivered.update(fresh)
            tickets = await self._full([number for _, number in fresh])
            if fresh:
                key = fresh[-1]
            if not more:
                tickets += await self._vanished(dates.literal(start))
            # The scan decided what was delivered, so the scan's clock says whether the key's
            # second was over.
            yield TicketPage(tickets, _Cursor(since=key[0], after=key[1]).dump(scanned), not more, total)
            if not more:
                return
            url = None

    async def _full(self, numbers: Sequence[int]) -> list[TicketRecord]:
        """The whole record of tickets found by a keys-only scan (LastUpdated and id are cheap
        for RT to list; people and custom fields are not), in the scan's order."""
        if not numbers:
            return []
        data, now = await self._search(" OR ".join(f"id = {n}" for n in numbers))
        items = {int(item["id"]): item for item in data.get("items") or []}
        return [await self._pulled(items[n], now) for n in numbers if n in items]

    async def _list_all(self, cursor: _Cursor) -> AsyncIterator[TicketPage]:
        """The first sync: every ticket by id (ids never move while we page), then the cursor
        continues from the time the listing started."""
        started = cursor.listing_started
        after = cursor.after
        total = None
        while True:
            data, now = await self._get(f"{API}/tickets",
                                        self._search_params(self._scoped(f"id > {after}"), order=(("id", "ASC"),)))
            if started is None:
                started = now - 1 if now is not None else clock.now() - FIND_SLACK
            items = data.get("items") or []
            if total is None and data.get("total") is not None:
                total = int(data["total"])
            tickets = [await self._pulled(item, now) for item in items]
            if items:
                after = int(items[-1]["id"])
            more = bool(data.get("next_page")) and bool(items)
            next_cursor = _Cursor(listing_started=started, after=after) if more else _Cursor(since=started, after=0)
            yield TicketPage(tickets, next_cursor.dump(), False, total)
            if not more:
                return

    async def _vanished(self, since_literal: str) -> list[TicketRecord]:
        """Tickets deleted or merged away since the pull began, which TicketSQL no longer shows."""
        query = self._scoped(
            f"ObjectType = 'RT::Ticket' AND Created >= '{since_literal}' AND "
            "((Type = 'Status' AND NewValue = 'deleted') OR (Type = 'AddLink' AND Field = 'MergedInto'))",
            field="TicketQueue")
        ids = []
        async for txn in self._collection(f"{API}/transactions", {"query": query, "fields": "ObjectId",
                                                                   "per_page": str(PAGE)}):
            ids.append(str(txn.get("ObjectId")))
        records = []
        for ticket_id in dict.fromkeys(ids):
            try:
                record = await self.fetch_ticket(ticket_id)
            except (NotFound, RejectedError):
                continue
            if record.deleted:
                records.append(record)
        return records

    async def _pulled(self, item: Mapping[str, Any], server_now: int | None) -> TicketRecord:
        """A search row as a ticket, versioned by its LastUpdated.

        That version is sound only if the ticket's last second was over when RT answered (a
        change later in the same second would keep the same LastUpdated): a ticket changed
        that recently is read on its own, for its ETag.
        """
        updated = _epoch(item.get("LastUpdated")) or 0
        if server_now is None or updated >= server_now - 1:
            people = [item.get("Owner"), *(item.get("Requestor") or [])]
            record, _ = await self._read(str(item["id"]), known={_ref_name(p): p for p in people if _ref_name(p)})
            return record
        return self._ticket(item, version=f"@{updated}")

    def _scoped(self, condition: str, field: str = "Queue") -> str:
        """A TicketSQL (or, with field TicketQueue, TransactionSQL) condition limited to our queues."""
        if not self.queues:
            return condition
        queues = " OR ".join(f"{field} = {_quote(q)}" for q in self.queues)
        return f"({queues}) AND {condition}"

    def _search_params(self, query: str, *, order: Sequence[tuple[str, str]], fields: str | None = None,
                       per_page: int | None = None) -> list[tuple[str, str]]:
        params = [("query", query), ("per_page", str(per_page or self.page_size))]
        for field, direction in order:
            params += [("orderby", field), ("order", direction)]
        if fields is None:
            wanted = TICKET_FIELDS + (",CustomFields" if self.custom_fields or self.tags_field else "")
            params += [("fields", wanted), ("fields[Queue]", "Name"),
                       ("fields[Owner]", PERSON_FIELDS), ("fields[Requestor]", PERSON_FIELDS)]
        elif fields:
            params.append(("fields", fields))
        return params

    async def _search(self, query: str, *, fields: str | None = None, order: Sequence[tuple[str, str]] = (),
                      per_page: int | None = None) -> tuple[dict[str, Any], int | None]:
        return await self._get(f"{API}/tickets", self._search_params(query, order=order, fields=fields,
                                                                     per_page=per_page))

    async def _get(self, path: str, params: Any = None) -> tuple[dict[str, Any], int | None]:
        """GET a collection page; also returns the server's clock (its Date header)."""
        response = await self.http.request("GET", path, params=params)
        data = parse_json(response, f"RT GET {path.split('?')[0]}") or {}
        if not isinstance(data, dict):
            raise AdapterError(f"RT GET {path.split('?')[0]}: unexpected answer")
        return data, _server_time(response)

    async def _collection(self, path: str, params: Mapping[str, str]) -> AsyncIterator[dict[str, Any]]:
        """Every item of a collection, following next_page (a page past the end repeats the last)."""
        url: str | None = path
        query: Any = dict(params)
        while url:
            data, _ = await self._get(url, query)
            for item in data.get("items") or []:
                yield item
            url = _relative(data["next_page"]) if data.get("next_page") and data.get("items") else None
            query = None

    # ----------------------------------------------------------------------------- tickets

    async def fetch_ticket(self, ticket_remote_id: str) -> TicketRecord:
        record, _ = await self._read(ticket_remote_id)
        return record

    async def _read(self, ticket_remote_id: str, known: Mapping[str, Any] | None = None,
                    ) -> tuple[TicketRecord, dict[str, Any]]:
        """One ticket with its ETag as version; people filled in from ``known`` (expanded
        references from a search) or else from their user records."""
        number = _ticket_id(ticket_remote_id)
        response = await self.http.request("GET", f"{API}/ticket/{number}", params={"fields[Queue]": "Name"})
        data = parse_json(response, "RT GET /ticket") or {}
        etag = (response.headers.get("ETag") or "").strip().strip('"') or None
        data = dict(data)
        data["Owner"] = await self._filled(data.get("Owner"), known or {})
        data["Requestor"] = [await self._filled(r, known or {}) for r in data.get("Requestor") or []]
        record = self._ticket(data, version=etag or f"@{_epoch(data.get('LastUpdated')) or 0}")
        if record.number != number:
            # RT answers for a merged ticket with the ticket it was merged into.
            record = replace(record, remote_id=str(number), number=number, deleted=True)
        return record, data

    async def _filled(self, ref: Any, known: Mapping[str, Any]) -> Any:
        if (isinstance(ref, Mapping) and ref.get("type", "user") == "user" and "Name" not in ref
                and ref.get("id") not in (None, "", "Nobody")):
            user = known.get(str(ref["id"])) or await self._user(str(ref["id"]))
            if user:
                return {**ref, **{k: user.get(k) for k in ("Name", "RealName", "EmailAddress")}}
        return ref

    def _ticket(self, t: Mapping[str, Any], *, version: str) -> TicketRecord:
        number = int(t["id"])
        remote_status = str(t.get("Status") or "")
        status = STATUS_FROM_RT.get(remote_status, "open")
        raw_priority = _int(t.get("Priority"))
        level = _level(raw_priority, self.priorities)
        created = _epoch(t.get("Created")) or 0
        updated = _epoch(t.get("LastUpdated")) or created
        requesters = [p for p in (_person(r, "customer") for r in t.get("Requestor") or []) if p is not None]
        told = _epoch(t.get("Told"))
        last_by = _ref_name(t.get("LastUpdatedBy"))
        last_customer = _last_customer_at(created, updated, last_by, {p.remote_id for p in requesters})
        due = _epoch(t.get("Due"))
        if status not in ("new", "open"):
            sla_due = base.NO_SLA
        elif due is not None:
            sla_due = due
        else:
            sla_due = sla.due_at(status, level, last_customer, told, clock.now())
        custom = _custom_fields(t.get("CustomFields"))
        tags = tuple(str(v) for v in custom.get(self.tags_field, ())) if self.tags_field else ()
        queue = t.get("Queue")
        return TicketRecord(
            remote_id=str(number), number=number, subject=str(t.get("Subject") or ""), status=status,
            priority=level, created_at=created, updated_at=updated,
            requester=requesters[0] if requesters else None, assignee=_person(t.get("Owner"), "agent"),
            remote_status=remote_status, remote_priority=str(raw_priority), version=version, tags=tags,
            group=(queue.get("Name") if isinstance(queue, Mapping) else None) or None,
            sla_due_at=sla_due, solved_at=_epoch(t.get("Resolved")) if status in ("solved", "closed") else None,
            last_customer_at=last_customer,
            custom_fields={k: v for k, v in custom.items() if k != self.tags_field} if self.custom_fields else {},
            deleted=remote_status == "deleted",
        )

    # ----------------------------------------------------------------------------- threads

    async def fetch_thread(self, ticket_remote_id: str) -> list[MessageRecord]:
        number = _ticket_id(ticket_remote_id)
        _, data = await self._read(str(number))
        requesters = {str(r.get("Name") or r.get("id")) for r in data.get("Requestor") or [] if isinstance(r, Mapping)}
        history = [txn async for txn in self._collection(
            f"{API}/ticket/{number}/history", {"fields": "Type,Created,Creator", "per_page": str(PAGE)})
            if txn.get("Type") in MESSAGE_TYPES]
        parts: dict[str, list[dict[str, Any]]] = {}
        async for part in self._collection(f"{API}/ticket/{number}/attachments",
                                           {"fields": "TransactionId,ContentType,Filename", "per_page": str(PAGE)}):
            parts.setdefault(str(part.get("TransactionId")), []).append(part)
        messages = []
        for txn in history:
            creator = _ref_name(txn.get("Creator")) or ""
            user = await self._user(creator) if creator else None
            if creator == "RT_System":
                role = "system"
            elif creator in requesters or (user is not None and not _flag(user.get("Privileged"))):
                role = "customer"
            else:
                role = "agent"
            author = _person(user or {"Name": creator}, "customer" if role == "customer" else "agent")
            txn_parts = parts.get(str(txn["id"]), [])
            body_part = _body_part(txn_parts)
            body = await self._attachment_text(str(body_part["id"]), str(body_part.get("ContentType"))) \
                if body_part else ""
            messages.append(MessageRecord(
                remote_id=str(txn["id"]), author=author, author_role=role, public=MESSAGE_TYPES[txn["Type"]],
                body=body, created_at=_epoch(txn.get("Created")) or 0,
                attachments=tuple(str(p["Filename"]) for p in txn_parts if p.get("Filename"))))
        return messages

    async def _attachment_text(self, attachment_id: str, content_type: str) -> str:
        """A body part's text: single attachment reads give Content in base64."""
        data = await self.http.json("GET", f"{API}/attachment/{attachment_id}")
        try:
            raw = base64.b64decode((data or {}).get("Content") or "")
        except (binascii.Error, ValueError):
            return ""
        text = raw.decode("utf-8", errors="replace")
        return _html_to_text(text) if content_type.lower().startswith("text/html") else text

    # ----------------------------------------------------------------------------- actions

    async def apply(self, action: Action) -> ActionResult:
        number = _ticket_id(action.ticket_remote_id)
        if action.kind in ("reply", "note"):
            await self._current_etag(number, action.base_version)
            return await self._post_message(number, action)
        changes, check = await self._changes(number, action)
        return await self._put(number, changes, check, action)

    async def _current_etag(self, number: int, base_version: str | None) -> str | None:
        """The ticket's ETag now; ConflictError if it changed since the action's base version."""
        record, _ = await self._read(str(number))
        if _moved(base_version, record):
            raise ConflictError(f"ticket {number} changed in RT since this action was queued", remote=record)
        return record.version

    async def _post_message(self, number: int, action: Action) -> ActionResult:
        endpoint = "correspond" if action.kind == "reply" else "comment"
        response = await self.http.request("POST", f"{API}/ticket/{number}/{endpoint}",
                                           json={"Content": str(action.payload["body"]), "ContentType": "text/plain"})
        messages = _messages(parse_json(response, f"RT POST /ticket/{endpoint}", maybe_applied=True))
        txn = response.headers.get("Location", "").rstrip("/").rsplit("/", 1)[-1]
        if not txn.isdigit():
            raise RejectedError(f"RT did not record the {action.kind}: {'; '.join(messages) or 'no transaction'}")
        record = await self.fetch_ticket(str(number))
        return ActionResult(version=record.version, remote_id=txn, ticket=record, detail="; ".join(messages))

    async def _changes(self, number: int, action: Action) -> tuple[dict[str, Any], Any]:
        """The PUT body for a field action, and a check that a re-read ticket shows it."""
        p = action.payload
        if action.kind == "status":
            wanted = STATUS_TO_RT[str(p["status"])]
            return {"Status": wanted}, lambda r: r.remote_status == wanted
        if action.kind == "priority":
            value = self.priorities[base.PRIORITIES[int(p["priority"])]]
            return {"Priority": value}, lambda r: r.remote_priority == str(value)
        if action.kind == "assign":
            owner = p.get("assignee")
            return {"Owner": owner or "Nobody"}, lambda r: (r.assignee.remote_id if r.assignee else None) == owner
        if action.kind == "custom_field" and self.custom_fields:
            field, value = str(p["field"]), p["value"]
            return {"CustomFields": {field: value}}, lambda r: _has_value(r.custom_fields.get(field), value)
        if action.kind == "tags" and self.tags_field:
            add, remove = list(p.get("add", ())), set(p.get("remove", ()))
            current, _ = await self._read(str(number))
            tags = [t for t in current.tags if t not in remove] + [t for t in add if t not in current.tags]
            return ({"CustomFields": {self.tags_field: tags}},
                    lambda r: set(add) <= set(r.tags) and not (remove & set(r.tags)))
        raise RejectedError(f"RT cannot {action.kind.replace('_', ' ')} (not set up for this account)")

    async def _put(self, number: int, changes: Mapping[str, Any], check: Any, action: Action) -> ActionResult:
        etag = action.base_version if _is_etag(action.base_version) else await self._current_etag(
            number, action.base_version)
        headers = {"If-Match": f'"{etag}"'} if etag else {}
        response = await self.http.request("PUT", f"{API}/ticket/{number}", json=dict(changes), headers=headers,
                                           ok=(412,))
        if response.status_code == 412:
            raise ConflictError(f"ticket {number} changed in RT since this action was queued",
                                remote=await self.fetch_ticket(str(number)))
        messages = _messages(parse_json(response, "RT PUT /ticket", maybe_applied=True))
        record = await self.fetch_ticket(str(number))
        if not check(record):
            said = "; ".join(messages) or "no change reported"
            raise RejectedError(f"RT did not apply the {action.kind.replace('_', ' ')} change: {said}")
        return ActionResult(version=record.version, ticket=record, detail="; ".join(messages))

    async def find_applied(self, action: Action) -> ActionResult | None:
        """After a lost answer: is the reply or note in RT already, or the field at its value?"""
        number = _ticket_id(action.ticket_remote_id)
        if action.kind not in ("reply", "note"):
            try:
                _, check = await self._changes(number, action)
            except RejectedError:
                return None
            record = await self.fetch_ticket(str(number))
            return ActionResult(version=record.version, ticket=record, detail="already so in RT") if check(record) else None
        txn = await self._find_message(number, action)
        if txn is None:
            return None
        record = await self.fetch_ticket(str(number))
        return ActionResult(version=record.version, remote_id=txn, ticket=record, detail="found in RT after a lost answer")

    async def _find_message(self, number: int, action: Action) -> str | None:
        wanted_type = "Correspond" if action.kind == "reply" else "Comment"
        wanted = _normalise(str(action.payload.get("body", "")))
        after_txn = int(action.base_version) if _is_etag(action.base_version) else 0
        not_before = max(_base_epoch(action.base_version) or 0, (action.first_tried_at or 0) - FIND_SLACK)
        if self._me is None:
            await self.verify()
        params = {"fields": "Type,Created,Creator", "per_page": str(PAGE), "orderby": "id", "order": "DESC"}
        async for txn in self._collection(f"{API}/ticket/{number}/history", params):
            if int(txn["id"]) <= after_txn or (_epoch(txn.get("Created")) or 0) < not_before:
                return None
            if txn.get("Type") != wanted_type or _ref_name(txn.get("Creator")) != self._me:
                continue
            if _normalise(await self._transaction_text(str(txn["id"]))) == wanted:
                return str(txn["id"])
        return None

    async def _transaction_text(self, txn_id: str) -> str:
        txn = await self.http.json("GET", f"{API}/transaction/{txn_id}")
        for link in (txn or {}).get("_hyperlinks") or []:
            if link.get("ref") != "attachment":
                continue
            attachment = await self.http.json("GET", _relative(str(link["_url"])))
            content_type = str((attachment or {}).get("ContentType") or "")
            if content_type.startswith("text/") and (attachment or {}).get("Content"):
                try:
                    return base64.b64decode(attachment["Content"]).decode("utf-8", errors="replace")
                except (binascii.Error, ValueError):
                    return ""
        return ""


# --------------------------------------------------------------------------------- cursor


class _Cursor:
    """Where a pull resumes, as compact JSON in the cache's sync_cursor row.

    ``{"since": T, "after": N}``: every ticket up to (LastUpdated T, id N) was delivered.
    ``{"listing": S, "after": N}``: the first sync has listed tickets up to id N; it began
    at server time S, from where the incremental pull takes over.
    """

    def __init__(self, *, since: int | None = None, after: int = 0, listing_started: int | None = None) -> None:
        self.since = since
        self.after = after
        self.listing_started = listing_started

    @classmethod
    def parse(cls, text: str | None) -> _Cursor:
        try:
            data = json.loads(text) if text else {}
            if "since" in data:
                return cls(since=int(data["since"]), after=int(data.get("after", 0)))
            if "listing" in data:
                return cls(listing_started=int(data["listing"]), after=int(data.get("after", 0)))
        except (ValueError, TypeError, AttributeError):
            pass  # an unreadable cursor means a full listing again, never a gap
        return cls()

    def dump(self, server_now: int | None = None) -> str:
        if self.since is None:
            return json.dumps({"listing": self.listing_started, "after": self.after})
        if server_now is not None and self.since >= server_now - 1:
            # This second is not over on the server: a later change in it would carry the
            # same LastUpdated, so the next pull takes the whole second again.
            return json.dumps({"since": self.since, "after": 0})
        return json.dumps({"since": self.since, "after": self.after})


class _DateReader:
    """Writes a UTC time as the naive 'YYYY-MM-DD HH:MM:SS' RT reads back as no later than it.

    With a known zone the conversion is exact (widened only near a DST change); with a
    measured offset it is widened by ``margin``, since the offset may have changed since.
    """

    def __init__(self, *, zone: ZoneInfo | None = None, offset: int = 0, margin: int = 0) -> None:
        self.zone = zone
        self.offset = offset
        self.margin = margin

    def literal(self, epoch: int) -> str:
        if self.zone is None:
            return _utc_literal(epoch + self.offset - self.margin)
        # RT applies the offset in force at the naive time read as UTC, not at the instant
        # meant: within a day of a DST change the two differ, so widen by an hour there.
        margin = DST_MARGIN if _offset(self.zone, epoch - 86400) != _offset(self.zone, epoch + 86400) else 0
        return datetime.fromtimestamp(epoch - margin, self.zone).strftime(SQL_DATE)


# --------------------------------------------------------------------------------- helpers


def _priorities(option: Any) -> dict[str, int]:
    values = dict(DEFAULT_PRIORITIES)
    if option is not None:
        if not isinstance(option, Mapping) or any(k not in values for k in option):
            raise AdapterError("RT option priorities: expected a table with low, normal, high and urgent numbers")
        values.update({k: int(v) for k, v in option.items()})
    return values


def _level(value: int, priorities: Mapping[str, int]) -> int:
    """Our 1..4 for an RT number: the nearest configured value (ties go up)."""
    ranked = sorted(priorities.items(), key=lambda kv: kv[1])
    best = ranked[0][0]
    for name, number in ranked:
        if abs(value - number) <= abs(value - priorities[best]):
            best = name
    return base.PRIORITY_BY_NAME[best]


def _last_customer_at(created: int, updated: int, last_by: str | None, requesters: set[str]) -> int:
    """When the customer last spoke, as far as a ticket's own fields tell (no thread read).

    RT keeps LastUpdatedBy and Told (the last reply to the requestors): a requestor who
    updated the ticket last spoke at LastUpdated, else their opening message is the last
    word we know of (so a customer's reply followed by an agent's field change is missed
    until the thread is read). Queues with an SLA set Due, which wins over this estimate.
    """
    if last_by is not None and last_by in requesters:
        return updated
    return created


def _custom_fields(raw: Any) -> dict[str, list[str]]:
    fields: dict[str, list[str]] = {}
    for cf in raw or []:
        if isinstance(cf, Mapping) and cf.get("name"):
            fields[str(cf["name"])] = [str(v) for v in cf.get("values") or [] if not isinstance(v, Mapping)]
    return fields


def _has_value(values: Any, value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return sorted(map(str, value)) == sorted(map(str, values or []))
    return str(value) in [str(v) for v in values or []]


def _person(ref: Any, kind: str) -> PersonRecord | None:
    if not isinstance(ref, Mapping) or ref.get("type", "user") != "user":
        return None  # a group in a role: not a person
    name = str(ref.get("Name") or ref.get("id") or "")
    if not name or name == "Nobody":
        return None
    email = str(ref.get("EmailAddress") or "") or (name if "@" in name else None)
    return PersonRecord(remote_id=name, name=str(ref.get("RealName") or name), email=email, kind=kind)


def _ref_name(ref: Any) -> str | None:
    if isinstance(ref, Mapping):
        value = ref.get("Name") or ref.get("id")
        return str(value) if value else None
    return str(ref) if ref else None


def _body_part(parts: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """A message's text: its first text/plain part that is not a file, else its first text/html."""
    texts = [p for p in parts if not p.get("Filename")]
    for wanted in ("text/plain", "text/html"):
        for part in texts:
            if str(part.get("ContentType") or "").lower().startswith(wanted):
                return part
    return None


class _TextOfHTML(HTMLParser):
    BLOCKS: ClassVar[frozenset[str]] = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("script", "style"):
            self.skip += 1
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self.skip = max(self.skip - 1, 0)
        elif tag in self.BLOCKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.out.append(data)


def _html_to_text(html: str) -> str:
    """The readable text of an HTML body (tags dropped, never rendered)."""
    parser = _TextOfHTML()
    parser.feed(html)
    parser.close()
    return re.sub(r"\n{3,}", "\n\n", "".join(parser.out)).strip()


def _messages(body: Any) -> list[str]:
    if isinstance(body, list):
        return [clean_line(m, 200) for m in body if isinstance(m, str)]
    if isinstance(body, Mapping) and body.get("message"):
        return [clean_line(body["message"], 200)]
    return []


def _normalise(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.replace("\r\n", "\n").strip().split("\n"))


def _moved(base_version: str | None, record: TicketRecord) -> bool:
    if base_version is None:
        return False
    if _is_etag(base_version):
        return record.version != base_version
    since = _base_epoch(base_version)
    return since is not None and record.updated_at > since


def _is_etag(version: str | None) -> bool:
    return bool(version) and str(version).isdigit()


def _base_epoch(version: str | None) -> int | None:
    if version and version.startswith("@") and version[1:].isdigit():
        return int(version[1:])
    return None


def _ticket_id(remote_id: str | None) -> int:
    try:
        return int(str(remote_id))
    except ValueError:
        raise NotFound(f"{remote_id!r} is not an RT ticket number") from None


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _flag(value: Any) -> bool:
    return str(value or "0") not in ("0", "")


def _epoch(value: Any) -> int | None:
    """Seconds for RT's W3CDTF dates; RT writes an unset date as 1970-01-01T00:00:00Z."""
    if not value:
        return None
    try:
        moment = datetime.strptime(str(value), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    seconds = int(moment.timestamp())
    return seconds if seconds > 0 else None


def _utc_literal(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime(SQL_DATE)


def _offset(zone: ZoneInfo, epoch: int) -> int:
    delta = datetime.fromtimestamp(epoch, zone).utcoffset()
    return int(delta.total_seconds()) if delta else 0


def _format_offset(seconds: int) -> str:
    sign = "+" if seconds >= 0 else "-"
    return f"{sign}{abs(seconds) // 3600:02d}:{abs(seconds) % 3600 // 60:02d}"


def _server_time(response: httpx.Response) -> int | None:
    value = response.headers.get("Date")
    if not value:
        return None
    try:
        return int(email.utils.parsedate_to_datetime(value).timestamp())
    except (TypeError, ValueError):
        return None


def _quote(value: str) -> str:
    """A TicketSQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _relative(url: str) -> str:
    """RT's absolute next_page / _url as a path on our own base URL: RT names itself by its
    configured WebBaseURL, which behind a proxy is not the address we use (nor a host we
    would send credentials to)."""
    index = url.find(API + "/")
    if index < 0:
        raise AdapterError("RT sent a link outside its REST 2.0 API")
    return url[index:]

