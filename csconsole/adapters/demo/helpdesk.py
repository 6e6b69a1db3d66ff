"""The demo helpdesk adapter: the same contract as Zendesk or RT, over the demo backend.

Pulls follow the backend's change sequence; actions carry the ticket version they were
based on and are refused as conflicts when it moved; injected failures come out as the
same errors a real HTTP adapter raises, so the sync engine cannot tell the difference.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

from csconsole.adapters import base
from csconsole.adapters.base import (
    Action, ActionResult, ConflictError, HelpdeskAdapter, Identity, MessageRecord, NotFound, PersonRecord,
    RateLimited, RejectedError, TicketPage, TicketRecord, TransientError,
)
from csconsole.adapters.demo.backend import DemoBackend, Injected, VersionConflict

PAGE = 500


class DemoHelpdesk(HelpdeskAdapter):
    name: ClassVar[str] = "demo"
    needs_secret: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[str]] = frozenset({
        base.REPLY, base.NOTE, base.STATUS, base.PRIORITY, base.ASSIGN, base.TAGS, base.LIST_AGENTS, base.CONFLICTS,
    })

    def __init__(self, account, secret=None, driver=None) -> None:
        super().__init__(account, secret, driver)
        self.backend = DemoBackend(Path(account.options["path"]))
        self.latency = float(account.options.get("latency", 0.0))
        self.me = account.user or "alex@northwind-outfitters.example"

    async def _call(self, op: str) -> None:
        if self.latency:
            await asyncio.sleep(self.latency)
        failure = self.backend.take_failure(op)
        if failure and failure.kind != "timeout_after_apply":
            raise _error(failure)
        self._pending_after = failure

    async def verify(self) -> Identity:
        agent = self.backend.agent_by_email(self.me)
        if agent is None:
            raise base.AuthError(f"no demo agent with email {self.me}")
        return Identity(remote_id=agent["email"], name=agent["name"], email=agent["email"], role=agent["role"],
                        mode="demo backend")

    async def changed_tickets(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        seq = int(cursor or 0)
        total = self.backend.count_changed_since(seq)
        while True:
            await self._call("pull")
            rows = self.backend.changed_since(seq, PAGE)
            if not rows:
                yield TicketPage([], str(seq), True, total)
                return
            seq = rows[-1]["seq"]
            yield TicketPage([_ticket(r) for r in rows], str(seq), len(rows) < PAGE, total)
            if len(rows) < PAGE:
                return

    async def fetch_ticket(self, ticket_remote_id: str) -> TicketRecord:
        await self._call("ticket")
        row = self.backend.ticket(int(ticket_remote_id))
        if row is None:
            raise NotFound(f"ticket {ticket_remote_id} does not exist")
        return _ticket(row)

    async def fetch_thread(self, ticket_remote_id: str) -> list[MessageRecord]:
        await self._call("thread")
        return [_message(m) for m in self.backend.thread(int(ticket_remote_id))]

    async def list_agents(self) -> list[PersonRecord]:
        return [PersonRecord(a["email"], a["name"], a["email"], "agent") for a in self.backend.agents()]

    async def apply(self, action: Action) -> ActionResult:
        await self._call("apply")
        number = int(action.ticket_remote_id or 0)
        try:
            version, message_id = self.backend.update_ticket(
                number, action.kind, dict(action.payload), key=action.idempotency_key,
                base_version=action.base_version, agent_email=self.me)
        except VersionConflict:
            raise ConflictError("the ticket changed in the helpdesk since you opened it",
                                remote=await self.fetch_ticket(str(number))) from None
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except (ValueError, KeyError) as exc:
            raise RejectedError(f"the helpdesk refused the change: {exc}") from None
        except sqlite3.OperationalError as exc:
            raise TransientError(f"demo helpdesk busy: {exc}") from None
        if self._pending_after is not None:  # applied, but the answer never arrives
            raise TransientError("timed out waiting for the helpdesk", maybe_applied=True)
        return ActionResult(version=str(version), remote_id=str(message_id) if message_id else None)

    async def find_applied(self, action: Action) -> ActionResult | None:
        if action.kind not in ("reply", "note"):
            return None
        row = self.backend.message_by_key(int(action.ticket_remote_id or 0), action.idempotency_key)
        if row is None:
            return None
        ticket = self.backend.ticket(int(action.ticket_remote_id or 0))
        return ActionResult(version=str(ticket["version"]) if ticket else None, remote_id=str(row["id"]))

    async def aclose(self) -> None:
        self.backend.close()

    _pending_after: Injected | None = None


def _error(failure: Injected) -> Exception:
    if failure.kind == "rate_limit":
        return RateLimited("the demo helpdesk is rate limiting (429)", retry_after=failure.retry_after if failure.retry_after is not None else 1.0)
    if failure.kind == "server_error":
        return TransientError("the demo helpdesk answered 503 Service Unavailable")
    if failure.kind == "garbage":
        return TransientError("the demo helpdesk sent a malformed answer")
    return TransientError("timed out connecting to the demo helpdesk")


def _person(remote_id: str | None, name: str | None, email: str | None, kind: str, locale: str | None = None) -> PersonRecord | None:
    if remote_id is None:
        return None
    return PersonRecord(remote_id=str(remote_id), name=name or "", email=email, kind=kind, locale=locale)


def _ticket(r: sqlite3.Row) -> TicketRecord:
    return TicketRecord(
        remote_id=str(r["id"]), number=r["id"], subject=r["subject"], status=r["status"], priority=r["priority"],
        created_at=r["created_at"], updated_at=r["updated_at"],
        requester=_person(r["requester_email"], r["requester_name"], r["requester_email"], "customer", r["requester_locale"]),
        assignee=_person(r["assignee_email"], r["assignee_name"], r["assignee_email"], "agent"),
        remote_status=r["status"], remote_priority=base.PRIORITIES[r["priority"]], version=str(r["version"]),
        tags=tuple(r["tags"].split()), description=r["description"], channel=r["channel"], sla_due_at=r["sla_due_at"],
        first_response_at=r["first_response_at"], solved_at=r["solved_at"], last_customer_at=r["last_customer_at"],
        message_count=r["message_count"],
    )


def _message(m: sqlite3.Row) -> MessageRecord:
    kind = "customer" if m["author_kind"] == "customer" else "agent"
    return MessageRecord(
        remote_id=str(m["id"]), author=_person(m["author_email"], m["author_name"], m["author_email"], kind),
        author_role=kind, public=bool(m["public"]), body=m["body"], created_at=m["created_at"])
