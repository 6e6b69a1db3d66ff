"""One order as the orders panel and the refund and return dialogs show it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from csconsole.commerce import refunds
from csconsole.commerce.actions import LOCAL_PREFIX, order_money


@dataclass(frozen=True)
class LineView:
    remote_id: str
    title: str
    variant: str | None
    quantity: int
    unit_price: int
    refunded_quantity: int
    fulfilled_quantity: int
    returned_quantity: int


@dataclass(frozen=True)
class RefundView:
    amount: int
    shipping: int
    reason: str | None
    created_at: int
    state: str
    """done, queued (in the outbox), awaiting approval, or failed."""


@dataclass(frozen=True)
class ReturnView:
    remote_id: str
    status: str
    reason: str | None
    lines: list[tuple[str, int]]
    pending: bool


@dataclass(frozen=True)
class OrderDetail:
    id: int
    remote_id: str
    number: str
    currency: str
    created_at: int
    financial_status: str
    fulfillment_status: str
    total: int
    shipping: int
    cancelled_at: int | None
    shipping_address: str
    lines: list[LineView]
    refunds: list[RefundView]
    returns: list[ReturnView]
    carrier: str | None
    tracking_number: str | None
    tracking_url: str | None
    delivery: str | None
    delivered_at: int | None
    money: refunds.OrderMoney

    def title_of(self, line_id: str) -> str:
        return next((line.title for line in self.lines if line.remote_id == line_id), line_id)


def order_detail(conn: sqlite3.Connection, order_id: int) -> OrderDetail | None:
    o = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if o is None:
        return None
    states = {r["id"]: r["state"] for r in conn.execute("SELECT id, state FROM outbox WHERE order_id = ?", (order_id,))}
    returned: dict[str, int] = {}
    returns = []
    for r in conn.execute("SELECT * FROM order_return WHERE order_id = ? ORDER BY created_at, id", (order_id,)):
        lines = [(str(a), int(b)) for a, b in json.loads(r["lines"])]
        if r["status"] in ("requested", "open", "received", "closed"):
            for line_id, qty in lines:
                returned[line_id] = returned.get(line_id, 0) + qty
        returns.append(ReturnView(r["remote_id"], r["status"], r["reason"], lines, r["remote_id"].startswith(LOCAL_PREFIX)))
    refunds_out = []
    for r in conn.execute("SELECT * FROM refund WHERE order_id = ? ORDER BY created_at, id", (order_id,)):
        state = "done"
        if r["remote_id"].startswith(LOCAL_PREFIX):
            row_state = states.get(int(r["remote_id"][len(LOCAL_PREFIX):]), "pending")
            state = {"approval": "awaiting approval", "failed": "failed"}.get(row_state, "queued")
        refunds_out.append(RefundView(r["amount"] + r["shipping"], r["shipping"], r["reason"], r["created_at"], state))
    lines = [LineView(r["remote_id"], r["title"], r["variant"], r["quantity"], r["unit_price"], r["refunded_quantity"],
                      r["fulfilled_quantity"], returned.get(r["remote_id"], 0))
             for r in conn.execute("SELECT * FROM order_line WHERE order_id = ? ORDER BY id", (order_id,))]
    f = conn.execute("SELECT * FROM fulfillment WHERE order_id = ? ORDER BY shipped_at DESC LIMIT 1", (order_id,)).fetchone()
    return OrderDetail(
        id=o["id"], remote_id=o["remote_id"], number=o["number"], currency=o["currency"], created_at=o["created_at"],
        financial_status=o["financial_status"], fulfillment_status=o["fulfillment_status"], total=o["total"],
        shipping=o["shipping"], cancelled_at=o["cancelled_at"], shipping_address=o["shipping_address"], lines=lines,
        refunds=refunds_out, returns=returns, carrier=f["carrier"] if f else None,
        tracking_number=f["tracking_number"] if f else None, tracking_url=f["tracking_url"] if f else None,
        delivery=f["status"] if f else None, delivered_at=f["delivered_at"] if f else None,
        money=order_money(conn, order_id))
