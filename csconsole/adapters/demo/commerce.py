"""The demo store adapter: orders, payments, fulfilments, refunds and returns.

Same contract as the Shopify adapter, over the demo backend's tables.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from pathlib import Path
from typing import ClassVar

from csconsole.adapters import base
from csconsole.adapters.base import (
    Action, ActionResult, CommerceAdapter, FulfillmentRecord, Identity, LineRecord, NotFound, OrderRecord,
    PaymentRecord, PersonRecord, RefundRecord, RejectedError, ReturnRecord, TransientError,
)
from csconsole.commerce import refunds
from csconsole.adapters.demo.backend import DemoBackend
from csconsole.adapters.demo.helpdesk import _error


class DemoStore(CommerceAdapter):
    name: ClassVar[str] = "demo-store"
    needs_secret: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[str]] = frozenset({base.ORDERS, base.REFUND, base.RETURNS, base.CANCEL})

    def __init__(self, account, secret=None, driver=None) -> None:
        super().__init__(account, secret, driver)
        self.backend = DemoBackend(Path(account.options["path"]))

    async def verify(self) -> Identity:
        return Identity(remote_id="demo-store", name="Northwind Outfitters (demo store)", mode="demo backend")

    async def _check(self, op: str) -> None:
        failure = self.backend.take_failure(op)
        if failure:
            raise _error(failure)

    async def orders_for_customer(self, email: str, numbers: tuple[str, ...] = ()) -> list[OrderRecord]:
        await self._check("orders")
        return [self._order(order_id) for order_id in self.backend.orders_for(email, numbers)]

    async def get_order(self, order_remote_id: str) -> OrderRecord:
        await self._check("orders")
        return self._order(int(order_remote_id))

    def _order(self, order_id: int) -> OrderRecord:
        data = self.backend.order(order_id)
        if data is None:
            raise NotFound(f"order {order_id} does not exist")
        return order_record(data)

    async def apply(self, action: Action) -> ActionResult:
        """Refunds, returns and cancels, with the store's own refusals as RejectedError."""
        failure = self.backend.take_failure("store")
        if failure and failure.kind not in ("timeout_after_apply", "hang_after_apply"):
            raise _error(failure)
        order_id = int(action.order_remote_id or 0)
        p = dict(action.payload)
        try:
            remote_id = self._apply(order_id, action.kind, p, action.idempotency_key)
        except refunds.RefundError as exc:
            raise RejectedError(f"the store refused the refund: {exc}") from None
        except LookupError as exc:
            raise NotFound(str(exc)) from None
        except ValueError as exc:
            raise RejectedError(f"the store refused: {exc}") from None
        except sqlite3.OperationalError as exc:
            raise TransientError(f"demo store busy: {exc}") from None
        if failure is not None and failure.kind == "hang_after_apply":
            await asyncio.sleep(3600)
        if failure is not None:  # it happened, but the answer is lost on the way back
            raise TransientError("timed out waiting for the store", maybe_applied=True)
        return ActionResult(remote_id=str(remote_id) if remote_id else None, order=self._order(order_id))

    def _apply(self, order_id: int, kind: str, p: dict, key: str) -> int | None:
        b = self.backend
        if kind == "refund":
            quantities = {str(line["line"]): int(line["quantity"]) for line in p.get("lines", [])}
            return b.refund(order_id, quantities, int(p.get("shipping", 0)), restock=bool(p.get("restock")),
                            reason=str(p.get("reason", "other")), note=str(p.get("note", "")), key=key,
                            expected_total=int(p["amount"]) if "amount" in p else None)
        if kind == "return_create":
            quantities = {str(line["line"]): int(line["quantity"]) for line in p.get("lines", [])}
            return b.create_return(order_id, quantities, reason=str(p.get("reason", "OTHER")),
                                   note=str(p.get("note", "")), key=key)
        if kind in ("return_approve", "return_decline", "return_receive"):
            to = {"return_approve": "open", "return_decline": "declined", "return_receive": "received"}[kind]
            b.move_return(int(p["return"]), to, decline_reason=p.get("reason") if kind == "return_decline" else None,
                          note=p.get("note") or None)
            return int(p["return"])
        if kind == "cancel":
            return b.cancel(order_id, refund=bool(p.get("refund", True)), restock=bool(p.get("restock", True)),
                            reason=str(p.get("reason", "CUSTOMER")), note=str(p.get("note", "")), key=key)
        raise ValueError(f"the demo store cannot {kind}")

    async def find_applied(self, action: Action) -> ActionResult | None:
        """After a lost answer: find what the action made, by its idempotency key or its effect."""
        b = self.backend
        order_id = int(action.order_remote_id or 0)
        found: int | None = None
        if action.kind == "refund":
            row = b.refund_by_key(action.idempotency_key)
            found = row["id"] if row else None
        elif action.kind == "return_create":
            row = b.return_by_key(action.idempotency_key)
            found = row["id"] if row else None
        elif action.kind in ("return_approve", "return_decline", "return_receive"):
            to = {"return_approve": "open", "return_decline": "declined", "return_receive": "received"}[action.kind]
            row = b.conn.execute("SELECT status FROM ret WHERE id = ?", (int(action.payload["return"]),)).fetchone()
            found = int(action.payload["return"]) if row and row["status"] == to else None
        elif action.kind == "cancel":
            data = b.order(order_id)
            if data is not None and data["order"]["cancelled_at"]:
                row = b.refund_by_key(action.idempotency_key)
                return ActionResult(remote_id=str(row["id"]) if row else None, order=self._order(order_id))
        if found is None:
            return None
        return ActionResult(remote_id=str(found), order=self._order(order_id))

    async def aclose(self) -> None:
        self.backend.close()


def order_record(data: dict) -> OrderRecord:
    """Turn the backend's rows into an OrderRecord, deriving the payment state."""
    o: sqlite3.Row = data["order"]
    currency = o["currency"]
    refunds = [_refund(r, currency) for r in data["refunds"]]
    refunded_by_line: dict[str, tuple[int, int]] = {}
    for refund in refunds:
        for line_id, qty, amount in refund.lines:
            q, a = refunded_by_line.get(line_id, (0, 0))
            refunded_by_line[line_id] = (q + qty, a + amount)
    returned: dict[str, int] = {}
    for r in data["returns"]:
        if r["status"] in ("open", "received", "closed"):
            for line_id, qty in json.loads(r["lines"]):
                returned[str(line_id)] = returned.get(str(line_id), 0) + qty
    lines = tuple(
        LineRecord(remote_id=str(line["id"]), title=line["title"], quantity=line["quantity"],
                   unit_price=line["unit_price"], total=line["quantity"] * line["unit_price"], sku=line["sku"],
                   variant=line["variant"], refunded_quantity=refunded_by_line.get(str(line["id"]), (0, 0))[0],
                   refunded_amount=refunded_by_line.get(str(line["id"]), (0, 0))[1],
                   fulfilled_quantity=line["fulfilled_quantity"], returned_quantity=returned.get(str(line["id"]), 0))
        for line in data["lines"])
    payments = tuple(PaymentRecord(remote_id=str(t["id"]), kind=t["kind"], amount=t["amount"], currency=currency,
                                   status=t["status"], created_at=t["created_at"], gateway=t["gateway"],
                                   reference=t["reference"]) for t in data["txns"])
    paid = sum(p.amount for p in payments if p.kind in ("sale", "capture") and p.status == "success")
    refunded = sum(r.amount + r.shipping for r in refunds)
    if refunded and refunded >= paid:
        financial = "refunded"
    elif refunded:
        financial = "partially_refunded"
    elif paid:
        financial = "paid"
    else:
        financial = "pending"
    fulfillments = tuple(
        FulfillmentRecord(remote_id=str(f["id"]), status=f["status"], carrier=f["carrier"],
                          tracking_number=f["tracking_number"], tracking_url=f["tracking_url"],
                          shipped_at=f["shipped_at"], delivered_at=f["delivered_at"],
                          lines=tuple((str(a), b) for a, b in json.loads(f["lines"])))
        for f in data["fulfillments"])
    fulfilled = sum(line.fulfilled_quantity for line in lines)
    ordered = sum(line.quantity for line in lines)
    if o["cancelled_at"]:
        fulfillment_status = "cancelled"
    elif fulfilled == 0:
        fulfillment_status = "unfulfilled"
    elif fulfilled < ordered:
        fulfillment_status = "partial"
    else:
        fulfillment_status = "fulfilled"
    returns = tuple(ReturnRecord(remote_id=str(r["id"]), status=r["status"], created_at=r["created_at"],
                                 reason=r["reason"], lines=tuple((str(a), b) for a, b in json.loads(r["lines"])),
                                 note=r["note"], decline_reason=r["decline_reason"]) for r in data["returns"])
    return OrderRecord(
        remote_id=str(o["id"]), number=o["number"], currency=currency, created_at=o["created_at"],
        financial_status=financial, fulfillment_status=fulfillment_status, email=o["customer_email"],
        customer=PersonRecord(o["customer_email"], o["customer_name"], o["customer_email"], "customer", o["customer_locale"]),
        subtotal=o["subtotal"], shipping=o["shipping"], tax=o["tax"], discount=o["discount"], total=o["total"],
        paid=paid, refunded=refunded, shipping_refunded=sum(r.shipping for r in refunds),
        cancelled_at=o["cancelled_at"], shipping_address=o["shipping_address"], lines=lines, payments=payments,
        refunds=tuple(refunds), fulfillments=fulfillments, returns=returns)


def _refund(r: sqlite3.Row, currency: str) -> RefundRecord:
    return RefundRecord(remote_id=str(r["id"]), amount=r["amount"], currency=currency, created_at=r["created_at"],
                        shipping=r["shipping"], reason=r["reason"], note=r["note"], restock=bool(r["restock"]),
                        lines=tuple((str(a), b, c) for a, b, c in json.loads(r["lines"])),
                        idempotency_key=r["idempotency_key"])
