"""The landing screen: saved views over the queue, one keystroke from every ticket."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, Static

from csconsole import clock
from csconsole.config import ViewDef
from csconsole.store.queue import ViewQuery
from csconsole.text import clean_line
from csconsole.widgets.status_bar import StatusBar
from csconsole.widgets.ticket_list import TicketList
from csconsole.widgets.views_bar import ViewsBar


class QueueScreen(Screen):
    BINDINGS = [
        Binding("v", "pick_view", "Views", id="queue.views"),
        Binding("R", "reload", "Reload", show=False, id="queue.reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.views: list[ViewDef] = list(self.app.config.views)  # type: ignore[attr-defined]
        self.view_index = 0
        self.search: str | None = None

    def compose(self) -> ComposeResult:
        yield Static(self._title(), id="title", markup=False)
        yield ViewsBar(id="views")
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
        self.search = None
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
            left.append(f"  {ticket_list.count:,} tickets")
            if ticket_list.count:
                left.append(f"  ·  {ticket_list.cursor + 1:,}/{ticket_list.count:,}", style="dim")
        if ticket_list.selected:
            left.append(f"  ·  {len(ticket_list.selected)} selected", style="bold cyan")
        self.query_one(StatusBar).set_left(left)

    @work(exclusive=True, group="view-counts")
    async def refresh_counts(self) -> None:
        now = clock.now()
        soon = self.app.config.ui.sla_soon_minutes * 60  # type: ignore[attr-defined]
        queries = [(v.name, ViewQuery(v.query, v.sort, now=now, soon_seconds=soon)) for v in self.views]

        def count_all(conn):
            return {name: q.count(conn) for name, q in queries}

        counts = await self.app.cache.read(count_all)  # type: ignore[attr-defined]
        self.query_one(ViewsBar).show([v.name for v in self.views], self.view_def.name, counts, self.search)

    def _on_data(self, ids: list[int]) -> None:
        self.ticket_list.refresh_data()
        self.refresh_counts()

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
