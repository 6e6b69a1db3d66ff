"""The demo helpdesk and store's own database: the 'remote' side of the demo workspace.

It behaves like a real backend: every change bumps the ticket's version and a global
change sequence (what incremental pulls follow), stale updates are refused as conflicts,
and it can be told to fail (rate limit, 5xx, timeout after applying) so the sync engine's
retry and reconcile paths run against it in tests and in the demo.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from csconsole import clock, sla
from csconsole.adapters.demo import generator
from csconsole.commerce import refunds

FAILURES = ("rate_limit", "server_error", "timeout_after_apply", "timeout_before_apply", "garbage", "hang_after_apply")
"""hang_after_apply applies the change and then never answers (for crash tests: kill the client)."""


class BackendGone(Exception):
    pass


@dataclass
class Injected:
    kind: str
    retry_after: float | None = None


class DemoBackend:
    """Synchronous access to the demo backend file; one instance per thread."""

    def __init__(self, path: Path) -> None:
        if not path.exists():
            raise BackendGone(f"the demo backend {path} does not exist; run `csconsole demo` to build it")
        self.path = path
        self.conn = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute("PRAGMA busy_timeout = 10000")
        self.conn.execute("CREATE TABLE IF NOT EXISTS failure (id INTEGER PRIMARY KEY, op TEXT, kind TEXT, retry_after REAL)")
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        self.seed = int(meta["seed"])
        self.anchor = int(meta["anchor"])

    def close(self) -> None:
        self.conn.close()

    # -- failure injection (tests, and `csconsole demo --flaky`)
    def inject(self, op: str, kind: str, retry_after: float | None = None, times: int = 1) -> None:
        """Make the next ``times`` calls of ``op`` ('pull', 'thread', 'apply', 'orders', '*') fail."""
        if kind not in FAILURES:
            raise ValueError(f"unknown failure {kind!r}")
        self.conn.executemany("INSERT INTO failure (op, kind, retry_after) VALUES (?, ?, ?)",
                              [(op, kind, retry_after)] * times)

    def take_failure(self, op: str) -> Injected | None:
        row = self.conn.execute("SELECT id, kind, retry_after FROM failure WHERE op IN (?, '*') ORDER BY id LIMIT 1",
                                (op,)).fetchone()
        if row is None:
            return None
        self.conn.execute("DELETE FROM failure WHERE id = ?", (row["id"],))
        return Injected(row["kind"], row["retry_after"])

    # -- tickets
    def _next_seq(self) -> int:
        seq = int(self.conn.execute("SELECT value FROM meta WHERE key = 'seq'").fetchone()[0]) + 1
        self.conn.execute("UPDATE meta SET value = ? WHERE key = 'seq'", (str(seq),))
        return seq

    TICKET_SELECT = """
        SELECT t.*, c.name AS requester_name, c.email AS requester_email, c.locale AS requester_locale,
               a.name AS assignee_name, a.email AS assignee_email
        FROM ticket t JOIN customer c ON c.id = t.requester_id LEFT JOIN agent a ON a.id = t.assignee_id
    """

    def changed_since(self, seq: int, limit: int) -> list[sqlite3.Row]:
        return self.conn.execute(self.TICKET_SELECT + " WHERE t.seq > ? ORDER BY t.seq LIMIT ?", (seq, limit)).fetchall()

    def count_changed_since(self, seq: int) -> int:
        return self.conn.execute("SELECT count(*) FROM ticket WHERE seq > ?", (seq,)).fetchone()[0]

    def ticket(self, number: int) -> sqlite3.Row | None:
        return self.conn.execute(self.TICKET_SELECT + " WHERE t.id = ?", (number,)).fetchone()

    def agents(self) -> list[sqlite3.Row]:
        return self.conn.execute("SELECT * FROM agent ORDER BY id").fetchall()

    def agent_by_email(self, email: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM agent WHERE email = ?", (email,)).fetchone()

    def thread(self, number: int) -> list[sqlite3.Row]:
        self._materialize(number)
        return self.conn.execute(
            """SELECT m.*, CASE WHEN m.author_kind = 'customer' THEN c.name ELSE a.name END AS author_name,
                      CASE WHEN m.author_kind = 'customer' THEN c.email ELSE a.email END AS author_email
               FROM message m LEFT JOIN customer c ON m.author_kind = 'customer' AND c.id = m.author_id
               LEFT JOIN agent a ON m.author_kind = 'agent' AND a.id = m.author_id
               WHERE m.ticket_id = ? ORDER BY m.created_at, m.id""", (number,)).fetchall()

    def _materialize(self, number: int) -> None:
        """Write a ticket's generated thread the first time anyone reads it."""
        row = self.conn.execute("SELECT materialized FROM ticket WHERE id = ?", (number,)).fetchone()
        if row is None or row["materialized"]:
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            self._materialize_in_tx(number, self.conn.execute("SELECT * FROM ticket WHERE id = ?", (number,)).fetchone())
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def message_by_key(self, number: int, key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM message WHERE ticket_id = ? AND request_key = ?", (number, key)).fetchone()

    def update_ticket(self, number: int, kind: str, payload: dict, *, key: str, base_version: str | None,
                      agent_email: str | None, now: int | None = None) -> tuple[int, int | None]:
        """Apply one agent action; returns (new version, created message id)."""
        now = now or clock.now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            t = self.conn.execute("SELECT * FROM ticket WHERE id = ?", (number,)).fetchone()
            if t is None:
                raise LookupError(f"ticket {number} does not exist")
            if kind in ("reply", "note"):
                existing = self.conn.execute("SELECT id FROM message WHERE request_key = ?", (key,)).fetchone()
                if existing:  # the same request again: answer as the first time did
                    self.conn.execute("COMMIT")
                    return t["version"], existing["id"]
            if base_version is not None and str(t["version"]) != str(base_version):
                raise VersionConflict(t["version"])
            agent = self.agent_by_email(agent_email) if agent_email else None
            agent_id = agent["id"] if agent else 1
            changes: dict[str, object] = {}
            message_id = None
            status = t["status"]
            last_agent_at = t["last_agent_at"]
            if kind in ("reply", "note"):
                self._materialize_in_tx(number, t)
                cur = self.conn.execute(
                    "INSERT INTO message (ticket_id, author_kind, author_id, public, body, created_at, request_key)"
                    " VALUES (?, 'agent', ?, ?, ?, ?, ?)",
                    (number, agent_id, 1 if kind == "reply" else 0, payload["body"], now, key))
                message_id = cur.lastrowid
                changes["message_count"] = t["message_count"] + 1
                if kind == "reply":
                    last_agent_at = now
                    changes["last_agent_at"] = now
                    if t["first_response_at"] is None:
                        changes["first_response_at"] = now
                    if status == "new":
                        status = "open"
                        changes["status"] = status
            elif kind == "status":
                status = payload["status"]
                changes["status"] = status
                if status in ("solved", "closed"):
                    changes["solved_at"] = now
                elif t["solved_at"] is not None:
                    changes["solved_at"] = None
            elif kind == "priority":
                changes["priority"] = int(payload["priority"])
            elif kind == "assign":
                email = payload.get("assignee")
                if email:
                    target = self.agent_by_email(email)
                    if target is None:
                        raise ValueError(f"no agent with email {email}")
                    changes["assignee_id"] = target["id"]
                else:
                    changes["assignee_id"] = None
                if status == "new" and email:
                    status = "open"
                    changes["status"] = status
            elif kind == "tags":
                tags = [x for x in t["tags"].split() if x not in payload.get("remove", ())]
                tags += [x for x in payload.get("add", ()) if x not in tags]
                changes["tags"] = " ".join(tags)
            else:
                raise ValueError(f"the demo helpdesk cannot {kind}")
            priority = int(changes.get("priority", t["priority"]))
            changes["sla_due_at"] = sla.due_at(status, priority, t["last_customer_at"], last_agent_at, now)
            changes["version"] = t["version"] + 1
            changes["updated_at"] = now
            changes["seq"] = self._next_seq()
            assignments = ", ".join(f"{column} = ?" for column in changes)
            self.conn.execute(f"UPDATE ticket SET {assignments} WHERE id = ?", (*changes.values(), number))
            self.conn.execute("COMMIT")
            return int(changes["version"]), message_id  # type: ignore[arg-type]
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def _materialize_in_tx(self, number: int, t: sqlite3.Row) -> None:
        if t["materialized"]:
            return
        plan, ctx = generator.replan(self.conn, number)
        for role, at, body in generator.thread_for(self.seed, plan, ctx):
            author_kind = "customer" if role == "customer" else "agent"
            author = t["requester_id"] if role == "customer" else (plan.assignee_id or 1)
            self.conn.execute("INSERT INTO message (ticket_id, author_kind, author_id, public, body, created_at)"
                              " VALUES (?, ?, ?, ?, ?, ?)", (number, author_kind, author, 0 if role == "note" else 1, body, at))
        self.conn.execute("UPDATE ticket SET materialized = 1 WHERE id = ?", (number,))

    def customer_message(self, number: int, body: str, now: int | None = None) -> int:
        """A customer writes again (the demo's 'live' activity, and collision tests)."""
        now = now or clock.now()
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            t = self.conn.execute("SELECT * FROM ticket WHERE id = ?", (number,)).fetchone()
            self._materialize_in_tx(number, t)
            self.conn.execute("INSERT INTO message (ticket_id, author_kind, author_id, public, body, created_at)"
                              " VALUES (?, 'customer', ?, 1, ?, ?)", (number, t["requester_id"], body, now))
            status = "open" if t["status"] in ("pending", "solved", "hold") else t["status"]
            due = sla.due_at(status, t["priority"], now, t["last_agent_at"], now)
            self.conn.execute("UPDATE ticket SET status = ?, last_customer_at = ?, message_count = message_count + 1,"
                              " sla_due_at = ?, version = version + 1, updated_at = ?, seq = ?, solved_at = NULL"
                              " WHERE id = ?", (status, now, due, now, self._next_seq(), number))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return number

    # -- store
    def orders_for(self, email: str, numbers: tuple[str, ...]) -> list[int]:
        ids = [r[0] for r in self.conn.execute(
            "SELECT o.id FROM orders o JOIN customer c ON c.id = o.customer_id WHERE c.email = ?"
            " ORDER BY o.created_at DESC", (email,))]
        for number in numbers:
            row = self.conn.execute("SELECT id FROM orders WHERE number = ?", (number.lstrip("#"),)).fetchone()
            if row and row[0] not in ids:
                ids.append(row[0])
        return ids

    def order(self, order_id: int) -> dict | None:
        o = self.conn.execute("SELECT o.*, c.name AS customer_name, c.email AS customer_email, c.locale AS customer_locale"
                              " FROM orders o JOIN customer c ON c.id = o.customer_id WHERE o.id = ?", (order_id,)).fetchone()
        if o is None:
            return None
        q = self.conn.execute
        return {
            "order": o,
            "lines": q("SELECT * FROM order_line WHERE order_id = ? ORDER BY id", (order_id,)).fetchall(),
            "txns": q("SELECT * FROM txn WHERE order_id = ? ORDER BY id", (order_id,)).fetchall(),
            "refunds": q("SELECT * FROM refund WHERE order_id = ? ORDER BY id", (order_id,)).fetchall(),
            "fulfillments": q("SELECT * FROM fulfillment WHERE order_id = ? ORDER BY id", (order_id,)).fetchall(),
            "returns": q("SELECT * FROM ret WHERE order_id = ? ORDER BY id", (order_id,)).fetchall(),
        }

    def order_id_by_number(self, number: str) -> int | None:
        row = self.conn.execute("SELECT id FROM orders WHERE number = ?", (number.lstrip("#"),)).fetchone()
        return row[0] if row else None

    # -- money and parcels: the store's own rules, refusing what a real store refuses
    def money(self, order_id: int) -> refunds.OrderMoney:
        data = self.order(order_id)
        if data is None:
            raise LookupError(f"order {order_id} does not exist")
        o = data["order"]
        by_line: dict[str, list[int]] = {}
        shipping_refunded = refunded = 0
        for r in data["refunds"]:
            refunded += r["amount"] + r["shipping"]
            shipping_refunded += r["shipping"]
            for line_id, qty, amount in json.loads(r["lines"]):
                acc = by_line.setdefault(str(line_id), [0, 0])
                acc[0] += qty
                acc[1] += amount
        paid = sum(t["amount"] for t in data["txns"] if t["kind"] in ("sale", "capture") and t["status"] == "success")
        lines = [{"id": str(li["id"]), "title": li["title"], "quantity": li["quantity"],
                  "total": li["quantity"] * li["unit_price"], "refunded_quantity": by_line.get(str(li["id"]), [0, 0])[0],
                  "refunded_amount": by_line.get(str(li["id"]), [0, 0])[1]} for li in data["lines"]]
        return refunds.order_money(currency=o["currency"], paid=paid, refunded=refunded, shipping=o["shipping"],
                                   shipping_refunded=shipping_refunded, lines=lines)

    def refund_by_key(self, key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM refund WHERE idempotency_key = ?", (key,)).fetchone()

    def return_by_key(self, key: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM ret WHERE idempotency_key = ?", (key,)).fetchone()

    def refund(self, order_id: int, quantities: dict[str, int], shipping: int, *, restock: bool, reason: str,
               note: str, key: str, expected_total: int | None = None) -> int:
        """Refund lines and shipping; the same key twice returns the first refund (like Shopify)."""
        existing = self.refund_by_key(key)
        if existing is not None:
            return existing["id"]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            plan = refunds.plan_refund(self.money(order_id), quantities, shipping)
            if expected_total is not None and plan.total != expected_total:
                raise refunds.RefundError(f"the store computes {plan.total} for this refund, not {expected_total}")
            now = clock.now()
            cur = self.conn.execute(
                "INSERT INTO refund (order_id, amount, shipping, reason, note, restock, lines, created_at, idempotency_key)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (order_id, plan.total - plan.shipping, plan.shipping, reason, note, int(restock),
                 dumps([list(x) for x in plan.lines]), now, key))
            gateway = self.conn.execute("SELECT gateway FROM txn WHERE order_id = ? AND kind = 'sale' LIMIT 1",
                                        (order_id,)).fetchone()
            self.conn.execute("INSERT INTO txn (order_id, kind, gateway, amount, status, created_at, reference)"
                              " VALUES (?, 'refund', ?, ?, 'success', ?, ?)",
                              (order_id, gateway[0] if gateway else None, plan.total, now, f"re_{cur.lastrowid:08d}"))
            if restock:
                for line_id, qty, _ in plan.lines:
                    self.conn.execute("UPDATE order_line SET restocked_quantity = restocked_quantity + ? WHERE id = ?",
                                      (qty, int(line_id)))
            self.conn.execute("COMMIT")
            return int(cur.lastrowid or 0)
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise

    def create_return(self, order_id: int, quantities: dict[str, int], *, reason: str, note: str, key: str,
                      status: str = "open") -> int:
        """A return of delivered items (status 'open': approved; 'requested': the customer asks)."""
        existing = self.return_by_key(key)
        if existing is not None:
            return existing["id"]
        data = self.order(order_id)
        if data is None:
            raise LookupError(f"order {order_id} does not exist")
        if data["order"]["cancelled_at"]:
            raise ValueError("the order was cancelled")
        returned: dict[str, int] = {}
        for r in data["returns"]:
            if r["status"] in ("requested", "open", "received", "closed"):
                for line_id, qty in json.loads(r["lines"]):
                    returned[str(line_id)] = returned.get(str(line_id), 0) + qty
        lines = {str(li["id"]): li for li in data["lines"]}
        for line_id, qty in quantities.items():
            line = lines.get(str(line_id))
            if line is None:
                raise ValueError(f"the order has no line {line_id}")
            room = line["fulfilled_quantity"] - returned.get(str(line_id), 0)
            if qty <= 0 or qty > room:
                raise ValueError(f"{line['title']}: only {max(room, 0)} shipped item(s) can be returned")
        now = clock.now()
        cur = self.conn.execute(
            "INSERT INTO ret (order_id, status, reason, lines, note, created_at, updated_at, idempotency_key)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (order_id, status, reason, dumps([[str(k), v] for k, v in quantities.items() if v]), note, now, now, key))
        return int(cur.lastrowid or 0)

    def move_return(self, return_id: int, to: str, *, decline_reason: str | None = None, note: str | None = None) -> None:
        """requested → open (approve) or declined; open → received."""
        allowed = {"open": ("requested",), "declined": ("requested",), "received": ("open",)}
        row = self.conn.execute("SELECT * FROM ret WHERE id = ?", (return_id,)).fetchone()
        if row is None:
            raise LookupError(f"return {return_id} does not exist")
        if row["status"] == to:
            return
        if row["status"] not in allowed[to]:
            raise ValueError(f"a {row['status']} return cannot become {to}")
        self.conn.execute("UPDATE ret SET status = ?, decline_reason = coalesce(?, decline_reason),"
                          " note = coalesce(?, note), updated_at = ? WHERE id = ?",
                          (to, decline_reason, note, clock.now(), return_id))

    def cancel(self, order_id: int, *, refund: bool, restock: bool, reason: str, note: str, key: str) -> int | None:
        """Cancel an order that has not shipped; with ``refund``, give back everything paid."""
        data = self.order(order_id)
        if data is None:
            raise LookupError(f"order {order_id} does not exist")
        o = data["order"]
        if o["cancelled_at"]:
            existing = self.refund_by_key(key)
            return existing["id"] if existing else None
        if any(li["fulfilled_quantity"] for li in data["lines"]):
            raise ValueError("the order has already shipped: start a return instead")
        refund_id = None
        if refund:
            money = self.money(order_id)
            quantities = {li.line_id: li.refundable_quantity for li in money.lines if li.refundable_quantity}
            if money.refundable:
                refund_id = self.refund(order_id, quantities, money.shipping_refundable, restock=restock,
                                        reason="cancelled", note=note, key=key)
        self.conn.execute("UPDATE orders SET cancelled_at = ?, version = version + 1 WHERE id = ?", (clock.now(), order_id))
        return refund_id


class VersionConflict(Exception):
    def __init__(self, current: int) -> None:
        super().__init__(f"the ticket is at version {current}")
        self.current = current


def dumps(value: object) -> str:
    return json.dumps(value, separators=(",", ":"))
