"""Freshdesk (API v2): tickets, conversations, replies and notes, field changes.

Pulling. ``GET /tickets`` with ``updated_since``, ``order_by=updated_at``, ascending, 100
per page. Freshdesk stops at page 300 and offsets shift when a ticket changes mid-pull, so
instead of paging deeper we slide the window: after each page the next request starts at
the newest ``updated_at`` seen, page 1 (a second earlier, in case ``updated_since`` is
exclusive; re-reading a ticket is harmless). ``Link: rel="next"`` tells whether more pages
exist; only when a whole page shares one second do we go on to its next page. Our cursor
is that window start (ISO 8601), committed with each page.

Codes. Status and priority are numbers; ``CODES`` maps them (2 open, 3 pending, 4 resolved
→ solved, 5 closed; priority 1..4 is our own scale). Any other status (custom ones) reads
as open with Freshdesk's number kept; ``options.hold_status`` names a custom status to use
for our 'hold'.

Writing. A reply is ``POST /reply``, a note ``POST /notes`` (private); status, priority,
assignee and custom fields are one ``PUT``. Tags in a PUT replace the whole list, so the
current tags are read first. Freshdesk has no conflict detection and no idempotency key:
``find_applied`` lists the conversations to find a reply or note whose answer was lost.

Rate limits. ``X-RateLimit-Remaining`` is read on every answer: when our reads have nearly
spent the account's minute budget, the pull pauses so agents in the web UI are not locked
out; 429 honours Retry-After (adapters/http.py).
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import AsyncIterator, Mapping
from typing import Any, ClassVar

import httpx

from csconsole.adapters import base
from csconsole.adapters.base import (
    Action, ActionResult, AdapterError, AuthError, HelpdeskAdapter, Identity, MessageRecord, PersonRecord,
    RejectedError, RemoteMacro, TicketPage, TicketRecord, TransientError,
)
from csconsole.adapters.payload import (
    as_int, as_text, epoch, header_int, iso, number_option, reason, unreadable, words,
)
from csconsole.adapters.http import HttpClient, parse_json
from csconsole.text import clean_line

API = "/api/v2"
PAGE_LIMIT = 300
"""Freshdesk answers 400 past page 300 of a ticket list."""
PACE_SECONDS = 10.0
"""How long a pull pauses when the account's API budget is nearly spent (no reset header here)."""
RECONCILE_SLACK = 300

CODES: dict[str, dict[int, Any]] = {
    "status": {2: "open", 3: "pending", 4: "solved", 5: "closed"},
    "priority": {1: 1, 2: 2, 3: 3, 4: 4},  # Low, Medium, High, Urgent: our own 1..4
}
"""Freshdesk's numeric codes onto ours, the one place they are compared."""
STATUS_CODE = {name: code for code, name in CODES["status"].items()} | {"new": 2}
SOURCES = {1: "email", 2: "portal", 3: "phone", 7: "chat", 9: "feedback_widget", 10: "outbound_email"}
AGENT_SCOPES = {1: "all tickets", 2: "group tickets", 3: "assigned tickets"}
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*(br|/p|/div|/li)\s*/?>", re.IGNORECASE)


class FreshdeskAdapter(HelpdeskAdapter):
    name: ClassVar[str] = "freshdesk"
    capabilities: ClassVar[frozenset[str]] = frozenset({
        base.REPLY, base.NOTE, base.STATUS, base.PRIORITY, base.ASSIGN, base.TAGS, base.CUSTOM_FIELDS, base.LIST_AGENTS,
        base.LIST_MACROS,
    })

    def __init__(self, account: base.AccountSpec, secret: str | None = None, driver: base.Driver | None = None) -> None:
        super().__init__(account, secret, driver)
        if not secret:
            raise AuthError(f"freshdesk account {account.name!r} has no API key")
        options = account.options
        url = (account.url or "").rstrip("/")
        self.http = HttpClient(url if url.endswith(API) else url + API if url else None, what="freshdesk",
                               auth=httpx.BasicAuth(secret, "X"), timeout=number_option("freshdesk", account, "timeout", 30.0))
        self.page_size = min(max(int(number_option("freshdesk", account, "page_size", 100)), 1), 100)
        try:
            self.since = epoch(options["start"], "start") if options.get("start") else 0
        except ValueError:
            raise AdapterError(f"freshdesk account {account.name!r}: start must be an ISO 8601 time") from None
        self.rate_reserve = int(number_option("freshdesk", account, "rate_reserve", 10))
        self.hold_status = options.get("hold_status")
        if self.hold_status is not None and (not isinstance(self.hold_status, int) or self.hold_status in CODES["status"]):
            raise AdapterError(f"freshdesk account {account.name!r}: hold_status must be the number of a custom status")
        self.statuses = CODES["status"] | ({self.hold_status: "hold"} if self.hold_status is not None else {})
        self.me: int | None = None
        self._agents: dict[int, PersonRecord] | None = None
        self._groups: dict[int, str] | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ reading

    async def _get(self, path: str, params: Mapping[str, Any] | None = None) -> tuple[Any, httpx.Response]:
        response = await self.http.request("GET", path, params=params)
        await self._pace(response)
        return parse_json(response, f"freshdesk GET {path}"), response

    async def _pace(self, response: httpx.Response) -> None:
        """The budget is per account and the web UI spends it too: do not use the last of it."""
        remaining = header_int(response, "X-RateLimit-Remaining")
        if remaining is None or remaining > self.rate_reserve:
            return
        total = header_int(response, "X-RateLimit-Total")
        self.driver.notify(f"Freshdesk API budget nearly spent ({remaining} of {total or '?'} calls left this minute):"
                           f" pausing {PACE_SECONDS:.0f}s")
        await asyncio.sleep(PACE_SECONDS)

    async def _pages(self, path: str, params: Mapping[str, Any] | None = None) -> AsyncIterator[list]:
        """A list endpoint page by page, while ``Link`` says rel="next"."""
        page = 1
        while True:
            data, response = await self._get(path, {**(params or {}), "per_page": 100, "page": page})
            if not isinstance(data, list):
                raise unreadable("freshdesk", path, "the answer is not a list")
            yield data
            if "next" not in response.links or page >= PAGE_LIMIT:
                return
            page += 1

    # ------------------------------------------------------------------ identity

    async def verify(self) -> Identity:
        me, _ = await self._get("/agents/me")
        contact = me.get("contact") if isinstance(me, dict) else None
        if not isinstance(contact, dict) or not isinstance(me.get("id"), int):
            raise unreadable("freshdesk", "/agents/me", "no agent in the answer")
        self.me = me["id"]
        scope = AGENT_SCOPES.get(me.get("ticket_scope"), "tickets")
        return Identity(remote_id=str(me["id"]), name=clean_line(contact.get("name"), 200) or str(me["id"]),
                        email=contact.get("email") if isinstance(contact.get("email"), str) else None,
                        role="agent", mode=f"ticket list by updated_since ({scope})")

    async def list_agents(self) -> list[PersonRecord]:
        return list((await self._agent_map()).values())

    async def _agent_map(self) -> dict[int, PersonRecord]:
        """Agents by id, to name assignees and agent authors (best effort: some roles cannot list them)."""
        if self._agents is None:
            agents: dict[int, PersonRecord] = {}
            try:
                async for page in self._pages("/agents"):
                    for a in page:
                        contact = a.get("contact") if isinstance(a, dict) else None
                        if isinstance(contact, dict) and isinstance(a.get("id"), int):
                            agents[a["id"]] = PersonRecord(
                                str(a["id"]), contact.get("name") if isinstance(contact.get("name"), str) else "",
                                contact.get("email") if isinstance(contact.get("email"), str) else None, "agent")
            except RejectedError:
                pass
            self._agents = agents
        return self._agents

    async def _group_map(self) -> dict[int, str]:
        if self._groups is None:
            groups: dict[int, str] = {}
            try:
                async for page in self._pages("/groups"):
                    groups.update((g["id"], g["name"]) for g in page if isinstance(g, dict)
                                  and isinstance(g.get("id"), int) and isinstance(g.get("name"), str))
            except RejectedError:
                pass
            self._groups = groups
        return self._groups

    async def list_macros(self) -> list[RemoteMacro]:
        """Canned responses the agent can see, folder by folder. Freshdesk stores them and
        fills in their placeholders only in its web page, so each comes back as a reply
        text for the console to fill in (macros/canned.py)."""
        macros: list[RemoteMacro] = []
        async for folders in self._pages("/canned_response_folders"):
            for folder in folders:
                if not isinstance(folder, dict) or not isinstance(folder.get("id"), int):
                    continue
                where = clean_line(folder.get("name"), 60) or f"folder {folder['id']}"
                async for responses in self._pages(f"/canned_response_folders/{folder['id']}/responses"):
                    for response in responses:
                        if isinstance(response, dict) and isinstance(response.get("id"), int):
                            text = _canned_text(response)
                            if text is None:  # the listing left the text out: ask for the response itself
                                whole, _ = await self._get(f"/canned_responses/{response['id']}")
                                text = _canned_text(whole) if isinstance(whole, dict) else None
                            macros.append(RemoteMacro(
                                remote_id=str(response["id"]), title=clean_line(response.get("title"), 200),
                                description=f"Freshdesk canned response · {where}", reply=text or ""))
        return macros

    # ------------------------------------------------------------------ pulling

    async def changed_tickets(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        agents, groups = await self._agent_map(), await self._group_map()
        since = self.since if cursor is None else _cursor(cursor)
        page = 1
        while True:
            params = {"updated_since": iso(since - 1), "order_by": "updated_at", "order_type": "asc",
                      "per_page": self.page_size, "page": page, "include": "requester,stats"}
            data, response = await self._get("/tickets", params)
            if not isinstance(data, list):
                raise unreadable("freshdesk", "/tickets", "the answer is not a list")
            tickets = [_ticket(t, agents, groups, self.statuses) for t in _newest_copies(data)]
            newest = max((t.updated_at for t in tickets), default=since)
            if "next" not in response.links:
                yield TicketPage(tickets, iso(max(newest, since)), True)
                return
            if newest > since:
                since, page = newest, 1
            elif page < PAGE_LIMIT:
                page += 1  # a whole page changed within one second: page on inside it
            else:
                self.driver.notify(f"Freshdesk: over {PAGE_LIMIT * self.page_size} tickets changed at {iso(since)};"
                                   " some of them were skipped")
                since, page = since + 2, 1  # past the crowded second, margin included
            yield TicketPage(tickets, iso(since), False)

    async def fetch_ticket(self, ticket_remote_id: str) -> TicketRecord:
        raw = await self._raw_ticket(ticket_remote_id)
        return _ticket(raw, await self._agent_map(), await self._group_map(), self.statuses)

    async def _raw_ticket(self, ticket_remote_id: str | None) -> dict:
        path = f"/tickets/{_path_id(ticket_remote_id)}"
        raw, _ = await self._get(path, {"include": "requester,stats"})
        if not isinstance(raw, dict):
            raise unreadable("freshdesk", path, "the answer is not a ticket")
        return raw

    async def fetch_thread(self, ticket_remote_id: str) -> list[MessageRecord]:
        """The ticket's description (Freshdesk keeps it apart) and then its conversations."""
        raw = await self._raw_ticket(ticket_remote_id)
        ticket = _ticket(raw, await self._agent_map(), await self._group_map(), self.statuses)
        messages = [_opening(raw, ticket)]
        async for page in self._pages(f"/tickets/{ticket.number}/conversations"):
            messages.extend(_message(c, ticket, self._agents or {}) for c in page)
        return messages

    # ------------------------------------------------------------------ writing

    async def apply(self, action: Action) -> ActionResult:
        tid = _path_id(action.ticket_remote_id)
        kind, p = action.kind, action.payload
        if kind in ("reply", "note"):
            body = {"body": _html(str(p["body"]))} | ({"private": True} if kind == "note" else {})
            made = await self._write("POST", f"/tickets/{tid}/{'reply' if kind == 'reply' else 'notes'}", body)
            return ActionResult(remote_id=str(made["id"]) if made.get("id") is not None else None)
        if kind == "tags":
            current = (await self._raw_ticket(str(tid))).get("tags") or []
            tags = [t for t in current if isinstance(t, str) and t not in p.get("remove", [])]
            tags += [t for t in p.get("add", []) if t not in tags]
            if tags == current:
                return ActionResult()
            change: dict[str, Any] = {"tags": tags}
        else:
            change = self._change(kind, p)
        updated = await self._write("PUT", f"/tickets/{tid}", change)
        return ActionResult(version=updated.get("updated_at") if isinstance(updated.get("updated_at"), str) else None)

    def _change(self, kind: str, p: Mapping[str, Any]) -> dict[str, Any]:
        if kind == "status":
            code = self.hold_status if p["status"] == "hold" else STATUS_CODE.get(p["status"])
            if code is None:
                raise RejectedError(f"Freshdesk has no {p['status']!r} status; set hold_status in the account options"
                                    " to the number of the custom status to use")
            return {"status": code}
        if kind == "priority":
            return {"priority": int(p["priority"])}
        if kind == "assign":
            return {"responder_id": None if p.get("assignee") is None else as_int(p["assignee"], "assignee")}
        if kind == "custom_field":
            return {"custom_fields": {str(p["field"]): p["value"]}}
        raise RejectedError(f"Freshdesk cannot {kind.replace('_', ' ')}")

    async def _write(self, method: str, path: str, body: Mapping[str, Any]) -> dict:
        response = await self.http.request(method, path, json=body, ok=(400,))
        if response.status_code == 400:
            raise RejectedError(f"Freshdesk refused the change: {_refusal(response)}")
        data = parse_json(response, f"freshdesk {method} {path}", maybe_applied=True)
        if not isinstance(data, dict):
            raise TransientError(f"freshdesk {method} {path}: unexpected answer; checking before any retry",
                                 maybe_applied=True)
        return data

    async def find_applied(self, action: Action) -> ActionResult | None:
        """A reply or note whose answer was lost: is it among the conversations? Field changes
        set absolute values and are safe to send again (the default)."""
        if action.kind not in ("reply", "note"):
            return None
        tid = _path_id(action.ticket_remote_id)
        since = (action.first_tried_at or 0) - RECONCILE_SLACK
        wanted = words(str(action.payload.get("body", "")))
        private = action.kind == "note"
        async for page in self._pages(f"/tickets/{tid}/conversations"):
            for c in page:
                if not isinstance(c, dict) or c.get("incoming") or bool(c.get("private")) != private:
                    continue
                if self.me is not None and c.get("user_id") != self.me:
                    continue
                try:
                    when = epoch(c.get("created_at"), "created_at")
                except ValueError:
                    continue
                if when >= since and words(_plain(c)) == wanted:
                    return ActionResult(remote_id=str(c.get("id")))
        return None


# ---------------------------------------------------------------------- mapping


def _ticket(t: Any, agents: Mapping[int, PersonRecord], groups: Mapping[int, str],
            statuses: Mapping[int, str] = CODES["status"]) -> TicketRecord:
    """One Freshdesk ticket onto our record; unknown keys are ignored, a broken one is named."""
    if not isinstance(t, dict):
        raise unreadable("freshdesk", "tickets", "a ticket is not a JSON object")
    try:
        number = as_int(t.get("id"), "id")
        stamp = t.get("updated_at")
        updated = epoch(stamp, "updated_at")
        created = epoch(t.get("created_at"), "created_at") if t.get("created_at") is not None else updated
        code = t.get("status")
        status = statuses.get(code, "open") if isinstance(code, int) else "open"
        priority_code = t.get("priority")
        priority = CODES["priority"].get(priority_code, 2) if isinstance(priority_code, int) else 2
        stats = t.get("stats") if isinstance(t.get("stats"), dict) else {}
        first_response = _maybe_epoch(stats.get("first_responded_at"))
        solved = _maybe_epoch(stats.get("resolved_at")) or _maybe_epoch(stats.get("closed_at"))
        tags = t.get("tags") or []
        fields = t.get("custom_fields") or {}
        if not isinstance(tags, list) or not isinstance(fields, dict):
            raise ValueError("tags or custom_fields has the wrong shape")
        responder, group, source = t.get("responder_id"), t.get("group_id"), t.get("source")
        unsolved = status in base.UNSOLVED
        due = t.get("fr_due_by") if first_response is None else t.get("due_by")
        return TicketRecord(
            remote_id=str(number), number=number, subject=as_text(t.get("subject"), "subject"), status=status,
            priority=priority, created_at=created, updated_at=updated,
            requester=_requester(t),
            assignee=None if responder is None else agents.get(responder) or PersonRecord(
                str(as_int(responder, "responder_id")), f"agent {responder}", None, "agent"),
            remote_status=None if code is None else str(code),
            remote_priority=None if priority_code is None else str(priority_code),
            version=stamp, tags=tuple(x for x in tags if isinstance(x, str)),
            description=as_text(t.get("description_text"), "description_text"),
            group=(groups.get(group) or str(group)) if isinstance(group, int) else None,
            channel=SOURCES.get(source) if isinstance(source, int) else None,
            sla_due_at=_maybe_epoch(due) if unsolved else None,
            first_response_at=first_response, solved_at=solved if not unsolved else None,
            last_customer_at=_maybe_epoch(stats.get("requester_responded_at")) or (created if source != 10 else None),
            custom_fields={str(k): v for k, v in fields.items() if v is not None},
            deleted=t.get("deleted") is True,
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise unreadable("freshdesk", "tickets", f"ticket {_ident(t)}: {reason(exc)}") from None


def _requester(t: Mapping[str, Any]) -> PersonRecord | None:
    rid = t.get("requester_id")
    who = t.get("requester") if isinstance(t.get("requester"), dict) else {}
    if rid is None and not who:
        return None
    rid = as_int(rid if rid is not None else who.get("id"), "requester_id")
    name = who.get("name") if isinstance(who.get("name"), str) else ""
    email = who.get("email") if isinstance(who.get("email"), str) else None
    return PersonRecord(str(rid), name or email or f"contact {rid}", email, "customer")


def _opening(raw: Mapping[str, Any], ticket: TicketRecord) -> MessageRecord:
    """Freshdesk keeps a ticket's first message as its description, outside the conversations."""
    outbound = raw.get("source") == 10
    return MessageRecord(remote_id=f"{ticket.number}-description", author=None if outbound else ticket.requester,
                         author_role="agent" if outbound else "customer", public=True, body=ticket.description,
                         created_at=ticket.created_at,
                         attachments=_attachments(raw.get("attachments")))


def _message(c: Any, ticket: TicketRecord, agents: Mapping[int, PersonRecord]) -> MessageRecord:
    if not isinstance(c, dict):
        raise unreadable("freshdesk", "conversations", "a conversation is not a JSON object")
    try:
        incoming = c.get("incoming") is True
        user = c.get("user_id")
        if incoming:
            requester = ticket.requester
            author = requester if requester and str(user) == requester.remote_id else (
                None if user is None else PersonRecord(str(as_int(user, "user_id")), as_text(c.get("from_email"), "from_email"),
                                                       c.get("from_email") if isinstance(c.get("from_email"), str) else None))
        else:
            author = None if user is None else agents.get(user) or PersonRecord(
                str(as_int(user, "user_id")), f"agent {user}", None, "agent")
        return MessageRecord(remote_id=str(as_int(c.get("id"), "id")), author=author,
                             author_role="customer" if incoming else "agent", public=c.get("private") is not True,
                             body=_plain(c), created_at=epoch(c.get("created_at"), "created_at"),
                             attachments=_attachments(c.get("attachments")))
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise unreadable("freshdesk", "conversations", f"conversation {_ident(c)}: {reason(exc)}") from None


def _plain(c: Mapping[str, Any]) -> str:
    """The text of a conversation: body_text, else the HTML body without its tags."""
    text = c.get("body_text")
    if isinstance(text, str):
        return text
    return _text_of_html(as_text(c.get("body"), "body"))


def _canned_text(response: Mapping[str, Any]) -> str | None:
    """A canned response's text: ``content`` (plain), else ``content_html`` without its tags."""
    if isinstance(response.get("content"), str):
        return response["content"]
    if isinstance(response.get("content_html"), str):
        return _text_of_html(response["content_html"])
    return None


def _text_of_html(body: str) -> str:
    return html.unescape(_TAG.sub("", _BREAK.sub("\n", body)))


def _html(text: str) -> str:
    """Freshdesk bodies are HTML: escape the agent's text (it may quote a customer) and keep its lines."""
    return "<div>" + "<br>".join(html.escape(line) for line in text.split("\n")) + "</div>"


def _attachments(value: Any) -> tuple[str, ...]:
    items = value if isinstance(value, list) else []
    return tuple(a["name"] for a in items if isinstance(a, dict) and isinstance(a.get("name"), str))


def _newest_copies(raw: list[Any]) -> list[Any]:
    """A ticket that changed between two pages can come twice: keep the newest copy."""
    best: dict[Any, Any] = {}
    for t in raw:
        key = t.get("id") if isinstance(t, dict) else id(t)
        old = best.get(key)
        if old is None or str(t.get("updated_at")) >= str(old.get("updated_at")):
            best[key] = t
    return list(best.values())


def _refusal(response: httpx.Response) -> str:
    """Freshdesk's own words: 'Validation failed' and each field's message."""
    try:
        body = response.json()
    except ValueError:
        return clean_line(response.text, 300) or "400"
    words: list[str] = []
    if isinstance(body, dict):
        for e in body.get("errors") if isinstance(body.get("errors"), list) else []:
            if isinstance(e, dict) and isinstance(e.get("message"), str):
                words.append(f"{e['field']}: {e['message']}" if isinstance(e.get("field"), str) else e["message"])
        if not words and isinstance(body.get("description"), str):
            words.append(body["description"])
    return clean_line("; ".join(words), 300) or "400"


# ---------------------------------------------------------------------- small parsers


def _cursor(cursor: str) -> int:
    try:
        return epoch(cursor, "cursor")
    except ValueError:
        raise AdapterError(f"freshdesk: the saved sync cursor {clean_line(cursor, 40)!r} is not a time;"
                           " remove the workspace cache to pull everything again") from None


def _maybe_epoch(value: Any) -> int | None:
    try:
        return epoch(value, "time")
    except ValueError:
        return None


def _path_id(remote_id: str | None) -> int:
    try:
        return as_int(remote_id, "ticket id")
    except ValueError:
        raise RejectedError(f"{clean_line(remote_id, 40)!r} is not a Freshdesk ticket id") from None


def _ident(item: Any) -> str:
    value = item.get("id") if isinstance(item, Mapping) else None
    return str(value) if isinstance(value, int) else "without a usable id"


