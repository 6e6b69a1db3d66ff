"""Pages of a view, by keyset: what the queue list shows, at any cache size.

A view is a query in the search language plus a sort. Rows come back a page at a time,
each page starting after the sort key of the last row of the page before it (keyset), so
paging costs the same at row 10 and at row 900,000. A page far from any loaded one falls
back to OFFSET once, and the end of the list is read backwards. Words in a query drive the
query from the full-text index, newest ticket first, which streams without sorting.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from typing import Any

from csconsole.store.search import Compiled, compile_query, parse

SORT_KEYS: dict[str, tuple[tuple[str, ...], str]] = {
    "updated": (("t.updated_at", "t.id"), "DESC"),
    "created": (("t.id",), "DESC"),
    "oldest": (("t.id",), "ASC"),
    "sla": (("t.sla_due_at", "t.id"), "ASC"),
    "priority": (("t.priority", "t.updated_at", "t.id"), "DESC"),
}
"""Every sort ends in the ticket id, so the order is total and a keyset is exact."""

SELECT_ROW = """
    SELECT t.id, t.priority, t.status, t.subject, coalesce(rp.name, rp.email, '') AS requester, t.updated_at,
           coalesce(ap.name, '') AS assignee, t.sla_due_at, t.pending_actions, t.created_at, t.tags
"""
FROM_TICKET = """
    FROM ticket t LEFT JOIN person rp ON rp.id = t.requester_id LEFT JOIN person ap ON ap.id = t.assignee_id
"""
FROM_FTS = """
    FROM ticket_fts f JOIN ticket t ON t.id = f.rowid
    LEFT JOIN person rp ON rp.id = t.requester_id LEFT JOIN person ap ON ap.id = t.assignee_id
"""


@dataclass(frozen=True)
class QueueRow:
    id: int
    priority: int
    status: str
    subject: str
    requester: str
    updated_at: int
    assignee: str
    sla_due_at: int
    pending_actions: int
    created_at: int
    tags: str

    def key(self, sort: str) -> tuple[Any, ...]:
        columns, _ = SORT_KEYS[sort]
        return tuple(getattr(self, column.split(".")[1]) for column in columns)


@dataclass
class ViewQuery:
    """A compiled view: filter + sort, ready to count and page."""

    query: str
    sort: str
    now: int
    soon_seconds: int = 3600
    compiled: Compiled = field(init=False)

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort {self.sort!r}")
        self.compiled = compile_query(parse(self.query), now=self.now, soon_seconds=self.soon_seconds)
        if self.compiled.has_text:
            # Word searches list newest first: the FTS index streams rowids in that order.
            self.sort = "created"

    @property
    def _uses_fts(self) -> bool:
        return self.compiled.has_text

    def _base(self) -> tuple[str, list[Any]]:
        c = self.compiled
        if self._uses_fts:
            return FROM_FTS + " WHERE ticket_fts MATCH ? AND " + c.fts_where, [c.fts, *c.fts_params]
        return FROM_TICKET + " WHERE " + c.where, list(c.params)

    def _order(self, reverse: bool = False) -> tuple[str, str, tuple[str, ...]]:
        columns, direction = SORT_KEYS[self.sort]
        if self._uses_fts:
            columns = ("f.rowid",)
        if reverse:
            direction = "ASC" if direction == "DESC" else "DESC"
        return ", ".join(f"{c} {direction}" for c in columns), direction, columns

    def count(self, conn: sqlite3.Connection, cap: int | None = None) -> int:
        """Rows in the view; with ``cap``, stop counting there (a word common to half the
        cache would otherwise take a second to count)."""
        c = self.compiled
        if self._uses_fts:
            inner = "SELECT 1 FROM ticket_fts f JOIN ticket t ON t.id = f.rowid WHERE ticket_fts MATCH ? AND " + c.fts_where
            params: list[Any] = [c.fts, *c.fts_params]
        else:
            inner, params = "SELECT 1 FROM ticket t WHERE " + c.where, list(c.params)
        if cap is None:
            return conn.execute(f"SELECT count(*) FROM ({inner})", params).fetchone()[0]
        return conn.execute(f"SELECT count(*) FROM ({inner} LIMIT ?)", [*params, cap]).fetchone()[0]

    def page(self, conn: sqlite3.Connection, limit: int, *, after: tuple[Any, ...] | None = None,
             offset: int = 0) -> list[QueueRow]:
        """Rows after the sort key ``after`` (keyset), or from ``offset`` when no key is known."""
        base, params = self._base()
        order, direction, columns = self._order()
        sql = SELECT_ROW + base
        if after is not None:
            comparator = "<" if direction == "DESC" else ">"
            sql += f" AND ({', '.join(columns)}) {comparator} ({', '.join('?' * len(after))})"
            params.extend(after)
            offset = 0
        sql += f" ORDER BY {order} LIMIT ? OFFSET ?"
        params.extend([limit, offset])
        return [QueueRow(*r) for r in conn.execute(sql, params)]

    def page_before(self, conn: sqlite3.Connection, limit: int, *, before: tuple[Any, ...] | None = None) -> list[QueueRow]:
        """Rows just before the key ``before`` (or the last rows of the view), in view order."""
        base, params = self._base()
        order, direction, columns = self._order(reverse=True)
        sql = SELECT_ROW + base
        if before is not None:
            comparator = "<" if direction == "DESC" else ">"
            sql += f" AND ({', '.join(columns)}) {comparator} ({', '.join('?' * len(before))})"
            params.extend(before)
        sql += f" ORDER BY {order} LIMIT ?"
        params.append(limit)
        rows = [QueueRow(*r) for r in conn.execute(sql, params)]
        rows.reverse()
        return rows

    def neighbour(self, conn: sqlite3.Connection, row_key: tuple[Any, ...], forward: bool = True) -> int | None:
        """The ticket just after (or before) a sort key in this view, even if that ticket has left it."""
        rows = self.page(conn, 1, after=row_key) if forward else self.page_before(conn, 1, before=row_key)
        return rows[0].id if rows else None

    def key_of(self, conn: sqlite3.Connection, ticket_id: int) -> tuple[Any, ...] | None:
        columns, _ = SORT_KEYS[self.sort]
        if self._uses_fts:
            return (ticket_id,)
        row = conn.execute(f"SELECT {', '.join(columns)} FROM ticket t WHERE t.id = ?", (ticket_id,)).fetchone()
        return tuple(row) if row else None
