"""The outbox: what is still on its way to the helpdesk or the store, and what went wrong.

Pending and sending actions show how long they have waited; a failed action shows the
backend's own words; a conflicting one shows what changed remotely next to what the agent
did, with re-apply (send it again on top of the ticket as it is now) or discard (take it
back, locally too). Refunds waiting for a lead are listed here as well.
"""

from __future__ import annotations

import json
import sqlite3
import time

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Static

from csconsole import clock
from csconsole.messages import TicketsChanged
from csconsole.adapters.base import PRIORITIES
from csconsole.screens import gone
from csconsole.store import outbox
from csconsole.text import clean_line
from csconsole.widgets.footer import Footer
from csconsole.widgets.status_bar import StatusBar

STATE_STYLE = {"pending": "cyan", "sending": "bold cyan", "failed": "bold red", "conflict": "bold yellow",
               "approval": "magenta"}


def load_rows(conn: sqlite3.Connection) -> list[sqlite3.Row]:
    return outbox.listing(conn)


def conflict_text(row: sqlite3.Row, local: sqlite3.Row | None) -> Text:
    """What the helpdesk has now, beside what the agent's action wanted."""
    remote = json.loads(row["result"] or "{}").get("remote", {})
    out = Text()
    out.append(f"#{row['ticket_id']}: {outbox.describe(row['kind'], json.loads(row['payload']))}\n", style="bold")
    out.append("The ticket changed in the helpdesk after you acted on it:\n")
    if remote:
        priority = remote.get("priority")
        out.append(f"  helpdesk now: status {remote.get('status')}, priority "
                   f"{PRIORITIES.get(priority, priority)}, assignee {clean_line(remote.get('assignee') or 'nobody', 40)},"
                   f" {remote.get('message_count')} messages\n")
    if local is not None:
        out.append(f"  your cache:   status {local['status']}, priority {PRIORITIES.get(local['priority'])}, "
                   f"{local['message_count']} messages\n", style="dim")
    out.append("r re-applies your change on top of it · d discards yours · enter opens the ticket", style="italic")
    return out


class OutboxScreen(Screen):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back", id="outbox.back"),
        Binding("r", "retry", "Retry / re-apply", id="outbox.retry"),
        Binding("d", "discard", "Discard", id="outbox.discard"),
        Binding("S", "send_now", "Send now", id="outbox.send_now"),
        Binding("enter", "open", "Open ticket", id="outbox.open"),
    ]
    DEFAULT_CSS = """
    OutboxScreen #outbox-title { height: 1; background: $primary; text-style: bold; }
    OutboxScreen DataTable { height: 1fr; }
    OutboxScreen #outbox-detail { height: auto; max-height: 8; padding: 0 1; background: $boost; }
    """

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[sqlite3.Row] = []

    def compose(self) -> ComposeResult:
        yield Static(" Outbox: actions not yet confirmed by the helpdesk or the store", id="outbox-title", markup=False)
        yield DataTable(id="outbox-table", cursor_type="row", zebra_stripes=True)
        yield Static("", id="outbox-detail", markup=False)
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns("#", "Ticket", "Action", "State", "Tries", "Waiting", "Last error")
        self.app.data_signal.subscribe(self, lambda ids: self.reload())  # type: ignore[attr-defined]
        self.app.sync_signal.subscribe(self, lambda status: self.reload())  # type: ignore[attr-defined]
        self.reload()
        table.focus()

    @work(exclusive=True, group="outbox-load")
    async def reload(self) -> None:
        self.rows = await self.app.cache.read(load_rows)  # type: ignore[attr-defined]
        if gone(self):
            return
        table = self.query_one(DataTable)
        keep = table.cursor_row
        table.clear()
        now = clock.now()
        for r in self.rows:
            payload = json.loads(r["payload"])
            state = r["state"]
            label = "awaiting approval" if state == "approval" else state
            table.add_row(
                Text(str(r["id"])), Text(f"#{r['ticket_id']}" if r["ticket_id"] else "—"),
                Text(clean_line(outbox.describe(r["kind"], payload), 50)), Text(label, style=STATE_STYLE.get(state, "")),
                Text(str(r["attempts"])), Text(clock.age(now - r["created_at"])),
                Text(clean_line(r["last_error"] or "", 80), style="red" if r["last_error"] else ""), key=str(r["id"]))
        if self.rows:
            table.move_cursor(row=min(keep, len(self.rows) - 1))
        self.query_one(StatusBar).set_left(Text(f"{len(self.rows)} action{'s' if len(self.rows) != 1 else ''} in the outbox",
                                                style="bold"))
        await self._show_detail()

    def _current(self) -> sqlite3.Row | None:
        table = self.query_one(DataTable)
        if not self.rows or table.cursor_row is None or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    @on(DataTable.RowHighlighted)
    async def _highlighted(self) -> None:
        await self._show_detail()

    async def _show_detail(self) -> None:
        row = self._current()
        detail = self.query_one("#outbox-detail", Static)
        if row is None:
            detail.update(Text("Nothing waiting: everything has reached the helpdesk and the store.", style="dim"))
            return
        if row["state"] == "conflict":
            local = await self.app.cache.read(  # type: ignore[attr-defined]
                lambda c: c.execute("SELECT * FROM ticket WHERE id = ?", (row["ticket_id"],)).fetchone())
            detail.update(conflict_text(row, local))
        elif row["state"] == "failed":
            detail.update(Text(f"Refused: {clean_line(row['last_error'] or '', 300)}\nr tries again · d discards it "
                               "(its local effect is taken back)", style="red"))
        elif row["state"] == "approval":
            detail.update(Text("Waiting for a team lead to approve it (lead dashboard). d withdraws it.",
                               style="magenta"))
        else:
            wait = max(row["not_before"] - time.time(), 0)
            detail.update(Text(f"Queued; sends in {wait:.0f} s. S sends now · ctrl+z on the ticket takes it back."
                               if wait > 0.5 else "On its way.", style="cyan"))

    def action_retry(self) -> None:
        row = self._current()
        if row is None or row["state"] not in ("failed", "conflict"):
            self.app.bell()
            return
        self._write(outbox.retry, row["id"], rebase=row["state"] == "conflict", done="sent again")

    def action_discard(self) -> None:
        row = self._current()
        if row is None or row["state"] not in ("pending", "failed", "conflict", "approval"):
            self.app.bell()
            return
        self._write(outbox.discard, row["id"], done="discarded")

    def action_send_now(self) -> None:
        row = self._current()
        if row is None or row["state"] != "pending":
            self.app.bell()
            return
        self._write(outbox.send_now, [row["id"]], done="sending now")

    @work(group="outbox-write")
    async def _write(self, fn, *args, done: str, **kwargs) -> None:
        try:
            await self.app.cache.write(fn, *args, **kwargs)  # type: ignore[attr-defined]
        except outbox.ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return
        self.notify(f"Action {done}", timeout=3, markup=False)
        self.app.wake_sync()  # type: ignore[attr-defined]
        self.app.post_message(TicketsChanged([]))

    @on(DataTable.RowSelected)
    def _selected(self) -> None:
        """enter on a row (the table handles enter itself, so this is where it lands)."""
        self.action_open()

    def action_open(self) -> None:
        row = self._current()
        if row is not None and row["ticket_id"]:
            self.app.open_ticket(row["ticket_id"])  # type: ignore[attr-defined]
