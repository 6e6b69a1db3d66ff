"""A stateful fake of Shopify's Admin GraphQL endpoint, served by FakeServer on loopback.

It reproduces what ../shared/reference/api-contracts.md §5 documents (its tags say how sure
that is), so the adapter is tested against behaviour, not against canned strings:

- POST /admin/api/{version}/graphql.json with X-Shopify-Access-Token; a bad token is a 401
  with Shopify's non-GraphQL body; X-Shopify-API-Version names the version served.
- Documents are parsed with graphql-core and answered field by field: only what a document
  selects comes back (aliases, fragments and inline fragments honoured), and a field this
  fake does not model is an "undefinedField" error, so the adapter cannot rely on fields the
  fixtures do not have. Money amounts are decimal strings as Ruby prints them ("20.0").
- Every answer carries extensions.cost. The requested cost is computed from the document
  (objects 1, a field with ``first`` 2 + first × its node, a mutation 10), the bucket leaks
  back at restoreRate, and a request the bucket cannot hold is THROTTLED (HTTP 200, or 429
  when ``throttle_status`` says so) without being executed.
- Orders: search by ``email:`` / ``name:`` terms joined with OR; only the last 60 days unless
  the app has read_all_orders. suggestedRefund prices lines, tax and shipping and splits the
  sum over the paid transactions; refundCreate needs @idempotent: the same key answers the
  original result without a second refund, the same key with other input is an
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH error [U: code from Shopify's idempotency docs as quoted
  by third parties], and over-refunds are userErrors with HTTP 200. Returns move through
  REQUESTED → OPEN / DECLINED → CLOSED (returnProcess of every line closes a return);
  orderCancel answers a job that finishes after ``cancel_polls`` looks.

Test hooks: ``delay_next(field, seconds)`` applies the next such mutation and then answers
too late (a lost answer); ``fail_next(field, reply)`` answers it with ``reply`` without
running it; ``clock``/``now`` can be replaced.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, parse
from graphql.language import FieldNode, FragmentDefinitionNode, FragmentSpreadNode, OperationDefinitionNode
from graphql.utilities import value_from_ast_untyped

from csconsole.money import Money, exponent
from tests.fakes.server import FakeServer, Reply, Request

SUPPORTED_VERSIONS = ("2026-01", "2026-04", "2026-07", "2026-10", "2027-01")
LOCATION = "gid://shopify/Location/1"
DAY = 86400
INVALID_TOKEN = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


class Fail(Exception):
    """A top-level GraphQL error."""

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.body = {"message": message, "extensions": {"code": code}}


# ----------------------------------------------------------------------------- state


@dataclass
class Line:
    id: str
    title: str
    quantity: int
    price: int
    tax: int = 0
    """Tax per unit, in minor units."""
    sku: str | None = None


@dataclass
class Txn:
    id: str
    kind: str
    amount: int
    created: int
    status: str = "SUCCESS"
    gateway: str = "shopify_payments"
    parent: str | None = None


@dataclass
class Fulfillment:
    id: str
    created: int
    lines: list[tuple[str, str, int]]
    """(fulfillment line item id, line id, quantity)."""
    tracking: tuple[str, str, str] | None = ("1Z999", "https://track.example/1Z999", "UPS")
    status: str = "SUCCESS"
    display: str = "DELIVERED"


@dataclass
class Refund:
    id: str
    created: int
    note: str | None
    lines: list[tuple[str, int, int, int, str, str | None]]
    """(line id, quantity, subtotal, tax, restockType, location id)."""
    shipping: int
    transactions: list[Txn]

    @property
    def total(self) -> int:
        return sum(t.amount for t in self.transactions)


@dataclass
class ReturnLine:
    id: str
    fli: str
    line: str
    quantity: int
    reason: str
    note: str | None = None
    customer_note: str | None = None
    processed: int = 0


@dataclass
class Return:
    id: str
    name: str
    status: str
    created: int
    lines: list[ReturnLine]
    decline: dict[str, Any] | None = None


@dataclass
class Order:
    id: str
    name: str
    email: str
    created: int
    currency: str
    lines: list[Line]
    shipping: int
    customer: str = "Jane Doe"
    fulfillments: list[Fulfillment] = field(default_factory=list)
    transactions: list[Txn] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    returns: list[Return] = field(default_factory=list)
    cancelled_at: int | None = None
    cancel_reason: str | None = None
    staff_note: str | None = None

    def line(self, line_id: str) -> Line | None:
        return next((x for x in self.lines if x.id == line_id), None)

    def refunded_quantity(self, line_id: str) -> int:
        return sum(q for r in self.refunds for lid, q, *_ in r.lines if lid == line_id)

    @property
    def subtotal(self) -> int:
        return sum(x.price * x.quantity for x in self.lines)

    @property
    def tax(self) -> int:
        return sum(x.tax * x.quantity for x in self.lines)

    @property
    def total(self) -> int:
        return self.subtotal + self.tax + self.shipping

    @property
    def paid(self) -> int:
        return sum(t.amount for t in self.transactions if t.kind in ("SALE", "CAPTURE") and t.status == "SUCCESS")

    @property
    def refunded(self) -> int:
        return sum(r.total for r in self.refunds)

    @property
    def shipping_refunded(self) -> int:
        return sum(r.shipping for r in self.refunds)

    def refundable_on(self, txn: Txn) -> int:
        return txn.amount - sum(t.amount for r in self.refunds for t in r.transactions if t.parent == txn.id)

    def fulfillment_line(self, fli: str) -> tuple[str, int] | None:
        for f in self.fulfillments:
            for fid, line_id, qty in f.lines:
                if fid == fli and f.status == "SUCCESS":
                    return line_id, qty
        return None


@dataclass
class CancelJob:
    order: Order
    reason: str
    refund: bool
    restock: bool
    note: str | None
    looks_left: int
    done: bool = False


# ----------------------------------------------------------------------------- values


def amount(minor: int, currency: str) -> str:
    """Decimal strings as Shopify prints them: '24.95', '20.0', '59.9'."""
    text = f"{Decimal(minor).scaleb(-exponent(currency)):f}"
    if "." not in text:
        return text + ".0"
    text = text.rstrip("0")
    return text + "0" if text.endswith(".") else text


def iso(ts: int | None) -> str | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def obj(typename: str, **fields: Any) -> dict[str, Any]:
    return {"__typename": typename, **fields}


class Resolve:
    """A field value that depends on the field's arguments (connections, lists with first)."""

    def __init__(self, fn: Callable[[dict[str, Any]], Any]) -> None:
        self.fn = fn


def connection(items: list[dict]) -> Resolve:
    def page(args: dict[str, Any]) -> dict:
        start = int(args.get("after") or 0)
        first = int(args.get("first") or 250)
        chunk = items[start:start + first]
        more = start + first < len(items)
        return obj("Connection", nodes=chunk,
                   edges=[obj("Edge", node=n, cursor=str(start + i + 1)) for i, n in enumerate(chunk)],
                   pageInfo=obj("PageInfo", hasNextPage=more, endCursor=str(start + len(chunk)) if chunk else None))
    return Resolve(page)


def many(items: list[dict]) -> Resolve:
    return Resolve(lambda args: items[: int(args["first"])] if args.get("first") is not None else items)


# ----------------------------------------------------------------------------- the fake


class ShopifyFake:
    def __init__(self, server: FakeServer, *, token: str = "shpat_fake_token_0123456789", now: float | None = None,
                 scopes: tuple[str, ...] = ("read_orders", "write_orders", "read_returns", "write_returns"),
                 maximum: float = 2000.0, restore_rate: float = 100.0) -> None:
        self.server = server
        self.token = token
        self.now = int(now if now is not None else time.time())
        self.scopes = set(scopes)
        self.clock: Callable[[], float] = time.monotonic
        self.maximum, self.restore_rate = maximum, restore_rate
        self.available, self.filled_at = maximum, self.clock()
        self.throttle_status = 200
        self.cancel_polls = 2
        self.refund_status = "SUCCESS"
        self.orders: dict[str, Order] = {}
        self.idempotency: dict[str, tuple[str, str]] = {}
        self.jobs: dict[str, CancelJob] = {}
        self.operations: list[tuple[str, dict[str, Any]]] = []
        """(root field, arguments) of every executed field, in order."""
        self.throttled = 0
        self.lock = threading.RLock()
        self._ids = itertools.count(5600000000001)
        self._delays: dict[str, float] = {}
        self._fails: dict[str, Reply] = {}
        server.route("POST", r"/admin/api/([^/]+)/graphql\.json", self.handle)

    @property
    def url(self) -> str:
        return self.server.url

    def gid(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self._ids)}"

    # -- building orders

    def add_order(self, *, email: str = "jane@example.com", lines: list[tuple[str, int, int]] | None = None,
                  shipping: int = 495, tax: int = 0, fulfilled: bool | list[int] = True, days_ago: float = 3,
                  currency: str = "EUR", name: str | None = None, split: bool = False) -> Order:
        """An order paid in full. ``lines`` are (title, quantity, unit price); ``tax`` is per unit;
        ``fulfilled`` ships everything, nothing, or the given quantity per line; ``split`` ships
        each line in two parcels."""
        created = int(self.now - days_ago * DAY)
        number = 1001 + len(self.orders)
        order = Order(id=self.gid("Order"), name=name or f"#{number}", email=email, created=created,
                      currency=currency, shipping=shipping,
                      lines=[Line(self.gid("LineItem"), title, qty, price, tax, f"SKU-{i}")
                             for i, (title, qty, price) in enumerate(lines or [("Canvas Tote", 2, 2495)])])
        order.transactions.append(Txn(self.gid("OrderTransaction"), "SALE", order.total, created))
        shipped = [x.quantity for x in order.lines] if fulfilled is True else ([0] * len(order.lines) if not fulfilled
                                                                                 else list(fulfilled))
        parcels: list[list[tuple[str, str, int]]] = [[], []]
        for line, qty in zip(order.lines, shipped, strict=True):
            if qty and split and qty > 1:
                parcels[0].append((self.gid("FulfillmentLineItem"), line.id, qty - 1))
                parcels[1].append((self.gid("FulfillmentLineItem"), line.id, 1))
            elif qty:
                parcels[0].append((self.gid("FulfillmentLineItem"), line.id, qty))
        for parcel in parcels:
            if parcel:
                order.fulfillments.append(Fulfillment(self.gid("Fulfillment"), created + DAY, parcel))
        self.orders[order.id] = order
        return order

    def visible(self, order: Order) -> bool:
        return "read_all_orders" in self.scopes or order.created >= self.now - 60 * DAY

    # -- test hooks

    def delay_next(self, field_name: str, seconds: float) -> None:
        self._delays[field_name] = seconds

    def fail_next(self, field_name: str, reply: Reply) -> None:
        self._fails[field_name] = reply

    def calls(self, field_name: str) -> list[dict[str, Any]]:
        return [args for name, args in self.operations if name == field_name]

    def drain(self, to: float) -> None:
        with self.lock:
            self.available, self.filled_at = to, self.clock()

    # -- HTTP

    def handle(self, request: Request) -> Reply:
        headers = {k.lower(): v for k, v in request.headers.items()}
        if headers.get("x-shopify-access-token") != self.token:
            return Reply(401, INVALID_TOKEN)
        version = request.match.group(1) if request.match else ""
        served = version if version in SUPPORTED_VERSIONS else SUPPORTED_VERSIONS[0]
        reply_headers = {"X-Shopify-API-Version": served}
        body = request.json() or {}
        try:
            document = parse(body.get("query") or "")
        except GraphQLError as exc:
            return Reply(200, {"errors": [{"message": exc.message, "extensions": {"code": "PARSE_ERROR"}}]},
                         reply_headers)
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        variables = body.get("variables") or {}
        roots = [s for s in operation.selection_set.selections if isinstance(s, FieldNode)]
        for root in roots:
            if root.name.value in self._fails:
                return self._fails.pop(root.name.value)
        mutation = operation.operation.value == "mutation"
        requested = cost(operation.selection_set.selections, fragments, variables) + (10 * len(roots) if mutation else 0)
        delay = 0.0
        with self.lock:
            now = self.clock()
            self.available = min(self.maximum, self.available + (now - self.filled_at) * self.restore_rate)
            self.filled_at = now
            if self.available < requested:
                self.throttled += 1
                return Reply(self.throttle_status, {
                    "errors": [{"message": "Throttled", "extensions": {
                        "code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                    "extensions": self._cost(requested, None)}, reply_headers)
            self.available -= requested
            data: dict[str, Any] = {}
            errors = []
            for root in roots:
                key = root.alias.value if root.alias else root.name.value
                try:
                    data[key] = self._root(root, fragments, variables, mutation)
                except Fail as exc:
                    data[key] = None
                    errors.append(exc.body)
                delay = max(delay, self._delays.pop(root.name.value, 0.0))
            actual = min(requested, count_objects(data) + (10 * len(roots) if mutation else 0))
            self.available = min(self.maximum, self.available + requested - actual)
            answer: dict[str, Any] = {"data": data, "extensions": self._cost(requested, actual)}
            if errors:
                answer["errors"] = errors
        return Reply(200, answer, reply_headers, delay=delay)

    def _cost(self, requested: int, actual: int | None) -> dict:
        return {"cost": {"requestedQueryCost": requested, "actualQueryCost": actual,
                         "throttleStatus": {"maximumAvailable": self.maximum,
                                            "currentlyAvailable": int(self.available),
                                            "restoreRate": self.restore_rate}}}

    def _root(self, node: FieldNode, fragments: dict, variables: dict, mutation: bool) -> Any:
        name = node.name.value
        args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments}
        resolver = getattr(self, ("m_" if mutation else "q_") + name, None)
        if resolver is None:
            raise Fail(f"Field '{name}' doesn't exist on type '{'Mutation' if mutation else 'QueryRoot'}'",
                       "undefinedField")
        self.operations.append((name, args))
        directives = {d.name.value: {a.name.value: value_from_ast_untyped(a.value, variables) for a in d.arguments}
                      for d in node.directives}
        value = resolver(args, directives) if mutation else resolver(args)
        return project(value, node, fragments, variables)

    # -- queries

    def q_shop(self, args: dict) -> dict:
        return obj("Shop", id="gid://shopify/Shop/1", name="Northwind Outfitters", email="owner@northwind.example",
                   myshopifyDomain="northwind.myshopify.com")

    def q_currentAppInstallation(self, args: dict) -> dict:
        return obj("AppInstallation", accessScopes=[obj("AccessScope", handle=s) for s in sorted(self.scopes)])

    def q_orders(self, args: dict) -> dict:
        found = [o for o in self.orders.values() if self.visible(o) and matches(o, args.get("query") or "")]
        found.sort(key=lambda o: o.created, reverse=bool(args.get("reverse")))
        return connection([self.order_view(o) for o in found]).fn(args)

    def q_order(self, args: dict) -> dict | None:
        order = self.orders.get(args.get("id"))
        return self.order_view(order) if order and self.visible(order) else None

    def q_job(self, args: dict) -> dict | None:
        job = self.jobs.get(args.get("id"))
        if job is None:
            return None
        job.looks_left -= 1
        if job.looks_left <= 0 and not job.done:
            self._finish_cancel(job)
        return obj("Job", id=args["id"], done=job.done)

    # -- views

    def bag(self, minor: int, currency: str) -> dict:
        money = obj("MoneyV2", amount=amount(minor, currency), currencyCode=currency)
        return obj("MoneyBag", shopMoney=money, presentmentMoney=money)

    def order_view(self, o: Order) -> dict:
        c = o.currency
        refunded, paid = o.refunded, o.paid
        financial = ("VOIDED" if o.cancelled_at and not paid else "REFUNDED" if refunded and refunded >= paid
                     else "PARTIALLY_REFUNDED" if refunded else "PAID")
        shipped = sum(q for f in o.fulfillments if f.status == "SUCCESS" for *_, q in f.lines)
        ordered = sum(x.quantity for x in o.lines)
        fulfillment = "FULFILLED" if shipped >= ordered else "PARTIALLY_FULFILLED" if shipped else "UNFULFILLED"
        return obj(
            "Order", id=o.id, name=o.name, email=o.email, createdAt=iso(o.created), processedAt=iso(o.created),
            cancelledAt=iso(o.cancelled_at), cancelReason=o.cancel_reason, displayFinancialStatus=financial,
            displayFulfillmentStatus=fulfillment, presentmentCurrencyCode=c,
            customer=obj("Customer", id="gid://shopify/Customer/7", displayName=o.customer,
                         defaultEmailAddress=obj("CustomerEmailAddress", emailAddress=o.email)),
            shippingAddress=obj("MailingAddress", formatted=[o.customer, "1 Harbour Road", "Bristol BS1 4DJ",
                                                             "United Kingdom"]),
            subtotalPriceSet=self.bag(o.subtotal, c), totalShippingPriceSet=self.bag(o.shipping, c),
            totalTaxSet=self.bag(o.tax, c), totalDiscountsSet=self.bag(0, c), totalPriceSet=self.bag(o.total, c),
            currentTotalPriceSet=self.bag(o.total - refunded, c), totalRefundedSet=self.bag(refunded, c),
            lineItems=connection([obj(
                "LineItem", id=x.id, title=x.title, sku=x.sku, variantTitle=None, quantity=x.quantity,
                currentQuantity=x.quantity - o.refunded_quantity(x.id),
                refundableQuantity=x.quantity - o.refunded_quantity(x.id),
                originalUnitPriceSet=self.bag(x.price, c)) for x in o.lines]),
            fulfillments=many([obj(
                "Fulfillment", id=f.id, status=f.status, displayStatus=f.display, createdAt=iso(f.created),
                deliveredAt=iso(f.created + DAY) if f.display == "DELIVERED" else None,
                location=obj("Location", id=LOCATION),
                trackingInfo=[obj("FulfillmentTrackingInfo", number=f.tracking[0], url=f.tracking[1],
                                  company=f.tracking[2])] if f.tracking else [],
                fulfillmentLineItems=connection([obj("FulfillmentLineItem", id=fid, quantity=q,
                                                     lineItem=obj("LineItem", id=lid)) for fid, lid, q in f.lines]))
                for f in o.fulfillments]),
            transactions=many([self.txn_view(t, c) for t in o.transactions]),
            refunds=many([self.refund_view(r, c) for r in o.refunds]),
            returns=connection([self.return_view(r) for r in o.returns]),
            suggestedRefund=Resolve(lambda args: self.suggest(o, args)))

    def txn_view(self, t: Txn, currency: str) -> dict:
        return obj("OrderTransaction", id=t.id, kind=t.kind, status=t.status, gateway=t.gateway, createdAt=iso(t.created),
                   parentTransaction=obj("OrderTransaction", id=t.parent) if t.parent else None,
                   amountSet=self.bag(t.amount, currency))

    def refund_view(self, r: Refund, currency: str) -> dict:
        return obj(
            "Refund", id=r.id, createdAt=iso(r.created), note=r.note, totalRefundedSet=self.bag(r.total, currency),
            refundLineItems=connection([obj(
                "RefundLineItem", lineItem=obj("LineItem", id=lid), quantity=q, restockType=restock,
                location=obj("Location", id=loc) if loc else None, subtotalSet=self.bag(sub, currency),
                totalTaxSet=self.bag(tax, currency)) for lid, q, sub, tax, restock, loc in r.lines]),
            refundShippingLines=connection([obj("RefundShippingLine", subtotalAmountSet=self.bag(r.shipping, currency),
                                                taxAmountSet=self.bag(0, currency))] if r.shipping else []),
            transactions=connection([self.txn_view(t, currency) for t in r.transactions]))

    def return_view(self, r: Return) -> dict:
        return obj(
            "Return", id=r.id, name=r.name, status=r.status, createdAt=iso(r.created),
            totalQuantity=sum(x.quantity for x in r.lines),
            decline=obj("ReturnDecline", **r.decline) if r.decline else None,
            returnLineItems=connection([obj(
                "ReturnLineItem", id=x.id, quantity=x.quantity, processedQuantity=x.processed,
                unprocessedQuantity=x.quantity - x.processed, returnReason=x.reason, returnReasonNote=x.note,
                customerNote=x.customer_note, fulfillmentLineItem=obj("FulfillmentLineItem", id=x.fli, lineItem=obj("LineItem", id=x.line)))
                for x in r.lines]))

    # -- refunds

    def suggest(self, o: Order, args: dict) -> dict:
        c = o.currency
        priced, subtotal, tax = [], 0, 0
        for item in args.get("refundLineItems") or []:
            line = o.line(item.get("lineItemId"))
            if line is None:
                continue
            quantity = max(0, min(int(item.get("quantity") or 0), line.quantity - o.refunded_quantity(line.id)))
            subtotal, tax = subtotal + quantity * line.price, tax + quantity * line.tax
            restock = item.get("restockType") or "NO_RESTOCK"
            location = item.get("locationId") or (LOCATION if restock != "NO_RESTOCK" else None)
            priced.append(obj("RefundLineItem", lineItem=obj("LineItem", id=line.id), quantity=quantity,
                              restockType=restock, location=obj("Location", id=location) if location else None))
        shipping_left = o.shipping - o.shipping_refunded
        asked = Money.parse(args["shippingAmount"], c).minor if args.get("shippingAmount") else 0
        shipping = shipping_left if args.get("refundShipping") else min(asked, shipping_left)
        total = subtotal + tax + shipping
        suggested, left = [], total
        for txn in o.transactions:
            if txn.kind in ("SALE", "CAPTURE") and txn.status == "SUCCESS" and left > 0:
                part = min(left, o.refundable_on(txn))
                if part > 0:
                    suggested.append(obj("SuggestedOrderTransaction", gateway=txn.gateway, kind="SUGGESTED_REFUND",
                                         parentTransaction=obj("OrderTransaction", id=txn.id),
                                         amountSet=self.bag(part, c),
                                         maximumRefundableSet=self.bag(o.refundable_on(txn), c)))
                    left -= part
        return obj("SuggestedRefund", amountSet=self.bag(total, c), subtotalSet=self.bag(subtotal, c),
                   totalTaxSet=self.bag(tax, c), maximumRefundableSet=self.bag(o.paid - o.refunded, c),
                   refundLineItems=priced,
                   shipping=obj("ShippingRefund", amountSet=self.bag(shipping, c),
                                maximumRefundableSet=self.bag(shipping_left, c)),
                   suggestedTransactions=suggested)

    def m_refundCreate(self, args: dict, directives: dict) -> dict:
        key = (directives.get("idempotent") or {}).get("key")
        if not key or not str(key).strip():
            raise Fail("refundCreate requires the @idempotent directive with a non-empty key", "BAD_REQUEST")
        data = args.get("input") or {}
        fingerprint = json.dumps(data, sort_keys=True)
        if key in self.idempotency:
            seen, refund_id = self.idempotency[key]
            if seen != fingerprint:
                raise Fail("The same idempotency key cannot be used with different operation parameters",
                           "IDEMPOTENCY_KEY_PARAMETER_MISMATCH")
            order = next(o for o in self.orders.values() if any(r.id == refund_id for r in o.refunds))
            refund = next(r for r in order.refunds if r.id == refund_id)
            return self._refund_payload(order, refund, [])
        order = self.orders.get(data.get("orderId"))
        errors = self._refund_errors(order, data)
        if errors or order is None:
            return obj("RefundCreatePayload", refund=None, order=None, userErrors=errors)
        refund = self._make_refund(order, data)
        self.idempotency[key] = (fingerprint, refund.id)
        return self._refund_payload(order, refund, [])

    def _refund_payload(self, order: Order, refund: Refund, errors: list) -> dict:
        return obj("RefundCreatePayload", refund=self.refund_view(refund, order.currency), order=self.order_view(order),
                   userErrors=errors)

    def _refund_errors(self, order: Order | None, data: dict) -> list[dict]:
        def error(path: list[str], message: str) -> dict:
            return obj("UserError", field=path, message=message)

        if order is None or not self.visible(order):
            return [error(["orderId"], "Order does not exist")]
        c = order.currency
        if data.get("currency") and data["currency"] != c:
            return [error(["currency"], f"Currency must match the order's presentment currency {c}")]
        out = []
        for i, item in enumerate(data.get("refundLineItems") or []):
            line = order.line(item.get("lineItemId"))
            if line is None:
                out.append(error(["refundLineItems", str(i), "lineItemId"], "Line item does not exist"))
            elif int(item.get("quantity") or 0) > line.quantity - order.refunded_quantity(line.id):
                out.append(error(["refundLineItems", str(i), "quantity"],
                                 "Quantity cannot refund more items than were purchased"))
            elif (item.get("restockType") or "NO_RESTOCK") != "NO_RESTOCK" and not item.get("locationId"):
                out.append(error(["refundLineItems", str(i), "locationId"], "Location must be specified when restocking"))
        shipping = Money.parse(data["shipping"]["amount"], c).minor if (data.get("shipping") or {}).get("amount") else 0
        if shipping > order.shipping - order.shipping_refunded:
            out.append(error(["shipping", "amount"], "Shipping amount cannot exceed the refundable shipping"))
        total = 0
        for i, t in enumerate(data.get("transactions") or []):
            parent = next((x for x in order.transactions if x.id == t.get("parentId")), None)
            value = Money.parse(t.get("amount") or "0", c).minor
            total += value
            if parent is None or parent.kind not in ("SALE", "CAPTURE") or parent.status != "SUCCESS":
                out.append(error(["transactions", str(i), "parentId"], "Parent transaction is not refundable"))
            elif value > order.refundable_on(parent) and not data.get("allowOverRefunding"):
                out.append(error(["transactions", str(i), "amount"], "Amount cannot exceed the refundable amount"))
        if total > order.paid - order.refunded and not data.get("allowOverRefunding"):
            out.append(error(["transactions"], "Amount cannot exceed the refundable amount"))
        return out

    def _make_refund(self, order: Order, data: dict) -> Refund:
        c = order.currency
        lines = []
        for item in data.get("refundLineItems") or []:
            line = order.line(item["lineItemId"])
            q = int(item["quantity"])
            lines.append((line.id, q, q * line.price, q * line.tax, item.get("restockType") or "NO_RESTOCK",
                          item.get("locationId")))
        txns = [Txn(self.gid("OrderTransaction"), "REFUND", Money.parse(t["amount"], c).minor, self.now,
                    status=self.refund_status, gateway=t.get("gateway") or "manual", parent=t.get("parentId"))
                for t in data.get("transactions") or []]
        shipping = Money.parse(data["shipping"]["amount"], c).minor if (data.get("shipping") or {}).get("amount") else 0
        refund = Refund(self.gid("Refund"), self.now, data.get("note"), lines, shipping, txns)
        order.refunds.append(refund)
        order.transactions.extend(txns)
        return refund

    # -- returns

    def _return_payload(self, ret: Return | None, errors: list[dict], typename: str) -> dict:
        return obj(typename, userErrors=errors, **{"return": self.return_view(ret) if ret else None})

    @staticmethod
    def _error(path: list[str], message: str, code: str) -> dict:
        return obj("ReturnUserError", field=path, message=message, code=code)

    def _new_return(self, data: dict, status: str, typename: str) -> dict:
        order = self.orders.get(data.get("orderId"))
        if order is None or not self.visible(order):
            return self._return_payload(None, [self._error(["orderId"], "Order does not exist.", "NOT_FOUND")], typename)
        held: dict[str, int] = {}
        for r in order.returns:
            if r.status in ("REQUESTED", "OPEN", "CLOSED"):
                for x in r.lines:
                    held[x.fli] = held.get(x.fli, 0) + x.quantity
        errors, lines = [], []
        for i, item in enumerate(data.get("returnLineItems") or []):
            where = ["returnLineItems", str(i)]
            shipped = order.fulfillment_line(item.get("fulfillmentLineItemId"))
            quantity = int(item.get("quantity") or 0)
            if shipped is None:
                errors.append(self._error(where + ["fulfillmentLineItemId"], "Fulfillment line item does not exist.",
                                          "NOT_FOUND"))
            elif quantity < 1 or quantity + held.get(item["fulfillmentLineItemId"], 0) > shipped[1]:
                errors.append(self._error(where + ["quantity"], "Quantity is not returnable.", "INVALID"))
            elif item.get("returnReason") == "OTHER" and not item.get("returnReasonNote") and status == "OPEN":
                errors.append(self._error(where + ["returnReasonNote"], "Return reason note is required for OTHER.",
                                          "BLANK"))
            else:
                held[item["fulfillmentLineItemId"]] = held.get(item["fulfillmentLineItemId"], 0) + quantity
                lines.append(ReturnLine(self.gid("ReturnLineItem"), item["fulfillmentLineItemId"], shipped[0], quantity,
                                        item.get("returnReason") or "UNKNOWN", item.get("returnReasonNote"),
                                        item.get("customerNote")))
        if errors or not lines:
            return self._return_payload(None, errors or [self._error(["returnLineItems"], "A return needs line items.",
                                                                     "BLANK")], typename)
        ret = Return(self.gid("Return"), f"{order.name}-R{len(order.returns) + 1}", status, self.now, lines)
        order.returns.append(ret)
        return self._return_payload(ret, [], typename)

    def _find_return(self, return_id: str | None) -> Return | None:
        return next((r for o in self.orders.values() for r in o.returns if r.id == return_id), None)

    def m_returnRequest(self, args: dict, directives: dict) -> dict:
        return self._new_return(args.get("input") or {}, "REQUESTED", "ReturnRequestPayload")

    def m_returnCreate(self, args: dict, directives: dict) -> dict:
        return self._new_return(args.get("returnInput") or {}, "OPEN", "ReturnCreatePayload")

    def m_returnApproveRequest(self, args: dict, directives: dict) -> dict:
        ret = self._find_return((args.get("input") or {}).get("id"))
        if ret is None or ret.status != "REQUESTED":
            return self._return_payload(None, [self._error(["input", "id"], "Return is not approvable. Only returns"
                                                           " with status REQUESTED can be approved.", "INVALID_STATE")],
                                        "ReturnApproveRequestPayload")
        ret.status = "OPEN"
        return self._return_payload(ret, [], "ReturnApproveRequestPayload")

    def m_returnDeclineRequest(self, args: dict, directives: dict) -> dict:
        data = args.get("input") or {}
        ret = self._find_return(data.get("id"))
        if ret is None or ret.status != "REQUESTED":
            return self._return_payload(None, [self._error(["input", "id"], "Return is not declinable. Only returns"
                                                           " with status REQUESTED can be declined.", "INVALID_STATE")],
                                        "ReturnDeclineRequestPayload")
        if len(data.get("declineNote") or "") > 500:
            return self._return_payload(None, [self._error(["input", "declineNote"], "Decline note is too long.",
                                                           "TOO_LONG")], "ReturnDeclineRequestPayload")
        ret.status = "DECLINED"
        ret.decline = {"reason": data.get("declineReason"), "note": data.get("declineNote")}
        return self._return_payload(ret, [], "ReturnDeclineRequestPayload")

    def m_returnProcess(self, args: dict, directives: dict) -> dict:
        data = args.get("input") or {}
        if data.get("financialTransfer"):
            raise Fail("this fake does not model financialTransfer on returnProcess", "NOT_MODELLED")
        ret = self._find_return(data.get("returnId"))
        if ret is None or ret.status != "OPEN":
            return self._return_payload(None, [self._error(["input", "returnId"], "Return is not processable.",
                                                           "INVALID_STATE")], "ReturnProcessPayload")
        for i, item in enumerate(data.get("returnLineItems") or []):
            line = next((x for x in ret.lines if x.id == item.get("id")), None)
            if line is None or int(item.get("quantity") or 0) > line.quantity - line.processed:
                return self._return_payload(None, [self._error(["input", "returnLineItems", str(i), "quantity"],
                                                               "Quantity exceeds the unprocessed quantity.", "INVALID")],
                                            "ReturnProcessPayload")
        for item in data.get("returnLineItems") or []:
            next(x for x in ret.lines if x.id == item["id"]).processed += int(item["quantity"])
        if all(x.processed == x.quantity for x in ret.lines):
            ret.status = "CLOSED"
        return self._return_payload(ret, [], "ReturnProcessPayload")

    # -- cancel

    def m_orderCancel(self, args: dict, directives: dict) -> dict:
        order = self.orders.get(args.get("orderId"))

        def refused(message: str, code: str) -> dict:
            problem = obj("OrderCancelUserError", field=["orderId"], message=message, code=code)
            return obj("OrderCancelPayload", job=None, orderCancelUserErrors=[problem], userErrors=[problem])

        if order is None or not self.visible(order):
            return refused("Order does not exist", "NOT_FOUND")
        if order.cancelled_at or any(j.order is order and not j.done for j in self.jobs.values()):
            return refused("Order has already been cancelled", "INVALID")
        if any(f.status == "SUCCESS" for f in order.fulfillments):
            return refused("Cannot cancel an order that has been fulfilled", "INVALID")
        job_id = f"gid://shopify/Job/{uuid.uuid4()}"
        method = args.get("refundMethod") or {}
        self.jobs[job_id] = CancelJob(order, args["reason"], bool(method.get("originalPaymentMethodsRefund")),
                                      bool(args.get("restock")), args.get("staffNote"), self.cancel_polls)
        return obj("OrderCancelPayload", job=obj("Job", id=job_id, done=False), orderCancelUserErrors=[], userErrors=[])

    def _finish_cancel(self, job: CancelJob) -> None:
        order = job.order
        order.cancelled_at, order.cancel_reason, order.staff_note = self.now, job.reason, job.note
        if job.refund and order.paid > order.refunded:
            restock = "CANCEL" if job.restock else "NO_RESTOCK"
            lines = [{"lineItemId": x.id, "quantity": x.quantity - order.refunded_quantity(x.id), "restockType": restock,
                      "locationId": LOCATION if job.restock else None}
                     for x in order.lines if x.quantity > order.refunded_quantity(x.id)]
            txns = [{"parentId": t.id, "gateway": t.gateway, "amount": amount(order.refundable_on(t), order.currency)}
                    for t in order.transactions if t.kind in ("SALE", "CAPTURE") and order.refundable_on(t) > 0]
            self._make_refund(order, {"refundLineItems": lines, "transactions": txns, "note": "Order canceled",
                                      "shipping": {"amount": amount(order.shipping - order.shipping_refunded,
                                                                    order.currency)}})
        job.done = True


# ----------------------------------------------------------------------------- documents


def _selections(selections: Any, fragments: dict, typename: str | None) -> list[FieldNode]:
    """The fields selected on an object of ``typename``, fragments expanded."""
    out: list[FieldNode] = []
    for s in selections:
        if isinstance(s, FieldNode):
            out.append(s)
            continue
        fragment = fragments[s.name.value] if isinstance(s, FragmentSpreadNode) else s
        condition = fragment.type_condition.name.value if fragment.type_condition else None
        if typename is None or condition in (None, typename):
            out.extend(_selections(fragment.selection_set.selections, fragments, typename))
    return out


def project(value: Any, node: FieldNode, fragments: dict, variables: dict) -> Any:
    """``value`` cut down to what ``node`` selects, as a GraphQL server answers."""
    args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments}
    if isinstance(value, Resolve):
        value = value.fn(args)
    if value is None or node.selection_set is None:
        return value
    if isinstance(value, list):
        return [_object(v, node, fragments, variables) for v in value]
    return _object(value, node, fragments, variables)


def _object(value: dict, node: FieldNode, fragments: dict, variables: dict) -> dict:
    typename = value.get("__typename")
    out = {}
    for child in _selections(node.selection_set.selections, fragments, typename):
        name = child.name.value
        key = child.alias.value if child.alias else name
        if name not in value:
            raise Fail(f"Field '{name}' doesn't exist on type '{typename}'", "undefinedField")
        out[key] = project(value[name], child, fragments, variables)
    return out


def cost(selections: Any, fragments: dict, variables: dict) -> int:
    """The requested cost of a selection, computed before running it as Shopify does."""
    total = 0
    for node in _selections(selections, fragments, None):
        if node.selection_set is None:
            continue
        args = {a.name.value: value_from_ast_untyped(a.value, variables) for a in node.arguments}
        child = 1 + cost(node.selection_set.selections, fragments, variables)
        total += 2 + int(args["first"]) * child if args.get("first") is not None else child
    return total


def count_objects(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + sum(count_objects(v) for v in value.values())
    if isinstance(value, list):
        return sum(count_objects(v) for v in value)
    return 0


_TERM = re.compile(r'\s*(?:(OR)\b|(\w+):("(?:[^"\\]|\\.)*"|\S+))')


def matches(order: Order, query: str) -> bool:
    """Shopify search terms joined by OR (all this adapter sends); quoted values are literal."""
    pos, hits = 0, []
    while pos < len(query.rstrip()):
        m = _TERM.match(query, pos)
        if m is None:
            return False
        pos = m.end()
        if m.group(1):
            continue
        name, value = m.group(2), m.group(3)
        if value.startswith('"'):
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        hits.append({"email": order.email.lower() == value.lower(), "name": order.name == value}.get(name, False))
    return any(hits)
