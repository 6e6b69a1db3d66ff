"""The team lead's split view (g d, or `csconsole --dashboard`): the live queue beside queue health.

The queue side is the agents' own queue screen: this screen is a QueueScreen, so views (v),
search (/), selection (x, X) and the triage keys (A reassigns the selection through the
outbox, with one confirmation) work exactly as agents know them. It adds the health side:
backlog, trend and medians as text, and three tables a lead acts from. Enter on an SLA cell,
an agent or an approval puts the query behind that figure (csconsole.stats) into the
queue's search, so the queue lists exactly the tickets the figure counted; Y and N approve
or decline the highlighted refund.

Figures are computed by csconsole.stats on a reader thread in a worker, which posts them
back as a message; the handler shows them and only then sets the timer for the next round
(config [ui] dashboard_refresh). A slow round therefore delays the next one instead of
piling up, and keys never wait for it. While another screen covers this one, no round runs.
Figures that could not be refreshed stay on screen and say since when they are stale.
"""

from __future__ import annotations

import sqlite3
import time
from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Container, Vertical, VerticalScroll
from textual.message import Message
from textual.timer import Timer
from textual.widgets import DataTable, Input, Static

from csconsole import clock, messages, stats
from csconsole.commerce import approvals
from csconsole.money import format_minor
from csconsole.screens import gone
from csconsole.screens.pickers import Confirm
from csconsole.screens.queue import QueueScreen
from csconsole.text import clean_line
from csconsole.widgets.footer import Footer
from csconsole.widgets.status_bar import StatusBar

STACK_BELOW = 120
"""Terminals narrower than this show the health side under the queue instead of beside it."""
STALE_AFTER = 3
"""Refresh intervals without new figures before they are marked stale."""
OVERLOADED = 1.5
"""An agent holding this many times the team's average of open tickets is shown in red."""


class FigureTable(DataTable):
    """A small table of figures on the health side; enter filters the queue by the figure."""

    BINDINGS = [
        Binding("enter", "select_cursor", "Filter the queue by this figure", id="figures.filter"),
        Binding("j", "cursor_down", "Down", show=False, id="figures.down"),
        Binding("k", "cursor_up", "Up", show=False, id="figures.up"),
    ]

    def __init__(self, *, id: str, cursor_type: str) -> None:
        super().__init__(id=id, cursor_type=cursor_type, zebra_stripes=False, show_row_labels=False)  # type: ignore[arg-type]

    def refill(self, rows: list[tuple[str, list[Text]]]) -> None:
        """Show these rows. The same rows as before are updated cell by cell (most rounds
        change a count or two); otherwise the rows are replaced, the cursor staying on the
        same row key where it still exists."""
        keys = [key for key, _ in rows]
        if keys == [row.value for row in self.rows]:
            for key, cells in rows:
                for column, cell in zip(self.columns, cells):
                    if _look(self.get_cell(key, column)) != _look(cell):
                        self.update_cell(key, column, cell, update_width=True)
            return
        coordinate = self.cursor_coordinate
        keep = self.coordinate_to_cell_key(coordinate).row_key.value if self.row_count else None
        self.clear()
        for key, cells in rows:
            self.add_row(*cells, key=key)
        if rows:
            row = keys.index(keep) if keep in keys else min(coordinate.row, len(rows) - 1)
            self.move_cursor(row=row, column=coordinate.column, animate=False)


class DashboardScreen(QueueScreen):
    HORIZONTAL_BREAKPOINTS = [(0, "-stacked"), (STACK_BELOW, "-side-by-side")]
    BINDINGS = [
        Binding("escape", "back", "Back", id="dashboard.back"),
        Binding("tab", "app.focus_next", "Next panel", show=False, id="dashboard.next_panel"),
        Binding("shift+tab", "app.focus_previous", "Previous panel", show=False, id="dashboard.previous_panel"),
        Binding("Y", "decide(True)", "Approve refund", id="dashboard.approve"),
        Binding("N", "decide(False)", "Decline refund", id="dashboard.decline"),
    ]

    @dataclass
    class FiguresReady(Message):
        figures: stats.Stats

    @dataclass
    class FiguresFailed(Message):
        error: str

    def __init__(self) -> None:
        super().__init__()
        self.figures: stats.Stats | None = None
        self.failure: str | None = None
        self._next_round: Timer | None = None
        self._shown: dict[str, Text] = {}
        self._queries: dict[tuple[str, str], str] = {}
        """(table id, row key) or (table id, row key:column key) → the search query behind it."""

    def compose(self) -> ComposeResult:
        """The queue screen's own widgets (title first, status bar and footer last), with
        everything between them moved into the queue side of the split."""
        parts = list(super().compose())
        title = parts[0]
        tail = [w for w in parts if isinstance(w, (StatusBar, Footer))]
        yield title
        with Container(id="split"):
            with Vertical(id="queue-side"):
                yield from (w for w in parts[1:] if w not in tail)
            with VerticalScroll(id="health", can_focus=False):  # tab goes straight to the tables
                yield Static("", id="freshness", markup=False)
                yield Static("", id="backlog", markup=False)
                yield Static("", id="trend", markup=False)
                yield Static("SLA (enter: list them)", classes="heading", markup=False)
                yield FigureTable(id="sla", cursor_type="cell")
                yield Static("Agents · solved and median first reply: today", classes="heading", markup=False)
                yield FigureTable(id="agents", cursor_type="row")
                yield Static("Approvals · Y approves · N declines", classes="heading", markup=False)
                yield Static("", id="no-approvals", markup=False)
                yield FigureTable(id="approvals", cursor_type="row")
        yield from tail

    def _title(self) -> Text:
        title = Text()
        title.append(" csconsole ", style="bold reverse")
        title.append("  Lead dashboard", style="bold")
        title.append(f" · {clean_line(self.app.workspace.name, 40)} workspace", style="dim")  # type: ignore[attr-defined]
        return title

    def on_mount(self) -> None:
        super().on_mount()
        sla = self.query_one("#sla", FigureTable)
        sla.add_column("", key="label")
        sla.add_column(Text("breached", justify="right"), key="breached")
        soon = clock.duration(self.app.config.ui.sla_soon_minutes * 60)  # type: ignore[attr-defined]
        sla.add_column(Text(f"due in {soon}", justify="right"), key="soon")
        agents = self.query_one("#agents", FigureTable)
        for key, label in (("name", "Agent"), ("open", "Open"), ("solved", "Solved"), ("reply", "1st reply"),
                           ("active", "Active")):
            agents.add_column(Text(label, justify="left" if key == "name" else "right"), key=key)
        table = self.query_one("#approvals", FigureTable)
        for key, label in (("ticket", "Ticket"), ("what", "Amount"), ("by", "By"), ("waiting", "Waiting")):
            table.add_column(label, key=key)
        # The list is narrower than the screen here: its column titles follow its own width.
        self.watch(self.ticket_list, "virtual_size", lambda _: self.on_resize(), init=False)
        self.set_interval(1, self._show_freshness)
        self._show_freshness()

    # -- the refresh loop
    def on_screen_resume(self) -> None:
        self.compute_figures()

    def on_screen_suspend(self) -> None:
        if self._next_round is not None:
            self._next_round.stop()

    @work(exclusive=True, group="figures")
    async def compute_figures(self) -> None:
        """One round, on a reader thread; its result comes back as a message."""
        soon = self.app.config.ui.sla_soon_minutes * 60  # type: ignore[attr-defined]
        try:
            figures = await self.app.cache.read(stats.compute, now=clock.now(), soon_seconds=soon)  # type: ignore[attr-defined]
        except sqlite3.Error as exc:
            self.post_message(self.FiguresFailed(str(exc)))
        else:
            self.post_message(self.FiguresReady(figures))

    def on_dashboard_screen_figures_ready(self, message: FiguresReady) -> None:
        if gone(self):
            return
        self.figures, self.failure = message.figures, None
        self._show(message.figures)
        self._schedule()

    def on_dashboard_screen_figures_failed(self, message: FiguresFailed) -> None:
        if gone(self):
            return
        self.failure = message.error
        self._show_freshness()
        self._schedule()

    def _on_data(self, ids: list[int]) -> None:
        """The queue side follows every change; the figures too when a sync brought many
        (the first pull of a new workspace would otherwise show zeros until the next round)."""
        super()._on_data(ids)
        if not ids and self.is_active:
            self._refresh_now()

    def _schedule(self) -> None:
        if self._next_round is not None:
            self._next_round.stop()
        if self.is_active:
            self._next_round = self.set_timer(self.app.config.ui.dashboard_refresh, self.compute_figures)  # type: ignore[attr-defined]

    def _refresh_now(self) -> None:
        if self._next_round is not None:
            self._next_round.stop()
        self.compute_figures()

    # -- showing the figures
    def _show_freshness(self) -> None:
        interval = self.app.config.ui.dashboard_refresh  # type: ignore[attr-defined]
        figures = self.figures
        line = Text()
        stale = figures is not None and (self.failure is not None or clock.now() - figures.at > STALE_AFTER * interval)
        if figures is None:
            line.append(f"✖ no figures: {clean_line(self.failure, 80)}" if self.failure else "Counting…",
                        style="bold red" if self.failure else "dim")
        elif stale:
            line.append(f"⚠ stale since {time.strftime('%H:%M:%S', time.localtime(figures.at))}", style="bold yellow")
            if self.failure:
                line.append(f": {clean_line(self.failure, 80)}", style="yellow")
        else:
            line.append(f"Updated {time.strftime('%H:%M:%S', time.localtime(figures.at))} · every {interval:g} s",
                        style="dim")
        self.query_one("#health").set_class(stale, "-stale")
        self._update("#freshness", line, layout=False)  # one line, always

    def _show(self, s: stats.Stats) -> None:
        self._queries.clear()
        self._show_freshness()
        self._update("#backlog", _backlog_text(s))
        self._update("#trend", _trend_text(s))
        self._fill_sla(s)
        self._fill_agents(s)
        waiting = bool(self.query_one("#approvals", FigureTable).row_count)
        self._fill_approvals(s)
        if bool(s.approvals) != waiting:
            self.refresh_bindings()  # Y and N grey out (or back in); the footer is rebuilt, so only then

    def _update(self, selector: str, text: Text, layout: bool = True) -> None:
        """Repaint a Static only when its text changed (the freshness line is redrawn every second)."""
        if _look(self._shown.get(selector)) != _look(text):
            self._shown[selector] = text
            self.query_one(selector, Static).update(text, layout=layout)

    def _fill_sla(self, s: stats.Stats) -> None:
        rows = []
        for name in [*s.sla_breached, "all"]:
            priority = None if name == "all" else name
            breached = sum(s.sla_breached.values()) if priority is None else s.sla_breached[name]
            soon = sum(s.sla_soon.values()) if priority is None else s.sla_soon[name]
            for column, state in (("label", "breached,soon"), ("breached", "breached"), ("soon", "soon")):
                self._queries[("sla", f"{name}:{column}")] = stats.sla_query(state, priority)
            rows.append((name, [Text(name, style="bold" if priority is None else ""),
                                Text(f"{breached:,}", justify="right", style="bold red" if breached else "dim"),
                                Text(f"{soon:,}", justify="right", style="yellow" if soon else "dim")]))
        self.query_one("#sla", FigureTable).refill(rows)

    def _fill_agents(self, s: stats.Stats) -> None:
        average = sum(a.open for a in s.agents) / max(len(s.agents), 1)
        rows = []
        for a in s.agents:
            key = str(a.person_id)
            self._queries[("agents", key)] = stats.agent_query(a)
            active = "—" if a.last_active is None else clock.age(s.at - a.last_active)
            heavy = len(s.agents) > 1 and a.open >= OVERLOADED * average
            rows.append((key, [Text(clean_line(a.name, 24)), Text(f"{a.open:,}", justify="right",
                                                                   style="bold red" if heavy else ""),
                               Text(f"{a.solved_today:,}", justify="right"),
                               Text(_duration(a.first_response_today), justify="right"),
                               Text(active, justify="right")]))
        self._queries[("agents", "unassigned")] = stats.UNASSIGNED_QUERY
        rows.append(("unassigned", [Text("(unassigned)", style="italic"), Text(f"{s.unassigned:,}", justify="right"),
                                    Text(""), Text(""), Text("")]))
        self.query_one("#agents", FigureTable).refill(rows)

    def _fill_approvals(self, s: stats.Stats) -> None:
        rows = []
        for a in s.approvals:
            key = str(a.outbox_id)
            if a.ticket_id is not None:
                self._queries[("approvals", key)] = f"id:{a.ticket_id}"
            amount = f"{a.kind.replace('_', ' ')} {format_minor(a.amount, a.currency or 'USD')}"
            rows.append((key, [Text(f"#{a.ticket_id}" if a.ticket_id is not None else "—"), Text(amount),
                               Text(clean_line(a.requested_by.split("@")[0], 16)),
                               Text(clock.age(s.at - a.requested_at), justify="right")]))
        table = self.query_one("#approvals", FigureTable)
        table.refill(rows)
        table.display = bool(rows)
        self.query_one("#no-approvals", Static).display = not rows
        self._update("#no-approvals", Text("No refund or return is waiting.", style="dim"))

    # -- acting from the figures
    @on(DataTable.CellSelected, "#sla")
    def _sla_chosen(self, event: DataTable.CellSelected) -> None:
        self._filter(self._queries.get(("sla", f"{event.cell_key.row_key.value}:{event.cell_key.column_key.value}")))

    @on(DataTable.RowSelected, "#agents, #approvals")
    def _row_chosen(self, event: DataTable.RowSelected) -> None:
        self._filter(self._queries.get((event.data_table.id or "", str(event.row_key.value))))

    def _filter(self, query: str | None) -> None:
        """Show the figure's tickets in the queue, with the query in the search box to edit."""
        if query is None:
            return
        search = self.query_one("#search", Input)
        with search.prevent(Input.Changed):
            search.value = query
        search.display = True
        self._run_search(query)
        self.ticket_list.focus()

    def action_back(self) -> None:
        """esc steps back: from a filtered queue to the view, then to the agents' queue."""
        if self.search is not None:
            self.show_view(self.view_index)
            self.ticket_list.focus()
        elif len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_reload(self) -> None:
        super().action_reload()
        self._refresh_now()

    async def after_triage(self, ticket_ids: list[int], kind: str) -> None:
        await super().after_triage(ticket_ids, kind)
        self._refresh_now()

    def _highlighted_approval(self) -> approvals.Approval | None:
        table = self.query_one("#approvals", FigureTable)
        if self.figures is None or not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return next((a for a in self.figures.approvals if str(a.outbox_id) == key), None)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "decide":
            return True if self._highlighted_approval() is not None else None
        return super().check_action(action, parameters)

    def action_decide(self, approve: bool) -> None:
        approval = self._highlighted_approval()
        if approval is not None:
            self.run_worker(self._decide(approval, approve), group="approval", exclusive=True)

    async def _decide(self, approval: approvals.Approval, approve: bool) -> None:
        app = self.app
        lead = app.actor  # type: ignore[attr-defined]
        leads = app.config.policy.leads  # type: ignore[attr-defined]
        if leads and lead not in leads:
            app.notify("Only a team lead ([policy] leads in the config) can approve or decline refunds",
                       severity="error", markup=False)
            return
        what = stats.describe_approval(approval)
        question = f"Approve {what}?" if approve else f"Decline {what}? It is taken back and never sent."
        if not await app.push_screen_wait(Confirm(question)):
            return
        try:
            if approve:
                await app.cache.write(approvals.approve, approval.outbox_id, lead)  # type: ignore[attr-defined]
            else:
                await app.cache.write(approvals.decline, approval.outbox_id, lead)  # type: ignore[attr-defined]
        except approvals.ApprovalError as exc:
            app.notify(str(exc), severity="error", markup=False)
        else:
            app.notify(f"Approved: {what} · it goes out with the next sync" if approve else f"Declined: {what}",
                       markup=False)
            if approval.ticket_id is not None:
                app.post_message(messages.TicketsChanged([approval.ticket_id]))
            app.wake_sync()  # type: ignore[attr-defined]
        self._refresh_now()


def _look(text: Text | None) -> tuple | None:
    """What a Text looks like (rich's == ignores its base style and justification)."""
    return None if text is None else (text.plain, str(text.style), tuple(text.spans), text.justify)


def _duration(seconds: float | None) -> str:
    return "—" if seconds is None else clock.duration(int(seconds))


def _counts(figures: dict[str, int]) -> str:
    return "  ".join(f"{name} {n:,}" for name, n in figures.items())


def _backlog_text(s: stats.Stats) -> Text:
    out = Text()
    out.append("Backlog ", style="bold")
    out.append(f"{s.backlog:,}", style="bold")
    out.append(f" · unassigned {s.unassigned:,}\n", style="dim")
    out.append(f"  {_counts(s.by_status)}\n  {_counts(s.by_priority)}\n")
    out.append("  age ", style="dim")
    out.append(_counts(s.by_age))
    return out


def _trend_text(s: stats.Stats) -> Text:
    top = max(*s.created_per_hour, *s.solved_per_hour, 1)
    out = Text()
    out.append("Last 24 h ", style="bold")
    out.append(f"created {sum(s.created_per_hour):>5,} ")
    out.append(stats.bars(s.created_per_hour, top), style="cyan")
    out.append(f"\n          solved  {sum(s.solved_per_hour):>5,} ")
    out.append(stats.bars(s.solved_per_hour, top), style="green")
    out.append("\nFirst reply ", style="bold")
    out.append(f"today {_duration(s.first_response.today)} · 7 days {_duration(s.first_response.week)}")
    out.append("\nResolution  ", style="bold")
    out.append(f"today {_duration(s.resolution.today)} · 7 days {_duration(s.resolution.week)}")
    return out
