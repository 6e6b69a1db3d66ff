"""SQLModel declarations of the cache tables.

This is the ORM view of the schema that migrations.py creates; a test keeps the two in
step. Use it where readability matters more than the last millisecond (accounts, audit,
orders, the outbox screen); the queue, search and ingest paths use sqlite3 directly.
Timestamps are epoch seconds (UTC); money is integer minor units beside its currency.
The FTS5 table ``ticket_fts`` has no model: SQLAlchemy cannot declare virtual tables.
"""

from __future__ import annotations

from sqlalchemy import Column, Computed, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel


class Meta(SQLModel, table=True):
    __tablename__ = "meta"
    key: str = Field(primary_key=True)
    value: str | None = None


class WorkspaceRow(SQLModel, table=True):
    __tablename__ = "workspace"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    helpdesk_account: str
    store_account: str | None = None
    me_person_id: int | None = None
    created_at: int


class AccountRow(SQLModel, table=True):
    """A helpdesk or store the workspace talks to; never its secret."""

    __tablename__ = "account"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)
    kind: str  # helpdesk | commerce
    adapter: str
    base_url: str | None = None
    username: str | None = None
    mode: str | None = None  # e.g. Zendesk "incremental" or "search"
    capabilities: str = "{}"
    verified_at: int | None = None
    last_error: str | None = None


class Person(SQLModel, table=True):
    """A customer or an agent, keyed by the backend's id within its kind."""

    __tablename__ = "person"
    __table_args__ = (UniqueConstraint("kind", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    remote_id: str
    kind: str  # customer | agent
    name: str = ""
    email: str | None = Field(default=None, index=True)
    locale: str | None = None
    is_me: int = 0
    active: int = 1
    updated_at: int = 0
    orders_synced_at: int | None = None
    """When the store was last asked for this customer's orders (None: never)."""


class Ticket(SQLModel, table=True):
    """A ticket; ``id`` is the number the helpdesk shows, ``remote_id`` its API id."""

    __tablename__ = "ticket"
    id: int | None = Field(default=None, primary_key=True)
    remote_id: str = Field(unique=True)
    subject: str = ""
    description: str = ""
    status: str  # new | open | pending | hold | solved | closed
    remote_status: str | None = None
    priority: int = 2  # 1 low, 2 normal, 3 high, 4 urgent
    remote_priority: str | None = None
    requester_id: int | None = None
    assignee_id: int | None = None
    group_name: str | None = None
    tags: str = ""
    channel: str | None = None
    created_at: int
    updated_at: int
    sla_due_at: int
    first_response_at: int | None = None
    solved_at: int | None = None
    last_customer_at: int | None = None
    message_count: int = 0
    version: str | None = None
    custom_fields: str = "{}"
    thread_synced_at: int | None = None
    pending_actions: int = 0
    synced_at: int = 0
    unsolved: int | None = Field(
        default=None,
        sa_column=Column(Integer, Computed("status IN ('new', 'open', 'pending', 'hold')", persisted=False)),
    )


class Message(SQLModel, table=True):
    """One entry of a thread: a public reply (public=1) or an internal note (public=0)."""

    __tablename__ = "message"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int
    remote_id: str | None = None
    author_id: int | None = None
    author_name: str = ""
    author_role: str  # customer | agent | system
    public: int
    body: str
    created_at: int
    outbox_id: int | None = None
    attachments: str = "[]"


class TicketTag(SQLModel, table=True):
    __tablename__ = "ticket_tag"
    tag: str = Field(primary_key=True)
    ticket_id: int = Field(primary_key=True)


class TicketOrder(SQLModel, table=True):
    """An order number a ticket mentions."""

    __tablename__ = "ticket_order"
    order_ref: str = Field(primary_key=True)
    ticket_id: int = Field(primary_key=True)


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    remote_id: str = Field(unique=True)
    number: str
    customer_id: int | None = None
    email: str | None = None
    currency: str
    created_at: int
    financial_status: str
    fulfillment_status: str
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
    synced_at: int = 0


class OrderLine(SQLModel, table=True):
    __tablename__ = "order_line"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    remote_id: str
    sku: str | None = None
    title: str
    variant: str | None = None
    quantity: int
    unit_price: int
    total: int
    refunded_quantity: int = 0
    refunded_amount: int = 0
    fulfilled_quantity: int = 0


class Payment(SQLModel, table=True):
    __tablename__ = "payment"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    remote_id: str
    kind: str  # sale | authorization | capture | refund | void
    gateway: str | None = None
    amount: int
    currency: str
    status: str
    created_at: int
    reference: str | None = None


class Refund(SQLModel, table=True):
    __tablename__ = "refund"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    remote_id: str
    amount: int
    shipping: int = 0
    currency: str
    reason: str | None = None
    note: str | None = None
    lines: str = "[]"
    restock: int = 0
    created_at: int
    idempotency_key: str | None = None


class Fulfillment(SQLModel, table=True):
    __tablename__ = "fulfillment"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    remote_id: str
    status: str
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    shipped_at: int | None = None
    delivered_at: int | None = None
    lines: str = "[]"


class OrderReturn(SQLModel, table=True):
    """A return on an order: requested → open (approved) → received → closed, or declined."""

    __tablename__ = "order_return"
    __table_args__ = (UniqueConstraint("order_id", "remote_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int
    remote_id: str
    status: str = Field(index=True)
    reason: str | None = None
    note: str | None = None
    decline_reason: str | None = None
    lines: str = "[]"
    created_at: int


class Outbox(SQLModel, table=True):
    """An agent's intent, waiting to reach the backend exactly once."""

    __tablename__ = "outbox"
    id: int | None = Field(default=None, primary_key=True)
    ticket_id: int | None = None
    order_id: int | None = None
    kind: str
    payload: str
    undo: str | None = None
    idempotency_key: str = Field(unique=True)
    base_version: str | None = None
    batch: str | None = None
    state: str
    not_before: float = 0
    attempts: int = 0
    last_error: str | None = None
    result: str | None = None
    actor: str | None = None
    created_at: int
    sent_at: int | None = None


class SyncCursor(SQLModel, table=True):
    __tablename__ = "sync_cursor"
    account: str = Field(primary_key=True)
    stream: str = Field(primary_key=True)
    cursor: str | None = None
    updated_at: int


class Audit(SQLModel, table=True):
    """Who moved what money (or changed what) when, and how it ended."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: int = Field(index=True)
    actor: str
    action: str
    ticket_id: int | None = None
    order_id: int | None = None
    outbox_id: int | None = None
    amount: int | None = None
    currency: str | None = None
    result: str
    detail: str = "{}"


class RemoteMacro(SQLModel, table=True):
    """A macro the helpdesk holds (its actions as the helpdesk lists them, JSON)."""

    __tablename__ = "remote_macro"
    account: str = Field(primary_key=True)
    remote_id: str = Field(primary_key=True)
    title: str
    description: str = ""
    actions: str = "[]"
    synced_at: int
    reply: str | None = None
    """A canned reply's text with the helpdesk's placeholders (Freshdesk); None when the
    helpdesk applies the macro itself."""


class Draft(SQLModel, table=True):
    __tablename__ = "draft"
    ticket_id: int = Field(primary_key=True)
    kind: str = Field(primary_key=True)  # reply | note
    body: str
    updated_at: int
