"""A refund action as a RefundInput that Shopify itself has priced first.

The agent confirmed an exact total (payload "amount"). Before any money moves, Shopify's
``suggestedRefund`` prices the same lines, quantities and shipping; if its total, its
shipping or its quantities differ from what was confirmed (tax, an earlier refund, a line
already fully refunded) the refund is refused with both figures and nothing is sent. The
transactions to refund come from ``suggestedTransactions`` (parent SALE or CAPTURE,
gateway, amount), so the money goes back the way it came, in the presentment currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from csconsole.adapters.base import Action, LineRecord, OrderRecord, RejectedError
from csconsole.adapters.shopify import documents as gql
from csconsole.adapters.shopify.mapping import minor, tagged
from csconsole.adapters.shopify.transport import GraphQL
from csconsole.money import Money, format_minor


@dataclass(frozen=True)
class RefundPlan:
    input: dict[str, Any]
    """RefundInput for refundCreate."""
    amount: int


def restock_type(line: LineRecord, restock: bool) -> str:
    """RETURN puts shipped items back in stock, CANCEL unshipped ones; NO_RESTOCK leaves stock alone."""
    if not restock:
        return "NO_RESTOCK"
    return "RETURN" if line.fulfilled_quantity > 0 else "CANCEL"


def _requested(order: OrderRecord, payload: dict[str, Any], location: str | None) -> list[dict[str, Any]]:
    lines = {line.remote_id: line for line in order.lines}
    items = []
    for want in payload.get("lines") or []:
        line = lines.get(want.get("line"))
        if line is None:
            raise RejectedError(f"order {order.number} has no line {want.get('line')}")
        quantity = int(want.get("quantity") or 0)
        if quantity < 0:
            raise RejectedError(f"line {line.title}: a refund quantity cannot be negative")
        if quantity:
            item = {"lineItemId": line.remote_id, "quantity": quantity,
                    "restockType": restock_type(line, bool(payload.get("restock")))}
            if location and item["restockType"] != "NO_RESTOCK":
                item["locationId"] = location
            items.append(item)
    return items


async def refund_input(graphql: GraphQL, order: OrderRecord, action: Action, location: str | None) -> RefundPlan:
    p = dict(action.payload)
    currency = order.currency
    if p.get("currency") != currency:
        raise RejectedError(f"the refund is in {p.get('currency')} but order {order.number} is in {currency}")
    items = _requested(order, p, location)
    shipping = int(p.get("shipping") or 0)
    confirmed = p.get("amount")
    if shipping < 0 or not isinstance(confirmed, int) or confirmed <= 0 or not (items or shipping):
        raise RejectedError("a refund needs lines or shipping and the positive total that was confirmed")

    def shown(amount: int) -> str:
        return format_minor(amount, currency)

    data = await graphql.run(gql.SUGGEST_REFUND, {"id": order.remote_id, "items": items,
                                                  "shipping": Money(shipping, currency).amount_str() if shipping else None})
    suggestion = (data.get("order") or {}).get("suggestedRefund")
    if not suggestion:
        raise RejectedError(f"Shopify could not price a refund on {order.number}")
    amount = minor(suggestion.get("amountSet"), currency)
    maximum = minor(suggestion.get("maximumRefundableSet"), currency)
    if amount > maximum:
        raise RejectedError(f"{shown(amount)} is more than the {shown(maximum)} still refundable on {order.number};"
                            " nothing was refunded")
    ship = suggestion.get("shipping") or {}
    if minor(ship.get("amountSet"), currency) != shipping:
        raise RejectedError(f"only {shown(minor(ship.get('maximumRefundableSet'), currency))} of shipping is still"
                            f" refundable on {order.number}; nothing was refunded")
    priced = {i["lineItem"]["id"]: i for i in suggestion.get("refundLineItems") or []}
    for item in items:
        got = int((priced.get(item["lineItemId"]) or {}).get("quantity") or 0)
        if got != item["quantity"]:
            raise RejectedError(f"only {got} of line {item['lineItemId']} can still be refunded, not"
                                f" {item['quantity']}; nothing was refunded")
    if amount != confirmed:
        raise RejectedError(f"Shopify computes {shown(amount)} for this refund, not the {shown(confirmed)} that was"
                            " confirmed (taxes or earlier refunds?); nothing was refunded")
    transactions = []
    for t in suggestion.get("suggestedTransactions") or []:
        part = minor(t.get("amountSet"), currency)
        if part > 0:
            transactions.append({"orderId": order.remote_id, "parentId": (t.get("parentTransaction") or {}).get("id"),
                                 "gateway": t.get("gateway"), "kind": "REFUND",
                                 "amount": Money(part, currency).amount_str()})
    if sum(Money.parse(t["amount"], currency).minor for t in transactions) != amount:
        raise RejectedError(f"Shopify's suggested transactions do not add up to {shown(amount)}; nothing was refunded")
    for item in items:
        if item["restockType"] != "NO_RESTOCK" and "locationId" not in item:
            suggested = ((priced.get(item["lineItemId"]) or {}).get("location") or {}).get("id")
            if not suggested:
                raise RejectedError("Shopify suggested no location to restock into: set the account's"
                                    " options.location (a Location gid) or refund without restocking")
            item["locationId"] = suggested
    note = f"csconsole: {p.get('reason') or 'refund'}" + (f" - {p['note']}" if p.get("note") else "")
    if action.ticket_remote_id:
        note += f" (ticket {action.ticket_remote_id})"
    refund: dict[str, Any] = {"orderId": order.remote_id, "note": tagged(note, action.idempotency_key),
                              "notify": bool(p.get("notify", False)), "currency": currency,
                              "refundLineItems": items, "transactions": transactions}
    if shipping:
        refund["shipping"] = {"amount": Money(shipping, currency).amount_str()}
    return RefundPlan(refund, amount)
