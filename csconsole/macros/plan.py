"""Applying a macro: render it for a ticket, turn it into outbox intents, queue them at once.

``plan`` does everything except write: it checks the condition, renders the bodies,
resolves the assignee and the store amounts, and drops changes that change nothing. A
Plan is the dry-run: exactly the actions that would be queued. ``apply`` queues the
intents of one or many plans in ONE ``outbox.enqueue`` call, which is one transaction:
a macro (or a bulk apply) is queued whole or not at all, and ctrl+z takes it back whole.

Order of the steps, and why: store steps first, so that a refund that fails (or waits for
a lead's approval) holds back the reply that announces it (the outbox stops a ticket's
queue at a failed row); then the note and the reply; field changes; the status last, so
the customer's reply goes out before the ticket is solved.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from csconsole.adapters.base import PRIORITIES
from csconsole.macros import commerce, context, templates
from csconsole.macros.context import Settings
from csconsole.macros.model import ASSIGN_LEAD, ASSIGN_ME, ASSIGN_NOBODY, Macro
from csconsole.store import outbox
from csconsole.store.outbox import Intent


class PlanError(Exception):
    """The macro cannot be applied to this ticket; nothing was written."""

    def __init__(self, ticket_id: int, message: str) -> None:
        super().__init__(message)
        self.ticket_id = ticket_id
        self.message = message

    def __str__(self) -> str:
        return f"#{self.ticket_id}: {self.message}"


@dataclass(frozen=True)
class Step:
    kind: str
    payload: dict[str, Any]
    summary: str
    order_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "summary": self.summary, "payload": self.payload, "order_id": self.order_id}


@dataclass(frozen=True)
class Plan:
    macro: Macro
    ticket_id: int
    subject: str
    steps: tuple[Step, ...]

    @property
    def reply(self) -> str | None:
        return next((s.payload["body"] for s in self.steps if s.kind == "reply"), None)

    def with_reply(self, text: str) -> "Plan":
        """The same plan with the agent's edited reply (sent as written, never re-rendered:
        it holds customer text)."""
        if not text.strip():
            raise PlanError(self.ticket_id, "the reply is empty")
        steps = tuple(replace(s, payload={**s.payload, "body": text}) if s.kind == "reply" else s for s in self.steps)
        return replace(self, steps=steps)

    def intents(self) -> list[Intent]:
        return [Intent(s.kind, self.ticket_id, s.payload, order_id=s.order_id) for s in self.steps]

    def as_dict(self) -> dict[str, Any]:
        return {"ticket": self.ticket_id, "subject": self.subject, "actions": [s.as_dict() for s in self.steps]}


def describe(p: Plan) -> str:
    """A plan as plain text: exactly what would be sent, for dry runs and golden files."""
    out = [f"Macro: {p.macro.name} ({p.macro.slug})", f"Ticket #{p.ticket_id}: {p.subject}"]
    for s in p.steps:
        if s.kind in ("reply", "note"):
            out += ["", f"── {s.summary} ──", s.payload["body"]]
    others = [s for s in p.steps if s.kind not in ("reply", "note")]
    if others:
        out += ["", "── actions ──", *(f"• {s.summary}" for s in others)]
    if not p.steps:
        out += ["", "(nothing to change: the ticket already looks like this)"]
    return "\n".join(out) + "\n"


def fits(ctx: context.TicketContext, macro: Macro) -> bool:
    """Whether the macro's condition holds for the ticket (no condition: always)."""
    return macro.when is None or templates.evaluate(macro.when, ctx.values)


def plan(conn: sqlite3.Connection, macro: Macro, ticket_id: int, settings: Settings) -> Plan:
    """What applying ``macro`` to the ticket would queue; PlanError says why it cannot."""
    try:
        ctx = context.build(conn, ticket_id, settings)
        fitting = fits(ctx, macro)
    except context.NoSuchTicket as exc:
        raise PlanError(ticket_id, str(exc)) from None
    except templates.RenderError as exc:
        raise PlanError(ticket_id, str(exc)) from None
    if macro.remote_id is not None:
        return _remote_plan(macro, ticket_id, ctx.values["ticket"].subject)
    if macro.needs_store and not settings.has_store:
        raise PlanError(ticket_id, "this macro has store steps, and this workspace has no store")
    if not fitting:
        raise PlanError(ticket_id, f"does not fit this ticket: `{macro.when}` is false")
    steps = _store_steps(conn, macro, ctx) + _body_steps(macro, ctx) + _field_steps(conn, macro, ticket_id, settings)
    return Plan(macro, ticket_id, ctx.values["ticket"].subject, tuple(steps))


def _remote_plan(macro: Macro, ticket_id: int, subject: str) -> Plan:
    """A helpdesk macro is one action; the helpdesk does the rest when it applies it."""
    from csconsole.macros.remote import describe_actions

    summary = "; ".join(["apply the helpdesk's own macro", *describe_actions(macro.remote_actions)])
    return Plan(macro, ticket_id, subject, (Step("macro", {"macro": macro.remote_id, "title": macro.name}, summary),))


def _store_steps(conn: sqlite3.Connection, macro: Macro, ctx: context.TicketContext) -> list[Step]:
    steps = []
    for store_step in macro.store_steps:
        if ctx.order_id is None:
            raise PlanError(ctx.ticket_id, f"the {store_step.action} step needs an order: {ctx.order_why}")
        try:
            built = commerce.build(conn, store_step, ctx.order_id)
        except commerce.StepError as exc:
            raise PlanError(ctx.ticket_id, str(exc)) from None
        steps.append(Step(built.kind, built.payload, built.summary, ctx.order_id))
    return steps


def _body_steps(macro: Macro, ctx: context.TicketContext) -> list[Step]:
    steps = []
    for kind, source in (("note", macro.note), ("reply", macro.reply)):
        if source is None:
            continue
        try:
            body = templates.render(source, ctx.values)
        except templates.RenderError as exc:
            raise PlanError(ctx.ticket_id, f"{kind}, {exc}") from None
        if not body.strip():
            raise PlanError(ctx.ticket_id, f"the {kind} came out empty for this ticket")
        steps.append(Step(kind, {"body": body}, "public reply" if kind == "reply" else "internal note"))
    return steps


def _field_steps(conn: sqlite3.Connection, macro: Macro, ticket_id: int, settings: Settings) -> list[Step]:
    """The ticket changes that change something (setting what is already set is skipped)."""
    a = macro.actions
    t = conn.execute("SELECT status, priority, tags, assignee_id, custom_fields FROM ticket WHERE id = ?",
                     (ticket_id,)).fetchone()
    steps = []
    current_fields = json.loads(t["custom_fields"] or "{}")
    for field, value in a.fields:
        if current_fields.get(field) != value:
            steps.append(Step("custom_field", {"field": field, "value": value}, f"field {field} → {value}"))
    tags = t["tags"].split()
    add = [x for x in a.add_tags if x not in tags]
    remove = [x for x in a.remove_tags if x in tags]
    if add or remove:
        steps.append(Step("tags", {"add": add, "remove": remove},
                          "tags " + " ".join([f"+{x}" for x in add] + [f"-{x}" for x in remove])))
    if a.priority is not None and a.priority != t["priority"]:
        steps.append(Step("priority", {"priority": a.priority}, f"priority → {PRIORITIES[a.priority]}"))
    if a.assignee is not None:
        person = _assignee(conn, a.assignee, ticket_id, settings)
        if (person["id"] if person else None) != t["assignee_id"]:
            payload = {"assignee": person["remote_id"] if person else None}
            steps.append(Step("assign", payload, f"assign → {person['name'] if person else 'nobody'}"))
    if a.status is not None and a.status != t["status"]:
        steps.append(Step("status", {"status": a.status}, f"status → {a.status}"))
    return steps


def _assignee(conn: sqlite3.Connection, wanted: str, ticket_id: int, settings: Settings) -> sqlite3.Row | None:
    if wanted == ASSIGN_NOBODY:
        return None
    if wanted == ASSIGN_ME:
        me = conn.execute("SELECT id, remote_id, name FROM person WHERE is_me = 1").fetchone()
        if me is None:
            raise PlanError(ticket_id, "who 'me' is is not known until the first sync")
        return me
    if wanted == ASSIGN_LEAD:
        if not settings.policy.leads:
            raise PlanError(ticket_id, 'no team lead is configured: add leads = ["their email"] under [policy] in the config')
        wanted = settings.policy.leads[0]
    agent = conn.execute(
        "SELECT id, remote_id, name FROM person WHERE kind = 'agent' AND (remote_id = ? OR lower(email) = lower(?)"
        " OR lower(name) = lower(?)) ORDER BY active DESC, id LIMIT 1", (wanted, wanted, wanted)).fetchone()
    if agent is None:
        raise PlanError(ticket_id, f"no agent {wanted!r} in this workspace")
    return agent


def actor(conn: sqlite3.Connection) -> str:
    """Who the outbox records as having done it: the agent's helpdesk id."""
    me = conn.execute("SELECT remote_id FROM person WHERE is_me = 1").fetchone()
    return me[0] if me else "me"


def apply(conn: sqlite3.Connection, plans: Sequence[Plan], *, grace: float = 0.0, policy: Any = None) -> list[int]:
    """Queue every plan's intents in one outbox call: all of them or none (ActionError).
    With the workspace ``policy``, a refund above the agent's limit waits for a lead."""
    intents = [intent for p in plans for intent in p.intents()]
    if not intents:
        return []
    return outbox.enqueue(conn, intents, actor=actor(conn), grace=grace, policy=policy)


def plan_many(conn: sqlite3.Connection, macro: Macro, ticket_ids: Sequence[int],
              settings: Settings) -> tuple[list[Plan], list[PlanError]]:
    """Plans for every ticket, and the reasons it cannot be applied to the others."""
    plans, errors = [], []
    for ticket_id in ticket_ids:
        try:
            plans.append(plan(conn, macro, ticket_id, settings))
        except PlanError as exc:
            errors.append(exc)
    return plans, errors


def apply_macro(conn: sqlite3.Connection, macro: Macro, ticket_ids: Sequence[int], settings: Settings, *,
                grace: float = 0.0, reply: str | None = None) -> tuple[list[Plan], list[int]]:
    """Plan and queue in one go (on the writer's connection, so nothing moves in between
    the preview being accepted and the rows being written). ``reply`` replaces the rendered
    reply (the agent edited it; only for one ticket). Raises PlanError for the first
    ticket it cannot be applied to, before anything is written."""
    plans, errors = plan_many(conn, macro, ticket_ids, settings)
    if errors:
        raise errors[0]
    if reply is not None:
        if len(plans) != 1:
            raise PlanError(ticket_ids[0], "an edited reply is for one ticket; each ticket gets its own text")
        plans = [plans[0].with_reply(reply)]
    return plans, apply(conn, plans, grace=grace, policy=settings.policy)
