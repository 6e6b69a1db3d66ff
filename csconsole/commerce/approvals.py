"""Refunds above an agent's limit wait for a team lead.

Such a refund is queued in the outbox in state 'approval' (its local effect already shows
"refund awaiting approval" on the order); nothing is sent until a lead approves it, which
puts it back in the ordinary queue, or declines it, which takes it back. Both write an
audit row: who decided, when, and about how much.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from csconsole import clock
from csconsole.store.db import transaction


@dataclass(frozen=True)
class Approval:
    outbox_id: int
    kind: str
    ticket_id: int | None
    order_id: int | None
    order_number: str | None
    amount: int
    currency: str
    reason: str
    requested_by: str
    requested_at: int


class ApprovalError(ValueError):
    pass


def pending(conn: sqlite3.Connection) -> list[Approval]:
    rows = conn.execute(
        """SELECT o.*, ord.number AS order_number FROM outbox o LEFT JOIN orders ord ON ord.id = o.order_id
           WHERE o.state = 'approval' ORDER BY o.id""").fetchall()
    out = []
    for r in rows:
        payload = json.loads(r["payload"])
        out.append(Approval(r["id"], r["kind"], r["ticket_id"], r["order_id"], r["order_number"],
                            int(payload.get("amount", 0)), str(payload.get("currency", "")),
                            str(payload.get("reason", "")), r["actor"] or "", r["created_at"]))
    return out


def approve(conn: sqlite3.Connection, outbox_id: int, lead: str) -> None:
    """Let the refund go: it joins the outbox queue now, in its ticket's order."""
    with transaction(conn):
        row = _waiting(conn, outbox_id)
        conn.execute("UPDATE outbox SET state = 'pending', not_before = 0, last_error = NULL WHERE id = ?", (outbox_id,))
        _audit(conn, row, lead, "approved")


def decline(conn: sqlite3.Connection, outbox_id: int, lead: str, reason: str = "") -> None:
    """Refuse the refund: it is taken back (its local effect too) and never sent."""
    from csconsole.store.outbox import _revert

    with transaction(conn):
        row = _waiting(conn, outbox_id)
        _revert(conn, outbox_id, "discarded")
        conn.execute("UPDATE outbox SET last_error = ? WHERE id = ?", (f"declined by {lead}: {reason}".strip(": "), outbox_id))
        _audit(conn, row, lead, "declined", reason)


def _waiting(conn: sqlite3.Connection, outbox_id: int) -> sqlite3.Row:
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    if row is None or row["state"] != "approval":
        raise ApprovalError(f"outbox row {outbox_id} is not waiting for approval")
    return row


def _audit(conn: sqlite3.Connection, row: sqlite3.Row, lead: str, result: str, reason: str = "") -> None:
    payload = json.loads(row["payload"])
    conn.execute(
        "INSERT INTO audit (at, actor, action, ticket_id, order_id, outbox_id, amount, currency, result, detail)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (clock.now(), lead, f"{row['kind']}_approval", row["ticket_id"], row["order_id"], row["id"],
         payload.get("amount"), payload.get("currency"), result,
         json.dumps({"requested_by": row["actor"], "reason": reason})))
