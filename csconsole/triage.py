"""What the triage keys need from the cache, without any UI: who 'me' is, the agents to
assign to, the known tags, drafts, whether a ticket still belongs in a view, and the
outbox intents for a field change on one or many tickets."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass

from csconsole import clock
from csconsole.store.outbox import Intent
from csconsole.store.queue import ViewQuery
from csconsole.text import normalise_tag

STATUS_KEYS = {"n": "new", "o": "open", "p": "pending", "h": "hold", "s": "solved", "c": "closed"}
PRIORITY_KEYS = {"u": 4, "h": 3, "n": 2, "l": 1}


@dataclass(frozen=True)
class Agent:
    remote_id: str
    name: str
    email: str | None
    is_me: bool
    open_tickets: int


def me(conn: sqlite3.Connection) -> Agent | None:
    row = conn.execute("SELECT remote_id, name, email FROM person WHERE is_me = 1 LIMIT 1").fetchone()
    return Agent(row[0], row[1], row[2], True, 0) if row else None


def agents(conn: sqlite3.Connection) -> list[Agent]:
    """Every agent with their open ticket count (so a lead can see who is loaded)."""
    rows = conn.execute(
        """SELECT p.remote_id, p.name, p.email, p.is_me,
                  (SELECT count(*) FROM ticket t WHERE t.assignee_id = p.id AND t.unsolved = 1) AS open_tickets
           FROM person p WHERE p.kind = 'agent' AND p.active = 1 ORDER BY p.name""").fetchall()
    return [Agent(r[0], r[1], r[2], bool(r[3]), r[4]) for r in rows]


def known_tags(conn: sqlite3.Connection, limit: int = 500) -> list[str]:
    """Tags in use, most used first (for completion)."""
    return [r[0] for r in conn.execute(
        "SELECT tag FROM ticket_tag GROUP BY tag ORDER BY count(*) DESC, tag LIMIT ?", (limit,))]


def parse_tag_edit(text: str) -> tuple[list[str], list[str]]:
    """'+vip -spam followup' → add ['vip', 'followup'], remove ['spam']."""
    add, remove = [], []
    for word in text.replace(",", " ").split():
        if word.startswith("-") and len(word) > 1:
            remove.append(word[1:])
        elif word.startswith("+") and len(word) > 1:
            add.append(word[1:])
        elif word not in ("+", "-"):
            add.append(word)
    return add, remove


def field_intents(kind: str, ticket_ids: Sequence[int], value: object) -> list[Intent]:
    """One intent per ticket for a field change (status, priority, assign, tags)."""
    payload: dict[str, object]
    if kind == "status":
        payload = {"status": value}
    elif kind == "priority":
        payload = {"priority": value}
    elif kind == "assign":
        remote_id, name = value if isinstance(value, tuple) else (value, None)
        payload = {"assignee": remote_id, "name": name}
    elif kind == "tags":
        add, remove = value  # type: ignore[misc]
        payload = {"add": list(add), "remove": list(remove)}
    else:
        raise ValueError(f"not a field change: {kind}")
    return [Intent(kind, ticket_id, dict(payload)) for ticket_id in ticket_ids]


def changes_only(conn: sqlite3.Connection, intents: Sequence[Intent]) -> list[Intent]:
    """Drop the field changes a ticket already shows (as the cache has it, pending actions
    included): `a` on a ticket that is already yours must not send the helpdesk an update,
    and a bulk change touches only the tickets it changes. Tag edits keep only the tags
    that change."""
    kept = []
    for intent in intents:
        t = conn.execute("SELECT t.status, t.priority, t.tags, p.remote_id AS assignee FROM ticket t"
                         " LEFT JOIN person p ON p.id = t.assignee_id WHERE t.id = ?", (intent.ticket_id,)).fetchone()
        p = intent.payload
        if t is None:
            kept.append(intent)  # not in the cache: let the outbox say so
        elif intent.kind == "status" and p["status"] == t["status"]:
            continue
        elif intent.kind == "priority" and p["priority"] == t["priority"]:
            continue
        elif intent.kind == "assign" and p["assignee"] == t["assignee"]:
            continue
        elif intent.kind == "tags":
            has = set(t["tags"].split())
            add = [x for x in dict.fromkeys(normalise_tag(x) for x in p["add"]) if x and x not in has]
            remove = [x for x in dict.fromkeys(normalise_tag(x) for x in p["remove"]) if x and x in has]
            if add or remove:
                kept.append(Intent("tags", intent.ticket_id, {"add": add, "remove": remove}))
        else:
            kept.append(intent)
    return kept


def in_view(conn: sqlite3.Connection, view: ViewQuery, ticket_id: int) -> bool:
    """Does the ticket (as the cache shows it now) still match the view's filter?"""
    c = view.compiled
    if c.has_text:
        sql = ("SELECT 1 FROM ticket_fts f JOIN ticket t ON t.id = f.rowid WHERE ticket_fts MATCH ? AND "
               + c.fts_where + " AND t.id = ?")
        params = [c.fts, *c.fts_params, ticket_id]
    else:
        sql, params = "SELECT 1 FROM ticket t WHERE " + c.where + " AND t.id = ?", [*c.params, ticket_id]
    return conn.execute(sql, params).fetchone() is not None


def view_ids(conn: sqlite3.Connection, view: ViewQuery, limit: int) -> list[int]:
    """The first ``limit`` ticket ids of a view, in its order (select-all)."""
    return [row.id for row in view.page(conn, limit)]


# -- drafts: saved as they are typed, so a crash or a restart never loses a reply


def save_draft(conn: sqlite3.Connection, ticket_id: int, kind: str, body: str) -> None:
    if body.strip():
        conn.execute("INSERT INTO draft (ticket_id, kind, body, updated_at) VALUES (?, ?, ?, ?)"
                     " ON CONFLICT (ticket_id, kind) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at",
                     (ticket_id, kind, body, clock.now()))
    else:
        conn.execute("DELETE FROM draft WHERE ticket_id = ? AND kind = ?", (ticket_id, kind))


def load_draft(conn: sqlite3.Connection, ticket_id: int, kind: str) -> str:
    row = conn.execute("SELECT body FROM draft WHERE ticket_id = ? AND kind = ?", (ticket_id, kind)).fetchone()
    return row[0] if row else ""


def drafts_for(conn: sqlite3.Connection, ticket_id: int) -> dict[str, str]:
    return {r[0]: r[1] for r in conn.execute("SELECT kind, body FROM draft WHERE ticket_id = ?", (ticket_id,))}
