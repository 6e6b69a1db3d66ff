"""Reading one ticket with everything its screen shows: thread, requester, their orders."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field


@dataclass(frozen=True)
class MessageView:
    id: int
    author: str
    role: str  # customer | agent | system
    public: bool
    body: str
    created_at: int
    pending: bool
    """Still only in the outbox: queued or being sent."""


@dataclass(frozen=True)
class OrderSummary:
    id: int
    number: str
    created_at: int
    currency: str
    total: int
    refunded: int
    financial_status: str
    fulfillment_status: str
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    delivery: str | None
    items: str


@dataclass(frozen=True)
class Requester:
    id: int | None
    name: str
    email: str | None
    locale: str | None
    order_count: int | None
    """None until the store has been asked."""
    spend: dict[str, int] = field(default_factory=dict)
    """Lifetime spend (paid minus refunded) per currency, in minor units."""
    ticket_count: int = 0


@dataclass(frozen=True)
class TicketDetail:
    id: int
    remote_id: str
    subject: str
    description: str
    status: str
    priority: int
    assignee: str | None
    assignee_remote_id: str | None
    tags: list[str]
    channel: str | None
    created_at: int
    updated_at: int
    sla_due_at: int
    version: str | None
    message_count: int
    pending_actions: int
    thread_synced_at: int | None
    requester: Requester
    messages: list[MessageView]
    orders: list[OrderSummary]
    order_refs: list[str]

    cached_messages: int = 0

    @property
    def thread_is_fresh(self) -> bool:
        """The cached thread is complete: fetched since the last change, and as long as the
        helpdesk says it is (timestamps alone miss a message that lands in the same second)."""
        return (self.thread_synced_at is not None and self.thread_synced_at >= self.updated_at
                and self.cached_messages >= self.message_count)


def load_detail(conn: sqlite3.Connection, ticket_id: int) -> TicketDetail | None:
    t = conn.execute(
        """SELECT t.*, a.name AS assignee_name, a.remote_id AS assignee_remote, p.name AS requester_name,
                  p.email AS requester_email, p.locale AS requester_locale
           FROM ticket t LEFT JOIN person a ON a.id = t.assignee_id LEFT JOIN person p ON p.id = t.requester_id
           WHERE t.id = ?""", (ticket_id,)).fetchone()
    if t is None:
        return None
    cached = conn.execute("SELECT count(*) FROM message WHERE ticket_id = ?", (ticket_id,)).fetchone()[0]
    messages = [
        MessageView(m["id"], m["author_name"] or ("customer" if m["author_role"] == "customer" else "agent"),
                    m["author_role"], bool(m["public"]), m["body"], m["created_at"], m["outbox_id"] is not None)
        for m in conn.execute("SELECT * FROM message WHERE ticket_id = ? ORDER BY created_at, id", (ticket_id,))
    ]
    if not messages and t["description"]:
        messages = [MessageView(0, t["requester_name"] or "customer", "customer", True, t["description"],
                                t["created_at"], False)]
    refs = [r[0] for r in conn.execute("SELECT order_ref FROM ticket_order WHERE ticket_id = ? ORDER BY order_ref",
                                       (ticket_id,))]
    orders = customer_orders(conn, t["requester_id"], t["requester_email"], refs)
    asked = conn.execute("SELECT orders_synced_at FROM person WHERE id = ?", (t["requester_id"],)).fetchone()
    spend: dict[str, int] = {}
    for o in orders:
        if o.financial_status != "voided":
            spend[o.currency] = spend.get(o.currency, 0) + o.total - o.refunded
    ticket_count = conn.execute("SELECT count(*) FROM ticket WHERE requester_id = ?", (t["requester_id"],)).fetchone()[0]
    requester = Requester(t["requester_id"], t["requester_name"] or "", t["requester_email"], t["requester_locale"],
                          len(orders) if asked and asked[0] is not None else None,
                          spend, ticket_count)
    return TicketDetail(
        id=t["id"], remote_id=t["remote_id"], subject=t["subject"], description=t["description"], status=t["status"],
        priority=t["priority"], assignee=t["assignee_name"], assignee_remote_id=t["assignee_remote"],
        tags=t["tags"].split(), channel=t["channel"], created_at=t["created_at"], updated_at=t["updated_at"],
        sla_due_at=t["sla_due_at"], version=t["version"], message_count=t["message_count"],
        pending_actions=t["pending_actions"], thread_synced_at=t["thread_synced_at"], requester=requester,
        messages=messages, orders=orders, order_refs=refs, cached_messages=cached)


def customer_orders(conn: sqlite3.Connection, person_id: int | None, email: str | None, refs: list[str]) -> list[OrderSummary]:
    rows = conn.execute(
        f"""SELECT o.*, (SELECT group_concat(l.quantity || '× ' || l.title, ', ') FROM order_line l WHERE l.order_id = o.id) AS items
            FROM orders o WHERE o.customer_id = ? OR o.email = ? OR o.number IN ({','.join('?' * len(refs)) or "''"})
            ORDER BY o.created_at DESC""", (person_id, email, *refs)).fetchall()
    out = []
    for o in rows:
        f = conn.execute("SELECT * FROM fulfillment WHERE order_id = ? ORDER BY shipped_at DESC LIMIT 1", (o["id"],)).fetchone()
        out.append(OrderSummary(
            id=o["id"], number=o["number"], created_at=o["created_at"], currency=o["currency"], total=o["total"],
            refunded=o["refunded"], financial_status=o["financial_status"], fulfillment_status=o["fulfillment_status"],
            carrier=f["carrier"] if f else None, tracking_number=f["tracking_number"] if f else None,
            tracking_url=f["tracking_url"] if f else None, delivery=f["status"] if f else None, items=o["items"] or ""))
    return out
