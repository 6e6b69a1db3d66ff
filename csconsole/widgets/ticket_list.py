"""The queue: a virtual list over a view of the cache.

It never holds the view: it knows the row count and keeps a few pages of 100 rows, each
fetched on a reader thread by keyset from its neighbour (or by OFFSET once, after a long
jump, or backwards from the end). Only the visible lines are rendered, straight to
segments, so a keypress costs the same with 1,000 or 1,000,000 tickets in the cache.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from dataclasses import dataclass
from rich.cells import set_cell_size
from rich.segment import Segment
from rich.style import Style
from textual.binding import Binding
from textual.cache import LRUCache
from textual.geometry import Region, Size
from textual.message import Message
from textual.reactive import reactive
from textual.scroll_view import ScrollView
from textual.strip import Strip

from csconsole import clock
from csconsole import sla as sla_rules
from csconsole.adapters.base import PRIORITIES
from csconsole.store.queue import QueueRow, ViewQuery
from csconsole.text import clean_line

PAGE = 100
KEEP_PAGES = 24
"""Pages kept in memory: about 2,400 rows, a few hundred kilobytes."""
SEARCH_CAP = 10_000
"""A word search counts (and scrolls through) at most this many tickets, newest first;
counting every match of a common word in a million tickets takes seconds."""
STRIP_CACHE = 400
"""Rendered rows kept: scrolling by one line then re-renders one row, not the whole screen."""


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    width: int  # 0: takes the remaining width
    min_terminal: int = 0
    """Hide the column on terminals narrower than this."""


COLUMNS = (
    Column("sel", "", 1),
    Column("priority", "Pri", 6),
    Column("status", "Status", 7),
    Column("id", "#", 6),
    Column("subject", "Subject", 0),
    Column("requester", "Requester", 18, 70),
    Column("updated", "Upd", 4),
    Column("assignee", "Assignee", 12, 100),
    Column("sla", "SLA", 11),
)


class TicketList(ScrollView, can_focus=True):
    COMPONENT_CLASSES = {
        "ticket-list--cursor", "ticket-list--urgent", "ticket-list--high", "ticket-list--low",
        "ticket-list--new", "ticket-list--solved", "ticket-list--breached", "ticket-list--soon",
        "ticket-list--selected", "ticket-list--pending", "ticket-list--placeholder",
    }
    BINDINGS = [
        Binding("j,down", "cursor_down", "Down", show=False, id="list.down"),
        Binding("k,up", "cursor_up", "Up", show=False, id="list.up"),
        Binding("pagedown,ctrl+f", "page_down", "Page down", show=False, id="list.page_down"),
        Binding("pageup,ctrl+b", "page_up", "Page up", show=False, id="list.page_up"),
        Binding("g,home", "first", "First ticket", show=False, id="list.first"),
        Binding("G,end", "last", "Last ticket", show=False, id="list.last"),
        Binding("enter", "open", "Open", id="list.open"),
    ]

    cursor: reactive[int] = reactive(0, init=False)
    count: reactive[int | None] = reactive(None, init=False)
    """Rows in the view, None while counting; rows show before the count arrives."""

    @dataclass
    class Opened(Message):
        ticket_id: int
        index: int

    @dataclass
    class Highlighted(Message):
        ticket_id: int | None
        index: int

    @dataclass
    class Loaded(Message):
        """A view's count and first page arrived (the top of the view, for prefetch)."""

        count: int
        top_ids: list[int]

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.view: ViewQuery | None = None
        self.columns: tuple[str, ...] = tuple(c.key for c in COLUMNS)
        self.selected: set[int] = set()
        self._pages: OrderedDict[int, list[QueueRow]] = OrderedDict()
        self._page_gen: dict[int, int] = {}
        self._loading: set[tuple[int, int]] = set()
        self._generation = 0
        self._layout: list[tuple[Column, int]] = []
        self._waiters: dict[int, list[asyncio.Future[list[QueueRow]]]] = {}
        self._styles: dict[str, Style] = {}
        self._strips: LRUCache[tuple, Strip] = LRUCache(STRIP_CACHE)

    # ------------------------------------------------------------------ data
    def set_view(self, view: ViewQuery, *, columns: tuple[str, ...] | None = None, cursor: int = 0) -> None:
        """Show another view (or the same one after a search): everything reloads."""
        self.view = view
        if columns:
            self.columns = columns
        self._generation += 1
        self._pages.clear()
        self._page_gen.clear()
        self._loading.clear()
        self.count = None
        self.set_reactive(TicketList.cursor, cursor)
        self._relayout()
        self.virtual_size = Size(self._width, 0)
        self.scroll_to(y=0, animate=False, immediate=True)
        self._want_page(cursor // PAGE)
        self.run_worker(self._load_count(self._generation, announce=True), group="count")
        self.refresh()

    @property
    def capped(self) -> bool:
        """The count stopped at SEARCH_CAP: there are more matches than the list shows."""
        return self.view is not None and self.view.compiled.has_text and self.count == SEARCH_CAP

    def refresh_data(self) -> None:
        """The cache changed: re-read the count and the pages on screen, keeping the cursor's place."""
        if self.view is None:
            return
        self._generation += 1
        self.run_worker(self._load_count(self._generation), group="count")
        for page in self._visible_pages():
            self._want_page(page)

    async def _load_count(self, generation: int, announce: bool = False) -> None:
        view = self.view
        if view is None:
            return
        cap = SEARCH_CAP if view.compiled.has_text else None
        count = await self.app.cache.read(view.count, cap)  # type: ignore[attr-defined]
        if generation != self._generation and not announce:
            return
        if view is not self.view:
            return
        self.count = count
        if self.cursor >= count:
            self.cursor = max(count - 1, 0)
        if announce:
            rows = await self._page_now(0)
            self.post_message(self.Loaded(count, [r.id for r in rows[:40]]))

    async def _page_now(self, page: int) -> list[QueueRow]:
        """The rows of a page, loading it if needed (used when a caller must have them)."""
        if page in self._pages:
            return self._pages[page]
        if self.count is not None and page * PAGE >= max(self.count, 1):
            return []
        waiter = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(page, []).append(waiter)
        self._want_page(page)
        return await waiter

    def _want_page(self, page: int) -> None:
        if page < 0 or self.view is None:
            return
        if self.count is not None and page * PAGE >= self.count and page != 0:
            return
        if self.count is None and page > 0 and (page - 1) not in self._pages:
            return  # while counting, pages load in order from the top
        if self._page_gen.get(page) == self._generation or (page, self._generation) in self._loading:
            return
        self._loading.add((page, self._generation))
        self.run_worker(self._load_page(page, self._generation), group="pages")

    async def _load_page(self, page: int, generation: int) -> None:
        view = self.view
        assert view is not None
        previous = self._pages.get(page - 1) if self._page_gen.get(page - 1) == generation else None
        following = self._pages.get(page + 1) if self._page_gen.get(page + 1) == generation else None
        count = self.count
        if previous:
            rows = await self.app.cache.read(lambda c: view.page(c, PAGE, after=previous[-1].key(view.sort)))  # type: ignore[attr-defined]
        elif following and len(following) == PAGE:
            rows = await self.app.cache.read(lambda c: view.page_before(c, PAGE, before=following[0].key(view.sort)))  # type: ignore[attr-defined]
        elif count is not None and page == (count - 1) // PAGE and page > 0:
            rows = await self.app.cache.read(lambda c: view.page_before(c, count - page * PAGE))  # type: ignore[attr-defined]
        else:
            rows = await self.app.cache.read(lambda c: view.page(c, PAGE, offset=page * PAGE))  # type: ignore[attr-defined]
        self._loading.discard((page, generation))
        if view is not self.view or generation < self._page_gen.get(page, -1):
            return
        self._pages[page] = rows
        self._page_gen[page] = generation
        for waiter in self._waiters.pop(page, []):
            if not waiter.done():
                waiter.set_result(rows)
        self._pages.move_to_end(page)
        while len(self._pages) > KEEP_PAGES:
            old, _ = self._pages.popitem(last=False)
            self._page_gen.pop(old, None)
        if self.count is None:
            self.virtual_size = Size(self._width, self.known_rows)
        self.refresh()
        if page * PAGE <= self.cursor < (page + 1) * PAGE:
            self._announce()

    def _visible_pages(self) -> set[int]:
        top = int(self.scroll_offset.y)
        bottom = top + max(self.size.height, 1)
        pages = {top // PAGE, bottom // PAGE, self.cursor // PAGE}
        return pages

    def row_at(self, index: int) -> QueueRow | None:
        rows = self._pages.get(index // PAGE)
        if rows is None:
            return None
        offset = index % PAGE
        return rows[offset] if offset < len(rows) else None

    @property
    def current(self) -> QueueRow | None:
        return self.row_at(self.cursor)

    async def row_at_async(self, index: int) -> QueueRow | None:
        rows = await self._page_now(index // PAGE)
        offset = index % PAGE
        return rows[offset] if offset < len(rows) else None

    def loaded_ids(self) -> list[int]:
        """Ticket ids of the loaded rows, in view order (for 'select all' and prefetch)."""
        return [row.id for page in sorted(self._pages) for row in self._pages[page]]

    # ------------------------------------------------------------------ cursor
    def watch_cursor(self, old: int, new: int) -> None:
        self._refresh_row(old)
        self._refresh_row(new)
        self._scroll_to_cursor()
        for page in {new // PAGE, (new + 60) // PAGE, max(new - 60, 0) // PAGE}:
            self._want_page(page)
        self._announce()

    def watch_count(self, count: int | None) -> None:
        self.virtual_size = Size(self._width, count or 0)
        self.refresh()
        self._announce()

    def _announce(self) -> None:
        row = self.current
        self.post_message(self.Highlighted(row.id if row else None, self.cursor))

    def _refresh_row(self, index: int) -> None:
        y = index - int(self.scroll_offset.y)
        if 0 <= y < self.size.height:
            self.refresh(Region(0, y, self._width, 1))

    def _scroll_to_cursor(self) -> None:
        top = int(self.scroll_offset.y)
        height = max(self.size.height, 1)
        if self.cursor < top:
            self.scroll_to(y=self.cursor, animate=False, immediate=True)
        elif self.cursor >= top + height:
            self.scroll_to(y=self.cursor - height + 1, animate=False, immediate=True)

    @property
    def known_rows(self) -> int:
        """Rows the cursor may reach: the count, or while counting, the rows loaded so far."""
        if self.count is not None:
            return self.count
        return max(((page * PAGE + len(rows)) for page, rows in self._pages.items()), default=0)

    def move(self, delta: int) -> None:
        if not self.known_rows:
            return
        self.cursor = min(max(self.cursor + delta, 0), self.known_rows - 1)

    def action_cursor_down(self) -> None:
        self.move(1)

    def action_cursor_up(self) -> None:
        self.move(-1)

    def action_page_down(self) -> None:
        self.move(max(self.size.height - 1, 1))

    def action_page_up(self) -> None:
        self.move(-max(self.size.height - 1, 1))

    def action_first(self) -> None:
        self.cursor = 0
        self.app.arm_chord("g")  # type: ignore[attr-defined]

    def action_last(self) -> None:
        if self.known_rows:
            self.cursor = self.known_rows - 1

    def action_open(self) -> None:
        row = self.current
        if row is not None:
            self.post_message(self.Opened(row.id, self.cursor))

    def toggle_selected(self, ticket_id: int) -> None:
        if ticket_id in self.selected:
            self.selected.discard(ticket_id)
        else:
            self.selected.add(ticket_id)
        self._refresh_row(self.cursor)

    def refresh_rows(self) -> None:
        """Repaint every visible row (after the selection changed wholesale)."""
        self.refresh()

    # ------------------------------------------------------------------ rendering
    def on_resize(self) -> None:
        self._relayout()
        self.virtual_size = Size(self._width, self.count or 0)

    @property
    def _width(self) -> int:
        """Columns available to rows (the scrollbar gutter takes the rest)."""
        return self.scrollable_content_region.width or self.size.width

    def _relayout(self) -> None:
        width = self._width or 120
        chosen = [c for c in COLUMNS if c.key in self.columns and width >= c.min_terminal]
        fixed = sum(c.width for c in chosen if c.width) + len(chosen) - 1
        flexible = max(width - fixed, 10)
        self._layout = [(c, c.width or flexible) for c in chosen]
        self._strips.clear()
        self.refresh()

    def header_text(self) -> str:
        """The column titles, laid out like the rows (the screen shows it above the list)."""
        if not self._layout:
            self._relayout()
        return " ".join(set_cell_size(c.title, w) for c, w in self._layout)

    def notify_style_update(self) -> None:
        super().notify_style_update()
        self._styles.clear()
        self._strips.clear()

    def _style(self, name: str) -> Style:
        """Component styles, looked up once per theme instead of once per cell."""
        style = self._styles.get(name)
        if style is None:
            style = self.rich_style if name == "base" else self.get_component_rich_style(name)
            self._styles[name] = style
        return style

    def render_line(self, y: int) -> Strip:
        index = int(self.scroll_offset.y) + y
        width = self._width
        if self.count is not None and index >= self.count:
            return Strip.blank(width, self._style("base"))
        row = self.row_at(index)
        is_cursor = index == self.cursor and bool(self.known_rows)
        base = self._style("base")
        if is_cursor:
            base = base + self._style("ticket-list--cursor")
        if row is None:
            if self.count == 0:
                return Strip.blank(width, base)
            style = base + self._style("ticket-list--placeholder")
            text = "  loading…" if self.count is None or index < (self.count or 0) else ""
            return Strip([Segment(set_cell_size(text, width), style)], width)
        now = clock.now()
        selected = row.id in self.selected
        key = (row, is_cursor, selected, width, now // 60)
        strip = self._strips.get(key)
        if strip is None:
            if selected:
                base = base + self._style("ticket-list--selected")
            strip = Strip(self._segments(row, base, now), width).crop(0, width)
            self._strips[key] = strip
        return strip

    def _segments(self, row: QueueRow, base: Style, now: int) -> list[Segment]:
        out: list[Segment] = []
        for n, (column, width) in enumerate(self._layout):
            text, style = self._cell(column.key, row, now)
            if n:
                out.append(Segment(" ", base))
            out.append(Segment(set_cell_size(text, width), base + style if style else base))
        used = sum(w for _, w in self._layout) + len(self._layout) - 1
        if used < self._width:
            out.append(Segment(" " * (self._width - used), base))
        return out

    def _cell(self, key: str, row: QueueRow, now: int) -> tuple[str, Style | None]:
        c = self._style
        if key == "sel":
            return ("●" if row.id in self.selected else ("↑" if row.pending_actions else " ")), (
                c("ticket-list--pending") if row.pending_actions and row.id not in self.selected else None)
        if key == "priority":
            name = PRIORITIES.get(row.priority, "?")
            style = {4: "ticket-list--urgent", 3: "ticket-list--high", 1: "ticket-list--low"}.get(row.priority)
            return name, c(style) if style else None
        if key == "status":
            style = {"new": "ticket-list--new", "solved": "ticket-list--solved", "closed": "ticket-list--solved"}.get(row.status)
            return row.status, c(style) if style else None
        if key == "id":
            return str(row.id), None
        if key == "subject":
            return clean_line(row.subject, 300), None
        if key == "requester":
            return clean_line(row.requester, 60), None
        if key == "updated":
            return clock.age(now - row.updated_at), None
        if key == "assignee":
            return (clean_line(row.assignee, 40) or "—"), None
        if key == "sla":
            state = sla_rules.state(row.sla_due_at, now)
            if state == "none":
                return "", None
            if state == "breached":
                return "late " + clock.duration(now - row.sla_due_at), c("ticket-list--breached")
            return clock.duration(row.sla_due_at - now), c("ticket-list--soon") if state == "soon" else None
        return "", None
