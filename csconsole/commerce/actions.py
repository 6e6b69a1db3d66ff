"""Store actions in the outbox (refunds, returns, cancels): validation, local effects, audit.

The helpdesk actions live in store/outbox.py; this module answers for every other kind.
A refund is checked against what the cached order still has to refund before it can be
queued (nothing above that ever reaches the outbox), and routed to a lead when it is over
the agent's limit. Its local effect marks the order at once (the refund shows as queued or
awaiting approval and counts against what is refundable, so nobody refunds it twice); a
failed or declined refund takes that back. Every money movement writes an audit row when it
is asked for, and again when the store answers.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from csconsole import clock
from csconsole.adapters.base import CANCEL_REASONS, DECLINE_REASONS, REFUND_REASONS, RETURN_REASONS, STORE_ACTIONS
from csconsole.commerce import refunds
from csconsole.money import exponent

MONEY_KINDS = ("refund", "cancel")
LOCAL_PREFIX = "outbox:"
"""remote_id of a refund or return the store has not confirmed yet (outbox:<row id>)."""


def _error(message: str) -> Exception:
    from csconsole.store.outbox import ActionError

    return ActionError(message)


def order_money(conn: sqlite3.Connection, order_id: int) -> refunds.OrderMoney:
    """What the cached order can still refund (queued refunds already count)."""
    o = conn.execute("SELECT * FROM orders WHERE id = ?", (order_id,)).fetchone()
    if o is None:
        raise _error(f"order {order_id} is not in the cache")
    lines = [{"id": r["remote_id"], "title": r["title"], "quantity": r["quantity"], "total": r["total"],
              "refunded_quantity": r["refunded_quantity"], "refunded_amount": r["refunded_amount"]}
             for r in conn.execute("SELECT * FROM order_line WHERE order_id = ? ORDER BY id", (order_id,))]
    return refunds.order_money(currency=o["currency"], paid=o["paid"], refunded=o["refunded"], shipping=o["shipping"],
                               shipping_refunded=o["shipping_refunded"], lines=lines)


def over_limit(amount: int, currency: str, limit: Decimal) -> bool:
    """Is a refund above an agent's limit? (Limits are in the order's currency units.)"""
    return Decimal(amount).scaleb(-exponent(currency)) > limit


def validate(conn: sqlite3.Connection, intent: Any) -> dict[str, Any]:
    if intent.kind not in STORE_ACTIONS:
        raise _error(f"unknown action {intent.kind!r}")
    if intent.order_id is None:
        raise _error(f"{intent.kind} needs an order")
    o = conn.execute("SELECT * FROM orders WHERE id = ?", (intent.order_id,)).fetchone()
    if o is None:
        raise _error(f"order {intent.order_id} is not in the cache")
    p = dict(intent.payload)
    if intent.kind == "refund":
        reason = p.get("reason", "other")
        if reason not in REFUND_REASONS:
            raise _error(f"unknown refund reason {reason!r} (one of {', '.join(REFUND_REASONS)})")
        quantities = {str(line["line"]): int(line["quantity"]) for line in p.get("lines", [])}
        try:
            plan = refunds.plan_refund(order_money(conn, intent.order_id), quantities, int(p.get("shipping", 0)))
        except refunds.RefundError as exc:
            raise _error(f"order #{o['number']}: {exc}") from None
        if "amount" in p and int(p["amount"]) != plan.total:
            raise _error(f"order #{o['number']}: the refund comes to {plan.total}, not the {p['amount']} confirmed")
        if p.get("currency", plan.currency) != plan.currency:
            raise _error(f"order #{o['number']} is in {plan.currency}, not {p['currency']}")
        p.update(currency=plan.currency, amount=plan.total, shipping=plan.shipping, reason=reason,
                 lines=[{"line": line, "quantity": qty, "amount": amount} for line, qty, amount in plan.lines],
                 restock=bool(p.get("restock", True)), note=str(p.get("note", "")), notify=bool(p.get("notify", True)))
    elif intent.kind == "return_create":
        if p.get("reason", "OTHER") not in RETURN_REASONS:
            raise _error(f"unknown return reason {p.get('reason')!r} (one of {', '.join(RETURN_REASONS)})")
        room = _returnable(conn, intent.order_id)
        lines = [line for line in p.get("lines", []) if int(line["quantity"])]
        if not lines:
            raise _error("pick at least one item to return")
        for line in lines:
            if int(line["quantity"]) > room.get(str(line["line"]), 0):
                raise _error(f"order #{o['number']}: only {room.get(str(line['line']), 0)} of that item can be returned")
        p["lines"] = [{"line": str(line["line"]), "quantity": int(line["quantity"])} for line in lines]
        p.setdefault("reason", "OTHER")
    elif intent.kind in ("return_approve", "return_decline", "return_receive"):
        wanted = {"return_approve": "requested", "return_decline": "requested", "return_receive": "open"}[intent.kind]
        r = conn.execute("SELECT status FROM order_return WHERE order_id = ? AND remote_id = ?",
                         (intent.order_id, str(p.get("return")))).fetchone()
        if r is None:
            raise _error(f"order #{o['number']} has no return {p.get('return')}")
        if r["status"] != wanted:
            raise _error(f"that return is {r['status']}, not {wanted}")
        if intent.kind == "return_decline" and p.get("reason", "OTHER") not in DECLINE_REASONS:
            raise _error(f"unknown decline reason (one of {', '.join(DECLINE_REASONS)})")
    elif intent.kind == "cancel":
        if o["cancelled_at"]:
            raise _error(f"order #{o['number']} is already cancelled")
        if o["fulfillment_status"] not in ("unfulfilled",):
            raise _error(f"order #{o['number']} has shipped ({o['fulfillment_status']}): start a return instead")
        if p.get("reason", "CUSTOMER") not in CANCEL_REASONS:
            raise _error(f"unknown cancel reason (one of {', '.join(CANCEL_REASONS)})")
        money = order_money(conn, intent.order_id)
        p.update(refund=bool(p.get("refund", True)), restock=bool(p.get("restock", True)),
                 currency=money.currency, amount=money.refundable if p.get("refund", True) else 0)
    return p


def _returnable(conn: sqlite3.Connection, order_id: int) -> dict[str, int]:
    returned: dict[str, int] = {}
    for r in conn.execute("SELECT lines FROM order_return WHERE order_id = ? AND status IN"
                          " ('requested', 'open', 'received', 'closed')", (order_id,)):
        for line_id, qty in json.loads(r[0]):
            returned[str(line_id)] = returned.get(str(line_id), 0) + qty
    return {r["remote_id"]: r["fulfilled_quantity"] - returned.get(r["remote_id"], 0)
            for r in conn.execute("SELECT remote_id, fulfilled_quantity FROM order_line WHERE order_id = ?", (order_id,))}


# ----------------------------------------------------------------------------- local effects


def apply_local(conn: sqlite3.Connection, outbox_id: int, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    row = conn.execute("SELECT order_id, state, actor, ticket_id FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    order_id = row["order_id"]
    undo: dict[str, Any] = {"order": dict(conn.execute(
        "SELECT refunded, shipping_refunded, financial_status, fulfillment_status, cancelled_at FROM orders WHERE id = ?",
        (order_id,)).fetchone())}
    if kind == "refund" or (kind == "cancel" and payload.get("refund") and payload.get("amount")):
        lines = payload.get("lines") or [{"line": li.line_id, "quantity": li.refundable_quantity,
                                          "amount": li.amount_for(li.refundable_quantity)}
                                         for li in order_money(conn, order_id).lines if li.refundable_quantity]
        shipping = int(payload.get("shipping", 0)) if kind == "refund" else order_money(conn, order_id).shipping_refundable
        _local_refund(conn, outbox_id, order_id, lines, shipping, payload)
    if kind == "cancel":
        conn.execute("UPDATE orders SET cancelled_at = ?, fulfillment_status = 'cancelled' WHERE id = ?",
                     (clock.now(), order_id))
    elif kind == "return_create":
        conn.execute("INSERT OR REPLACE INTO order_return (order_id, remote_id, status, reason, note, lines, created_at)"
                     " VALUES (?, ?, 'open', ?, ?, ?, ?)",
                     (order_id, f"{LOCAL_PREFIX}{outbox_id}", payload.get("reason"), payload.get("note", ""),
                      json.dumps([[line["line"], line["quantity"]] for line in payload["lines"]]), clock.now()))
    elif kind in ("return_approve", "return_decline", "return_receive"):
        to = {"return_approve": "open", "return_decline": "declined", "return_receive": "received"}[kind]
        before = conn.execute("SELECT status FROM order_return WHERE order_id = ? AND remote_id = ?",
                              (order_id, str(payload["return"]))).fetchone()
        undo["return"] = {"remote_id": str(payload["return"]), "status": before["status"] if before else None}
        conn.execute("UPDATE order_return SET status = ? WHERE order_id = ? AND remote_id = ?",
                     (to, order_id, str(payload["return"])))
    if kind in MONEY_KINDS and not conn.execute("SELECT 1 FROM audit WHERE outbox_id = ?", (outbox_id,)).fetchone():
        audit(conn, outbox_id, "awaiting_approval" if row["state"] == "approval" else "queued")
    return undo


def _local_refund(conn: sqlite3.Connection, outbox_id: int, order_id: int, lines: list, shipping: int,
                  payload: Mapping[str, Any]) -> None:
    total = sum(int(line["amount"]) for line in lines) + shipping
    for line in lines:
        conn.execute("UPDATE order_line SET refunded_quantity = refunded_quantity + ?, refunded_amount = refunded_amount + ?"
                     " WHERE order_id = ? AND remote_id = ?", (int(line["quantity"]), int(line["amount"]), order_id,
                                                               str(line["line"])))
    o = conn.execute("SELECT paid, refunded, currency FROM orders WHERE id = ?", (order_id,)).fetchone()
    refunded = o["refunded"] + total
    status = "refunded" if refunded >= o["paid"] else "partially_refunded"
    conn.execute("UPDATE orders SET refunded = ?, shipping_refunded = shipping_refunded + ?, financial_status = ?"
                 " WHERE id = ?", (refunded, shipping, status, order_id))
    conn.execute("INSERT OR REPLACE INTO refund (order_id, remote_id, amount, shipping, currency, reason, note, lines,"
                 " restock, created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                 " (SELECT idempotency_key FROM outbox WHERE id = ?))",
                 (order_id, f"{LOCAL_PREFIX}{outbox_id}", total - shipping, shipping, o["currency"],
                  payload.get("reason", "cancelled"), payload.get("note", ""),
                  json.dumps([[str(line["line"]), int(line["quantity"]), int(line["amount"])] for line in lines]),
                  int(bool(payload.get("restock"))), clock.now(), outbox_id))


def revert_local(conn: sqlite3.Connection, row: sqlite3.Row, undo: Mapping[str, Any]) -> None:
    """Take a store action's local effect back (undo, decline, failure, discard)."""
    order_id, outbox_id = row["order_id"], row["id"]
    local = conn.execute("SELECT lines FROM refund WHERE order_id = ? AND remote_id = ?",
                         (order_id, f"{LOCAL_PREFIX}{outbox_id}")).fetchone()
    if local is not None:
        for line_id, qty, amount in json.loads(local["lines"]):
            conn.execute("UPDATE order_line SET refunded_quantity = max(refunded_quantity - ?, 0),"
                         " refunded_amount = max(refunded_amount - ?, 0) WHERE order_id = ? AND remote_id = ?",
                         (qty, amount, order_id, str(line_id)))
        conn.execute("DELETE FROM refund WHERE order_id = ? AND remote_id = ?", (order_id, f"{LOCAL_PREFIX}{outbox_id}"))
    before = undo.get("order")
    if before:
        conn.execute("UPDATE orders SET refunded = ?, shipping_refunded = ?, financial_status = ?, fulfillment_status = ?,"
                     " cancelled_at = ? WHERE id = ?",
                     (before["refunded"], before["shipping_refunded"], before["financial_status"],
                      before["fulfillment_status"], before["cancelled_at"], order_id))
    conn.execute("DELETE FROM order_return WHERE order_id = ? AND remote_id = ?", (order_id, f"{LOCAL_PREFIX}{outbox_id}"))
    if undo.get("return") and undo["return"]["status"]:
        conn.execute("UPDATE order_return SET status = ? WHERE order_id = ? AND remote_id = ?",
                     (undo["return"]["status"], order_id, undo["return"]["remote_id"]))


def on_sent(conn: sqlite3.Connection, row: Any, remote_id: str | None) -> None:
    """The store confirmed: local placeholders take the store's ids, the audit says so."""
    if remote_id:
        for table in ("refund", "order_return"):
            conn.execute(f"UPDATE OR IGNORE {table} SET remote_id = ? WHERE order_id = ? AND remote_id = ?",
                         (remote_id, row.order_id, f"{LOCAL_PREFIX}{row.id}"))
    if row.kind in MONEY_KINDS:
        audit(conn, row.id, "done", remote_id=remote_id)


def on_failed(conn: sqlite3.Connection, outbox_id: int, error: str) -> None:
    """The store refused: the money did not move, so the order stops showing it."""
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    revert_local(conn, row, json.loads(row["undo"] or "{}"))
    if row["kind"] in MONEY_KINDS:
        audit(conn, outbox_id, "failed", error=error)


def reapply_pending(conn: sqlite3.Connection, order_ids: list[int]) -> None:
    """After fresh order rows from the store, lay unsent store actions back on top."""
    if not order_ids:
        return
    marks = ",".join("?" * len(order_ids))
    for r in conn.execute(f"SELECT * FROM outbox WHERE order_id IN ({marks}) AND state IN ('pending', 'sending', 'approval')"
                          f" ORDER BY id", order_ids).fetchall():
        undo = apply_local(conn, r["id"], r["kind"], json.loads(r["payload"]))
        conn.execute("UPDATE outbox SET undo = ? WHERE id = ?", (json.dumps(undo), r["id"]))


def audit(conn: sqlite3.Connection, outbox_id: int, result: str, *, remote_id: str | None = None,
          error: str | None = None) -> None:
    """Who, when, which ticket and order, how much, and how it ended."""
    row = conn.execute("SELECT * FROM outbox WHERE id = ?", (outbox_id,)).fetchone()
    payload = json.loads(row["payload"])
    detail = {"lines": payload.get("lines"), "shipping": payload.get("shipping"), "reason": payload.get("reason"),
              "key": row["idempotency_key"]}
    if remote_id:
        detail["remote_id"] = remote_id
    if error:
        detail["error"] = error
    conn.execute("INSERT INTO audit (at, actor, action, ticket_id, order_id, outbox_id, amount, currency, result, detail)"
                 " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                 (clock.now(), row["actor"] or "", row["kind"], row["ticket_id"], row["order_id"], outbox_id,
                  payload.get("amount"), payload.get("currency"), result, json.dumps(detail)))
