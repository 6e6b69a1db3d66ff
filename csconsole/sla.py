"""When a ticket's SLA is due: one rule shared by the demo helpdesk and local effects.

A ticket owes the customer a reply while it is new or open and the customer spoke last;
the target depends on priority. Waiting on the customer, on hold or solved: no SLA runs.
Backends with their own SLA policies (Zendesk, RT's Due) send their due time instead.
"""

from __future__ import annotations

from csconsole.adapters.base import NO_SLA

HOUR = 3600
TARGETS = {1: 24 * HOUR, 2: 8 * HOUR, 3: 4 * HOUR, 4: 1 * HOUR}
"""Reply targets by priority: low 24 h, normal 8 h, high 4 h, urgent 1 h."""


def due_at(status: str, priority: int, last_customer_at: int | None, last_agent_at: int | None, now: int) -> int:
    if status not in ("new", "open"):
        return NO_SLA
    if last_customer_at is None:
        return now + TARGETS.get(priority, TARGETS[2])
    if last_agent_at is not None and last_agent_at >= last_customer_at:
        return NO_SLA
    return last_customer_at + TARGETS.get(priority, TARGETS[2])


def state(sla_due_at: int, now: int, soon_seconds: int = HOUR) -> str:
    """'breached', 'soon', 'ok' or 'none' (no SLA running)."""
    if sla_due_at >= NO_SLA:
        return "none"
    if sla_due_at <= now:
        return "breached"
    if sla_due_at <= now + soon_seconds:
        return "soon"
    return "ok"
