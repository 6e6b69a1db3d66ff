"""The contracts every backend implements.

Two kinds of adapter: a helpdesk (tickets, threads, agent actions) and a store (orders,
refunds, returns, cancels). Adapters are async, talk to their backend and nothing else:
they never touch the cache or a widget. They turn the backend's shapes into the records
below, map statuses and priorities onto ours while keeping the original value, and raise
the errors below so the sync engine can decide between retry, reconcile, conflict and
reject. Messages of these errors are shown to agents: they never contain a secret.

Adapters are found through the entry-point group ``csconsole.adapters`` (registry.py), so
a third party can ship one as its own package.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

STATUSES = ("new", "open", "pending", "hold", "solved", "closed")
UNSOLVED = ("new", "open", "pending", "hold")
PRIORITIES = {1: "low", 2: "normal", 3: "high", 4: "urgent"}
PRIORITY_BY_NAME = {name: level for level, name in PRIORITIES.items()}
NO_SLA = 253402300799
"""sla_due_at of a ticket with no running SLA (9999-12-31): sorts after every real due time."""

# Helpdesk capabilities
REPLY = "reply"
NOTE = "note"
STATUS = "status"
PRIORITY = "priority"
ASSIGN = "assign"
TAGS = "tags"
CUSTOM_FIELDS = "custom_fields"
LIST_AGENTS = "list_agents"
LIST_MACROS = "list_macros"
CONFLICTS = "conflicts"
"""The backend detects stale updates (Zendesk safe_update, RT If-Match): conflicts are real."""

# Store capabilities
ORDERS = "orders"
REFUND = "refund"
RETURNS = "returns"
CANCEL = "cancel"
EXCHANGE = "exchange"

HELPDESK_ACTIONS = ("reply", "note", "status", "priority", "assign", "tags", "custom_field", "macro")
"""Helpdesk action payloads (Action.payload), one remote effect each:
reply/note {"body"} · status {"status": one of STATUSES} · priority {"priority": 1..4} ·
assign {"assignee": agent remote id or None, "name"} · tags {"add": [...], "remove": [...]} ·
custom_field {"field", "value"} · macro {"macro": a RemoteMacro's remote_id, "title"}: one of
the helpdesk's own macros, applied by the helpdesk (it fills in its own placeholders)."""

STORE_ACTIONS = ("refund", "return_create", "return_approve", "return_decline", "return_receive", "cancel")
"""Store action payloads; Action.order_remote_id names the order, money is integer minor units:

refund {"currency": "USD", "lines": [{"line": line remote id, "quantity": 1, "amount": 2495}],
        "shipping": 0, "restock": true, "reason": one of REFUND_REASONS, "note": "", "notify": true,
        "amount": 2495}  - "amount" is the total the agent confirmed (lines + shipping); an adapter
        refuses (RejectedError) rather than move a different sum.
return_create {"lines": [{"line": id, "quantity": n}], "reason": one of RETURN_REASONS, "note": ""}
return_approve {"return": return remote id}
return_decline {"return": id, "reason": one of DECLINE_REASONS, "note": ""}
return_receive {"return": id}  - the parcel came back: items received (restocked if asked)
cancel {"reason": one of CANCEL_REASONS, "refund": true, "restock": true, "notify": true, "note": ""}

ActionResult.remote_id is the refund/return id; ActionResult.order is the order afterwards.
find_applied() must find a refund by the action's idempotency_key (or the backend's own
idempotency, e.g. Shopify's @idempotent key, re-sent unchanged) before any retry."""

REFUND_REASONS = ("damaged", "defective", "wrong_item", "not_as_described", "size", "unwanted", "late_delivery",
                  "lost_in_transit", "cancelled", "goodwill", "other")
RETURN_REASONS = ("DEFECTIVE", "NOT_AS_DESCRIBED", "WRONG_ITEM", "UNWANTED", "SIZE_TOO_SMALL", "SIZE_TOO_LARGE",
                  "STYLE", "COLOR", "OTHER", "UNKNOWN")
"""Shopify's ReturnReason values, which other stores map onto."""
DECLINE_REASONS = ("RETURN_PERIOD_ENDED", "FINAL_SALE", "OTHER")
CANCEL_REASONS = ("CUSTOMER", "DECLINED", "FRAUD", "INVENTORY", "STAFF", "OTHER")


# ----------------------------------------------------------------------------- errors


class AdapterError(Exception):
    """Something the backend said or did; the message is safe to show to an agent."""


class AuthError(AdapterError):
    """Bad or missing credentials, or not allowed: retrying will not help."""


class RateLimited(AdapterError):
    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TransientError(AdapterError):
    """Network trouble, a timeout or a 5xx. ``maybe_applied`` is True when the request may
    have reached the backend (a write whose answer was lost): reconcile before retrying."""

    def __init__(self, message: str, *, maybe_applied: bool = False, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.maybe_applied = maybe_applied
        self.retry_after = retry_after


class ConflictError(AdapterError):
    """The ticket changed on the backend since the version the action was based on."""

    def __init__(self, message: str, remote: TicketRecord | None = None) -> None:
        super().__init__(message)
        self.remote = remote


class RejectedError(AdapterError):
    """The backend refused the action for good (validation, permissions, not found)."""


class NotFound(RejectedError):
    pass


# ----------------------------------------------------------------------------- records


@dataclass(frozen=True)
class PersonRecord:
    remote_id: str
    name: str = ""
    email: str | None = None
    kind: str = "customer"  # customer | agent
    locale: str | None = None


@dataclass(frozen=True)
class MessageRecord:
    remote_id: str
    author: PersonRecord | None
    author_role: str  # customer | agent | system
    public: bool
    body: str
    created_at: int
    attachments: tuple[str, ...] = ()


@dataclass(frozen=True)
class TicketRecord:
    """A ticket as the backend has it, already mapped onto our statuses and priorities."""

    remote_id: str
    number: int
    subject: str
    status: str
    priority: int
    created_at: int
    updated_at: int
    requester: PersonRecord | None = None
    assignee: PersonRecord | None = None
    remote_status: str | None = None
    remote_priority: str | None = None
    version: str | None = None
    tags: tuple[str, ...] = ()
    description: str = ""
    group: str | None = None
    channel: str | None = None
    sla_due_at: int | None = None
    first_response_at: int | None = None
    solved_at: int | None = None
    last_customer_at: int | None = None
    message_count: int = 0
    custom_fields: Mapping[str, Any] = field(default_factory=dict)
    messages: tuple[MessageRecord, ...] | None = None
    """The whole thread, when the backend gives it with the ticket; else fetched on demand."""
    deleted: bool = False


@dataclass(frozen=True)
class TicketPage:
    """One page of a pull. ``cursor`` resumes after this page; it commits with the rows."""

    tickets: list[TicketRecord]
    cursor: str | None
    done: bool
    total: int | None = None
    """Estimated tickets in this whole pull, for the progress display, when known."""


@dataclass(frozen=True)
class Identity:
    """Who the credentials belong to, as verify() finds out."""

    remote_id: str
    name: str
    email: str | None = None
    role: str = "agent"
    mode: str | None = None
    """How the adapter will work with these rights, e.g. Zendesk 'incremental export' or 'search'."""


@dataclass(frozen=True)
class RemoteMacro:
    remote_id: str
    title: str
    description: str = ""
    actions: tuple[tuple[str, Any], ...] = ()
    reply: str | None = None
    """A canned reply the helpdesk only stores (Freshdesk): its text, with the helpdesk's
    placeholders, which the console fills in itself (macros/canned.py) and sends as a
    reply. Without it the macro is applied by the helpdesk (Zendesk)."""


@dataclass(frozen=True)
class Action:
    """An outbox row as an adapter sees it."""

    outbox_id: int
    kind: str
    payload: Mapping[str, Any]
    idempotency_key: str
    ticket_remote_id: str | None = None
    order_remote_id: str | None = None
    base_version: str | None = None
    first_tried_at: int | None = None


@dataclass(frozen=True)
class ActionResult:
    version: str | None = None
    """The ticket's version after the action, so the next queued action is based on it."""
    remote_id: str | None = None
    """The id of what the action created (a message, a refund, a return)."""
    ticket: TicketRecord | None = None
    order: OrderRecord | None = None
    detail: str = ""


# Store records -------------------------------------------------------------------------


@dataclass(frozen=True)
class LineRecord:
    remote_id: str
    title: str
    quantity: int
    unit_price: int
    total: int
    sku: str | None = None
    variant: str | None = None
    refunded_quantity: int = 0
    refunded_amount: int = 0
    fulfilled_quantity: int = 0
    returned_quantity: int = 0


@dataclass(frozen=True)
class PaymentRecord:
    remote_id: str
    kind: str  # sale | authorization | capture | refund | void
    amount: int
    currency: str
    status: str  # success | pending | failure
    created_at: int
    gateway: str | None = None
    reference: str | None = None


@dataclass(frozen=True)
class RefundRecord:
    remote_id: str
    amount: int
    currency: str
    created_at: int
    shipping: int = 0
    reason: str | None = None
    note: str | None = None
    restock: bool = False
    lines: tuple[tuple[str, int, int], ...] = ()
    """(line remote id, quantity, amount) per refunded line."""
    idempotency_key: str | None = None


@dataclass(frozen=True)
class FulfillmentRecord:
    remote_id: str
    status: str  # pending | in_transit | out_for_delivery | delivered | failure
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: int | None = None
    delivered_at: int | None = None
    lines: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True)
class ReturnRecord:
    remote_id: str
    status: str  # requested | open | declined | received | closed | cancelled
    created_at: int
    reason: str | None = None
    lines: tuple[tuple[str, int], ...] = ()
    note: str | None = None
    decline_reason: str | None = None


@dataclass(frozen=True)
class OrderRecord:
    remote_id: str
    number: str
    currency: str
    created_at: int
    financial_status: str  # pending | paid | partially_refunded | refunded | voided
    fulfillment_status: str  # unfulfilled | partial | fulfilled | restocked
    email: str | None = None
    customer: PersonRecord | None = None
    subtotal: int = 0
    shipping: int = 0
    tax: int = 0
    discount: int = 0
    total: int = 0
    paid: int = 0
    refunded: int = 0
    shipping_refunded: int = 0
    cancelled_at: int | None = None
    shipping_address: str = ""
    lines: tuple[LineRecord, ...] = ()
    payments: tuple[PaymentRecord, ...] = ()
    refunds: tuple[RefundRecord, ...] = ()
    fulfillments: tuple[FulfillmentRecord, ...] = ()
    returns: tuple[ReturnRecord, ...] = ()


@dataclass(frozen=True)
class RefundRequest:
    """What an agent asks to refund: per-line quantities, shipping, restock, reason, note."""

    currency: str
    lines: tuple[tuple[str, int], ...] = ()
    """(line remote id, quantity)."""
    shipping: int = 0
    restock: bool = True
    reason: str = "other"
    note: str = ""
    amount: int | None = None
    """The total the agent confirmed; the adapter refuses if the backend computes another."""


# ----------------------------------------------------------------------------- adapters


@dataclass(frozen=True)
class AccountSpec:
    """What an adapter is told about its account: never the secret's source, only its value."""

    name: str
    adapter: str
    url: str | None = None
    user: str | None = None
    options: Mapping[str, Any] = field(default_factory=dict)


class Driver(Protocol):
    """The narrow view of the UI an adapter may use (it never sees a widget)."""

    def notify(self, message: str) -> None: ...

    def progress(self, done: int, total: int | None) -> None: ...


class QuietDriver:
    def notify(self, message: str) -> None:
        pass

    def progress(self, done: int, total: int | None) -> None:
        pass


class Adapter(ABC):
    name: ClassVar[str]
    kind: ClassVar[str]
    capabilities: ClassVar[frozenset[str]] = frozenset()
    needs_secret: ClassVar[bool] = True

    def __init__(self, account: AccountSpec, secret: str | None = None, driver: Driver | None = None) -> None:
        self.account = account
        self._secret = secret
        self.driver: Driver = driver or QuietDriver()

    def __repr__(self) -> str:  # never show the secret
        return f"<{type(self).__name__} account={self.account.name!r}>"

    def can(self, capability: str) -> bool:
        return capability in self.capabilities

    @abstractmethod
    async def verify(self) -> Identity:
        """Check the credentials and say whose they are."""

    async def aclose(self) -> None:
        """Release connections."""


class HelpdeskAdapter(Adapter):
    kind: ClassVar[str] = "helpdesk"

    @abstractmethod
    def changed_tickets(self, cursor: str | None) -> AsyncIterator[TicketPage]:
        """Tickets changed since ``cursor`` (None: everything), page by page, oldest change first."""

    @abstractmethod
    async def fetch_thread(self, ticket_remote_id: str) -> list[MessageRecord]:
        """The whole thread of one ticket, oldest first."""

    @abstractmethod
    async def fetch_ticket(self, ticket_remote_id: str) -> TicketRecord:
        """One ticket as the backend has it now."""

    @abstractmethod
    async def apply(self, action: Action) -> ActionResult:
        """Perform one outbox action; raise ConflictError, RejectedError, RateLimited or TransientError."""

    async def find_applied(self, action: Action) -> ActionResult | None:
        """After an answer was lost: did ``action`` reach the backend? Look, don't write.

        The default suits actions that set absolute values (status, priority, assignee,
        tags): doing them again is harmless, so report 'not applied'.
        """
        return None

    async def list_agents(self) -> list[PersonRecord]:
        return []

    async def list_macros(self) -> list[RemoteMacro]:
        return []


class CommerceAdapter(Adapter):
    kind: ClassVar[str] = "commerce"

    @abstractmethod
    async def orders_for_customer(self, email: str, numbers: tuple[str, ...] = ()) -> list[OrderRecord]:
        """The customer's orders (newest first), plus any orders named by number."""

    @abstractmethod
    async def get_order(self, order_remote_id: str) -> OrderRecord:
        """One order with its lines, payments, refunds, fulfilments and returns."""

    async def apply(self, action: Action) -> ActionResult:
        """Perform one money or parcel action from the outbox (refund, return_*, cancel)."""
        raise RejectedError(f"{self.name} cannot {action.kind}")

    async def find_applied(self, action: Action) -> ActionResult | None:
        """After an answer was lost: find the refund (or return, or cancel) the action made."""
        return None
