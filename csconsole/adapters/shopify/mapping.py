"""Shopify's order JSON (documents.ORDER) as our records.

Money: Shopify sends decimal strings in a MoneyBag; we read ``presentmentMoney`` (the
customer's currency, the one refunds are made in) and turn it into integer minor units with
Money.parse, refusing a bag in another currency rather than mixing two.

Statuses: the display enums are mapped onto the records' vocabulary; values we do not know
pass through lower-cased, so a new Shopify status shows up as itself instead of a wrong guess.

Refund and return notes carry our outbox key as ``[csconsole <key>]`` so that a lost answer
can be reconciled by reading the order (find_applied).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from csconsole.adapters.base import (
    AdapterError,
    FulfillmentRecord,
    LineRecord,
    OrderRecord,
    PaymentRecord,
    PersonRecord,
    RefundRecord,
    ReturnRecord,
)
from csconsole.money import Money

FINANCIAL = {"PENDING": "pending", "AUTHORIZED": "pending", "PARTIALLY_PAID": "pending", "PAID": "paid",
             "PARTIALLY_REFUNDED": "partially_refunded", "REFUNDED": "refunded", "VOIDED": "voided",
             "EXPIRED": "voided"}
FULFILLMENT = {"UNFULFILLED": "unfulfilled", "PARTIALLY_FULFILLED": "partial", "FULFILLED": "fulfilled",
               "RESTOCKED": "restocked", "PENDING_FULFILLMENT": "unfulfilled", "OPEN": "unfulfilled",
               "IN_PROGRESS": "unfulfilled", "ON_HOLD": "unfulfilled", "SCHEDULED": "unfulfilled",
               "REQUEST_DECLINED": "unfulfilled"}
SHIPMENT = {"FULFILLED": "pending", "LABEL_PRINTED": "pending", "LABEL_PURCHASED": "pending",
            "CONFIRMED": "pending", "READY_FOR_PICKUP": "pending", "PICKED_UP": "delivered",
            "IN_TRANSIT": "in_transit", "OUT_FOR_DELIVERY": "out_for_delivery", "ATTEMPTED_DELIVERY": "out_for_delivery",
            "DELIVERED": "delivered", "FAILURE": "failure", "CANCELED": "failure", "SUCCESS": "pending",
            "CANCELLED": "failure", "ERROR": "failure", "PENDING": "pending", "OPEN": "pending"}
TRANSACTION_STATUS = {"SUCCESS": "success", "PENDING": "pending", "FAILURE": "failure", "ERROR": "failure",
                      "AWAITING_RESPONSE": "pending", "UNKNOWN": "pending"}
RETURN_STATUS = {"REQUESTED": "requested", "OPEN": "open", "DECLINED": "declined", "CLOSED": "closed",
                 "CANCELED": "cancelled"}
PAID_KINDS = ("SALE", "CAPTURE")
ACTIVE_RETURNS = ("REQUESTED", "OPEN", "CLOSED")

_TAG = re.compile(r"\[csconsole ([A-Za-z0-9_-]{8,200})\]")


def tagged(text: str, key: str) -> str:
    """A note that names the outbox action that wrote it."""
    return f"{text.strip()} [csconsole {key}]".strip()


def tag_of(note: str | None) -> str | None:
    match = _TAG.search(note or "")
    return match.group(1) if match else None


def untagged(note: str | None) -> str | None:
    return _TAG.sub("", note).strip() if note else note


def timestamp(value: str | None) -> int | None:
    if not value:
        return None
    return int(datetime.fromisoformat(value).timestamp())


def minor(bag: Any, currency: str) -> int:
    """The presentment amount of a MoneyBag in minor units (0 when Shopify sent none)."""
    money = (bag or {}).get("presentmentMoney") if isinstance(bag, Mapping) else None
    if not money or money.get("amount") is None:
        return 0
    code = money.get("currencyCode") or currency
    if code != currency:
        raise AdapterError(f"Shopify sent an amount in {code} on a {currency} order")
    return Money.parse(str(money["amount"]), currency).minor


def nodes(connection: Any) -> list[dict]:
    """The items of a connection ({nodes}) or of a plain list field."""
    if isinstance(connection, Mapping):
        return list(connection.get("nodes") or [])
    return list(connection or [])


def currency_of(order: Mapping[str, Any]) -> str:
    for name in ("currentTotalPriceSet", "totalPriceSet"):
        money = (order.get(name) or {}).get("presentmentMoney")
        if money and money.get("currencyCode"):
            return money["currencyCode"]
    raise AdapterError(f"Shopify order {order.get('name') or order.get('id')} came without a currency")


def refund_record(refund: Mapping[str, Any], currency: str) -> RefundRecord:
    lines = tuple((item["lineItem"]["id"], int(item["quantity"]), minor(item.get("subtotalSet"), currency))
                  for item in nodes(refund.get("refundLineItems")))
    shipping = sum(minor(s.get("subtotalAmountSet"), currency) + minor(s.get("taxAmountSet"), currency)
                   for s in nodes(refund.get("refundShippingLines")))
    total = minor(refund.get("totalRefundedSet"), currency)
    return RefundRecord(
        remote_id=refund["id"], amount=total - shipping, currency=currency, shipping=shipping,
        created_at=timestamp(refund.get("createdAt")) or 0, note=untagged(refund.get("note")),
        restock=any(item.get("restockType") not in (None, "NO_RESTOCK") for item in nodes(refund.get("refundLineItems"))),
        lines=lines, idempotency_key=tag_of(refund.get("note")))


def return_lines(ret: Mapping[str, Any]) -> list[tuple[dict, str | None]]:
    """Each return line with the order line it returns (None when Shopify did not say)."""
    out = []
    for item in nodes(ret.get("returnLineItems")):
        fli = item.get("fulfillmentLineItem") or {}
        out.append((item, (fli.get("lineItem") or {}).get("id")))
    return out


def return_record(ret: Mapping[str, Any], order_created: int) -> ReturnRecord:
    lines = return_lines(ret)
    status = ret.get("status", "")
    mapped = RETURN_STATUS.get(status, status.lower())
    if status == "OPEN" and lines and all(int(item.get("unprocessedQuantity") or 0) == 0 for item, _ in lines):
        mapped = "received"
    first = lines[0][0] if lines else {}
    decline = ret.get("decline") or {}
    per_line: Counter[str] = Counter()
    for item, line in lines:
        if line:
            per_line[line] += int(item["quantity"])  # a line shipped in two parcels is one line here
    return ReturnRecord(
        remote_id=ret["id"], status=mapped, created_at=timestamp(ret.get("createdAt")) or order_created,
        reason=first.get("returnReason"), lines=tuple(per_line.items()),
        note=untagged(first.get("returnReasonNote")) or decline.get("note"), decline_reason=decline.get("reason"))


def order_record(order: Mapping[str, Any]) -> OrderRecord:
    currency = currency_of(order)
    created = timestamp(order.get("createdAt")) or 0
    refunds = [refund_record(r, currency) for r in order.get("refunds") or []]
    refunded_qty: Counter[str] = Counter()
    refunded_amount: Counter[str] = Counter()
    for refund in refunds:
        for line_id, qty, amount in refund.lines:
            refunded_qty[line_id] += qty
            refunded_amount[line_id] += amount
    fulfilled: Counter[str] = Counter()
    fulfillments = []
    for f in order.get("fulfillments") or []:
        items = [(item["lineItem"]["id"], int(item["quantity"])) for item in nodes(f.get("fulfillmentLineItems"))]
        if f.get("status") == "SUCCESS":
            for line_id, qty in items:
                fulfilled[line_id] += qty
        tracking = (f.get("trackingInfo") or [{}])[0] or {}
        shown = f.get("displayStatus") or f.get("status") or ""
        fulfillments.append(FulfillmentRecord(
            remote_id=f["id"], status=SHIPMENT.get(shown, shown.lower()), carrier=tracking.get("company"),
            tracking_number=tracking.get("number"), tracking_url=tracking.get("url"),
            shipped_at=timestamp(f.get("createdAt")), delivered_at=timestamp(f.get("deliveredAt")),
            lines=tuple(items)))
    returned: Counter[str] = Counter()
    returns = []
    for ret in nodes(order.get("returns")):
        returns.append(return_record(ret, created))
        if ret.get("status") in ("OPEN", "CLOSED"):
            for item, line_id in return_lines(ret):
                if line_id:
                    returned[line_id] += int(item["quantity"])
    lines = []
    for item in nodes(order.get("lineItems")):
        unit = minor(item.get("originalUnitPriceSet"), currency)
        quantity = int(item["quantity"])
        lines.append(LineRecord(
            remote_id=item["id"], title=item.get("title") or "", quantity=quantity, unit_price=unit,
            total=unit * quantity, sku=item.get("sku"), variant=item.get("variantTitle"),
            refunded_quantity=refunded_qty[item["id"]], refunded_amount=refunded_amount[item["id"]],
            fulfilled_quantity=fulfilled[item["id"]], returned_quantity=returned[item["id"]]))
    payments = tuple(PaymentRecord(
        remote_id=t["id"], kind=str(t.get("kind", "")).lower(), amount=minor(t.get("amountSet"), currency),
        currency=currency, status=TRANSACTION_STATUS.get(t.get("status", ""), str(t.get("status", "")).lower()),
        created_at=timestamp(t.get("createdAt")) or created, gateway=t.get("gateway"),
        reference=(t.get("parentTransaction") or {}).get("id")) for t in order.get("transactions") or [])
    paid = sum(minor(t.get("amountSet"), currency) for t in order.get("transactions") or []
               if t.get("kind") in PAID_KINDS and t.get("status") == "SUCCESS")
    financial = order.get("displayFinancialStatus") or ""
    shown = order.get("displayFulfillmentStatus") or ""
    customer = order.get("customer") or None
    email = order.get("email") or (((customer or {}).get("defaultEmailAddress") or {}).get("emailAddress"))
    address = (order.get("shippingAddress") or {}).get("formatted") or []
    return OrderRecord(
        remote_id=order["id"], number=order.get("name") or order["id"], currency=currency, created_at=created,
        financial_status=FINANCIAL.get(financial, financial.lower()),
        fulfillment_status="cancelled" if order.get("cancelledAt") else FULFILLMENT.get(shown, shown.lower()),
        email=email,
        customer=PersonRecord(customer["id"], customer.get("displayName") or "", email) if customer else None,
        subtotal=minor(order.get("subtotalPriceSet"), currency),
        shipping=minor(order.get("totalShippingPriceSet"), currency),
        tax=minor(order.get("totalTaxSet"), currency), discount=minor(order.get("totalDiscountsSet"), currency),
        total=minor(order.get("totalPriceSet"), currency), paid=paid,
        refunded=minor(order.get("totalRefundedSet"), currency), shipping_refunded=sum(r.shipping for r in refunds),
        cancelled_at=timestamp(order.get("cancelledAt")), shipping_address=", ".join(address), lines=tuple(lines),
        payments=payments, refunds=tuple(refunds), fulfillments=tuple(fulfillments), returns=tuple(returns))
