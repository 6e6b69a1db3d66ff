"""The landing screen: saved views over the queue, search, selection and bulk triage."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.events import Key
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Input, Static

from csconsole import clock, triage
from csconsole.config import ViewDef
from csconsole.screens import gone
from csconsole.screens.triage import TRIAGE_BINDINGS, TriageActions
from csconsole.store.queue import ViewQuery
from csconsole.store.search import QueryError
from csconsole.text import clean_line
from csconsole.widgets.footer import Footer
from csconsole.widgets.status_bar import StatusBar
from csconsole.widgets.ticket_list import TicketList
from csconsole.widgets.views_bar import ViewsBar

SEARCH_DEBOUNCE = 0.15
"""Seconds after the last keystroke before a search runs (typing stays smooth)."""
SELECT_ALL_LIMIT = 5_000
"""'Select the whole view' takes at most this many tickets; a bigger bulk change is a job
for a narrower view or the helpdesk's own bulk tools."""


class QueueScreen(TriageActions, Screen):
    BINDINGS = [
        Binding("v", "pick_view", "Views", id="queue.views"),
        Binding("slash", "search", "Search", key_display="/", id="queue.search"),
        Binding("x", "select", "Select", id="queue.select"),
        Binding("X", "select_all", "Select view", id="queue.select_all"),
        Binding("R", "reload", "Reload", show=False, id="queue.reload"),
        *TRIAGE_BINDINGS,
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: list[ViewDef] = list(self.app.config.views)  # type: ignore[attr-defined]
        self.view_index = 0
        self.search: str | None = None
        self._search_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="title", markup=False)
        yield ViewsBar(id="views")
        yield Input(placeholder='search: words "a phrase" status: tag: -tag: assignee:me requester: order: '
                                'created:>7d sla:breached OR …', id="search")
        yield Static("", id="search-error", markup=False)
        yield Static("", id="columns", markup=False)
        yield TicketList(id="queue")
        yield StatusBar(id="status")
        yield Footer()

    def _title(self) -> Text:
        app = self.app
        title = Text()
        title.append(" csconsole ", style="bold reverse")
        title.append(f"  {clean_line(app.workspace.name, 40)} workspace", style="bold")  # type: ignore[attr-defined]
        title.append(f" · {clean_line(app.config.store.name, 60)}", style="dim")  # type: ignore[attr-defined]
        return title

    @property
    def ticket_list(self) -> TicketList:
        return self.query_one(TicketList)

    @property
    def view_def(self) -> ViewDef:
        return self.views[self.view_index]

    def on_mount(self) -> None:
        self.ticket_list.focus()
        self.show_view(0)
        self.app.data_signal.subscribe(self, self._on_data)  # type: ignore[attr-defined]

    def on_resize(self) -> None:
        self.query_one("#columns", Static).update(Text(" " + self.ticket_list.header_text(), style="bold"))

    # -- views
    def show_view(self, index: int) -> None:
        self.view_index = index
        self._close_search()
        view = self.view_def
        self.ticket_list.set_view(self._query(view.query, view.sort), columns=view.columns)
        self._update_bars()
        self.refresh_counts()

    def _query(self, query: str, sort: str) -> ViewQuery:
        return ViewQuery(query, sort, now=clock.now(), soon_seconds=self.app.config.ui.sla_soon_minutes * 60)  # type: ignore[attr-defined]

    def _update_bars(self, counts: dict[str, int] | None = None) -> None:
        bar = self.query_one(ViewsBar)
        bar.show([v.name for v in self.views], self.view_def.name, counts, self.search)
        self.query_one("#columns", Static).update(Text(" " + self.ticket_list.header_text(), style="bold"))
        self._update_status()

    def _update_status(self) -> None:
        ticket_list = self.ticket_list
        name = f"search: {self.search}" if self.search is not None else self.view_def.name
        left = Text()
        left.append(clean_line(name, 50), style="bold")
        if ticket_list.count is None:
            left.append("  counting…", style="dim")
        else:
            plus = "+" if ticket_list.capped else ""
            left.append(f"  {ticket_list.count:,}{plus} tickets")
            if ticket_list.count:
                left.append(f"  ·  {ticket_list.cursor + 1:,}/{ticket_list.count:,}{plus}", style="dim")
        if ticket_list.selected:
            left.append(f"  ·  {len(ticket_list.selected):,} selected", style="bold cyan")
        self.query_one(StatusBar).set_left(left)

    @work(exclusive=True, group="view-counts")
    async def refresh_counts(self) -> None:
        now = clock.now()
        soon = self.app.config.ui.sla_soon_minutes * 60  # type: ignore[attr-defined]
        queries = [(v.name, ViewQuery(v.query, v.sort, now=now, soon_seconds=soon)) for v in self.views]

        def count_all(conn):
            return {name: q.count(conn) for name, q in queries}

        counts = await self.app.cache.read(count_all)  # type: ignore[attr-defined]
        if gone(self):
            return
        self.query_one(ViewsBar).show([v.name for v in self.views], self.view_def.name, counts, self.search)

    def _on_data(self, ids: list[int]) -> None:
        self.ticket_list.refresh_data()
        self.refresh_counts()

    # -- search
    def action_search(self) -> None:
        search = self.query_one("#search", Input)
        search.display = True
        search.focus()

    @on(Input.Changed, "#search")
    def _search_typed(self, event: Input.Changed) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._search_timer = self.set_timer(SEARCH_DEBOUNCE, lambda: self._run_search(event.value))

    def _run_search(self, text: str) -> None:
        error = self.query_one("#search-error", Static)
        if not text.strip():
            error.display = False
            if self.search is not None:
                self.search = None
                view = self.view_def
                self.ticket_list.set_view(self._query(view.query, view.sort), columns=view.columns)
                self._update_bars()
            return
        try:
            query = self._query(text, "updated")
        except QueryError as exc:
            marker = Text(" " * (exc.position + 2) + "^ ", style="bold red")
            marker.append(exc.message, style="red")
            error.update(marker)
            error.display = True
            return
        error.display = False
        self.search = text
        self.ticket_list.set_view(query)
        self._update_bars()

    @on(Input.Submitted, "#search")
    def _search_done(self, event: Input.Submitted) -> None:
        if self._search_timer is not None:
            self._search_timer.stop()
        self._run_search(event.value)
        if not self.query_one("#search-error", Static).display:
            self.ticket_list.focus()

    def on_key(self, event: Key) -> None:
        search = self.query_one("#search", Input)
        if event.key == "escape" and search.has_focus:
            event.stop()
            self.show_view(self.view_index)
            self.ticket_list.focus()
        elif event.key == "ctrl+s" and search.has_focus:
            event.stop()
            if self._search_timer is not None:
                self._search_timer.stop()
            self._run_search(search.value)  # what is typed now, not what the debounce last saw
            self.save_search()

    def _close_search(self) -> None:
        self.search = None
        search = self.query_one("#search", Input)
        search.value = ""
        search.display = False
        self.query_one("#search-error", Static).display = False

    @work(exclusive=True, group="save-view")
    async def save_search(self) -> None:
        """ctrl+s in the search box: keep the search as a view in the config file."""
        from csconsole.config import ViewDef, save_view
        from csconsole.screens.pickers import NamePrompt

        text = self.query_one("#search", Input).value.strip()
        if not text or self.search is None:
            return
        name = await self.app.push_screen_wait(NamePrompt("Save this search as a view named…", text[:30]))
        if not name:
            return
        try:
            save_view(self.app.config.path, ViewDef(name, text, "updated"))  # type: ignore[attr-defined]
        except OSError as exc:
            self.notify(f"could not write {self.app.config.path}: {exc}", severity="error", markup=False)  # type: ignore[attr-defined]
            return
        self.views = [v for v in self.views if v.name != name] + [ViewDef(name, text, "updated")]
        self.show_view(len(self.views) - 1)
        self.notify(f"Saved view “{name}” (key v {len(self.views)})", markup=False)

    # -- selection and triage
    def action_select(self) -> None:
        row = self.ticket_list.current
        if row is not None:
            self.ticket_list.toggle_selected(row.id)
            self.ticket_list.move(1)
            self._update_status()

    @work(exclusive=True, group="select-all")
    async def action_select_all(self) -> None:
        ticket_list = self.ticket_list
        if ticket_list.selected:
            ticket_list.selected.clear()
        elif ticket_list.view is not None:
            ids = await self.app.cache.read(triage.view_ids, ticket_list.view, SELECT_ALL_LIMIT)  # type: ignore[attr-defined]
            if gone(self):
                return
            ticket_list.selected.update(ids)
            if (ticket_list.count or 0) > SELECT_ALL_LIMIT:
                self.notify(f"Selected the first {SELECT_ALL_LIMIT:,} of {ticket_list.count:,}", markup=False)
        ticket_list.refresh_rows()
        self._update_status()

    def triage_targets(self) -> list[int]:
        if self.ticket_list.selected:
            return sorted(self.ticket_list.selected)
        row = self.ticket_list.current
        return [row.id] if row is not None else []

    def triage_current(self) -> dict[str, object]:
        row = self.ticket_list.current
        if row is None or self.ticket_list.selected:
            return {}
        return {"status": row.status, "priority": row.priority, "tags": row.tags.split()}

    async def after_triage(self, ticket_ids: list[int], kind: str) -> None:
        if self.ticket_list.selected:
            self.ticket_list.selected.clear()
            self.ticket_list.refresh_rows()
        self._update_status()

    # -- events
    @on(TicketList.Highlighted)
    @on(TicketList.Loaded)
    def _list_changed(self, event) -> None:
        self._update_status()
        if isinstance(event, TicketList.Loaded):
            self.app.prefetch(event.top_ids)  # type: ignore[attr-defined]

    @on(TicketList.Opened)
    def _open(self, event: TicketList.Opened) -> None:
        self.app.open_ticket(event.ticket_id, self.ticket_list)  # type: ignore[attr-defined]

    def action_pick_view(self) -> None:
        from csconsole.screens.view_picker import ViewPicker

        def chosen(index: int | None) -> None:
            if index is not None:
                self.show_view(index)

        self.app.push_screen(ViewPicker([v.name for v in self.views], self.query_one(ViewsBar).counts, self.view_index),
                             chosen)

    def action_reload(self) -> None:
        self.ticket_list.refresh_data()
        self.refresh_counts()
