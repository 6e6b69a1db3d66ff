"""Helpers shared by the macro tests (no tests here).

The demo workspace fixture syncs tickets and threads but not orders (the console loads a
customer's orders when a ticket is opened), so macro tests load the orders they need the
same way, through the sync engine and the demo store.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable
from typing import Any

LEAD = "dana@northwind-outfitters.example"
LEAD_CONFIG = f'[policy]\nleads = ["{LEAD}"]\n'


def load_orders(workspace, ticket_ids: Iterable[int] | None = None) -> None:
    """Fetch the requesters' orders into the cache (every ticket's when no ids are given)."""
    from csconsole.sync.engine import SyncEngine

    async def go() -> None:
        engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)
        await engine.open()
        try:
            assert engine.conn is not None
            ids = list(ticket_ids) if ticket_ids is not None else [r[0] for r in engine.conn.execute(
                "SELECT min(id) FROM ticket GROUP BY requester_id")]
            for ticket_id in ids:
                await engine.fetch_orders(ticket_id)
        finally:
            await engine.close()

    asyncio.run(go())


def settings(workspace):
    from csconsole.macros.context import Settings

    return Settings.for_workspace(workspace)


def first_ticket(conn, workspace, tag: str | None, test: Callable[[dict[str, Any]], bool]) -> int:
    """The lowest ticket id (with ``tag``) whose rendering context passes ``test``."""
    from csconsole.macros import context

    query = "SELECT t.id FROM ticket t" + (" JOIN ticket_tag g ON g.ticket_id = t.id AND g.tag = ?" if tag else "")
    for (ticket_id,) in conn.execute(query + " ORDER BY t.id", (tag,) if tag else ()).fetchall():
        if test(context.build(conn, ticket_id, settings(workspace)).values):
            return ticket_id
    raise AssertionError(f"no demo ticket tagged {tag!r} fits")


def write_macro(folder, name: str, text: str):
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path
