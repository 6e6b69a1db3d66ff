"""A stateful Freshdesk API v2 on loopback, for contract tests.

It answers with the documented shapes and headers (../shared/reference/api-contracts.md §2):
numeric status/priority/source codes, ``GET /tickets`` with ``updated_since``,
``order_by``/``order_type``, ``per_page`` (max 100) and ``page`` with a ``Link: <...>;
rel="next"`` header while more exist, the 400 past page 300, ``include=requester,stats``,
conversations (``incoming``, ``private``), ``POST /reply`` and ``/notes`` answering 201,
``PUT /tickets/{id}`` (tags replace), the ``{"description": "Validation failed", "errors":
[...]}`` envelope, and ``X-RateLimit-Total``/``-Remaining``/``-Used-CurrentRequest`` on every
answer. Tests queue one-off replies (429 with Retry-After, 5xx, garbage) through
``fake.server``. Its clock starts just before the tests' frozen one and moves a second per
change.
"""

from __future__ import annotations

import base64
import html
import threading
import time
from collections.abc import Callable, Iterable
from datetime import datetime, timezone
from typing import Any

from tests.fakes.server import FakeServer, Reply, Request

API = "/api/v2"
PAGE_LIMIT_ERROR = {"description": "Validation failed",
                    "errors": [{"field": "page", "code": "invalid_value",
                                "message": "You cannot access tickets beyond the 300th page. Please provide a smaller "
                                           "page number."}]}
STATUSES = (2, 3, 4, 5, 6, 7)
"""2 Open, 3 Pending, 4 Resolved, 5 Closed, and two custom ones (6 Waiting on Customer, 7 Waiting on Third Party)."""


def iso(epoch: int) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def epoch(stamp: str) -> int:
    return int(datetime.fromisoformat(stamp).timestamp())


def _invalid(field: str, message: str, code: str = "invalid_value") -> Reply:
    return Reply(400, {"description": "Validation failed", "errors": [{"field": field, "message": message, "code": code}]})


class FakeFreshdesk:
    def __init__(self, *, now: int = 1795000000 - 120, rate_total: int = 400) -> None:
        self.server = FakeServer()
        self.lock = threading.RLock()
        self.now = now
        self.agents: dict[int, dict] = {}
        self.contacts: dict[int, dict] = {}
        self.keys: dict[str, int] = {}
        self.tickets: dict[int, dict] = {}
        self.conversations: dict[int, list[dict]] = {}
        self.groups: dict[int, str] = {}
        self.canned_folders: dict[int, dict] = {}
        self.canned: dict[int, dict] = {}
        self.lean_canned_listing = False
        """List a folder's canned responses without their text (it then comes from
        GET /canned_responses/{id}): the documentation does not say which the listing holds."""
        self.rate_total = rate_total
        self.rate_remaining = rate_total
        self._window = time.monotonic()
        self.lose_answers = 0
        """The next N writes are applied but answered only after ``lost_delay`` seconds."""
        self.lost_delay = 2.0
        self._ids = {"agent": 9000000000, "contact": 8000000000, "ticket": 100, "conversation": 35131397000,
                     "group": 4000, "canned_folder": 13000, "canned": 13000500}
        self._routes()

    def _next(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    def tick(self) -> int:
        self.now += 1
        return self.now

    # -- seeding
    def add_agent(self, name: str, email: str, *, key: str | None = None, scope: int = 1) -> int:
        aid = self._next("agent")
        self.agents[aid] = {"id": aid, "available": True, "occasional": False, "ticket_scope": scope,
                            "signature": None, "group_ids": [], "role_ids": [1], "type": "support_agent",
                            "created_at": iso(self.now), "updated_at": iso(self.now),
                            "contact": {"name": name, "email": email, "active": True, "job_title": None,
                                        "language": "en", "time_zone": "UTC"}}
        if key:
            self.keys["Basic " + base64.b64encode(f"{key}:X".encode()).decode()] = aid
        return aid

    def add_contact(self, name: str, email: str) -> int:
        cid = self._next("contact")
        self.contacts[cid] = {"id": cid, "name": name, "email": email, "mobile": None, "phone": None}
        return cid

    def add_group(self, name: str) -> int:
        gid = self._next("group")
        self.groups[gid] = name
        return gid

    def add_canned(self, folder: str, title: str, text: str) -> int:
        """A canned response as the documented shape has it: plain ``content`` and ``content_html``."""
        with self.lock:
            fid = next((f["id"] for f in self.canned_folders.values() if f["name"] == folder), None)
            if fid is None:
                fid = self._next("canned_folder")
                self.canned_folders[fid] = {"id": fid, "name": folder, "personal": False, "responses_count": 0,
                                            "created_at": iso(self.now), "updated_at": iso(self.now)}
            self.canned_folders[fid]["responses_count"] += 1
            cid = self._next("canned")
            self.canned[cid] = {"id": cid, "title": title, "folder_id": fid, "content": text,
                                "content_html": "<div>" + "<br>".join(html.escape(x) for x in text.split("\n")) + "</div>",
                                "attachments": [], "created_at": iso(self.now), "updated_at": iso(self.now)}
            return cid

    def add_ticket(self, subject: str, requester: int, *, body: str = "", status: int = 2, priority: int = 1,
                   responder: int | None = None, tags: Iterable[str] = (), group: int | None = None,
                   source: int = 1, custom_fields: dict[str, Any] | None = None, at: int | None = None) -> int:
        with self.lock:
            at = self.tick() if at is None else at
            tid = self._next("ticket")
            text = body or subject
            self.tickets[tid] = {
                "id": tid, "subject": subject, "description": f"<div>{html.escape(text)}</div>", "description_text": text,
                "status": status, "priority": priority, "source": source, "type": "Question", "requester_id": requester,
                "responder_id": responder, "group_id": group, "company_id": None, "tags": list(tags), "cc_emails": [],
                "fwd_emails": [], "reply_cc_emails": [], "fr_escalated": False, "spam": False, "is_escalated": False,
                "email_config_id": None, "product_id": None, "custom_fields": dict(custom_fields or {}),
                "due_by": iso(at + 86400), "fr_due_by": iso(at + 3600), "attachments": [],
                "created_at": iso(at), "updated_at": iso(at),
                "stats": {"agent_responded_at": None, "requester_responded_at": None, "first_responded_at": None,
                          "status_updated_at": iso(at), "reopened_at": None, "resolved_at": None, "closed_at": None,
                          "pending_since": None},
            }
            self.conversations[tid] = []
            return tid

    def _conversation(self, tid: int, user: int, body_text: str, *, incoming: bool, private: bool, at: int) -> dict:
        conv = {"id": self._next("conversation"), "ticket_id": tid, "incoming": incoming, "private": private,
                "source": 2 if private else 0, "user_id": user,
                "body": "<div>" + "<br>".join(html.escape(x) for x in body_text.split("\n")) + "</div>",
                "body_text": body_text, "support_email": "support@acme.freshdesk.com",
                "from_email": self.contacts.get(user, {}).get("email"), "to_emails": [], "cc_emails": [],
                "bcc_emails": [], "attachments": [], "created_at": iso(at), "updated_at": iso(at)}
        self.conversations[tid].append(conv)
        return conv

    def customer_reply(self, tid: int, body: str) -> None:
        with self.lock:
            at = self.tick()
            ticket = self.tickets[tid]
            self._conversation(tid, ticket["requester_id"], body, incoming=True, private=False, at=at)
            ticket["stats"]["requester_responded_at"] = iso(at)
            ticket.update(updated_at=iso(at), status=2)

    def set(self, tid: int, **fields: Any) -> None:
        with self.lock:
            self.tickets[tid].update(fields, updated_at=iso(self.tick()))

    # -- HTTP plumbing
    def _routes(self) -> None:
        r = self.server.route
        r("GET", rf"{API}/agents/me", self._guard(lambda req, me: Reply(200, self.agents[me])))
        r("GET", rf"{API}/agents", self._guard(self._list_agents))
        r("GET", rf"{API}/groups", self._guard(self._list_groups))
        r("GET", rf"{API}/canned_response_folders", self._guard(
            lambda req, me: self._paged(req, list(self.canned_folders.values()), "/canned_response_folders")))
        r("GET", rf"{API}/canned_response_folders/(\d+)/responses", self._guard(self._list_canned))
        r("GET", rf"{API}/canned_responses/(\d+)", self._guard(
            lambda req, me: Reply(200, self.canned[int(req.match.group(1))]) if int(req.match.group(1)) in self.canned
            else Reply(404, {"code": "not_found"})))
        r("GET", rf"{API}/tickets", self._guard(self._list_tickets))
        r("GET", rf"{API}/tickets/(\d+)", self._guard(self._show_ticket))
        r("GET", rf"{API}/tickets/(\d+)/conversations", self._guard(self._list_conversations))
        r("POST", rf"{API}/tickets/(\d+)/(reply|notes)", self._guard(self._create_conversation))
        r("PUT", rf"{API}/tickets/(\d+)", self._guard(self._update))

    def _guard(self, handler: Callable[[Request, int], Reply]) -> Callable[[Request], Reply]:
        def serve(request: Request) -> Reply:
            with self.lock:
                if time.monotonic() - self._window >= 60:  # the budget is per minute
                    self._window, self.rate_remaining = time.monotonic(), self.rate_total
                includes = [x for x in (request.arg("include") or "").split(",") if x]
                cost = 1 + len(includes)
                self.rate_remaining = max(self.rate_remaining - cost, 0)
                agent = self.keys.get(request.headers.get("Authorization", ""))
                if agent is None:
                    reply = Reply(401, {"code": "invalid_credentials",
                                        "message": "You have to be logged in to perform this action."})
                else:
                    reply = handler(request, agent)
                reply.headers = {"X-RateLimit-Total": str(self.rate_total),
                                 "X-RateLimit-Remaining": str(self.rate_remaining),
                                 "X-RateLimit-Used-CurrentRequest": str(cost), **reply.headers}
            return reply

        return serve

    def _paged(self, request: Request, items: list, path: str, extra: dict[str, str] | None = None) -> Reply:
        per_page = int(request.arg("per_page", "30"))
        page = int(request.arg("page", "1"))
        if per_page > 100:
            return _invalid("per_page", "Has to be less than or equal to 100")
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = "&".join(f"{k}={v}" for k, v in ({**(extra or {}), "per_page": per_page, "page": page + 1}).items())
            headers["Link"] = f'<{self.server.url}{API}{path}?{query}>; rel="next"'
        return Reply(200, chunk, headers=headers)

    def _ticket_json(self, ticket: dict, includes: list[str]) -> dict:
        body = {k: v for k, v in ticket.items() if k != "stats"}
        if "requester" in includes:
            body["requester"] = self.contacts.get(ticket["requester_id"])
        if "stats" in includes:
            body["stats"] = dict(ticket["stats"])
        return body

    # -- handlers
    def _list_agents(self, request: Request, me: int) -> Reply:
        return self._paged(request, list(self.agents.values()), "/agents")

    def _list_canned(self, request: Request, me: int) -> Reply:
        fid = int(request.match.group(1))
        if fid not in self.canned_folders:
            return Reply(404, {"code": "not_found"})
        hidden = ("content", "content_html") if self.lean_canned_listing else ()
        responses = [{k: v for k, v in c.items() if k not in hidden} for c in self.canned.values() if c["folder_id"] == fid]
        return self._paged(request, responses, f"/canned_response_folders/{fid}/responses")

    def _list_groups(self, request: Request, me: int) -> Reply:
        return self._paged(request, [{"id": g, "name": n, "agent_ids": []} for g, n in self.groups.items()], "/groups")

    def _list_tickets(self, request: Request, me: int) -> Reply:
        page = int(request.arg("page", "1"))
        if page > 300:
            return Reply(400, PAGE_LIMIT_ERROR)
        since = request.arg("updated_since")
        tickets = [t for t in self.tickets.values() if not t.get("deleted")]
        if since:
            tickets = [t for t in tickets if epoch(t["updated_at"]) >= epoch(since)]
        else:  # without updated_since: only tickets created in the last 30 days
            tickets = [t for t in tickets if epoch(t["created_at"]) >= self.now - 30 * 86400]
        order = request.arg("order_by", "created_at")
        tickets.sort(key=lambda t: (t[order], t["id"]), reverse=request.arg("order_type", "desc") == "desc")
        includes = (request.arg("include") or "").split(",")
        extra = {k: request.arg(k) for k in ("updated_since", "order_by", "order_type", "include") if request.arg(k)}
        reply = self._paged(request, tickets, "/tickets", extra)
        if reply.status == 200:
            reply.body = [self._ticket_json(t, includes) for t in reply.body]
        return reply

    def _show_ticket(self, request: Request, me: int) -> Reply:
        ticket = self.tickets.get(int(request.match.group(1)))
        if ticket is None:
            return Reply(404, None)
        return Reply(200, self._ticket_json(ticket, (request.arg("include") or "").split(",")))  # trashed: deleted true

    def _list_conversations(self, request: Request, me: int) -> Reply:
        tid = int(request.match.group(1))
        if tid not in self.tickets:
            return Reply(404, None)
        return self._paged(request, list(self.conversations[tid]), f"/tickets/{tid}/conversations")

    def _create_conversation(self, request: Request, me: int) -> Reply:
        tid, kind = int(request.match.group(1)), request.match.group(2)
        ticket = self.tickets.get(tid)
        if ticket is None:
            return Reply(404, None)
        body = request.json() or {}
        if not body.get("body"):
            return _invalid("body", "It should be a/an String", "missing_field")
        text = html.unescape(body["body"].replace("<br>", "\n").replace("<div>", "").replace("</div>", ""))
        at = self.tick()
        private = kind == "notes" and body.get("private", True)
        conv = self._conversation(tid, me, text, incoming=False, private=private, at=at)
        if kind == "reply":
            ticket["stats"]["agent_responded_at"] = iso(at)
            ticket["stats"]["first_responded_at"] = ticket["stats"]["first_responded_at"] or iso(at)
        ticket["updated_at"] = iso(at)
        return self._maybe_lost(Reply(201, conv))

    def _update(self, request: Request, me: int) -> Reply:
        ticket = self.tickets.get(int(request.match.group(1)))
        if ticket is None:
            return Reply(404, None)
        change = request.json() or {}
        for field in change:
            if field not in ("status", "priority", "responder_id", "group_id", "tags", "custom_fields", "subject"):
                return _invalid(field, "Unexpected/invalid field in request", "invalid_field")
        if "status" in change and change["status"] not in STATUSES:
            return _invalid("status", "It should be one of these values: '2,3,4,5,6,7'")
        if "priority" in change and change["priority"] not in (1, 2, 3, 4):
            return _invalid("priority", "It should be one of these values: '1,2,3,4'")
        if change.get("responder_id") is not None and change["responder_id"] not in self.agents:
            return _invalid("responder_id", "There is no agent matching the given responder_id")
        at = self.tick()
        for field, value in change.items():
            ticket[field] = {**ticket["custom_fields"], **value} if field == "custom_fields" else value
        if change.get("status") == 4:
            ticket["stats"]["resolved_at"] = iso(at)
        ticket["updated_at"] = iso(at)
        return self._maybe_lost(Reply(200, self._ticket_json(ticket, [])))

    def _maybe_lost(self, reply: Reply) -> Reply:
        if self.lose_answers:
            self.lose_answers -= 1
            reply.delay = self.lost_delay
        return reply

    # -- one-off answers
    def rate_limited(self, method: str, path: str, retry_after: int = 1, times: int = 1) -> None:
        self.server.queue(method, API + path, Reply(429, {"code": "rate_limit_exceeded",
                                                          "message": "You have exceeded the limit of requests per minute"},
                                                    headers={"Retry-After": str(retry_after),
                                                             "X-RateLimit-Total": str(self.rate_total),
                                                             "X-RateLimit-Remaining": "0",
                                                             "X-RateLimit-Used-CurrentRequest": "1"}), times)

    def __enter__(self) -> "FakeFreshdesk":
        # Poll for shutdown every 50 ms rather than 500 (tests start dozens of these), and send
        # headers and body without waiting on Nagle + delayed ACK (40 ms a request on loopback).
        self.server.httpd.RequestHandlerClass.disable_nagle_algorithm = True
        self.server.thread = threading.Thread(target=self.server.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                              daemon=True)
        self.server.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.__exit__(*exc)
