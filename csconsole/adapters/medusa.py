"""The Medusa v2 store adapter (Admin API), registered as ``medusa``.

Configuration: ``url`` is the Medusa server, ``user`` an admin's email, the secret that
admin's password (exchanged at POST /auth/user/emailpass for a JWT that lasts about a day;
a 401 logs in again once). Option ``location``: the stock location returns go back to
(default: the store's default location).

What Medusa is like (../shared/reference/medusa-local-server.md, checked against a real
2.21 server by tests/test_medusa.py):

- Amounts are major-unit decimals (72.5 is $72.50): JSON is read with Decimal, never float,
  and sent back as a decimal literal.
- Search is a substring ``q``: an email search is filtered to exact matches here, and order
  numbers are matched on display_id.
- A refund is made on one payment and capped at what it captured. Medusa prices nothing
  for us and has no idempotency key, so the adapter prices the refund from the order's own
  lines, refuses anything above what is still refundable, and writes ``[csconsole <key>]``
  into the refund's note: find_applied looks for it before any retry.
- A return is an order change: create, request items, request; then receive, receive
  items, confirm. Each step is its own call, so the return's metadata carries the key (and
  the reason and note, which a Medusa return has no field for) and an interrupted return is
  resumed where it stopped instead of being made twice.
  Medusa has no customer return requests to approve or decline.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any, ClassVar

import httpx

from csconsole.adapters import base
from csconsole.adapters.base import (
    CANCEL_REASONS, Action, ActionResult, AuthError, CommerceAdapter, FulfillmentRecord, Identity, LineRecord,
    NotFound, OrderRecord, PaymentRecord, PersonRecord, RefundRecord, RejectedError, ReturnRecord,
)
from csconsole.adapters.http import HttpClient, parse_json
from csconsole.adapters.shopify.mapping import tag_of, tagged, timestamp, untagged
from csconsole.money import Money, format_minor

ORDER_FIELDS = ("id,display_id,email,currency_code,created_at,canceled_at,status,payment_status,fulfillment_status,"
                "subtotal,item_subtotal,shipping_total,tax_total,discount_total,total,summary,*items,"
                "*shipping_methods,*payment_collections,*payment_collections.payments,"
                "*payment_collections.payments.captures,*payment_collections.payments.refunds,*fulfillments,"
                "*fulfillments.items,*fulfillments.labels,*customer")
RETURN_FIELDS = "id,status,created_at,canceled_at,received_at,location_id,metadata,*items"
FINANCIAL = {"captured": "paid", "partially_refunded": "partially_refunded", "refunded": "refunded",
             "canceled": "voided", "not_paid": "pending", "awaiting": "pending", "authorized": "pending",
             "partially_authorized": "pending", "partially_captured": "pending", "requires_action": "pending"}
FULFILLMENT = {"not_fulfilled": "unfulfilled", "partially_fulfilled": "partial", "fulfilled": "fulfilled",
               "partially_shipped": "partial", "shipped": "fulfilled", "partially_delivered": "partial",
               "delivered": "fulfilled", "canceled": "cancelled"}
KEY = "csconsole_key"
"""Where a return made here keeps the outbox key (its metadata)."""
RETURN_STATUS = {"open": "open", "requested": "requested", "received": "received",
                 "partially_received": "open", "canceled": "cancelled"}


def _decimal_json(response: httpx.Response, where: str, write: bool) -> Any:
    """The body with decimals as Decimal: Medusa's amounts are never floats here."""
    if not response.content:
        return parse_json(response, where, maybe_applied=write)
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return parse_json(response, where, maybe_applied=write)


def _minor(value: Any, currency: str) -> int:
    return Money.parse(Decimal(str(value)), currency).minor if value is not None else 0


class MedusaStore(CommerceAdapter):
    name: ClassVar[str] = "medusa"
    capabilities: ClassVar[frozenset[str]] = frozenset({base.ORDERS, base.REFUND, base.RETURNS, base.CANCEL})

    def __init__(self, account: base.AccountSpec, secret: str | None = None, driver: base.Driver | None = None) -> None:
        super().__init__(account, secret, driver)
        self.http = HttpClient(account.url or "", what="medusa", timeout=float(account.options.get("timeout", 30.0)))
        self.location: str | None = account.options.get("location")
        self._token: str | None = None

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ HTTP

    async def _login(self) -> str:
        body = await self.http.json("POST", "/auth/user/emailpass", idempotent=True,
                                    json={"email": self.account.user or "", "password": self._secret or ""})
        token = (body or {}).get("token")
        if not token:
            raise AuthError("medusa: the login answered no token")
        self._token = token
        return token

    async def _call(self, method: str, path: str, body: dict | bytes | None = None, **params: Any) -> Any:
        write = method != "GET"
        for attempt in (1, 2):
            token = self._token or await self._login()
            kwargs: dict[str, Any] = {"headers": {"Authorization": f"Bearer {token}"}, "params": params or None}
            if body is not None:
                kwargs["content"] = body if isinstance(body, bytes) else json.dumps(body).encode()
                kwargs["headers"]["Content-Type"] = "application/json"
            try:
                response = await self.http.request(method, path, **kwargs)
            except AuthError:
                if attempt == 2:
                    raise
                self._token = None  # expired: log in again once
                continue
            return _decimal_json(response, f"medusa {method} {path}", write)
        raise AssertionError("unreachable")

    # ------------------------------------------------------------------ reads

    async def verify(self) -> Identity:
        user = (await self._call("GET", "/admin/users/me")).get("user") or {}
        name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p) or user.get("email") or ""
        return Identity(remote_id=user.get("id", ""), name=name, email=user.get("email"), role="admin",
                        mode="Medusa Admin API")

    async def orders_for_customer(self, email: str, numbers: tuple[str, ...] = ()) -> list[OrderRecord]:
        ids: list[str] = []
        if email.strip():
            found = await self._call("GET", "/admin/orders", q=email.strip(), fields="id,email,display_id", limit=50,
                                     order="-created_at")
            ids += [o["id"] for o in found.get("orders") or [] if (o.get("email") or "").lower() == email.strip().lower()]
        for number in numbers:
            digits = number.strip().lstrip("#")
            if digits.isdigit():
                found = await self._call("GET", "/admin/orders", q=digits, fields="id,display_id", limit=50)
                ids += [o["id"] for o in found.get("orders") or [] if str(o.get("display_id")) == digits]
        orders = [await self.get_order(order_id) for order_id in dict.fromkeys(ids)]
        return sorted(orders, key=lambda o: o.created_at, reverse=True)

    async def get_order(self, order_remote_id: str) -> OrderRecord:
        order, returns = await self._raw(order_remote_id)
        return order_record(order, returns)

    async def _raw(self, order_id: str | None) -> tuple[dict, list[dict]]:
        if not order_id:
            raise NotFound("medusa: no order given")
        order = (await self._call("GET", f"/admin/orders/{order_id}", fields=ORDER_FIELDS)).get("order")
        if not order:
            raise NotFound(f"Medusa has no order {order_id}")
        returns = (await self._call("GET", "/admin/returns", order_id=order_id, fields=RETURN_FIELDS,
                                    limit=50)).get("returns") or []
        return order, returns

    # ------------------------------------------------------------------ actions

    async def apply(self, action: Action) -> ActionResult:
        handler = {"refund": self._refund, "return_create": self._return_create,
                   "return_receive": self._return_receive, "cancel": self._cancel}.get(action.kind)
        if action.kind in ("return_approve", "return_decline"):
            raise RejectedError("Medusa has no customer return requests to approve or decline: a return made"
                                " here is requested at once")
        if handler is None:
            raise RejectedError(f"medusa cannot {action.kind}")
        return await handler(action)

    async def find_applied(self, action: Action) -> ActionResult | None:
        order, returns = await self._raw(action.order_remote_id)
        record = order_record(order, returns)
        found = None
        if action.kind == "refund":
            found = next((r.remote_id for r in record.refunds if r.idempotency_key == action.idempotency_key), None)
        elif action.kind == "return_create":
            ret = _tagged_return(returns, action.idempotency_key)
            found = ret["id"] if ret and ret.get("status") in ("requested", "received", "partially_received") else None
        elif action.kind == "return_receive":
            ret = next((r for r in returns if r["id"] == action.payload.get("return")), None)
            found = ret["id"] if ret and ret.get("status") == "received" else None
        elif action.kind == "cancel":
            found = order["id"] if order.get("canceled_at") or order.get("status") == "canceled" else None
        return ActionResult(remote_id=found, order=record, detail="already applied") if found else None

    async def _refund(self, action: Action) -> ActionResult:
        order, returns = await self._raw(action.order_remote_id)
        record = order_record(order, returns)
        earlier = next((r for r in record.refunds if r.idempotency_key == action.idempotency_key), None)
        if earlier is not None:
            return ActionResult(remote_id=earlier.remote_id, order=record, detail="already refunded")
        p = action.payload
        amount = priced_refund(record, p)
        payment = _refund_payment(order, record.currency, amount)
        note = f"csconsole: {p.get('reason') or 'refund'}" + (f" - {p['note']}" if p.get("note") else "")
        answer = await self._call("POST", f"/admin/payments/{payment}/refund",
                                  refund_body(Money(amount, record.currency), tagged(note, action.idempotency_key)))
        made = next((r for r in (answer.get("payment") or {}).get("refunds") or []
                     if tag_of(r.get("note")) == action.idempotency_key), {})
        return ActionResult(remote_id=made.get("id"), order=await self.get_order(order["id"]),
                            detail=f"refunded {format_minor(amount, record.currency)}")

    async def _return_create(self, action: Action) -> ActionResult:
        order, returns = await self._raw(action.order_remote_id)
        p = action.payload
        lines = {line["id"]: line for line in order.get("items") or []}
        items = []
        for want in p.get("lines") or []:
            if want.get("line") not in lines or int(want.get("quantity") or 0) < 1:
                raise RejectedError(f"order #{order.get('display_id')} has no line {want.get('line')} to return")
            items.append({"id": want["line"], "quantity": int(want["quantity"])})
        if not items:
            raise RejectedError("a return needs at least one line")
        ret = _tagged_return(returns, action.idempotency_key)
        if ret is None:
            location = self.location or await self._default_location()
            metadata = {KEY: action.idempotency_key, "reason": p.get("reason"), "note": p.get("note") or ""}
            ret = (await self._call("POST", "/admin/returns", {"order_id": order["id"], "location_id": location,
                                                                "metadata": metadata}))["return"]
        if ret.get("status") not in ("requested", "received", "partially_received"):
            if not ret.get("items"):
                await self._call("POST", f"/admin/returns/{ret['id']}/request-items", {"items": items})
            await self._call("POST", f"/admin/returns/{ret['id']}/request", {})
        return ActionResult(remote_id=ret["id"], order=await self.get_order(order["id"]), detail="return requested")

    async def _return_receive(self, action: Action) -> ActionResult:
        order, returns = await self._raw(action.order_remote_id)
        ret = next((r for r in returns if r["id"] == action.payload.get("return")), None)
        if ret is None:
            raise NotFound(f"order #{order.get('display_id')} has no return {action.payload.get('return')}")
        if ret.get("status") != "received":
            items = [{"id": i["item_id"], "quantity": int(i["quantity"])} for i in ret.get("items") or []]
            await self._call("POST", f"/admin/returns/{ret['id']}/receive", {})
            await self._call("POST", f"/admin/returns/{ret['id']}/receive-items", {"items": items})
            await self._call("POST", f"/admin/returns/{ret['id']}/receive/confirm", {})
        return ActionResult(remote_id=ret["id"], order=await self.get_order(order["id"]), detail="return received")

    async def _cancel(self, action: Action) -> ActionResult:
        if action.payload.get("reason") not in CANCEL_REASONS:
            raise RejectedError(f"unknown cancel reason {action.payload.get('reason')!r}")
        await self._call("POST", f"/admin/orders/{action.order_remote_id}/cancel", {})
        return ActionResult(remote_id=action.order_remote_id, order=await self.get_order(action.order_remote_id or ""),
                            detail="cancelled")

    async def _default_location(self) -> str:
        stores = (await self._call("GET", "/admin/stores", fields="id,default_location_id")).get("stores") or []
        location = next((s.get("default_location_id") for s in stores if s.get("default_location_id")), None)
        if not location:
            raise RejectedError("the Medusa store has no default location: set the account's options.location")
        return location


def refund_body(amount: Money, note: str) -> bytes:
    """The refund request with the amount as a JSON decimal literal (72.50), never through a float."""
    return f'{{"amount": {amount.amount_str()}, "note": {json.dumps(note)}}}'.encode()


def priced_refund(order: OrderRecord, payload: dict) -> int:
    """The refund's total from the order's own prices; refused unless it is what was confirmed and refundable."""
    if payload.get("currency") != order.currency:
        raise RejectedError(f"the refund is in {payload.get('currency')} but order {order.number} is in {order.currency}")
    lines = {line.remote_id: line for line in order.lines}
    total = 0
    for want in payload.get("lines") or []:
        line = lines.get(want.get("line"))
        quantity = int(want.get("quantity") or 0)
        if line is None or quantity < 0 or quantity > line.quantity:
            raise RejectedError(f"order {order.number} has no {quantity} of line {want.get('line')} to refund")
        total += line.unit_price * quantity
    shipping = int(payload.get("shipping") or 0)
    if not 0 <= shipping <= order.shipping:
        raise RejectedError(f"at most {format_minor(order.shipping, order.currency)} of shipping can be refunded")
    total += shipping
    if total <= 0 or total != payload.get("amount"):
        raise RejectedError(f"the lines and shipping come to {format_minor(total, order.currency)}, not the"
                            f" {format_minor(int(payload.get('amount') or 0), order.currency)} that was confirmed;"
                            " nothing was refunded")
    left = order.paid - order.refunded
    if total > left:
        raise RejectedError(f"{format_minor(total, order.currency)} is more than the"
                            f" {format_minor(left, order.currency)} still refundable on {order.number}; nothing was refunded")
    return total


def _refund_payment(order: dict, currency: str, amount: int) -> str:
    for collection in order.get("payment_collections") or []:
        for payment in collection.get("payments") or []:
            captured = sum(_minor(c.get("amount"), currency) for c in payment.get("captures") or [])
            refunded = sum(_minor(r.get("amount"), currency) for r in payment.get("refunds") or [])
            if captured - refunded >= amount:
                return payment["id"]
    raise RejectedError(f"no single captured payment can take a refund of {format_minor(amount, currency)}")


def _tagged_return(returns: list[dict], key: str) -> dict | None:
    return next((r for r in returns if (r.get("metadata") or {}).get(KEY) == key and r.get("status") != "canceled"),
                None)


def order_record(order: dict, returns: list[dict]) -> OrderRecord:
    currency = str(order.get("currency_code") or "").upper()
    created = timestamp(order.get("created_at")) or 0
    payments, refunds = [], []
    for collection in order.get("payment_collections") or []:
        for p in collection.get("payments") or []:
            captures = p.get("captures") or []
            payments.append(PaymentRecord(
                remote_id=p["id"], kind="capture" if captures else "authorization", amount=_minor(p.get("amount"), currency),
                currency=currency, status="failure" if p.get("canceled_at") else "success" if captures else "pending",
                created_at=timestamp(p.get("created_at")) or created, gateway=p.get("provider_id")))
            for r in p.get("refunds") or []:
                refunds.append(RefundRecord(remote_id=r["id"], amount=_minor(r.get("amount"), currency), currency=currency,
                                            created_at=timestamp(r.get("created_at")) or created,
                                            note=untagged(r.get("note")), idempotency_key=tag_of(r.get("note"))))
    paid = sum(_minor(c.get("amount"), currency) for collection in order.get("payment_collections") or []
               for p in collection.get("payments") or [] for c in p.get("captures") or [])
    returned: dict[str, int] = {}
    return_records = []
    for r in returns:
        items = tuple((i["item_id"], int(i.get("quantity") or 0)) for i in r.get("items") or [])
        if r.get("status") != "canceled":
            for item_id, quantity in items:
                returned[item_id] = returned.get(item_id, 0) + quantity
        return_records.append(ReturnRecord(
            remote_id=r["id"], status=RETURN_STATUS.get(r.get("status") or "", str(r.get("status"))),
            created_at=timestamp(r.get("created_at")) or created, lines=items,
            reason=(r.get("metadata") or {}).get("reason"), note=(r.get("metadata") or {}).get("note") or None))
    lines = []
    for item in order.get("items") or []:
        unit = _minor(item.get("unit_price"), currency)
        quantity = int(item.get("quantity") or 0)
        detail = item.get("detail") or {}
        lines.append(LineRecord(
            remote_id=item["id"], title=item.get("product_title") or item.get("title") or "", quantity=quantity,
            unit_price=unit, total=unit * quantity, sku=item.get("variant_sku"), variant=item.get("variant_title"),
            fulfilled_quantity=int(detail.get("fulfilled_quantity") or 0), returned_quantity=returned.get(item["id"], 0)))
    fulfillments = tuple(FulfillmentRecord(
        remote_id=f["id"], status="delivered" if f.get("delivered_at") else "in_transit" if f.get("shipped_at") else "pending",
        tracking_number=next((label.get("tracking_number") for label in f.get("labels") or []), None),
        shipped_at=timestamp(f.get("shipped_at") or f.get("created_at")), delivered_at=timestamp(f.get("delivered_at")),
        lines=tuple((i.get("line_item_id"), int(i.get("quantity") or 0)) for i in f.get("items") or []))
        for f in order.get("fulfillments") or [])
    customer = order.get("customer") or None
    cancelled = timestamp(order.get("canceled_at"))
    return OrderRecord(
        remote_id=order["id"], number=f"#{order.get('display_id')}", currency=currency, created_at=created,
        financial_status=FINANCIAL.get(order.get("payment_status") or "", str(order.get("payment_status"))),
        fulfillment_status="cancelled" if cancelled or order.get("status") == "canceled"
        else FULFILLMENT.get(order.get("fulfillment_status") or "", str(order.get("fulfillment_status"))),
        email=order.get("email"),
        customer=PersonRecord(customer["id"], " ".join(p for p in (customer.get("first_name"), customer.get("last_name"))
                                                       if p), customer.get("email")) if customer else None,
        subtotal=_minor(order.get("item_subtotal", order.get("subtotal")), currency),
        shipping=_minor(order.get("shipping_total"), currency), tax=_minor(order.get("tax_total"), currency),
        discount=_minor(order.get("discount_total"), currency), total=_minor(order.get("total"), currency), paid=paid,
        refunded=sum(r.amount for r in refunds), cancelled_at=cancelled, lines=tuple(lines), payments=tuple(payments),
        refunds=tuple(refunds), fulfillments=fulfillments, returns=tuple(return_records))
