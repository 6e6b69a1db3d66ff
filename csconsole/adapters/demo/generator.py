"""Build the demo store: customers, orders and tickets, deterministic from a seed.

Everything is a pure function of (seed, anchor time, size): the same seed gives the same
store, and a ticket's thread is re-derived from its own random stream when it is first
read (``thread_for``), so a million-ticket workspace is built without writing three
million messages up front. Tickets are coherent with orders: a 'where is my order' ticket
points at an order in transit, a cancel request at one not yet shipped.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import accumulate
from pathlib import Path

from csconsole import clock, sla
from csconsole.adapters.demo import content as C

TICKET_BASE = 40000
"""Ticket numbers start above this (40001, 40002, ...), as in a helpdesk that has run a while."""
ORDER_BASE = 1000
HOUR = 3600
DAY = 86400

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS agent (id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, role TEXT);
CREATE TABLE IF NOT EXISTS customer (
    id INTEGER PRIMARY KEY, name TEXT, email TEXT UNIQUE, locale TEXT, city TEXT, country TEXT,
    currency TEXT, address TEXT, created_at INTEGER, shopper INTEGER);
CREATE TABLE IF NOT EXISTS orders (
    id INTEGER PRIMARY KEY, number TEXT UNIQUE, customer_id INTEGER, currency TEXT, created_at INTEGER,
    subtotal INTEGER, shipping INTEGER, tax INTEGER, discount INTEGER, total INTEGER,
    cancelled_at INTEGER, shipping_address TEXT, version INTEGER NOT NULL DEFAULT 1);
CREATE INDEX IF NOT EXISTS orders_customer ON orders (customer_id);
CREATE TABLE IF NOT EXISTS order_line (
    id INTEGER PRIMARY KEY, order_id INTEGER, sku TEXT, title TEXT, variant TEXT, quantity INTEGER,
    unit_price INTEGER, fulfilled_quantity INTEGER, restocked_quantity INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS order_line_order ON order_line (order_id);
CREATE TABLE IF NOT EXISTS txn (
    id INTEGER PRIMARY KEY, order_id INTEGER, kind TEXT, gateway TEXT, amount INTEGER, status TEXT,
    created_at INTEGER, reference TEXT);
CREATE INDEX IF NOT EXISTS txn_order ON txn (order_id);
CREATE TABLE IF NOT EXISTS refund (
    id INTEGER PRIMARY KEY, order_id INTEGER, amount INTEGER, shipping INTEGER, reason TEXT, note TEXT,
    restock INTEGER, lines TEXT, created_at INTEGER, idempotency_key TEXT UNIQUE);
CREATE INDEX IF NOT EXISTS refund_order ON refund (order_id);
CREATE TABLE IF NOT EXISTS fulfillment (
    id INTEGER PRIMARY KEY, order_id INTEGER, status TEXT, carrier TEXT, tracking_number TEXT,
    tracking_url TEXT, shipped_at INTEGER, delivered_at INTEGER, lines TEXT);
CREATE INDEX IF NOT EXISTS fulfillment_order ON fulfillment (order_id);
CREATE TABLE IF NOT EXISTS ret (
    id INTEGER PRIMARY KEY, order_id INTEGER, status TEXT, reason TEXT, lines TEXT, note TEXT,
    decline_reason TEXT, created_at INTEGER, updated_at INTEGER, idempotency_key TEXT UNIQUE);
CREATE INDEX IF NOT EXISTS ret_order ON ret (order_id);
CREATE TABLE IF NOT EXISTS ticket (
    id INTEGER PRIMARY KEY, seq INTEGER NOT NULL, version INTEGER NOT NULL, subject TEXT, description TEXT,
    intent TEXT, status TEXT, priority INTEGER, requester_id INTEGER, assignee_id INTEGER, tags TEXT,
    channel TEXT, order_id INTEGER, created_at INTEGER, updated_at INTEGER, sla_due_at INTEGER,
    first_response_at INTEGER, solved_at INTEGER, last_customer_at INTEGER, last_agent_at INTEGER,
    message_count INTEGER, materialized INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS ticket_seq ON ticket (seq);
CREATE TABLE IF NOT EXISTS message (
    id INTEGER PRIMARY KEY, ticket_id INTEGER, author_kind TEXT, author_id INTEGER, public INTEGER,
    body TEXT, created_at INTEGER, request_key TEXT UNIQUE);
CREATE INDEX IF NOT EXISTS message_ticket ON message (ticket_id, id);
"""


@dataclass(frozen=True)
class Size:
    tickets: int
    customers: int
    orders: int
    span: int
    """Seconds of history: tickets and orders are spread over this much time before the anchor."""

    @classmethod
    def for_tickets(cls, tickets: int) -> "Size":
        customers = min(max(300, int(tickets * 0.35)), 60_000)
        orders = min(max(500, int(tickets * 0.55)), 120_000)
        span = int(min(max(60, tickets / 12), 730) * DAY)
        return cls(tickets, customers, orders, span)


def _rng(seed: int, stream: str, index: int) -> random.Random:
    return random.Random(f"{seed}:{stream}:{index}")


def _weighted(values: tuple, weights: tuple) -> Callable[[random.Random], object]:
    totals = list(accumulate(weights))
    grand = totals[-1]
    return lambda rng: values[bisect_right(totals, rng.random() * grand)]


_pick_intent = _weighted(tuple(C.INTENTS), tuple(v[0] for v in C.INTENTS.values()))
_pick_region = _weighted(C.REGIONS, tuple(r[4] for r in C.REGIONS))
_pick_agent = _weighted(tuple(range(1, len(C.AGENTS) + 1)), C.AGENT_LOAD)


# ----------------------------------------------------------------------------- people


def customer(seed: int, index: int, anchor: int, size: Size) -> tuple:
    rng = _rng(seed, "customer", index)
    first, last = rng.choice(C.FIRST_NAMES), rng.choice(C.LAST_NAMES)
    country, city, currency, locale, _ = _pick_region(rng)  # type: ignore[misc]
    local = f"{first}.{last}".lower().replace("'", "").replace(" ", "")
    email = f"{local}{index}@{rng.choice(C.EMAIL_DOMAINS)}"
    address = f"{rng.randint(2, 980)} {rng.choice(C.STREETS)}, {city}, {country}"
    created = anchor - size.span - rng.randint(0, 365 * DAY)
    return (index, f"{first} {last}", email, locale, city, country, currency, address, created, 1)


def spammer(seed: int, index: int, anchor: int) -> tuple:
    rng = _rng(seed, "spammer", index)
    name = rng.choice(("SEO Team", "Growth Partners", "Billing Dept", "Kevin from LeadGen", "Marketing Desk"))
    email = f"{rng.choice(('seo', 'info', 'noreply', 'growth', 'billing'))}{index}@{rng.choice(('rankfast.biz', 'leadz.example', 'pay-invoice.example'))}"
    return (index, name, email, "en_US", "", "", "USD", "", anchor, 0)


# ----------------------------------------------------------------------------- orders


ORDER_LEAD = 45 * DAY
"""Orders start this long before the first ticket, so every ticket has an order to be about."""


def order_time(k: int, anchor: int, size: Size) -> int:
    return anchor - int((size.span + ORDER_LEAD) * (1 - (k + 0.5) / size.orders)) - 1800


def order_index_before(t: int, anchor: int, size: Size) -> int:
    """The newest order index created at or before time t (clamped)."""
    k = int(size.orders * (1 - (anchor - 1800 - t) / (size.span + ORDER_LEAD)) - 0.5)
    return min(max(k, 0), size.orders - 1)


def order_customer(seed: int, k: int, size: Size) -> int:
    rng = _rng(seed, "order-customer", k)
    # A few loyal customers place many orders: square the draw towards low ids.
    return 1 + int((rng.random() ** 1.6) * size.customers)


@dataclass
class OrderPlan:
    index: int
    number: str
    customer_id: int
    created_at: int
    lines: list[tuple]  # (sku, title, variant, qty, unit_price)
    state: str  # unfulfilled | in_transit | delivered | cancelled
    carrier: tuple[str, str]
    tracking: str
    gateway: str


def plan_order(seed: int, k: int, anchor: int, size: Size, override: str | None) -> OrderPlan:
    rng = _rng(seed, "order", k)
    created = order_time(k, anchor, size)
    lines = []
    for product in rng.sample(C.PRODUCTS, rng.choice((1, 1, 1, 2, 2, 3, 4))):
        sku, title, price, kind, _ = product
        variant = None
        if kind in ("apparel", "shoe", "sock"):
            variant = f"{rng.choice(C.COLORS)} / {rng.choice(C.SIZES[kind])}" if kind == "apparel" else rng.choice(C.SIZES[kind])
        elif kind == "color":
            variant = rng.choice(C.SIZES["color"])
        lines.append((sku, title, variant, rng.choice((1, 1, 1, 1, 2)), price))
    age = anchor - created
    if override:
        state = override
    elif age < 20 * HOUR:
        state = "unfulfilled"
    elif age < 5 * DAY:
        state = "in_transit" if rng.random() < 0.85 else "unfulfilled"
    else:
        state = "delivered" if rng.random() < 0.97 else "in_transit"
    carrier = rng.choice(C.CARRIERS)
    tracking = _tracking_number(rng, carrier[0])
    return OrderPlan(k, str(ORDER_BASE + k + 1), order_customer(seed, k, size), created, lines, state, carrier,
                     tracking, rng.choice(C.GATEWAYS))


def _tracking_number(rng: random.Random, carrier: str) -> str:
    if carrier == "UPS":
        return "1Z" + "".join(rng.choice("0123456789ABCDEFGHJKLMNPRSTUVWXYZ") for _ in range(16))
    if carrier == "USPS":
        return "9400" + "".join(rng.choice("0123456789") for _ in range(18))
    if carrier == "FedEx":
        return "".join(rng.choice("0123456789") for _ in range(12))
    return "".join(rng.choice("0123456789") for _ in range(10))


def order_rows(plan: OrderPlan, customer_row: tuple, anchor: int, line_id: int) -> tuple[tuple, list[tuple], list[tuple], list[tuple], list[tuple]]:
    """Rows for orders, order_line, txn, fulfillment and refund for one planned order."""
    rng = _rng(0, "order-money", plan.index)
    currency, country, address = customer_row[6], customer_row[5], customer_row[7]
    subtotal = sum(q * p for *_, q, p in plan.lines)
    shipping = 0 if subtotal >= 10000 else 895
    discount = subtotal * rng.choice((0, 0, 0, 0, 10, 15)) // 100
    tax = (subtotal - discount) * 8 // 100 if country in ("US", "CA") else 0
    total = subtotal + shipping + tax - discount
    order_id = plan.index + 1
    cancelled_at = plan.created_at + 2 * HOUR if plan.state == "cancelled" else None
    order = (order_id, plan.number, plan.customer_id, currency, plan.created_at, subtotal, shipping, tax, discount,
             total, cancelled_at, address)
    lines, shipped_lines = [], []
    fulfilled = plan.state in ("in_transit", "delivered")
    for offset, (sku, title, variant, qty, price) in enumerate(plan.lines):
        lid = line_id + offset
        lines.append((lid, order_id, sku, title, variant, qty, price, qty if fulfilled else 0))
        shipped_lines.append([str(lid), qty])
    txns = [(None, order_id, "sale", plan.gateway, total, "success", plan.created_at + 5,
             f"ch_{rng.getrandbits(48):012x}")]
    fulfillments = []
    if fulfilled:
        shipped = plan.created_at + rng.randint(6 * HOUR, 40 * HOUR)
        delivered = shipped + rng.randint(2 * DAY, 5 * DAY) if plan.state == "delivered" else None
        if delivered and delivered > anchor:
            delivered = anchor - HOUR
        carrier, url = plan.carrier
        fulfillments.append((None, order_id, "delivered" if delivered else "in_transit", carrier, plan.tracking,
                             url.format(number=plan.tracking), min(shipped, anchor - HOUR), delivered,
                             json.dumps(shipped_lines)))
    refunds = []
    if plan.state == "cancelled":
        txns.append((None, order_id, "refund", plan.gateway, total, "success", cancelled_at, f"re_{plan.index:08d}"))
        refunds.append((None, order_id, total - shipping, shipping, "customer_cancelled", "", 1,
                        json.dumps([[str(line_id + i), plan.lines[i][3], plan.lines[i][3] * plan.lines[i][4]]
                                    for i in range(len(plan.lines))]), cancelled_at, None))
    return order, lines, txns, fulfillments, refunds


# ----------------------------------------------------------------------------- tickets


INTENT_ORDER_DELAY = {
    "wismo": (3 * DAY, 12 * DAY), "damaged": (4 * DAY, 14 * DAY), "wrong_item": (4 * DAY, 12 * DAY),
    "size_exchange": (5 * DAY, 20 * DAY), "return_request": (6 * DAY, 25 * DAY),
    "refund_request": (12 * DAY, 35 * DAY), "cancel": (HOUR // 4, 5 * HOUR),
    "address_change": (HOUR // 2, 10 * HOUR), "discount_code": (HOUR, 2 * DAY),
}
OPEN_ORDER_STATE = {"wismo": "in_transit", "cancel": "unfulfilled", "address_change": "unfulfilled",
                    "damaged": "delivered", "wrong_item": "delivered", "size_exchange": "delivered",
                    "return_request": "delivered"}
"""The state an order must be in while its ticket is still being worked."""
STATE_RANK = {"delivered": 0, "in_transit": 1, "unfulfilled": 2, "cancelled": 3}
"""When two open tickets point at one order, the earlier stage wins: a parcel still on its
way cannot also have arrived damaged, but a customer can chase one that has not."""


@dataclass
class TicketPlan:
    number: int
    intent: str
    created_at: int
    requester_id: int
    order_index: int | None
    spam_index: int | None
    steps: list[tuple[str, int]]  # (role: customer|agent|note, at)
    status: str
    priority: int
    assignee_id: int | None
    tags: tuple[str, ...]
    channel: str
    vip: bool
    solve_delay: int = 1800
    """Seconds from the last message to solved: half an hour when the agent solves on reply,
    days when the desk closes a ticket whose customer went quiet."""


def ticket_time(i: int, anchor: int, size: Size) -> int:
    """Ticket i (0-based) is created at a time that grows with i; the newest are minutes old."""
    fraction = (i + 0.5) / size.tickets
    # More tickets recently: a busy store, and a backlog worth working.
    return anchor - int(size.span * (1 - fraction) ** 1.7) - 120


def plan_ticket(seed: int, i: int, anchor: int, size: Size) -> TicketPlan:
    rng = _rng(seed, "ticket", i)
    created = ticket_time(i, anchor, size) - rng.randint(0, 90)
    intent = str(_pick_intent(rng))
    order_index = spam_index = None
    if intent == "spam":
        spam_index = i
        requester = -1
    elif intent == "product_question":
        requester = 1 + rng.randrange(size.customers)
    else:
        lo, hi = INTENT_ORDER_DELAY[intent]
        order_index = order_index_before(created - rng.randint(lo, hi), anchor, size)
        requester = order_customer(seed, order_index, size)
    age = anchor - created
    steps = _plan_steps(rng, intent, created, anchor)
    last_role = _last_speaker(steps)
    waited = anchor - max(at for role, at in steps if role == "customer")
    if intent == "spam":
        status = "new" if age < 2 * DAY else "closed"
    elif age > 21 * DAY:
        status = "closed"
    elif last_role == "customer" and (age > 9 * DAY or waited > rng.expovariate(1 / (14 * HOUR)) + 2 * HOUR):
        # Most customers who wrote a while ago have had an answer since.
        # The answer came a few hours after they wrote, as a staffed desk answers.
        reply_at = anchor - waited + 600 + int(min(rng.expovariate(1 / (3 * HOUR)), waited - 720))
        steps.append(("agent", max(reply_at, steps[-1][1] + 60)))
        status = rng.choices(("pending", "solved", "hold"), (15, 84, 1) if age > 9 * DAY else (60, 36, 4))[0]
    elif age > 9 * DAY:
        status = "solved" if rng.random() < 0.88 else "pending"
    elif last_role == "customer":
        status = "new" if len(steps) == 1 and rng.random() < 0.6 else "open"
    else:
        status = rng.choices(("pending", "solved", "hold"), (60, 35, 5))[0]
    solve_delay = 1800
    if status == "pending" and _last_speaker(steps) == "agent":
        # The desk closes a ticket whose customer went quiet for a few days. A separate
        # stream, so the rest of the plan is what it was before this was added.
        quiet = int(_rng(seed, "solve", i).uniform(2 * DAY, 4 * DAY))
        if steps[-1][1] + quiet < anchor - 60:
            status, solve_delay = "solved", quiet
    vip = rng.random() < 0.05
    priority = C.INTENTS[intent][2]
    if vip and priority < 4:
        priority += 1
    if rng.random() < 0.04:
        priority = 4
    tags = tuple(C.INTENTS[intent][1]) + (("vip",) if vip else ()) + (("repeat-contact",) if rng.random() < 0.06 else ())
    assignee = None if status == "new" else int(_pick_agent(rng))  # type: ignore[arg-type]
    return TicketPlan(TICKET_BASE + i + 1, intent, created, requester, order_index, spam_index, steps, status,
                      priority, assignee, tags, rng.choice(C.CHANNELS), vip, solve_delay)


def _last_speaker(steps: list[tuple[str, int]]) -> str:
    return next(role for role, _ in reversed(steps) if role != "note")


def _plan_steps(rng: random.Random, intent: str, created: int, anchor: int) -> list[tuple[str, int]]:
    if intent == "spam":
        return [("customer", created)]
    if rng.random() < 0.006:
        exchanges = rng.randint(14, 20)  # a long back-and-forth, about 30 messages
    else:
        exchanges = min(int(rng.expovariate(0.9)), 5)
    steps = [("customer", created)]
    at = created
    for n in range(exchanges * 2):
        role = "agent" if n % 2 == 0 else "customer"
        gap = rng.randint(10 * 60, 20 * HOUR) if role == "agent" else rng.randint(HOUR, 2 * DAY)
        if at + gap >= anchor - 60:
            break
        at += gap
        if role == "agent" and rng.random() < 0.15:
            steps.append(("note", at - 120))
        steps.append((role, at))
    return steps


def ticket_row(seed: int, plan: TicketPlan, anchor: int, description: str, subject: str, order_id: int | None,
               seq: int) -> tuple:
    last_customer = max(at for role, at in plan.steps if role == "customer")
    agent_times = [at for role, at in plan.steps if role == "agent"]
    updated = plan.steps[-1][1]
    solved = updated + plan.solve_delay if plan.status in ("solved", "closed") else None
    if solved:
        updated = min(solved, anchor - 60)
        solved = updated
    last_agent = agent_times[-1] if agent_times else None
    due = sla.due_at(plan.status, plan.priority, last_customer, last_agent, anchor)
    return (plan.number, seq, 1, subject, description, plan.intent, plan.status, plan.priority, plan.requester_id,
            plan.assignee_id, " ".join(plan.tags), plan.channel, order_id, plan.created_at, updated, due,
            agent_times[0] if agent_times else None, solved, last_customer, last_agent, len(plan.steps))


# ----------------------------------------------------------------------------- text


@dataclass
class TextContext:
    first: str
    order: str
    product: str
    color: str
    other_color: str
    size: str
    other_size: str
    carrier: str
    tracking: str
    order_date: str
    agent: str


def text_context(rng: random.Random, customer_name: str, order: dict | None, agent_name: str) -> TextContext:
    if order and order["lines"]:
        title, variant = order["lines"][0]
    else:
        product = rng.choice(C.PRODUCTS)
        title, variant = product[1], None
    color, size = rng.choice(C.COLORS), rng.choice(C.SIZES["apparel"])
    if variant and " / " in variant:
        color, size = variant.split(" / ", 1)
    elif variant in C.COLORS:
        color = variant
    elif variant:
        size = variant
    other_color = rng.choice([c for c in C.COLORS if c != color])
    sizes = C.SIZES["shoe"] if size.isdigit() else C.SIZES["apparel"]
    other_size = rng.choice([s for s in sizes if s != size] or [size])
    return TextContext(
        first=customer_name.split(" ")[0], order=order["number"] if order else str(ORDER_BASE + rng.randint(1, 400)),
        product=title, color=color, other_color=other_color, size=size, other_size=other_size,
        carrier=order["carrier"] if order and order.get("carrier") else "UPS",
        tracking=order["tracking"] if order and order.get("tracking") else "not yet assigned",
        order_date=time.strftime("%B %-d", time.gmtime(order["created_at"])) if order else "last week",
        agent=agent_name.split(" ")[0],
    )


def fill(template: str, ctx: TextContext, rng: random.Random) -> str:
    return template.format(
        first=ctx.first, order=ctx.order, product=ctx.product, color=ctx.color, other_color=ctx.other_color,
        size=ctx.size, other_size=ctx.other_size, carrier=ctx.carrier, tracking=ctx.tracking,
        order_date=ctx.order_date, agent=ctx.agent, days=rng.randint(3, 9), damage=rng.choice(C.DAMAGE),
        wrong_product=rng.choice(C.PRODUCTS)[1], new_address=f"{rng.randint(2, 900)} {rng.choice(C.STREETS)}",
        code=rng.choice(C.DISCOUNT_CODES),
    )


def opening(seed: int, plan: TicketPlan, ctx: TextContext) -> tuple[str, str]:
    rng = _rng(seed, "text", plan.number)
    subject = fill(rng.choice(C.SUBJECTS[plan.intent]), ctx, rng)
    body = fill(rng.choice(C.OPENERS[plan.intent]), ctx, rng)
    if plan.intent != "spam" and rng.random() < 0.5:
        body += f"\n\n{ctx.first}"
    return subject, body


def thread_for(seed: int, plan: TicketPlan, ctx: TextContext) -> list[tuple[str, int, str]]:
    """The whole thread of a planned ticket: (role, at, body), oldest first."""
    subject_rng = _rng(seed, "text", plan.number)
    _, first_body = opening(seed, plan, ctx)
    del subject_rng
    rng = _rng(seed, "thread", plan.number)
    out = [("customer", plan.steps[0][1], first_body)]
    for role, at in plan.steps[1:]:
        pool = C.FOLLOWUPS[role]
        out.append((role, at, fill(rng.choice(pool), ctx, rng)))
    return out


# ----------------------------------------------------------------------------- build


def build(path: Path, *, tickets: int = 1000, seed: int = 7, anchor: int | None = None,
          progress: Callable[[str, int, int], None] | None = None) -> Path:
    """Write a fresh demo backend database at ``path`` (replacing any old one)."""
    anchor = int(anchor if anchor is not None else clock.now()) // 60 * 60
    size = Size.for_tickets(tickets)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".building")
    for leftover in (tmp, tmp.with_name(tmp.name + "-wal"), tmp.with_name(tmp.name + "-shm")):
        leftover.unlink(missing_ok=True)
    conn = sqlite3.connect(tmp, isolation_level=None)
    conn.execute("PRAGMA journal_mode = OFF")
    conn.execute("PRAGMA synchronous = OFF")
    conn.executescript(SCHEMA)
    conn.execute("BEGIN")
    report = progress or (lambda stage, done, total: None)

    conn.executemany("INSERT INTO agent VALUES (?, ?, ?, ?)",
                     [(n + 1, name, email, role) for n, (name, email, role) in enumerate(C.AGENTS)])
    customers = [customer(seed, c, anchor, size) for c in range(1, size.customers + 1)]
    conn.executemany("INSERT INTO customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", customers)
    report("customers", size.customers, size.customers)

    # Tickets first: they decide which orders must still be open.
    plans: list[TicketPlan] = []
    overrides: dict[int, str] = {}
    for i in range(size.tickets):
        plan = plan_ticket(seed, i, anchor, size)
        plans.append(plan)
        if plan.order_index is not None and plan.status in ("new", "open", "pending", "hold"):
            state = OPEN_ORDER_STATE.get(plan.intent)
            current = overrides.get(plan.order_index)
            if state and (current is None or STATE_RANK[state] > STATE_RANK[current]):
                overrides[plan.order_index] = state
        elif plan.order_index is not None and plan.intent == "cancel" and plan.status in ("solved", "closed"):
            overrides.setdefault(plan.order_index, "cancelled")
    spammers = [spammer(seed, p.spam_index, anchor) for p in plans if p.spam_index is not None]
    spam_ids = {}
    for offset, row in enumerate(spammers):
        new_id = size.customers + 1 + offset
        spam_ids[row[0]] = new_id
        conn.execute("INSERT INTO customer VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", (new_id,) + row[1:])

    orders: dict[int, dict] = {}
    line_id = 1
    batch: dict[str, list] = {"orders": [], "lines": [], "txns": [], "fulfillments": [], "refunds": []}
    for k in range(size.orders):
        plan_o = plan_order(seed, k, anchor, size, overrides.get(k))
        order, lines, txns, fulfillments, refunds = order_rows(plan_o, customers[plan_o.customer_id - 1], anchor, line_id)
        line_id += len(lines)
        batch["orders"].append(order)
        batch["lines"].extend(lines)
        batch["txns"].extend(txns)
        batch["fulfillments"].extend(fulfillments)
        batch["refunds"].extend(refunds)
        if len(batch["orders"]) >= 5000 or k == size.orders - 1:
            _flush_orders(conn, batch)
            report("orders", k + 1, size.orders)
    needed = {p.order_index for p in plans if p.order_index is not None}
    for k in needed:
        orders[k] = order_summary(conn, k + 1)

    rows = []
    for n, plan in enumerate(plans):
        if plan.spam_index is not None:
            plan.requester_id = spam_ids[plan.spam_index]
        cust = customers[plan.requester_id - 1] if plan.requester_id <= size.customers else None
        name = cust[1] if cust else "Marketing Desk"
        ctx = text_context(_rng(seed, "ctx", plan.number), name, orders.get(plan.order_index) if plan.order_index is not None else None,
                           C.AGENTS[(plan.assignee_id or 1) - 1][0])
        subject, body = opening(seed, plan, ctx)
        rows.append(ticket_row(seed, plan, anchor, body, subject,
                               plan.order_index + 1 if plan.order_index is not None else None, n + 1))
        if len(rows) >= 10000 or n == len(plans) - 1:
            conn.executemany(f"INSERT INTO ticket VALUES ({', '.join('?' * 21)}, 0)", rows)
            rows.clear()
            report("tickets", n + 1, size.tickets)
    meta = {"seed": seed, "anchor": anchor, "tickets": size.tickets, "customers": size.customers,
            "orders": size.orders, "span": size.span, "seq": size.tickets}
    conn.executemany("INSERT INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
    conn.execute("COMMIT")
    conn.close()
    for leftover in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        leftover.unlink(missing_ok=True)
    tmp.rename(path)
    return path


def _flush_orders(conn: sqlite3.Connection, batch: dict[str, list]) -> None:
    conn.executemany("INSERT INTO orders (id, number, customer_id, currency, created_at, subtotal, shipping, tax,"
                     " discount, total, cancelled_at, shipping_address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     batch["orders"])
    conn.executemany("INSERT INTO order_line (id, order_id, sku, title, variant, quantity, unit_price,"
                     " fulfilled_quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch["lines"])
    conn.executemany("INSERT INTO txn VALUES (?, ?, ?, ?, ?, ?, ?, ?)", batch["txns"])
    conn.executemany("INSERT INTO fulfillment VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch["fulfillments"])
    conn.executemany("INSERT INTO refund VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", batch["refunds"])
    for rows in batch.values():
        rows.clear()


def order_summary(conn: sqlite3.Connection, order_id: int) -> dict:
    """What ticket text needs of an order: number, first line, carrier and tracking."""
    number, created = conn.execute("SELECT number, created_at FROM orders WHERE id = ?", (order_id,)).fetchone()
    lines = conn.execute("SELECT title, variant FROM order_line WHERE order_id = ? ORDER BY id", (order_id,)).fetchall()
    f = conn.execute("SELECT carrier, tracking_number FROM fulfillment WHERE order_id = ? ORDER BY id LIMIT 1",
                     (order_id,)).fetchone()
    return {"number": number, "created_at": created, "lines": [tuple(r) for r in lines],
            "carrier": f[0] if f else None, "tracking": f[1] if f else None}


def replan(conn: sqlite3.Connection, number: int) -> tuple[TicketPlan, TextContext]:
    """Re-derive a stored ticket's plan and text context (for its thread)."""
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    seed, anchor = int(meta["seed"]), int(meta["anchor"])
    size = Size(int(meta["tickets"]), int(meta["customers"]), int(meta["orders"]), int(meta["span"]))
    plan = plan_ticket(seed, number - TICKET_BASE - 1, anchor, size)
    row = conn.execute("SELECT requester_id, order_id FROM ticket WHERE id = ?", (number,)).fetchone()
    plan.requester_id = row[0]
    name = conn.execute("SELECT name FROM customer WHERE id = ?", (row[0],)).fetchone()[0]
    order = order_summary(conn, row[1]) if row[1] else None
    ctx = text_context(_rng(seed, "ctx", plan.number), name, order, C.AGENTS[(plan.assignee_id or 1) - 1][0])
    return plan, ctx


def iter_sizes() -> Iterator[int]:
    yield from (1000, 10_000, 100_000, 1_000_000)
