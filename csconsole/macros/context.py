"""What a macro template can see for one ticket, read from the cache.

The placeholders are the fields of the dataclasses below (the static check in
templates.py reads them, so a misspelt placeholder is caught when the file is loaded):

    ticket     id, number, subject, status, priority, tags, channel, created_at, fields
    requester  name, first_name, email, locale
    agent      name, first_name, email                        (you, the agent applying it)
    order      the order the ticket is about: one the thread names, else the latest
               (number, dates, money, lines, tracking, refunds, returns, return window...)
    store      name, signature, support_email, discount_code, discount_value  (config)
    policy     return_window_days                                              (config)
    today, locale

The order is only ever one of the requester's own orders: a customer who names someone
else's order number must not get its tracking link or address. Values the ticket has no
data for are ``Missing`` (see templates.py) with the reason, never an empty string.
Customer text is cleaned of control sequences and stays a plain value.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from dataclasses import dataclass
from typing import Any, ClassVar

from csconsole import clock
from csconsole.adapters.base import PRIORITIES
from csconsole.config import Policy, StoreInfo
from csconsole.macros.commerce import returned_quantities
from csconsole.macros.templates import first_name, missing, resolve_locale
from csconsole.money import Money
from csconsole.text import clean_line


@dataclass(frozen=True)
class Settings:
    """What a macro knows beyond the cache: the shop's words and rules, and whether the
    workspace has a store at all (store steps are only offered when it does)."""

    store: StoreInfo
    policy: Policy
    has_store: bool

    @classmethod
    def for_workspace(cls, workspace: Any) -> "Settings":
        return cls(workspace.config.store, workspace.config.policy, bool(workspace.spec.store))


class Amount(Money):
    """Money in a template: false when zero, so ``{% if order.refunded %}`` reads naturally."""

    def __bool__(self) -> bool:
        return self.minor != 0


@dataclass(frozen=True)
class TicketCtx:
    LABEL: ClassVar[str] = "ticket"
    id: int
    number: str
    """The helpdesk's own id of the ticket."""
    subject: str
    status: str
    priority: str
    tags: list[str]
    channel: Any
    created_at: dt.datetime
    fields: dict[str, Any]


@dataclass(frozen=True)
class RequesterCtx:
    LABEL: ClassVar[str] = "requester"
    name: Any
    first_name: Any
    email: Any
    locale: Any


@dataclass(frozen=True)
class AgentCtx:
    LABEL: ClassVar[str] = "agent"
    name: Any
    first_name: Any
    email: Any


@dataclass(frozen=True)
class LineCtx:
    LABEL: ClassVar[str] = "an order line"
    title: str
    variant: Any
    sku: Any
    quantity: int
    unit_price: Amount
    total: Amount
    refunded_quantity: int
    fulfilled_quantity: int
    returned_quantity: int
    description: str
    """'2 × Merino Crew Sweater (Navy / S)'."""


@dataclass(frozen=True)
class RefundCtx:
    LABEL: ClassVar[str] = "a refund"
    amount: Amount
    shipping: Amount
    created_at: dt.datetime
    reason: Any
    items: str


@dataclass(frozen=True)
class ReturnCtx:
    LABEL: ClassVar[str] = "a return"
    status: str
    created_at: dt.datetime
    reason: Any
    items: str


@dataclass(frozen=True)
class OrderCtx:
    LABEL: ClassVar[str] = "order"
    number: str
    created_at: dt.datetime
    currency: str
    subtotal: Amount
    shipping: Amount
    discount: Amount
    tax: Amount
    total: Amount
    paid: Amount
    refunded: Amount
    refundable: Amount
    """Paid minus refunded."""
    shipping_refundable: Amount
    financial_status: str
    fulfillment_status: str
    shipped: bool
    delivered: bool
    cancelled: bool
    cancelled_at: dt.datetime | Any
    shipping_address: Any
    lines: list[LineCtx]
    items: str
    """'1 × Merino Crew Sweater, 2 × Wool Beanie'."""
    carrier: Any
    tracking_number: Any
    tracking_url: Any
    delivery_status: Any
    """pending, in_transit, out_for_delivery, delivered or failure (the latest parcel)."""
    shipped_at: dt.datetime | Any
    delivered_at: dt.datetime | Any
    refunds: list[RefundCtx]
    last_refund: RefundCtx | Any
    returns: list[ReturnCtx]
    last_return: ReturnCtx | Any
    return_deadline: dt.datetime | Any
    returnable: bool
    """Delivered, within the return window, and something left to send back."""
    referenced: bool
    """The thread names this order (rather than it being the customer's latest)."""


@dataclass(frozen=True)
class StoreCtx:
    LABEL: ClassVar[str] = "store"
    name: str
    signature: str
    support_email: str
    discount_code: str
    discount_value: str


@dataclass(frozen=True)
class PolicyCtx:
    LABEL: ClassVar[str] = "policy"
    return_window_days: int


ROOTS: dict[str, Any] = {"ticket": TicketCtx, "requester": RequesterCtx, "agent": AgentCtx, "order": OrderCtx,
                         "store": StoreCtx, "policy": PolicyCtx, "today": dt.datetime, "locale": str}
"""The top-level placeholders and their types, for the static check."""


@dataclass(frozen=True)
class TicketContext:
    ticket_id: int
    order_id: int | None
    """The cache id of the order the ticket is about (store steps act on it)."""
    order_why: str
    """Why there is no order, when there is none."""
    values: dict[str, Any]


class NoSuchTicket(LookupError):
    pass


def build(conn: sqlite3.Connection, ticket_id: int, settings: Settings) -> TicketContext:
    t = conn.execute(
        """SELECT t.*, p.name AS r_name, p.email AS r_email, p.locale AS r_locale, p.orders_synced_at AS r_asked
           FROM ticket t LEFT JOIN person p ON p.id = t.requester_id WHERE t.id = ?""", (ticket_id,)).fetchone()
    if t is None:
        raise NoSuchTicket(f"ticket {ticket_id} is not in the cache")
    locale = resolve_locale(t["r_locale"], settings.store.locale)
    order_row, named, why = _the_order(conn, t)
    order = _order(conn, order_row, named, settings.policy) if order_row is not None else missing("order", why)
    values = {
        "ticket": _ticket(t),
        "requester": _requester(t),
        "agent": _agent(conn),
        "order": order,
        "store": StoreCtx(settings.store.name, settings.store.signature, settings.store.support_email,
                          settings.store.discount_code, settings.store.discount_value),
        "policy": PolicyCtx(settings.policy.return_window_days),
        "today": _at(clock.now()),
        "locale": locale,
    }
    return TicketContext(ticket_id, order_row["id"] if order_row is not None else None, why, values)


def _at(epoch: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, dt.timezone.utc)


def _text(value: Any, name: str, why: str, limit: int = 300) -> Any:
    text = clean_line(value, limit) if value is not None else ""
    return text if text else missing(name, why)


def _ticket(t: sqlite3.Row) -> TicketCtx:
    try:
        fields = json.loads(t["custom_fields"] or "{}")
    except ValueError:
        fields = {}
    return TicketCtx(
        id=t["id"], number=clean_line(t["remote_id"], 60), subject=clean_line(t["subject"], 500), status=t["status"],
        priority=PRIORITIES.get(t["priority"], "normal"), tags=[clean_line(x, 60) for x in t["tags"].split()],
        channel=_text(t["channel"], "ticket.channel", "the helpdesk did not say"), created_at=_at(t["created_at"]),
        fields=fields if isinstance(fields, dict) else {})


def _requester(t: sqlite3.Row) -> RequesterCtx:
    name = clean_line(t["r_name"] or "", 200)
    first = first_name(name)
    return RequesterCtx(
        name=name or missing("requester.name", "the requester has no name"),
        first_name=first or missing("requester.first_name", "no first name in the requester's name"),
        email=_text(t["r_email"], "requester.email", "the requester has no email address"),
        locale=_text(t["r_locale"], "requester.locale", "the helpdesk did not say"))


def _agent(conn: sqlite3.Connection) -> AgentCtx:
    me = conn.execute("SELECT name, email FROM person WHERE is_me = 1").fetchone()
    why = "who you are is not known until the first sync"
    if me is None:
        return AgentCtx(missing("agent.name", why), missing("agent.first_name", why), missing("agent.email", why))
    name = clean_line(me["name"], 200)
    return AgentCtx(name=name or missing("agent.name", "your helpdesk profile has no name"),
                    first_name=first_name(name) or missing("agent.first_name", "your profile has no first name"),
                    email=_text(me["email"], "agent.email", "your profile has no email address"))


def _the_order(conn: sqlite3.Connection, t: sqlite3.Row) -> tuple[sqlite3.Row | None, bool, str]:
    """The requester's order the ticket is about, whether the thread names it, or None
    with the reason."""
    own = conn.execute(
        "SELECT * FROM orders WHERE customer_id = ? OR (email IS NOT NULL AND email = ?) ORDER BY created_at DESC, id DESC",
        (t["requester_id"], t["r_email"])).fetchall()
    refs = {r[0] for r in conn.execute("SELECT order_ref FROM ticket_order WHERE ticket_id = ?", (t["id"],))}
    named = [o for o in own if o["number"].lstrip("#") in refs]
    if named:
        return named[0], True, ""
    if own:
        return own[0], False, ""
    if t["r_asked"] is None:
        return None, False, "the customer's orders have not been loaded yet"
    if refs:
        return None, False, "the order the thread names is not one of this customer's"
    return None, False, "the customer has no orders"


def _order(conn: sqlite3.Connection, o: sqlite3.Row, named: bool, policy: Policy) -> OrderCtx:
    currency = o["currency"]

    def money(minor: int) -> Amount:
        return Amount(int(minor or 0), currency)

    line_rows = conn.execute("SELECT * FROM order_line WHERE order_id = ? ORDER BY id", (o["id"],)).fetchall()
    titles = {r["remote_id"]: _describe_line(r["title"], r["variant"]) for r in line_rows}
    return_rows = conn.execute("SELECT * FROM order_return WHERE order_id = ? ORDER BY created_at, id", (o["id"],)).fetchall()
    returned = returned_quantities(conn, o["id"])
    lines = [LineCtx(title=clean_line(r["title"], 200), variant=_text(r["variant"], "line.variant", "no variant"),
                     sku=_text(r["sku"], "line.sku", "no SKU"), quantity=r["quantity"], unit_price=money(r["unit_price"]),
                     total=money(r["total"]), refunded_quantity=r["refunded_quantity"],
                     fulfilled_quantity=r["fulfilled_quantity"], returned_quantity=returned.get(r["remote_id"], 0),
                     description=f"{r['quantity']} × {titles[r['remote_id']]}") for r in line_rows]
    refunds = [RefundCtx(amount=money(r["amount"]), shipping=money(r["shipping"]), created_at=_at(r["created_at"]),
                         reason=_text(r["reason"], "refund.reason", "no reason given"),
                         items=_items(json.loads(r["lines"] or "[]"), titles))
               for r in conn.execute("SELECT * FROM refund WHERE order_id = ? ORDER BY created_at, id", (o["id"],))]
    returns = [ReturnCtx(status=r["status"], created_at=_at(r["created_at"]),
                         reason=_text(r["reason"], "return.reason", "no reason given"),
                         items=_items(json.loads(r["lines"] or "[]"), titles)) for r in return_rows]
    parcel = conn.execute("SELECT * FROM fulfillment WHERE order_id = ? ORDER BY shipped_at DESC, id DESC LIMIT 1",
                          (o["id"],)).fetchone()
    cancelled = o["cancelled_at"] is not None
    shipped = parcel is not None and parcel["shipped_at"] is not None
    delivered_at = parcel["delivered_at"] if parcel is not None else None
    not_shipped = "the order has not shipped yet" if not cancelled else "the order was cancelled"
    deadline = _at(delivered_at + policy.return_window_days * 86400) if delivered_at else None
    left_to_return = any(li.fulfilled_quantity - li.returned_quantity - li.refunded_quantity > 0 for li in lines)
    return OrderCtx(
        number=clean_line(o["number"], 40).lstrip("#"), created_at=_at(o["created_at"]), currency=currency,
        subtotal=money(o["subtotal"]), shipping=money(o["shipping"]), discount=money(o["discount"]), tax=money(o["tax"]),
        total=money(o["total"]), paid=money(o["paid"]), refunded=money(o["refunded"]),
        refundable=money(max(o["paid"] - o["refunded"], 0)),
        shipping_refundable=money(max(o["shipping"] - o["shipping_refunded"], 0)),
        financial_status=o["financial_status"], fulfillment_status=o["fulfillment_status"], shipped=shipped,
        delivered=delivered_at is not None, cancelled=cancelled,
        cancelled_at=_at(o["cancelled_at"]) if cancelled else missing("order.cancelled_at", "the order is not cancelled"),
        shipping_address=_text(o["shipping_address"], "order.shipping_address", "the store gave no address"),
        lines=lines, items=", ".join(li.description for li in lines),
        carrier=_text(parcel["carrier"] if parcel else None, "order.carrier", not_shipped),
        tracking_number=_text(parcel["tracking_number"] if parcel else None, "order.tracking_number",
                              not_shipped if parcel is None else "the carrier gave no tracking number"),
        tracking_url=_text(parcel["tracking_url"] if parcel else None, "order.tracking_url",
                           not_shipped if parcel is None else "the carrier gave no tracking link", 2000),
        delivery_status=parcel["status"] if parcel else missing("order.delivery_status", not_shipped),
        shipped_at=_at(parcel["shipped_at"]) if shipped else missing("order.shipped_at", not_shipped),
        delivered_at=_at(delivered_at) if delivered_at else missing("order.delivered_at", "the order has not been delivered"),
        refunds=refunds, last_refund=refunds[-1] if refunds else missing("order.last_refund", "nothing has been refunded"),
        returns=returns, last_return=returns[-1] if returns else missing("order.last_return", "there is no return"),
        return_deadline=deadline or missing("order.return_deadline", "the order has not been delivered"),
        returnable=bool(deadline and not cancelled and left_to_return and clock.now() <= deadline.timestamp()),
        referenced=named)


def _describe_line(title: str, variant: str | None) -> str:
    title = clean_line(title, 200)
    variant = clean_line(variant, 100) if variant else ""
    return f"{title} ({variant})" if variant else title


def _items(lines: list[list[Any]], titles: dict[str, str]) -> str:
    return ", ".join(f"{entry[1]} × {titles.get(str(entry[0]), 'an item')}" for entry in lines)
