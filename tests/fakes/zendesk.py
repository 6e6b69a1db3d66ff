"""A stateful Zendesk Support API v2 on loopback, for contract tests and the benchmark.

It answers with the documented shapes and headers (../shared/reference/api-contracts.md §1):
the cursor-based incremental export (``after_cursor``, ``end_of_stream``, ``include=users``
sideloads, admins only: 403 for agents), search capped at 10 pages of 100 (422 past it),
views and comments with ``meta``/``links`` cursor pagination, ``PUT /tickets/{id}``
answering ``{ticket, audit}``, 409 ``UpdateConflict`` on a stale ``updated_stamp`` under
``safe_update``, 422 ``RecordInvalid`` for closed tickets, the error envelope, and
``X-Rate-Limit``/``X-Rate-Limit-Remaining`` (plus ``ratelimit-*`` on lists) on every answer.
Tests queue one-off replies (429 with Retry-After, 5xx, garbage) through ``fake.server``.

Time is the fake's own, starting just before the tests' frozen clock (so a comment made
now is 'after the action was first tried'); every change moves it on by a second, so
stamps differ.
"""

from __future__ import annotations

import base64
import bisect
import re
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

API = "/api/v2"
FORBIDDEN = {"error": "Forbidden",
             "description": "You do not have access to this page. Please contact the account owner of this help desk "
                            "for further help."}
UNAUTHORIZED = {"error": "Couldn't authenticate you"}
CONFLICT = {"error": "UpdateConflict",
            "description": "Safe Update prevented the update due to outdated ticket data. Please fetch the latest "
                           "ticket data and try again."}
STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
PRIORITIES = ("urgent", "high", "normal", "low", None)


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _encode(*parts: Any) -> str:
    return base64.urlsafe_b64encode("|".join(map(str, parts)).encode()).decode()


def _decode(cursor: str) -> list[str]:
    try:
        return base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
    except (ValueError, UnicodeDecodeError):
        return []


class FakeZendesk:
    def __init__(self, *, now: int = 1795000000 - 120, rate_limit: int = 700) -> None:
        self.server = FakeServer()
        self.lock = threading.RLock()
        self.now = now
        self.users: dict[int, dict] = {}
        self.tokens: dict[str, int] = {}
        """'email/token:TOKEN' or 'Bearer TOKEN' → user id."""
        self.tickets: dict[int, dict] = {}
        self.generated: dict[int, int] = {}
        self._order: list[tuple[int, int]] = []
        self.comments: dict[int, list[dict]] = {}
        self.groups: dict[int, str] = {}
        self.macros: list[dict] = []
        self.views: dict[int, Callable[[dict], bool]] = {}
        self.rate_limit = rate_limit
        self.rate_remaining = rate_limit
        self.rate_reset: int | None = None
        """Seconds sent as ratelimit-reset; None: the time left in the current minute."""
        self._window = time.monotonic()
        self.lose_answers = 0
        """The next N updates are applied but answered only after ``lost_delay`` seconds."""
        self.lost_delay = 2.0
        self._ids = {"user": 1000, "ticket": 0, "event": 5000, "group": 300, "macro": 700}
        self._routes()

    # -- seeding
    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def tick(self) -> int:
        self.now += 1
        return self.now

    def add_user(self, name: str, email: str, role: str = "end-user", *, token: str | None = None,
                 oauth: str | None = None) -> int:
        with self.lock:
            uid = self._next("user")
            self.users[uid] = {"id": uid, "url": f"https://acme.zendesk.com{API}/users/{uid}.json", "name": name,
                               "email": email, "role": role, "active": True, "locale": "en-US",
                               "created_at": iso(self.now), "updated_at": iso(self.now)}
            if token:
                self.tokens[_basic(f"{email}/token", token)] = uid
            if oauth:
                self.tokens[f"Bearer {oauth}"] = uid
            return uid

    def add_group(self, name: str) -> int:
        gid = self._next("group")
        self.groups[gid] = name
        return gid

    def add_macro(self, title: str, actions: list[dict], *, active: bool = True, description: str | None = None) -> int:
        mid = self._next("macro")
        self.macros.append({"id": mid, "title": title, "active": active, "actions": actions, "description": description,
                            "restriction": None, "position": len(self.macros), "url": f"{API}/macros/{mid}.json",
                            "created_at": iso(self.now), "updated_at": iso(self.now)})
        return mid

    def add_ticket(self, subject: str, requester: int, *, body: str = "", assignee: int | None = None,
                   status: str = "open", priority: str | None = "normal", tags: Iterable[str] = (),
                   group: int | None = None, custom_fields: dict[int, Any] | None = None,
                   at: int | None = None, channel: str = "email") -> int:
        with self.lock:
            at = self.tick() if at is None else at
            tid = self._next("ticket")
            self.tickets[tid] = {
                "id": tid, "url": f"https://acme.zendesk.com{API}/tickets/{tid}.json", "external_id": None,
                "type": "question", "subject": subject, "raw_subject": subject, "description": body or subject,
                "status": status, "priority": priority, "requester_id": requester, "submitter_id": requester,
                "assignee_id": assignee, "group_id": group, "organization_id": None, "tags": list(tags),
                "custom_fields": [{"id": k, "value": v} for k, v in (custom_fields or {}).items()],
                "via": {"channel": channel, "source": {"from": {}, "to": {}, "rel": None}},
                "satisfaction_rating": None, "has_incidents": False, "is_public": True,
                "created_at": iso(at), "updated_at": iso(at),
            }
            self.comments[tid] = []
            self._comment(tid, requester, body or subject, True, at)
            self._changed(tid, at)
            return tid

    def _comment(self, tid: int, author: int, body: str, public: bool, at: int) -> dict:
        cid = self._next("event")
        comment = {"id": cid, "type": "Comment", "author_id": author, "body": body,
                   "html_body": f"<div class=\"zd-comment\"><p>{body}</p></div>", "plain_body": body, "public": public,
                   "attachments": [], "audit_id": cid - 1, "via": {"channel": "api"}, "created_at": iso(at),
                   "metadata": {"system": {}}}
        self.comments[tid].append(comment)
        return comment

    def _changed(self, tid: int, at: int | None = None) -> None:
        """Move a ticket to the end of the export stream (generated_timestamp is its position)."""
        old = self.generated.get(tid)
        if old is not None:
            index = bisect.bisect_left(self._order, (old, tid))
            if index < len(self._order) and self._order[index] == (old, tid):
                del self._order[index]
        generated = self.now if at is None else at
        self.generated[tid] = generated
        bisect.insort(self._order, (generated, tid))

    def customer_reply(self, tid: int, body: str) -> None:
        """The customer writes again: the ticket reopens and its stamp moves."""
        self.add_comment(tid, self.tickets[tid]["requester_id"], body, status="open")

    def add_comment(self, tid: int, author: int, body: str, public: bool = True, **fields: Any) -> int:
        with self.lock:
            at = self.tick()
            comment = self._comment(tid, author, body, public, at)
            self.tickets[tid].update(fields, updated_at=iso(at))
            self._changed(tid)
            return comment["id"]

    def set(self, tid: int, **fields: Any) -> None:
        """Someone else (the web UI) changes a ticket."""
        with self.lock:
            at = self.tick()
            self.tickets[tid].update(fields, updated_at=iso(at))
            self._changed(tid)

    def delete(self, tid: int) -> None:
        with self.lock:
            self.tick()
            self.tickets[tid].update(status="deleted", updated_at=iso(self.now))
            self._changed(tid)

    # -- HTTP plumbing
    def _routes(self) -> None:
        r = self.server.route
        j = r"(?:\.json)?"
        r("GET", rf"{API}/users/me{j}", self._guard(self._me))
        r("GET", rf"{API}/users/show_many{j}", self._guard(self._show_many))
        r("GET", rf"{API}/users{j}", self._guard(self._list_users, listing=True))
        r("GET", rf"{API}/groups{j}", self._guard(self._list_groups, listing=True))
        r("GET", rf"{API}/macros/active{j}", self._guard(self._list_macros, listing=True))
        r("GET", rf"{API}/tickets/count{j}", self._guard(self._count))
        r("GET", rf"{API}/incremental/tickets/cursor{j}", self._guard(self._export, admin=True))
        r("GET", rf"{API}/search{j}", self._guard(self._search, listing=True))
        r("GET", rf"{API}/views/(\d+)/tickets{j}", self._guard(self._view, listing=True))
        r("GET", rf"{API}/tickets/(\d+)/comments{j}", self._guard(self._list_comments, listing=True))
        r("GET", rf"{API}/tickets/(\d+){j}", self._guard(self._show_ticket))
        r("PUT", rf"{API}/tickets/(\d+){j}", self._guard(self._update))
        r("GET", rf"{API}/tickets/(\d+)/macros/(\d+)/apply{j}", self._guard(self._macro_preview))

    def _guard(self, handler: Callable[[Request, int], Reply], *, admin: bool = False,
               listing: bool = False) -> Callable[[Request], Reply]:
        def serve(request: Request) -> Reply:
            with self.lock:
                elapsed = time.monotonic() - self._window
                if elapsed >= 60:  # the budget is per minute
                    self._window, self.rate_remaining, elapsed = time.monotonic(), self.rate_limit, 0
                self.rate_remaining = max(self.rate_remaining - 1, 0)
                reset = self.rate_reset if self.rate_reset is not None else int(60 - elapsed)
                headers = {"X-Rate-Limit": str(self.rate_limit), "X-Rate-Limit-Remaining": str(self.rate_remaining),
                           "ratelimit-limit": str(self.rate_limit), "ratelimit-remaining": str(self.rate_remaining),
                           "ratelimit-reset": str(reset)}
                if listing:
                    headers["zendesk-ratelimit-tickets-index"] = "total=100; remaining=99; resets=41"
                uid = self.tokens.get(request.headers.get("Authorization", ""))
                if uid is None:
                    reply = Reply(401, UNAUTHORIZED)
                elif admin and self.users[uid]["role"] != "admin":
                    reply = Reply(403, FORBIDDEN)
                else:
                    reply = handler(request, uid)
            reply.headers = {**headers, **reply.headers}
            return reply

        return serve

    def url_for(self, path: str, **params: Any) -> str:
        query = "&".join(f"{k}={v}" for k, v in params.items())
        return f"{self.server.url}{API}{path}" + (f"?{query}" if query else "")

    def _sideload(self, request: Request, user_ids: Iterable[Any]) -> dict:
        if "users" not in (request.arg("include") or "").split(","):
            return {}
        return {"users": [self.users[u] for u in sorted({u for u in user_ids if u in self.users})]}

    def _cursor_page(self, request: Request, items: list[dict], path: str, key: str) -> dict:
        size = min(int(request.arg("page[size]", "100")), 100)
        start = 0
        after = request.arg("page[after]")
        if after:
            parts = _decode(after)
            start = int(parts[1]) if len(parts) == 2 and parts[0] == "o" and parts[1].isdigit() else len(items)
        page = items[start:start + size]
        more = start + size < len(items)
        after_cursor = _encode("o", start + len(page)) if page else None
        before_cursor = _encode("b", start) if page else None
        return {key: page,
                "meta": {"has_more": more, "after_cursor": after_cursor, "before_cursor": before_cursor},
                "links": {"next": self.url_for(path, **{"page[size]": size, "page[after]": after_cursor}) if more else None,
                          "prev": self.url_for(path, **{"page[size]": size, "page[before]": before_cursor}) if start else None}}

    # -- handlers
    def _me(self, request: Request, uid: int) -> Reply:
        return Reply(200, {"user": self.users[uid]})

    def _show_many(self, request: Request, uid: int) -> Reply:
        ids = [int(i) for i in (request.arg("ids") or "").split(",") if i.isdigit()]
        return Reply(200, {"users": [self.users[i] for i in ids if i in self.users], "next_page": None,
                           "previous_page": None, "count": len(ids)})

    def _list_users(self, request: Request, uid: int) -> Reply:
        roles = request.query.get("role[]") or request.query.get("role") or []
        users = [u for u in self.users.values() if not roles or u["role"] in roles]
        return Reply(200, self._cursor_page(request, users, "/users.json", "users"))

    def _list_groups(self, request: Request, uid: int) -> Reply:
        groups = [{"id": g, "name": n, "deleted": False} for g, n in self.groups.items()]
        return Reply(200, self._cursor_page(request, groups, "/groups.json", "groups"))

    def _list_macros(self, request: Request, uid: int) -> Reply:
        return Reply(200, self._cursor_page(request, [m for m in self.macros if m["active"]], "/macros/active.json",
                                            "macros"))

    def _count(self, request: Request, uid: int) -> Reply:
        live = sum(1 for t in self.tickets.values() if t["status"] != "deleted")
        return Reply(200, {"count": {"value": live, "refreshed_at": iso(self.now)}})

    def _export(self, request: Request, uid: int) -> Reply:
        size = min(int(request.arg("per_page", "1000")), 1000)
        cursor = request.arg("cursor")
        if cursor:
            parts = _decode(cursor)
            if len(parts) != 4 or not parts[0].endswith(".0"):
                return Reply(422, {"error": "InvalidValue", "description": "Invalid cursor"})
            start = bisect.bisect_right(self._order, (int(parts[0][:-2]), int(parts[2])))
        elif request.arg("start_time", "").isdigit():
            start = bisect.bisect_left(self._order, (int(request.arg("start_time")), 0))
        else:
            return Reply(400, {"error": "InvalidPaginationParameter", "description": "start_time or cursor is required"})
        keys = self._order[start:start + size]
        tickets = [self.tickets[tid] | {"generated_timestamp": gen} for gen, tid in keys]
        position = keys[-1] if keys else (self._order[start - 1] if start else (0, 0))
        after_cursor = _encode(f"{position[0]}.0", "", position[1], "")
        end = start + size >= len(self._order)
        body = {"tickets": tickets,
                "after_url": self.url_for("/incremental/tickets/cursor.json", cursor=after_cursor),
                "after_cursor": after_cursor, "before_url": None, "before_cursor": None, "end_of_stream": end}
        body |= self._sideload(request, (u for t in tickets for u in (t["requester_id"], t["assignee_id"],
                                                                        t["submitter_id"])))
        return Reply(200, body)

    def _search(self, request: Request, uid: int) -> Reply:
        query = request.arg("query", "")
        page = int(request.arg("page", "1"))
        per_page = min(int(request.arg("per_page", "100")), 100)
        if page * per_page > 1000:
            return Reply(422, {"error": "InvalidPaginationParameter",
                               "description": "Search results are limited to 1000; use search export for more"})
        tickets = [t for t in self.tickets.values() if t["status"] != "deleted"]
        m = re.search(r"updated>(\S+)", query)
        if m:
            tickets = [t for t in tickets if epoch(t["updated_at"]) > epoch(m.group(1))]
        if "order_by:updated_at" in query:
            tickets.sort(key=lambda t: (t["updated_at"], t["id"]), reverse="sort:desc" in query)
        chunk = tickets[(page - 1) * per_page: page * per_page]
        more = page * per_page < len(tickets)
        return Reply(200, {"results": [t | {"result_type": "ticket"} for t in chunk], "facets": None,
                           "next_page": self.url_for("/search.json", page=page + 1) if more else None,
                           "previous_page": self.url_for("/search.json", page=page - 1) if page > 1 else None,
                           "count": len(tickets)})

    def _view(self, request: Request, uid: int) -> Reply:
        view = int(request.match.group(1))
        if view not in self.views:
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        tickets = sorted((t for t in self.tickets.values() if t["status"] != "deleted" and self.views[view](t)),
                         key=lambda t: t["id"])
        return Reply(200, self._cursor_page(request, tickets, f"/views/{view}/tickets.json", "tickets"))

    def _list_comments(self, request: Request, uid: int) -> Reply:
        tid = int(request.match.group(1))
        if tid not in self.tickets or self.tickets[tid]["status"] == "deleted":
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        comments = list(self.comments[tid])
        if request.arg("sort") == "-created_at":
            comments.reverse()
        body = self._cursor_page(request, comments, f"/tickets/{tid}/comments.json", "comments")
        body |= self._sideload(request, (c["author_id"] for c in body["comments"]))
        return Reply(200, body)

    def _show_ticket(self, request: Request, uid: int) -> Reply:
        tid = int(request.match.group(1))
        ticket = self.tickets.get(tid)
        if ticket is None or ticket["status"] == "deleted":
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        return Reply(200, {"ticket": ticket} | self._sideload(request, (ticket["requester_id"], ticket["assignee_id"])))

    def _update(self, request: Request, uid: int) -> Reply:
        tid = int(request.match.group(1))
        ticket = self.tickets.get(tid)
        if ticket is None or ticket["status"] == "deleted":
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        try:
            change = request.json()["ticket"]
        except (ValueError, KeyError, TypeError):
            return Reply(400, {"error": "InvalidJSON", "description": "The request body is not valid JSON"})
        if ticket["status"] == "closed":
            return _invalid("Status: closed prevents ticket update", "ClosedTicket")
        if change.get("safe_update") and change.get("updated_stamp") != ticket["updated_at"]:
            return Reply(409, CONFLICT)
        if "status" in change and change["status"] not in STATUSES:
            return _invalid(f"Status: {change['status']} is not valid", "InvalidValue", "status")
        if "priority" in change and change["priority"] not in PRIORITIES:
            return _invalid("Priority: is not valid", "InvalidValue", "priority")
        assignee = change.get("assignee_id")
        if assignee is not None and self.users.get(assignee, {}).get("role") not in ("agent", "admin"):
            return _invalid("Assignee: is not an agent", "InvalidValue", "assignee_id")
        at = self.tick()
        events: list[dict] = []
        comment = change.get("comment")
        if comment:
            made = self._comment(tid, uid, comment.get("body") or comment.get("html_body", ""),
                                 comment.get("public", True), at)
            events.append({"id": made["id"], "type": "Comment", "body": made["body"], "public": made["public"],
                           "author_id": uid, "attachments": []})
        for field in ("status", "priority", "assignee_id", "group_id", "tags"):
            if field in change and change[field] != ticket[field]:
                events.append({"id": self._next("event"), "type": "Change", "field_name": field,
                               "value": change[field], "previous_value": ticket[field]})
                ticket[field] = change[field]
        tags = [t for t in ticket["tags"] if t not in change.get("remove_tags", [])]
        tags += [t for t in change.get("additional_tags", []) if t not in tags]
        ticket["tags"] = tags
        for cf in change.get("custom_fields", []):
            ticket["custom_fields"] = [f for f in ticket["custom_fields"] if f["id"] != cf["id"]] + [cf]
        ticket["updated_at"] = iso(at)
        self._changed(tid)
        body = {"ticket": dict(ticket),
                "audit": {"id": self._next("event"), "ticket_id": tid, "created_at": iso(at), "author_id": uid,
                          "metadata": {"system": {}}, "events": events, "via": {"channel": "api"}}}
        delay = 0.0
        if self.lose_answers:
            self.lose_answers -= 1
            delay = self.lost_delay
        return Reply(200, body, delay=delay)

    def _macro_preview(self, request: Request, uid: int) -> Reply:
        """MacroApplyTicketResponse: the ticket as it would be after the macro, nothing changed."""
        tid, mid = int(request.match.group(1)), int(request.match.group(2))
        ticket = self.tickets.get(tid)
        macro = next((m for m in self.macros if m["id"] == mid and m["active"]), None)
        if ticket is None or macro is None:
            return Reply(404, {"error": "RecordNotFound", "description": "Not found"})
        after: dict[str, Any] = {"id": tid, "url": ticket["url"]}
        comment: dict[str, Any] = {}
        for action in macro["actions"]:
            field, value = action["field"], action["value"]
            if field in ("status", "priority", "group_id"):
                after[field] = value
            elif field == "assignee_id":
                after[field] = uid if value == "current_user" else int(value)
            elif field == "set_tags":
                after["tags"] = value.split() if isinstance(value, str) else list(value)
            elif field in ("current_tags", "remove_tags"):
                tags = list(after.get("tags", ticket["tags"]))
                words = value.split() if isinstance(value, str) else list(value)
                after["tags"] = [t for t in tags if t not in words] if field == "remove_tags" else \
                    tags + [w for w in words if w not in tags]
            elif field == "comment_value":
                requester = self.users.get(ticket["requester_id"], {})
                comment["body"] = str(value).replace("{{ticket.requester.first_name}}",
                                                     requester.get("name", "").split(" ")[0])
                comment.setdefault("public", True)
            elif field == "comment_mode_is_public":
                comment["public"] = bool(value)
        if comment:
            comment["scoped_body"] = [["channel:all", comment["body"]]]
            after["comment"] = comment
        return Reply(200, {"result": {"ticket": after}})

    # -- one-off answers
    def rate_limited(self, method: str, path: str, retry_after: int = 1, times: int = 1) -> None:
        """The documented 429: Retry-After seconds, the budget spent."""
        self.server.queue(method, API + path, Reply(429, {"error": "APIRateLimitExceeded",
                                                          "description": "Number of allowed API requests per minute exceeded"},
                                                    headers={"Retry-After": str(retry_after),
                                                             "X-Rate-Limit": str(self.rate_limit),
                                                             "X-Rate-Limit-Remaining": "0"}), times)

    def __enter__(self) -> "FakeZendesk":
        # Poll for shutdown every 50 ms rather than 500 (tests start dozens of these), and send
        # headers and body without waiting on Nagle + delayed ACK (40 ms a request on loopback).
        self.server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
        self.server.thread = threading.Thread(target=self.server.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                              daemon=True)
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _invalid(description: str, code: str, field: str = "base") -> Reply:
    return Reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                       "details": {field: [{"description": description, "error": code}]}})
