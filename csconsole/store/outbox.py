"""The outbox: every agent action as a row, written with its local effect.

``enqueue`` applies an action to the cache at once (the agent sees it instantly) and, in
the same transaction, records it with an idempotency key, the ticket version it was based
on, and what it replaced (so ctrl+z can take it back while it is unsent). The sync engine
(sync/push.py) then sends rows per ticket, in order, exactly once.

States: pending (waiting, maybe in its undo grace) → sending (handed to the backend; after
a crash this means 'ask the backend before retrying') → sent; or failed (rejected, with
the backend's message), conflict (the ticket moved remotely), approval (a refund above the
agent's limit, waiting for a lead), undone, discarded.
"""

from __future__ import annotations

import json
import sqlite3
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from csconsole import clock, sla
from csconsole.adapters.base import HELPDESK_ACTIONS, PRIORITY_BY_NAME, STATUSES
from csconsole.store.db import transaction
from csconsole.store.ingest import reindex
from csconsole.text import normalise_tag

OPEN_STATES = ("pending", "sending", "failed", "conflict", "approval")
"""Rows that still hold a ticket's queue (and whose local effect stays applied)."""
BLOCKING_STATES = ("failed", "conflict", "approval")
"""A row in one of these states pauses the rows after it on the same ticket."""


class ActionError(ValueError):
    """An action that cannot be queued (unknown status, empty reply...): nothing was written."""


@dataclass(frozen=True)
class Intent:
    """One action an agent asks for, before it is queued."""

    kind: str
    ticket_id: int | None
    payload: Mapping[str, Any]
    order_id: int | None = None
    state: str = "pending"


@dataclass
class Row:
    id: int
    ticket_id: int | None
    order_id: int | None
    kind: str
    payload: dict[str, Any]
    idempotency_key: str
    base_version: str | None
    batch: str | None
    state: str
    not_before: float
    attempts: int
    last_error: str | None
    result: dict[str, Any] = field(default_factory=dict)
    actor: str | None = None
    created_at: int = 0

    @classmethod
    def from_sql(cls, r: sqlite3.Row) -> "Row":
        return cls(id=r["id"], ticket_id=r["ticket_id"], order_id=r["order_id"], kind=r["kind"],
                   payload=json.loads(r["payload"]), idempotency_key=r["idempotency_key"],
                   base_version=r["base_version"], batch=r["batch"], state=r["state"], not_before=r["not_before"],
                   attempts=r["attempts"], last_error=r["last_error"], result=json.loads(r["result"] or "{}"),
                   actor=r["actor"], created_at=r["created_at"])


def describe(kind: str, payload: Mapping[str, Any]) -> str:
    """A short human summary of an action, for the outbox screen and notices."""
    if kind == "reply":
        return "public reply"
    if kind == "note":
        return "internal note"
    if kind == "status":
        return f"status → {payload['status']}"
    if kind == "priority":
        return f"priority → {payload['priority_name']}" if "priority_name" in payload else f"priority → {payload['priority']}"
    if kind == "assign":
        return f"assign → {payload.get('name') or payload.get('assignee') or 'nobody'}"
    if kind == "tags":
        parts = [f"+{t}" for t in payload.get("add", [])] + [f"-{t}" for t in payload.get("remove", [])]
        return "tags " + " ".join(parts)
    if kind == "custom_field":
        return f"field {payload['field']} → {payload['value']}"
    if kind == "macro":
        return f"helpdesk macro “{payload.get('title') or payload.get('macro')}”"
    if kind in ("refund", "cancel") and payload.get("amount"):
        from csconsole.money import format_minor

        amount = format_minor(int(payload["amount"]), str(payload.get("currency", "USD")))
        return f"refund {amount}" if kind == "refund" else f"cancel the order and refund {amount}"
    return kind.replace("_", " ")


# ----------------------------------------------------------------------------- writing


def enqueue(conn: sqlite3.Connection, intents: Sequence[Intent], *, actor: str, grace: float = 0.0,
            batch: str | None = None, policy: Any = None) -> list[int]:
    """Queue actions atomically (a macro or a bulk change is all or nothing).

    With ``policy`` (config.Policy), a refund above the actor's limit waits for a lead
    (state 'approval') instead of going out.
    """
    if not intents:
        return []
    batch = batch or (uuid.uuid4().hex if len(intents) > 1 else None)
    not_before = time.time() + grace
    ids = []
    with transaction(conn):
        for intent in intents:
            payload = validate(conn, intent)
            state = intent.state
            if policy is not None and intent.kind in ("refund", "cancel") and state == "pending":
                from csconsole.commerce.actions import over_limit

                if over_limit(int(payload.get("amount", 0)), str(payload.get("currency", "USD")), policy.limit_for(actor)):
                    state = "approval"
            base = None
            if intent.ticket_id is not None:
                row = conn.execute("SELECT version FROM ticket WHERE id = ?", (intent.ticket_id,)).fetchone()
                if row is None:
                    raise ActionError(f"ticket {intent.ticket_id} is not in the cache")
                base = row[0]
            cur = conn.execute(
                "INSERT INTO outbox (ticket_id, order_id, kind, payload, idempotency_key, base_version, batch, state,"
                " not_before, actor, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (intent.ticket_id, intent.order_id, intent.kind, json.dumps(payload), uuid.uuid4().hex, base, batch,
                 state, not_before, actor, clock.now()))
            outbox_id = int(cur.lastrowid or 0)
            undo = apply_local(conn, outbox_id, intent.kind, intent.ticket_id, payload, actor)
            conn.execute("UPDATE outbox SET undo = ? WHERE id = ?", (json.dumps(undo), outbox_id))
            if intent.ticket_id is not None:
                conn.execute("UPDATE ticket SET pending_actions = pending_actions + 1 WHERE id = ?", (intent.ticket_id,))
            ids.append(outbox_id)
    return ids


def validate(conn: sqlite3.Connection, intent: Intent) -> dict[str, Any]:
    """Check an action before anything is written; returns its normalised payload."""
    p = dict(intent.payload)
    kind = intent.kind
    if kind in ("reply", "note"):
        body = str(p.get("body", ""))
        if not body.strip():
            raise ActionError(f"an empty {'reply' if kind == 'reply' else 'note'} cannot be sent")
        p["body"] = body
    elif kind == "status":
        if p.get("status") not in STATUSES:
            raise ActionError(f"unknown status {p.get('status')!r} (one of {', '.join(STATUSES)})")
    elif kind == "priority":
        value = p.get("priority")
        if isinstance(value, str):
            value = PRIORITY_BY_NAME.get(value)
        if value not in (1, 2, 3, 4):
            raise ActionError(f"unknown priority {p.get('priority')!r} (low, normal, high or urgent)")
        p["priority"] = value
    elif kind == "assign":
        assignee = p.get("assignee")
        if assignee is not None:
            row = conn.execute("SELECT name FROM person WHERE kind = 'agent' AND remote_id = ?", (assignee,)).fetchone()
            if row is None:
                raise ActionError(f"no agent {assignee!r} in this workspace")
            p.setdefault("name", row[0])
    elif kind == "tags":
        p["add"] = [t for t in (normalise_tag(x) for x in p.get("add", [])) if t]
        p["remove"] = [t for t in (normalise_tag(x) for x in p.get("remove", [])) if t]
        if not p["add"] and not p["remove"]:
            raise ActionError("no tags to add or remove")
    elif kind == "custom_field":
        if "field" not in p:
            raise ActionError("a custom field change needs a field")
    elif kind == "macro":
        if not p.get("macro"):
            raise ActionError("a helpdesk macro needs its id")
    elif kind not in HELPDESK_ACTIONS:
        from csconsole.commerce import actions as commerce_actions

        return commerce_actions.validate(conn, intent)
    return p


def apply_local(conn: sqlite3.Connection, outbox_id: int, kind: str, ticket_id: int | None,
                payload: Mapping[str, Any], actor: str | None) -> dict[str, Any]:
    """Make the cache show the action's effect now; returns what it replaced (for undo)."""
    if kind not in HELPDESK_ACTIONS:
        from csconsole.commerce import actions as commerce_actions

        return commerce_actions.apply_local(conn, outbox_id, kind, payload)
    if ticket_id is None:
        return {}
    t = conn.execute("SELECT * FROM ticket WHERE id = ?", (ticket_id,)).fetchone()
    if t is None:
        return {}
    now = clock.now()
    keep = ("status", "priority", "assignee_id", "tags", "sla_due_at", "solved_at", "updated_at", "message_count",
            "custom_fields", "first_response_at")
    undo: dict[str, Any] = {"ticket": {k: t[k] for k in keep}}
    changes: dict[str, Any] = {"updated_at": now}
    status, priority = t["status"], t["priority"]
    last_agent = None
    if kind in ("reply", "note"):
        exists = conn.execute("SELECT id FROM message WHERE outbox_id = ?", (outbox_id,)).fetchone()
        if exists is None:
            me = conn.execute("SELECT id, name FROM person WHERE is_me = 1").fetchone()
            conn.execute("INSERT INTO message (ticket_id, author_id, author_name, author_role, public, body, created_at,"
                         " outbox_id) VALUES (?, ?, ?, 'agent', ?, ?, ?, ?)",
                         (ticket_id, me[0] if me else None, me[1] if me else (actor or "me"),
                          1 if kind == "reply" else 0, payload["body"], now, outbox_id))
            changes["message_count"] = t["message_count"] + 1
        if kind == "reply":
            last_agent = now
            if t["first_response_at"] is None:
                changes["first_response_at"] = now
    elif kind == "status":
        status = payload["status"]
        changes["status"] = status
        changes["solved_at"] = now if status in ("solved", "closed") else None
    elif kind == "priority":
        priority = int(payload["priority"])
        changes["priority"] = priority
    elif kind == "assign":
        assignee = payload.get("assignee")
        person = None
        if assignee is not None:
            person = conn.execute("SELECT id FROM person WHERE kind = 'agent' AND remote_id = ?", (assignee,)).fetchone()
        changes["assignee_id"] = person[0] if person else None
    elif kind == "tags":
        tags = [x for x in t["tags"].split() if x not in payload.get("remove", [])]
        tags += [x for x in payload.get("add", []) if x not in tags]
        changes["tags"] = " ".join(tags)
        conn.execute("DELETE FROM ticket_tag WHERE ticket_id = ?", (ticket_id,))
        conn.executemany("INSERT OR IGNORE INTO ticket_tag (tag, ticket_id) VALUES (?, ?)", [(x, ticket_id) for x in tags])
    elif kind == "custom_field":
        fields = json.loads(t["custom_fields"] or "{}")
        fields[str(payload["field"])] = payload["value"]
        changes["custom_fields"] = json.dumps(fields)
    if kind in ("reply", "status", "priority"):
        changes["sla_due_at"] = sla.due_at(status, priority, t["last_customer_at"],
                                           last_agent if last_agent is not None else _last_agent_reply(conn, ticket_id),
                                           now)
    _update_ticket(conn, ticket_id, changes)
    if kind in ("reply", "note"):
        reindex(conn, [ticket_id])
    return undo


def _last_agent_reply(conn: sqlite3.Connection, ticket_id: int) -> int | None:
    row = conn.execute("SELECT max(created_at) FROM message WHERE ticket_id = ? AND author_role = 'agent' AND public = 1",
                       (ticket_id,)).fetchone()
    return row[0] if row else None


def _update_ticket(conn: sqlite3.Connection, ticket_id: int, changes: Mapping[str, Any]) -> None:
    if changes:
        assignments = ", ".join(f"{column} = ?" for column in changes)
        conn.execute(f"UPDATE ticket SET {assignments} WHERE id = ?", (*changes.values(), ticket_id))


def reapply_pending(conn: sqlite3.Connection, ticket_ids: Iterable[int]) -> None:
    """After fresh remote rows landed, lay the still-unsent local effects back on top."""
    ids = list(ticket_ids)
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    rows = conn.execute(
        f"SELECT * FROM outbox WHERE ticket_id IN ({marks}) AND state IN ({','.join('?' * len(OPEN_STATES))})"
        f" AND kind IN ({','.join('?' * len(HELPDESK_ACTIONS))}) ORDER BY id",
        (*ids, *OPEN_STATES, *HELPDESK_ACTIONS)).fetchall()
    touched = set()
    for r in rows:
        undo = apply_local(conn, r["id"], r["kind"], r["ticket_id"], json.loads(r["payload"]), r["actor"])
        conn.execute("UPDATE outbox SET undo = ? WHERE id = ?", (json.dumps(undo), r["id"]))
        touched.add(r["ticket_id"])
    for ticket_id in ids:
        count = conn.execute(f"SELECT count(*) FROM outbox WHERE ticket_id = ? AND state IN ({','.join('?' * len(OPEN_STATES))})",
                             (ticket_id, *OPEN_STATES)).fetchone()[0]
        conn.execute("UPDATE ticket SET pending_actions = ? WHERE id = ?", (count, ticket_id))


# ----------------------------------------------------------------------------- undo


def undoable(conn: sqlite3.Connection, actor: str | None = None) -> list[Row]:
    """The newest batch (or single action) that has not been handed to the backend yet."""
    query = "SELECT * FROM outbox WHERE state IN ('pending', 'approval') AND attempts = 0"
    args: list[Any] = []
    if actor:
        query += " AND actor = ?"
        args.append(actor)
    last = conn.execute(query + " ORDER BY id DESC LIMIT 1", args).fetchone()
    if last is None:
        return []
    if last["batch"]:
        rows = conn.execute("SELECT * FROM outbox WHERE batch = ? ORDER BY id", (last["batch"],)).fetchall()
        if any(r["state"] not in ("pending", "approval") or r["attempts"] for r in rows):
            return []
        return [Row.from_sql(r) for r in rows]
    return [Row.from_sql(last)]


def undo_last(conn: sqlite3.Connection, actor: str | None = None) -> list[Row]:
    """Take back the newest unsent action (a whole macro or bulk change at once)."""
    with transaction(conn):
        rows = undoable(conn, actor)
        for row in reversed(rows):
            _revert(conn, row.id, "undone")
    return rows


def _revert(conn: sqlite3.Connection, outbox_id: int, state: str) -> None:
    r = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    undo = json.loads(r["undo"] or "{}")
    if r["kind"] not in HELPDESK_ACTIONS:
        from csconsole.commerce import actions as commerce_actions

        commerce_actions.revert_local(conn, r, undo)
    elif r["ticket_id"] is not None:
        conn.execute("DELETE FROM message WHERE outbox_id = ?", (outbox_id,))
        before = undo.get("ticket", {})
        if before:
            _update_ticket(conn, r["ticket_id"], before)
            if r["kind"] == "tags":
                conn.execute("DELETE FROM ticket_tag WHERE ticket_id = ?", (r["ticket_id"],))
                conn.executemany("INSERT OR IGNORE INTO ticket_tag (tag, ticket_id) VALUES (?, ?)",
                                 [(x, r["ticket_id"]) for x in before["tags"].split()])
        if r["kind"] in ("reply", "note"):
            reindex(conn, [r["ticket_id"]])
    conn.execute("UPDATE outbox SET state = ? WHERE id = ?", (state, outbox_id))
    if r["ticket_id"] is not None:
        conn.execute("UPDATE ticket SET pending_actions = max(pending_actions - 1, 0) WHERE id = ?", (r["ticket_id"],))


def discard(conn: sqlite3.Connection, outbox_id: int) -> Row:
    """Give up on a failed or conflicting action: its local effect is taken back too.

    Later actions on the same ticket that were waiting behind it stay queued.
    """
    with transaction(conn):
        r = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if r is None:
            raise ActionError(f"no outbox row {outbox_id}")
        if r["state"] not in ("pending", "failed", "conflict", "approval"):
            raise ActionError(f"a {r['state']} action cannot be discarded")
        _revert(conn, outbox_id, "discarded")
    return Row.from_sql(conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone())


def retry(conn: sqlite3.Connection, outbox_id: int, *, rebase: bool = False) -> None:
    """Send a failed or conflicting action again; ``rebase`` re-applies it over the ticket as it is now."""
    with transaction(conn):
        r = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
        if r is None or r["state"] not in ("failed", "conflict", "pending"):
            raise ActionError("only a failed or conflicting action can be retried")
        base = r["base_version"]
        if rebase and r["ticket_id"] is not None:
            base = conn.execute("SELECT version FROM ticket WHERE id = ?", (r["ticket_id"],)).fetchone()[0]
            conn.execute("UPDATE outbox SET base_version = ? WHERE ticket_id = ? AND state IN ('pending', 'conflict')"
                         " AND id > ?", (base, r["ticket_id"], outbox_id))
        conn.execute("UPDATE outbox SET state = 'pending', not_before = 0, last_error = NULL, base_version = ? WHERE id = ?",
                     (base, outbox_id))
        if r["kind"] not in HELPDESK_ACTIONS and r["state"] == "failed":  # its effect was taken back on failure
            undo = apply_local(conn, outbox_id, r["kind"], r["ticket_id"], json.loads(r["payload"]), r["actor"])
            conn.execute("UPDATE outbox SET undo = ? WHERE id = ?", (json.dumps(undo), outbox_id))


def send_now(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """End the undo grace of these actions."""
    if ids:
        conn.execute(f"UPDATE outbox SET not_before = 0 WHERE state = 'pending' AND id IN ({','.join('?' * len(ids))})",
                     list(ids))


# ----------------------------------------------------------------------------- the worker's side


_HEADS = """SELECT min(id) AS id FROM outbox
               WHERE state IN ('pending', 'sending', 'failed', 'conflict', 'approval')
               GROUP BY coalesce(ticket_id, -coalesce(order_id, id))"""
"""The head of each queue (per ticket, or per order for store actions without a ticket): its
oldest row still open. Only a head may go; rows behind it wait for it."""


def ready(conn: sqlite3.Connection, now: float | None = None, limit: int = 50) -> list[Row]:
    """The head action of every ticket queue that may go now, oldest first.

    A ticket whose oldest open row failed, conflicts or awaits approval sends nothing more
    until the agent deals with it.
    """
    now = time.time() if now is None else now
    rows = conn.execute(
        f"""SELECT o.* FROM outbox o JOIN ({_HEADS}) head ON head.id = o.id
           WHERE o.state IN ('pending', 'sending') AND o.not_before <= ?
           ORDER BY o.id LIMIT ?""", (now, limit)).fetchall()
    return [Row.from_sql(r) for r in rows]


def next_wakeup(conn: sqlite3.Connection) -> float | None:
    """When the next head may go. Queues headed by a failed, conflicting or unapproved
    action do not count: they wait for the agent, and a one-shot sync must not spin on them."""
    row = conn.execute(
        f"""SELECT min(o.not_before) FROM outbox o JOIN ({_HEADS}) head ON head.id = o.id
           WHERE o.state IN ('pending', 'sending')""").fetchone()
    return row[0] if row and row[0] is not None else None


def mark_sending(conn: sqlite3.Connection, outbox_id: int) -> None:
    with transaction(conn):
        conn.execute("UPDATE outbox SET state = 'sending', attempts = attempts + 1 WHERE id = ?", (outbox_id,))


def mark_sent(conn: sqlite3.Connection, row: Row, *, version: str | None, remote_id: str | None,
              detail: str = "") -> None:
    """Done: record the result and base the ticket's next queued action on the new version."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET state = 'sent', sent_at = ?, last_error = NULL, result = ? WHERE id = ?",
                     (clock.now(), json.dumps({"version": version, "remote_id": remote_id, "detail": detail}), row.id))
        if row.ticket_id is not None:
            conn.execute("UPDATE ticket SET pending_actions = max(pending_actions - 1, 0) WHERE id = ?", (row.ticket_id,))
        if row.kind not in HELPDESK_ACTIONS:
            from csconsole.commerce import actions as commerce_actions

            commerce_actions.on_sent(conn, row, remote_id)
        elif row.ticket_id is not None:
            if row.kind in ("reply", "note") and remote_id:
                conn.execute("UPDATE OR IGNORE message SET remote_id = ?, outbox_id = NULL WHERE outbox_id = ?",
                             (remote_id, row.id))
            if version is not None:
                current = conn.execute("SELECT version FROM ticket WHERE id = ?", (row.ticket_id,)).fetchone()
                conn.execute("UPDATE outbox SET base_version = ? WHERE ticket_id = ? AND state = 'pending' AND id > ?"
                             " AND (base_version IS ? OR base_version IS ?)",
                             (version, row.ticket_id, row.id, row.base_version, current[0] if current else None))
                conn.execute("UPDATE ticket SET version = ? WHERE id = ?", (version, row.ticket_id))


def mark_retry(conn: sqlite3.Connection, outbox_id: int, *, error: str, delay: float, ambiguous: bool) -> None:
    """Try again after ``delay`` seconds; an ambiguous row stays 'sending' so it is looked up first."""
    with transaction(conn):
        conn.execute("UPDATE outbox SET state = ?, not_before = ?, last_error = ? WHERE id = ?",
                     ("sending" if ambiguous else "pending", time.time() + delay, error, outbox_id))


def mark_failed(conn: sqlite3.Connection, outbox_id: int, error: str, state: str = "failed",
                result: Mapping[str, Any] | None = None) -> None:
    with transaction(conn):
        conn.execute("UPDATE outbox SET state = ?, last_error = ?, result = ? WHERE id = ?",
                     (state, error, json.dumps(dict(result or {})), outbox_id))
        kind = conn.execute("SELECT kind FROM outbox WHERE id = ?", (outbox_id,)).fetchone()[0]
        if kind not in HELPDESK_ACTIONS:
            from csconsole.commerce import actions as commerce_actions

            commerce_actions.on_failed(conn, outbox_id, error)


def counts(conn: sqlite3.Connection) -> dict[str, int]:
    rows = conn.execute("SELECT state, count(*) FROM outbox WHERE state IN ('pending', 'sending', 'failed', 'conflict',"
                        " 'approval') GROUP BY state").fetchall()
    return {r[0]: r[1] for r in rows}


def listing(conn: sqlite3.Connection, states: Sequence[str] = OPEN_STATES, limit: int = 500) -> list[sqlite3.Row]:
    marks = ",".join("?" * len(states))
    return conn.execute(
        f"""SELECT o.*, t.subject AS subject FROM outbox o LEFT JOIN ticket t ON t.id = o.ticket_id
            WHERE o.state IN ({marks}) ORDER BY o.id LIMIT ?""", (*states, limit)).fetchall()
