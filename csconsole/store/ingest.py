"""Writing what the backends send into the cache.

A pull page, its people, tags, order references, search index and the sync cursor commit
in one transaction, so a process killed half-way resumes exactly after the last page it
stored. Pending local actions are re-applied on top of fresh remote rows, so an agent's
unsent change never flickers away when a pull lands before it is pushed.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import Any
from functools import lru_cache

from csconsole import clock, sla
from csconsole.adapters.base import MessageRecord, OrderRecord, PersonRecord, TicketRecord
from csconsole.store.db import get_meta, set_meta, transaction
from csconsole.text import clean, clean_line, normalise_tag

ORDER_REF = re.compile(r"(?:#|\border\s*(?:no\.?|number|num\.?)?\s*#?\s*)(\d{4,8})\b", re.IGNORECASE)
"""Order numbers a customer mentions: '#1042', 'order 1042', 'order no. 1042'."""


def order_refs(*texts: str) -> set[str]:
    refs: set[str] = set()
    for text in texts:
        if text:
            refs.update(ORDER_REF.findall(text[:50_000]))
    return refs


class People:
    """Upserts people and remembers their local ids for the rest of a sync session."""

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], tuple[int, str, str | None]] = {}
        """(kind, remote id) → (local id, name and email as the backend sent them)."""

    def id_for(self, conn: sqlite3.Connection, person: PersonRecord | None) -> int | None:
        if person is None:
            return None
        key = (person.kind, person.remote_id)
        cached = self._known.get(key)
        if cached and cached[1] == person.name and cached[2] == person.email:
            return cached[0]  # unchanged since we stored it: no cleaning, no upsert
        name, email = clean_line(person.name, 200), (clean_line(person.email, 320) or None)
        row = conn.execute(
            "INSERT INTO person (remote_id, kind, name, email, locale, updated_at) VALUES (?, ?, ?, ?, ?, ?)"
            " ON CONFLICT (kind, remote_id) DO UPDATE SET name = excluded.name, email = excluded.email,"
            " locale = coalesce(excluded.locale, person.locale), updated_at = excluded.updated_at RETURNING id",
            (person.remote_id, person.kind, name, email, person.locale, clock.now())).fetchone()
        self._known[key] = (row[0], person.name, person.email)
        return row[0]


def store_page(conn: sqlite3.Connection, account: str, tickets: Sequence[TicketRecord], cursor: str | None,
               people: People, *, stream: str = "tickets", index: bool = True) -> None:
    """One pull page and its cursor, atomically. ``index=False`` defers FTS (backfill)."""
    with transaction(conn):
        ids = upsert_tickets(conn, tickets, people, index=index)
        if not index and ids:
            set_meta(conn, "fts_dirty", "1")
        save_cursor(conn, account, stream, cursor)
        _reapply_pending(conn, ids)


def _reapply_pending(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Lay unsent local effects back on top of fresh rows (outbox.reapply_pending), asking it
    only about tickets that have open outbox rows: the others just have none pending. Two
    statements per page instead of two per ticket keep a 100,000-ticket sync fast."""
    from csconsole.store import outbox

    if not ids:
        return
    marks = ",".join("?" * len(ids))
    states = ",".join("?" * len(outbox.OPEN_STATES))
    busy = [r[0] for r in conn.execute(
        f"SELECT DISTINCT ticket_id FROM outbox WHERE ticket_id IN ({marks}) AND state IN ({states})",
        (*ids, *outbox.OPEN_STATES))]
    conn.execute(f"UPDATE ticket SET pending_actions = 0 WHERE id IN ({marks}) AND pending_actions != 0", list(ids))
    outbox.reapply_pending(conn, busy)


_tag = lru_cache(maxsize=8192)(normalise_tag)
"""Tags repeat across thousands of tickets: normalise each spelling once per process."""


def upsert_tickets(conn: sqlite3.Connection, tickets: Sequence[TicketRecord], people: People, *, index: bool = True) -> list[int]:
    now = clock.now()
    rows, ids, deleted = [], [], []
    tag_rows: list[tuple[str, int]] = []
    ref_rows: list[tuple[str, int]] = []
    for t in tickets:
        if t.deleted:
            deleted.append(t.number)
            continue
        subject = clean_line(t.subject, 500)
        description = clean(t.description)
        tags = [_tag(tag) for tag in t.tags]
        tags = [tag for tag in dict.fromkeys(tags) if tag]
        rows.append((
            t.number, t.remote_id, subject, description, t.status, t.remote_status, t.priority, t.remote_priority,
            people.id_for(conn, t.requester), people.id_for(conn, t.assignee), t.group, " ".join(tags), t.channel,
            t.created_at, t.updated_at, _sla(t, now), t.first_response_at,
            t.solved_at, t.last_customer_at, t.message_count, t.version,
            json.dumps(dict(t.custom_fields)) if t.custom_fields else "{}", now,
        ))
        ids.append(t.number)
        tag_rows.extend((tag, t.number) for tag in tags)
        ref_rows.extend((ref, t.number) for ref in order_refs(subject, description))
    if deleted:
        delete_tickets(conn, deleted)
    if not rows:
        return ids
    conn.executemany(
        """INSERT INTO ticket (id, remote_id, subject, description, status, remote_status, priority, remote_priority,
               requester_id, assignee_id, group_name, tags, channel, created_at, updated_at, sla_due_at,
               first_response_at, solved_at, last_customer_at, message_count, version, custom_fields, synced_at)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET
               remote_id = excluded.remote_id, subject = excluded.subject, description = excluded.description,
               status = excluded.status, remote_status = excluded.remote_status, priority = excluded.priority,
               remote_priority = excluded.remote_priority, requester_id = excluded.requester_id,
               assignee_id = excluded.assignee_id, group_name = excluded.group_name, tags = excluded.tags,
               channel = excluded.channel, created_at = excluded.created_at, updated_at = excluded.updated_at,
               sla_due_at = excluded.sla_due_at, first_response_at = excluded.first_response_at,
               solved_at = excluded.solved_at, last_customer_at = excluded.last_customer_at,
               message_count = excluded.message_count, version = excluded.version,
               custom_fields = excluded.custom_fields, synced_at = excluded.synced_at""",
        rows,
    )
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM ticket_tag WHERE ticket_id IN ({marks})", ids)
    conn.executemany("INSERT OR IGNORE INTO ticket_tag (tag, ticket_id) VALUES (?, ?)", tag_rows)
    # Order references only accumulate: one seen in an earlier message stays true.
    conn.executemany("INSERT OR IGNORE INTO ticket_order (order_ref, ticket_id) VALUES (?, ?)", ref_rows)
    for t in tickets:
        if t.messages is not None and not t.deleted:
            store_thread(conn, t.number, t.messages, people, index=False)
    if index:
        reindex(conn, ids)
    return ids


def _sla(t: TicketRecord, now: int) -> int:
    """The backend's SLA due time, or ours when it sends none (Zendesk without SLA policies,
    Freshdesk): the reply target for the priority, counted from the last customer message
    or, when the backend does not say, from the last update."""
    if t.sla_due_at is not None:
        return t.sla_due_at
    return sla.due_at(t.status, t.priority, t.last_customer_at or t.updated_at, None, now)


def delete_tickets(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    marks = ",".join("?" * len(ids))
    for table, column in (("ticket", "id"), ("message", "ticket_id"), ("ticket_tag", "ticket_id"),
                          ("ticket_order", "ticket_id"), ("ticket_fts", "rowid"), ("draft", "ticket_id")):
        conn.execute(f"DELETE FROM {table} WHERE {column} IN ({marks})", list(ids))


def reindex(conn: sqlite3.Connection, ids: Sequence[int]) -> None:
    """Rewrite the search rows of these tickets: subject, thread text, requester."""
    if not ids:
        return
    marks = ",".join("?" * len(ids))
    conn.execute(f"DELETE FROM ticket_fts WHERE rowid IN ({marks})", list(ids))
    conn.execute(_FTS_SELECT + f" WHERE t.id IN ({marks})", list(ids))


_FTS_SELECT = """
    INSERT INTO ticket_fts (rowid, subject, body, requester)
    SELECT t.id, t.subject,
           coalesce((SELECT group_concat(m.body, char(10)) FROM message m WHERE m.ticket_id = t.id), t.description),
           coalesce(p.name, '') || ' ' || coalesce(p.email, '')
    FROM ticket t LEFT JOIN person p ON p.id = t.requester_id
"""


def rebuild_index(conn: sqlite3.Connection) -> None:
    """Rebuild the whole search index (after a backfill that deferred it)."""
    with transaction(conn):
        conn.execute("DELETE FROM ticket_fts")
        conn.execute(_FTS_SELECT)
        set_meta(conn, "fts_dirty", None)
    conn.execute("INSERT INTO ticket_fts (ticket_fts) VALUES ('optimize')")


def index_dirty(conn: sqlite3.Connection) -> bool:
    return get_meta(conn, "fts_dirty") == "1"


def save_cursor(conn: sqlite3.Connection, account: str, stream: str, cursor: str | None) -> None:
    conn.execute("INSERT INTO sync_cursor (account, stream, cursor, updated_at) VALUES (?, ?, ?, ?)"
                 " ON CONFLICT (account, stream) DO UPDATE SET cursor = excluded.cursor, updated_at = excluded.updated_at",
                 (account, stream, cursor, clock.now()))


def load_cursor(conn: sqlite3.Connection, account: str, stream: str = "tickets") -> str | None:
    row = conn.execute("SELECT cursor FROM sync_cursor WHERE account = ? AND stream = ?", (account, stream)).fetchone()
    return row[0] if row else None


def store_thread(conn: sqlite3.Connection, ticket_id: int, messages: Iterable[MessageRecord], people: People,
                 *, index: bool = True) -> None:
    """Replace the remote part of a thread; local messages still in the outbox stay."""
    conn.execute("DELETE FROM message WHERE ticket_id = ? AND remote_id IS NOT NULL", (ticket_id,))
    rows = []
    for m in messages:
        author_id = people.id_for(conn, m.author)
        rows.append((ticket_id, m.remote_id, author_id, clean_line(m.author.name if m.author else "", 200),
                     m.author_role, 1 if m.public else 0, clean(m.body), m.created_at, json.dumps(list(m.attachments))))
    conn.executemany("INSERT OR REPLACE INTO message (ticket_id, remote_id, author_id, author_name, author_role, public,"
                     " body, created_at, attachments) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    refs = order_refs(*(r[6] for r in rows if r[4] == "customer"))
    conn.executemany("INSERT OR IGNORE INTO ticket_order (order_ref, ticket_id) VALUES (?, ?)",
                     [(ref, ticket_id) for ref in refs])
    conn.execute("UPDATE ticket SET thread_synced_at = ? WHERE id = ?", (clock.now(), ticket_id))
    if index:
        reindex(conn, [ticket_id])


def save_thread(conn: sqlite3.Connection, ticket_id: int, messages: Sequence[MessageRecord], people: People) -> None:
    with transaction(conn):
        store_thread(conn, ticket_id, messages, people)


def save_agents(conn: sqlite3.Connection, agents: Sequence[PersonRecord], me: str | None, people: People) -> None:
    with transaction(conn):
        for agent in agents:
            people.id_for(conn, agent)
        if me:
            conn.execute("UPDATE person SET is_me = (kind = 'agent' AND remote_id = ?)", (me,))


def save_orders(conn: sqlite3.Connection, orders: Sequence[OrderRecord], people: People) -> list[int]:
    """Store orders with their lines, payments, refunds and fulfilments; returns local ids."""
    ids = []
    now = clock.now()
    with transaction(conn):
        for o in orders:
            customer_id = people.id_for(conn, o.customer)
            row = conn.execute(
                """INSERT INTO orders (remote_id, number, customer_id, email, currency, created_at, financial_status,
                       fulfillment_status, subtotal, shipping, tax, discount, total, paid, refunded, shipping_refunded,
                       cancelled_at, shipping_address, synced_at)
                   VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                   ON CONFLICT (remote_id) DO UPDATE SET number = excluded.number, customer_id = excluded.customer_id,
                       email = excluded.email, currency = excluded.currency, created_at = excluded.created_at,
                       financial_status = excluded.financial_status, fulfillment_status = excluded.fulfillment_status,
                       subtotal = excluded.subtotal, shipping = excluded.shipping, tax = excluded.tax,
                       discount = excluded.discount, total = excluded.total, paid = excluded.paid,
                       refunded = excluded.refunded, shipping_refunded = excluded.shipping_refunded,
                       cancelled_at = excluded.cancelled_at, shipping_address = excluded.shipping_address,
                       synced_at = excluded.synced_at
                   RETURNING id""",
                (o.remote_id, clean_line(o.number, 40), customer_id, o.email, o.currency, o.created_at,
                 o.financial_status, o.fulfillment_status, o.subtotal, o.shipping, o.tax, o.discount, o.total, o.paid,
                 o.refunded, o.shipping_refunded, o.cancelled_at, clean_line(o.shipping_address, 300), now)).fetchone()
            order_id = row[0]
            ids.append(order_id)
            for table in ("order_line", "payment", "refund", "fulfillment", "order_return"):
                conn.execute(f"DELETE FROM {table} WHERE order_id = ?", (order_id,))
            conn.executemany(
                "INSERT INTO order_line (order_id, remote_id, sku, title, variant, quantity, unit_price, total,"
                " refunded_quantity, refunded_amount, fulfilled_quantity) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, li.remote_id, li.sku, clean_line(li.title, 200), clean_line(li.variant, 100) or None,
                  li.quantity, li.unit_price, li.total, li.refunded_quantity, li.refunded_amount, li.fulfilled_quantity)
                 for li in o.lines])
            conn.executemany(
                "INSERT INTO payment (order_id, remote_id, kind, gateway, amount, currency, status, created_at, reference)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, p.remote_id, p.kind, p.gateway, p.amount, p.currency, p.status, p.created_at, p.reference)
                 for p in o.payments])
            conn.executemany(
                "INSERT INTO refund (order_id, remote_id, amount, shipping, currency, reason, note, lines, restock,"
                " created_at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, r.remote_id, r.amount, r.shipping, r.currency, r.reason, clean(r.note or ""),
                  json.dumps([list(x) for x in r.lines]), int(r.restock), r.created_at, r.idempotency_key)
                 for r in o.refunds])
            conn.executemany(
                "INSERT INTO fulfillment (order_id, remote_id, status, carrier, tracking_number, tracking_url,"
                " shipped_at, delivered_at, lines) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, f.remote_id, f.status, f.carrier, f.tracking_number, f.tracking_url, f.shipped_at,
                  f.delivered_at, json.dumps([list(x) for x in f.lines])) for f in o.fulfillments])
            conn.executemany(
                "INSERT INTO order_return (order_id, remote_id, status, reason, note, decline_reason, lines, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [(order_id, r.remote_id, r.status, r.reason, clean(r.note or ""), r.decline_reason,
                  json.dumps([list(x) for x in r.lines]), r.created_at) for r in o.returns])
        from csconsole.commerce import actions as commerce_actions

        commerce_actions.reapply_pending(conn, ids)
    return ids


def save_remote_macros(conn: sqlite3.Connection, account: str, macros: Sequence[Any]) -> None:
    """Replace the helpdesk's own macros (RemoteMacro records) for this account."""
    with transaction(conn):
        conn.execute("DELETE FROM remote_macro WHERE account = ?", (account,))
        conn.executemany(
            "INSERT OR REPLACE INTO remote_macro (account, remote_id, title, description, actions, synced_at, reply)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(account, m.remote_id, clean_line(m.title, 200), clean(m.description or ""),
              json.dumps([[str(field), value] for field, value in m.actions], default=str), clock.now(),
              None if m.reply is None else clean(m.reply))
             for m in macros])
