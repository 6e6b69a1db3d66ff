"""A macro's store steps, turned into outbox payloads of the store action kinds.

A macro file says *what* to do ("refund the shipping", "cancel the order"); the amounts
and line ids come from the order in the cache when the macro is applied, never from the
file, so a macro cannot refund more than is left (paid minus refunded, per line and for
shipping) or cancel an order that has shipped. The payload shapes are the ones documented
in adapters/base.py (STORE_ACTIONS); limits and approvals are the outbox's business.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from csconsole.macros.model import StoreStep
from csconsole.money import format_minor


class StepError(ValueError):
    """A store step that cannot be done on this order (the message says why)."""


@dataclass(frozen=True)
class StorePayload:
    kind: str
    payload: dict[str, Any]
    summary: str


def returned_quantities(conn: sqlite3.Connection, order_id: int) -> dict[str, int]:
    """Per line remote id: how many are in a return that was not declined or cancelled."""
    returned: dict[str, int] = {}
    for (lines,) in conn.execute("SELECT lines FROM order_return WHERE order_id = ? AND status NOT IN"
                                 " ('declined', 'cancelled')", (order_id,)):
        for line, quantity in json.loads(lines or "[]"):
            returned[str(line)] = returned.get(str(line), 0) + int(quantity)
    return returned


def build(conn: sqlite3.Connection, step: StoreStep, order_id: int) -> StorePayload:
    order = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if order is None:
        raise StepError(f"order {order_id} is not in the cache")
    lines = conn.execute("SELECT * FROM order_line WHERE order_id = ? ORDER BY id", (order_id,)).fetchall()
    number = order["number"].lstrip("#")
    if step.action == "refund":
        return _refund(order, lines, step, number)
    if step.action == "cancel":
        return _cancel(conn, order, step, number)
    return _return(conn, order, lines, step, number)


def _refund(order: sqlite3.Row, lines: list[sqlite3.Row], step: StoreStep, number: str) -> StorePayload:
    currency = order["currency"]
    refund_lines = []
    if step.lines == "all":
        for line in lines:
            quantity = line["quantity"] - line["refunded_quantity"]
            amount = line["total"] - line["refunded_amount"]
            if quantity > 0 and amount > 0:
                refund_lines.append({"line": line["remote_id"], "quantity": quantity, "amount": amount})
    shipping = max(order["shipping"] - order["shipping_refunded"], 0) if step.shipping else 0
    total = sum(x["amount"] for x in refund_lines) + shipping
    if total <= 0:
        what = "the shipping" if step.lines == "none" else "this order"
        raise StepError(f"nothing is left to refund of {what} on order #{number}")
    refundable = order["paid"] - order["refunded"]
    if total > refundable:
        raise StepError(f"order #{number}: {format_minor(total, currency)} is more than the"
                        f" {format_minor(max(refundable, 0), currency)} left to refund")
    what = " + ".join(filter(None, [f"{len(refund_lines)} line{'s' if len(refund_lines) != 1 else ''}" if refund_lines
                                    else "", "shipping" if shipping else ""]))
    payload = {"currency": currency, "lines": refund_lines, "shipping": shipping, "restock": step.restock,
               "reason": step.reason, "note": step.note, "notify": step.notify, "amount": total}
    return StorePayload("refund", payload, f"refund {format_minor(total, currency)} on order #{number} ({what})")


def _cancel(conn: sqlite3.Connection, order: sqlite3.Row, step: StoreStep, number: str) -> StorePayload:
    if order["cancelled_at"] is not None:
        raise StepError(f"order #{number} is already cancelled")
    shipped = conn.execute("SELECT 1 FROM fulfillment WHERE order_id = ? AND shipped_at IS NOT NULL LIMIT 1",
                           (order["id"],)).fetchone()
    if shipped is not None or order["fulfillment_status"] != "unfulfilled":
        raise StepError(f"order #{number} has shipped and can no longer be cancelled")
    payload = {"reason": step.reason, "refund": step.refund, "restock": step.restock, "notify": step.notify,
               "note": step.note}
    refund = f", refund {format_minor(order['paid'] - order['refunded'], order['currency'])}" if step.refund else ""
    return StorePayload("cancel", payload, f"cancel order #{number}{refund}")


def _return(conn: sqlite3.Connection, order: sqlite3.Row, lines: list[sqlite3.Row], step: StoreStep,
            number: str) -> StorePayload:
    returned = returned_quantities(conn, order["id"])
    return_lines = []
    for line in lines:
        quantity = line["fulfilled_quantity"] - returned.get(line["remote_id"], 0) - line["refunded_quantity"]
        if quantity > 0:
            return_lines.append({"line": line["remote_id"], "quantity": quantity})
    if not return_lines:
        raise StepError(f"nothing on order #{number} can be returned (not shipped, or already returned or refunded)")
    count = sum(x["quantity"] for x in return_lines)
    payload = {"lines": return_lines, "reason": step.reason, "note": step.note}
    return StorePayload("return_create", payload,
                        f"open a return on order #{number} ({count} item{'s' if count != 1 else ''}, {step.reason})")
