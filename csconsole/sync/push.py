"""Pushing the outbox: per ticket, in order, exactly once.

Before an action goes out its row is marked 'sending' and committed; if the answer is lost
(a timeout, a dropped connection, the process killed) the row stays 'sending', and the next
attempt first asks the backend whether the action already landed (``find_applied``) and
only sends it again if it did not. 429 and 5xx wait (Retry-After when given, else
exponential backoff with jitter, capped); a conflict pauses the ticket; a rejection stays
visible with the backend's own words.
"""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from dataclasses import dataclass

from csconsole.adapters.base import (
    HELPDESK_ACTIONS, Action, ActionResult, Adapter, AuthError, ConflictError, RateLimited, RejectedError,
    TransientError,
)
from csconsole.store import outbox
from csconsole.store.outbox import Row

log = logging.getLogger(__name__)

BACKOFF_BASE = 1.0
BACKOFF_CAP = 300.0
"""Seconds: the first retry waits about a second, later ones double up to five minutes."""


def backoff(attempts: int, rng: random.Random | None = None) -> float:
    delay = min(BACKOFF_CAP, BACKOFF_BASE * (2 ** max(attempts - 1, 0)))
    return delay * (0.5 + (rng or random).random())


@dataclass
class PushOutcome:
    row: Row
    state: str  # sent | retry | conflict | failed | paused
    message: str
    pause: float = 0.0
    """Seconds every push should wait (rate limit, bad credentials)."""


def to_action(conn: sqlite3.Connection, row: Row) -> Action:
    ticket_remote = order_remote = None
    if row.ticket_id is not None:
        r = conn.execute("SELECT remote_id FROM ticket WHERE id = ?", (row.ticket_id,)).fetchone()
        ticket_remote = r[0] if r else str(row.ticket_id)
    if row.order_id is not None:
        r = conn.execute("SELECT remote_id FROM orders WHERE id = ?", (row.order_id,)).fetchone()
        order_remote = r[0] if r else None
    return Action(outbox_id=row.id, kind=row.kind, payload=row.payload, idempotency_key=row.idempotency_key,
                  ticket_remote_id=ticket_remote, order_remote_id=order_remote, base_version=row.base_version,
                  first_tried_at=row.created_at)


def adapter_for(row: Row, helpdesk: Adapter, store: Adapter | None) -> Adapter | None:
    return helpdesk if row.kind in HELPDESK_ACTIONS else store


async def push_one(conn: sqlite3.Connection, row: Row, adapter: Adapter) -> PushOutcome:
    action = to_action(conn, row)
    try:
        result: ActionResult | None = None
        if row.state == "sending":
            # The last attempt may have landed: look before sending again.
            result = await adapter.find_applied(action)  # type: ignore[attr-defined]
        if result is None:
            outbox.mark_sending(conn, row.id)
            result = await adapter.apply(action)  # type: ignore[attr-defined]
    except RateLimited as exc:
        delay = exc.retry_after if exc.retry_after is not None else backoff(row.attempts + 1)
        outbox.mark_retry(conn, row.id, error=str(exc), delay=delay, ambiguous=False)
        return PushOutcome(row, "retry", str(exc), pause=delay)
    except TransientError as exc:
        delay = exc.retry_after if exc.retry_after is not None else backoff(row.attempts + 1)
        outbox.mark_retry(conn, row.id, error=str(exc), delay=delay, ambiguous=exc.maybe_applied)
        return PushOutcome(row, "retry", str(exc))
    except ConflictError as exc:
        snapshot = {}
        if exc.remote is not None:
            snapshot = {"status": exc.remote.status, "priority": exc.remote.priority,
                        "assignee": exc.remote.assignee.name if exc.remote.assignee else None,
                        "version": exc.remote.version, "updated_at": exc.remote.updated_at,
                        "message_count": exc.remote.message_count, "tags": list(exc.remote.tags)}
        outbox.mark_failed(conn, row.id, str(exc), state="conflict", result={"remote": snapshot})
        return PushOutcome(row, "conflict", str(exc))
    except AuthError as exc:
        outbox.mark_retry(conn, row.id, error=str(exc), delay=60.0, ambiguous=False)
        return PushOutcome(row, "paused", str(exc), pause=60.0)
    except RejectedError as exc:
        outbox.mark_failed(conn, row.id, str(exc))
        return PushOutcome(row, "failed", str(exc))
    except Exception as exc:  # a bug or an unexpected answer: keep the row, look before resending
        log.exception("pushing outbox row %s failed", row.id)
        outbox.mark_retry(conn, row.id, error=f"unexpected error: {type(exc).__name__}", delay=backoff(row.attempts + 1),
                          ambiguous=True)
        return PushOutcome(row, "retry", f"unexpected error: {type(exc).__name__}")
    outbox.mark_sent(conn, row, version=result.version, remote_id=result.remote_id, detail=result.detail)
    if result.order is not None:
        from csconsole.store.ingest import People, save_orders

        save_orders(conn, [result.order], People())
    return PushOutcome(row, "sent", outbox.describe(row.kind, row.payload))


def due_rows(conn: sqlite3.Connection) -> list[Row]:
    return outbox.ready(conn, time.time())
