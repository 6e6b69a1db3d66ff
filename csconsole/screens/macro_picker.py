"""The macro picker: find a macro, see exactly what it will do, apply it to one or many tickets.

Open it with ``MacroPicker(ticket_ids)``; it dismisses with an ``AppliedMacro`` (or None).
Keys: type to search by name (fuzzy); with the search box empty, a macro's quick key picks
it at once; up/down move; enter applies (to every ticket, each rendered with its own
values; more than one ticket asks once); ``e`` edits the rendered reply first (one ticket);
with several tickets, ctrl+right and ctrl+left show another ticket's preview; escape closes
(or leaves the editor).

The preview is rendered for one ticket (the first, until the agent steps through the
selection) from the cache, on a reader thread; a macro
that cannot be applied (a missing placeholder, a condition that is false, no order) shows
why in red and cannot be applied. Applying goes through the cache's writer thread in one
outbox call, with the undo grace from the config (ctrl+z takes the whole macro back), tells
the screens behind which tickets changed, and wakes the sync engine. Customer text
is shown as plain ``Text``, never markup. The macro engine (and Jinja2) is imported only
when the picker opens, so importing this module costs the console's start-up nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Key
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static, TextArea
from textual.widgets.option_list import Option

from csconsole.messages import TicketsChanged
from csconsole.text import clean, clean_line

if TYPE_CHECKING:
    from csconsole.macros.model import Macro
    from csconsole.macros.plan import Plan

HINT = "enter: apply · ↓ then e: edit the reply · escape: close"
BULK_HINT = "enter: apply to all · ctrl+→ / ctrl+←: another ticket's preview · escape: close"
EDIT_HINT = "ctrl+s: apply with this reply · escape: back to the preview"
POLL_SECONDS = 1.0
"""How often the macro folders are checked for edits while the picker is open."""
ORDER_FETCH_LIMIT = 200
"""Tickets whose orders the picker asks the engine for at once (a bulk selection can be big)."""


@dataclass(frozen=True)
class AppliedMacro:
    """What the picker did: the macro, the tickets, and the outbox rows it queued."""

    slug: str
    name: str
    ticket_ids: tuple[int, ...]
    outbox_ids: tuple[int, ...]


class SearchBox(Input):
    """The search input; with nothing typed yet, a macro's quick key picks the macro.

    Until the macros are loaded (``quick_keys`` is None) the first keys typed are held
    back: an agent who types ``m w`` faster than the library loads means the macro on
    ``w``, not a search for the letter w (whose best match could be another macro).
    """

    class QuickKey(Message):
        def __init__(self, character: str) -> None:
            super().__init__()
            self.character = character

    quick_keys: frozenset[str] | None = None
    early: str = ""

    async def _on_key(self, event: Key) -> None:
        if self.quick_keys is None and not self.value and event.is_printable:
            event.stop()
            event.prevent_default()
            self.early += event.character or ""
            return
        if not self.value and event.is_printable and event.character in self.quick_keys:
            event.stop()
            event.prevent_default()
            self.post_message(self.QuickKey(event.character or ""))
            return
        await super()._on_key(event)

    def keys_known(self, quick_keys: frozenset[str]) -> None:
        """The macros are in: a lone early key that is a quick key picks its macro; more
        than one key was a search all along."""
        early, self.early = self.early, ""
        first_time = self.quick_keys is None
        self.quick_keys = quick_keys
        if not first_time or not early:
            return
        if len(early) == 1 and early in quick_keys:
            self.post_message(self.QuickKey(early))
        else:
            self.value = early
            self.cursor_position = len(early)


class ConfirmBulk(ModalScreen[bool]):
    """One question before a macro goes to many tickets."""

    BINDINGS = [Binding("y,enter", "dismiss(True)", "Apply", id="macros.confirm.yes"),
                Binding("n,escape", "dismiss(False)", "Cancel", id="macros.confirm.no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-bulk"):
            yield Static(Text(self.question, style="bold"), markup=False)
            yield Static("y or enter: apply · n or escape: cancel", classes="hint", markup=False)


class MacroPicker(ModalScreen["AppliedMacro | None"]):
    BINDINGS = [
        Binding("escape", "close", "Close", id="macros.close"),
        Binding("down", "move(1)", "Next macro", show=False, id="macros.down"),
        Binding("up", "move(-1)", "Previous macro", show=False, id="macros.up"),
        Binding("e", "edit", "Edit the reply", id="macros.edit"),
        Binding("ctrl+s", "apply", "Apply", show=False, id="macros.apply"),
        # Priority: the search box would take ctrl+arrows as word jumps. check_action hands
        # them back to the search box and the reply editor when there is one ticket.
        Binding("ctrl+right", "preview_ticket(1)", "Next ticket's preview", show=False, priority=True,
                id="macros.preview.next"),
        Binding("ctrl+left", "preview_ticket(-1)", "Previous ticket's preview", show=False, priority=True,
                id="macros.preview.previous"),
    ]

    def __init__(self, ticket_ids: list[int], query: str = "") -> None:
        """``query`` starts the search with some text (e.g. the refund that was just queued
        offers its confirmation macro)."""
        super().__init__()
        if not ticket_ids:
            raise ValueError("the macro picker needs at least one ticket")
        self.ticket_ids = list(dict.fromkeys(ticket_ids))
        self.initial_query = query
        self.library: Any = None
        self.held_problems: list[Any] = []
        """The helpdesk's canned replies that cannot be filled in, listed with the broken files."""
        self.settings: Any = None
        self.macros: list[Macro] = []
        self.fit: dict[str, bool | str] = {}
        """Per macro, for the first ticket: fits, doesn't, or why its condition broke."""
        self.shown: list[Macro] = []
        self.plan: Plan | None = None
        self.error: str | None = None
        self.edited: str | None = None
        """The agent's own version of the reply of the highlighted macro (one ticket only)."""
        self.preview_at = 0
        """Which of the tickets the preview is rendered for."""
        self._quick: str = ""
        self._busy = False

    # -- layout
    def compose(self) -> ComposeResult:
        with Vertical(id="macro-picker"):
            yield Static(self._title(), id="macro-title", markup=False)
            yield SearchBox(self.initial_query, placeholder="Search macros, or press a macro's key", id="macro-search")
            with Horizontal(id="macro-body"):
                yield OptionList(id="macro-list", markup=False)
                with VerticalScroll(id="macro-preview-scroll"):
                    yield Static("Loading macros…", id="macro-preview", markup=False)
                yield TextArea(id="macro-editor", soft_wrap=True)
            yield Static(self._hint(), id="macro-hint", markup=False)

    def _title(self) -> Text:
        count = len(self.ticket_ids)
        if count == 1:
            return Text(f" Macros · ticket #{self.ticket_ids[0]}", style="bold")
        return Text(f" Macros · {count} tickets · preview for #{self.previewed} ({self.preview_at + 1} of {count})",
                    style="bold")

    def _hint(self) -> str:
        return HINT if len(self.ticket_ids) == 1 else BULK_HINT

    @property
    def previewed(self) -> int:
        return self.ticket_ids[self.preview_at]

    @property
    def _editing(self) -> bool:
        return self.query_one("#macro-editor", TextArea).display

    def on_mount(self) -> None:
        self.query_one("#macro-editor", TextArea).display = False
        self.query_one(SearchBox).focus()
        self.load()
        self.set_interval(POLL_SECONDS, self.poll)

    # -- loading
    @work(exclusive=True, group="macro-load")
    async def load(self) -> None:
        from csconsole.macros import library
        from csconsole.macros.context import Settings

        workspace = self.app.workspace  # type: ignore[attr-defined]
        self.settings = Settings.for_workspace(workspace)
        self.library = await asyncio.to_thread(library.for_workspace, workspace)
        await self._ask_for_orders()
        await self.reload()

    async def _ask_for_orders(self) -> None:
        """Tickets whose customers' orders were never loaded: ask the engine (the preview
        follows when they arrive)."""
        if not self.settings.has_store:
            return
        missing = await self.app.cache.read(_orders_not_loaded, self.ticket_ids[:ORDER_FETCH_LIMIT])  # type: ignore[attr-defined]
        if missing:
            self.app.fetch_signal.subscribe(self, self._on_fetch)  # type: ignore[attr-defined]
            for ticket_id in missing:
                self.app.fetch_orders(ticket_id)  # type: ignore[attr-defined]

    def _on_fetch(self, event: tuple[str, int, str | None]) -> None:
        kind, ticket_id, _ = event
        if kind == "orders" and ticket_id in (self.ticket_ids[0], self.previewed) and self.is_attached:
            self.run_worker(self.reload(), exclusive=True, group="macro-reload")

    @work(exclusive=True, group="macro-poll")
    async def poll(self) -> None:
        if self.library is not None and await asyncio.to_thread(self.library.refresh):
            await self.reload()

    async def reload(self) -> None:
        """The macro list, and which of them fit the first ticket."""
        from csconsole.macros.remote import macros as helpdesk_macros

        account = self.app.workspace.helpdesk_spec().name  # type: ignore[attr-defined]
        held = await self.app.cache.read(helpdesk_macros, account)  # type: ignore[attr-defined]
        self.macros = self.library.offered(self.settings.has_store) + held.macros
        self.held_problems = held.problems
        self.fit = await self.app.cache.read(_fits, self.macros, self.ticket_ids[0], self.settings)  # type: ignore[attr-defined]
        if not self.is_attached:  # dismissed while the cache answered (orders can arrive late)
            return
        self.query_one(SearchBox).keys_known(frozenset(m.key for m in self.macros if m.key))
        self.refilter()

    # -- the list
    @on(Input.Changed, "#macro-search")
    def _search_changed(self) -> None:
        self.refilter()

    def refilter(self) -> None:
        from textual.fuzzy import FuzzySearch

        query = self.query_one(SearchBox).value.strip()
        option_list = self.query_one("#macro-list", OptionList)
        current = self.highlighted
        ranked: list[tuple[float, bool, Macro, tuple[int, ...]]] = []
        search = FuzzySearch()
        for macro in self.macros:
            score, offsets = search.match(query, macro.name) if query else (1.0, ())
            if score > 0:
                ranked.append((score, self.fit.get(macro.slug) is True, macro, tuple(offsets)))
        # The macros that fit the ticket first; while searching, the best match first.
        ranked.sort(key=lambda r: (-r[0], not r[1], r[2].name.casefold()) if query
                    else (not r[1], r[2].name.casefold()))
        self.shown = [r[2] for r in ranked]
        options: list[Option] = []
        for n, (_, fits, macro, offsets) in enumerate(ranked):
            if not query and not fits and (n == 0 or ranked[n - 1][1]):
                options.append(Option(Text("Not for this ticket", style="dim italic"), id="-other", disabled=True))
            options.append(Option(_label(macro, offsets, fits), id=macro.slug))
        if not options:
            options.append(Option(Text("No macro matches", style="dim"), id="-none", disabled=True))
        for n, problem in enumerate([*(self.library.problems if self.library else []), *self.held_problems]):
            options.append(Option(Text(f"⚠ {problem}", style="red"), id=f"-problem-{n}", disabled=True))
        option_list.clear_options()
        option_list.add_options(options)
        keep = current.slug if current is not None and current in self.shown else None
        target = keep or (self.shown[0].slug if self.shown else None)
        option_list.highlighted = option_list.get_option_index(target) if target else None
        self.preview()

    @property
    def highlighted(self) -> Macro | None:
        option_list = self.query_one("#macro-list", OptionList)
        if option_list.highlighted is None:
            return None
        slug = option_list.get_option_at_index(option_list.highlighted).id
        return next((m for m in self.shown if m.slug == slug), None)

    @on(OptionList.OptionHighlighted, "#macro-list")
    def _highlighted(self) -> None:
        self.preview()

    @on(OptionList.OptionSelected, "#macro-list")
    def _selected(self) -> None:
        self.action_apply()

    @on(Input.Submitted, "#macro-search")
    def _submitted(self) -> None:
        self.action_apply()

    @on(SearchBox.QuickKey)
    def _quick_key(self, event: SearchBox.QuickKey) -> None:
        macro = next((m for m in self.shown if m.key == event.character), None)
        if macro is None:
            return
        option_list = self.query_one("#macro-list", OptionList)
        option_list.highlighted = option_list.get_option_index(macro.slug)
        option_list.focus()
        self._quick = event.character

    def on_key(self, event: Key) -> None:
        """In the list, typing goes back to the search (after a quick key, it continues the
        word that key began: w then h searches "wh")."""
        option_list = self.query_one("#macro-list", OptionList)
        if self.focused is option_list and event.is_printable and event.character not in ("e", None):
            event.stop()
            search = self.query_one(SearchBox)
            search.value = self._quick + (event.character or "")
            search.cursor_position = len(search.value)
            search.focus()
            self._quick = ""

    def action_move(self, delta: int) -> None:
        """From the search box, arrows step into the list (where e and enter act)."""
        if self._editing:
            return
        option_list = self.query_one("#macro-list", OptionList)
        if delta > 0:
            option_list.action_cursor_down()
        else:
            option_list.action_cursor_up()
        option_list.focus()

    # -- the preview
    def preview(self) -> None:
        self.edited = None
        self.plan, self.error = None, None
        macro = self.highlighted
        if macro is None:
            self._show(Text("No macro to show." if self.library is not None else "Loading macros…", style="dim"))
            return
        self.render_preview(macro)

    @work(exclusive=True, group="macro-preview")
    async def render_preview(self, macro: Macro) -> None:
        from csconsole.macros import plan as planning

        try:
            self.plan = await self.app.cache.read(planning.plan, macro, self.previewed, self.settings)  # type: ignore[attr-defined]
        except planning.PlanError as exc:
            self.plan, self.error = None, exc.message
        if self.highlighted is macro and self.is_attached:
            self._show(_preview_text(macro, self.plan, self.error, self.edited, len(self.ticket_ids)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "preview_ticket":
            return len(self.ticket_ids) > 1 and not self._editing
        return True

    def action_preview_ticket(self, delta: int) -> None:
        """Step the preview through the selection: each ticket gets its own values, and an
        agent about to send forty replies may want to read more than the first."""
        self.preview_at = (self.preview_at + delta) % len(self.ticket_ids)
        self.query_one("#macro-title", Static).update(self._title())
        self.preview()

    def _show(self, text: Text) -> None:
        self.query_one("#macro-preview", Static).update(text)

    # -- editing
    def action_edit(self) -> None:
        macro = self.highlighted
        if macro is None or self._editing:
            return
        if len(self.ticket_ids) > 1:
            self.app.bell()
            self.notify("Editing is for one ticket: each ticket gets its own text.", markup=False)
            return
        if self.plan is None or self.plan.reply is None:
            self.app.bell()
            self.notify(self.error or "This macro has no reply to edit.", severity="warning", markup=False)
            return
        editor = self.query_one("#macro-editor", TextArea)
        editor.load_text(self.edited if self.edited is not None else self.plan.reply)
        self.query_one("#macro-preview-scroll").display = False
        editor.display = True
        editor.focus()
        self.query_one("#macro-hint", Static).update(EDIT_HINT)

    def _leave_editor(self) -> None:
        editor = self.query_one("#macro-editor", TextArea)
        self.edited = editor.text
        editor.display = False
        self.query_one("#macro-preview-scroll").display = True
        self.query_one("#macro-list", OptionList).focus()
        self.query_one("#macro-hint", Static).update(self._hint())
        macro = self.highlighted
        if macro is not None:
            self._show(_preview_text(macro, self.plan, self.error, self.edited, len(self.ticket_ids)))

    def action_close(self) -> None:
        if self._editing:
            self._leave_editor()
        else:
            self.dismiss(None)

    # -- applying
    def action_apply(self) -> None:
        if self._editing:
            self._leave_editor()
        macro = self.highlighted
        if macro is None or self._busy:
            return
        if self.error is not None:
            self.app.bell()
            self.notify(f"Cannot apply “{macro.name}”: {self.error}", severity="error", markup=False)
            return
        if self.plan is None:  # the preview is still rendering
            return
        self.apply(macro)

    @work(exclusive=True, group="macro-apply")
    async def apply(self, macro: Macro) -> None:
        from csconsole.macros import plan as planning
        from csconsole.store.outbox import ActionError

        count = len(self.ticket_ids)
        if count > 1:
            _, errors = await self.app.cache.read(planning.plan_many, macro, self.ticket_ids, self.settings)  # type: ignore[attr-defined]
            if errors:
                self.error = f"{len(errors)} of {count} tickets cannot take this macro:\n" + "\n".join(map(str, errors))
                self._show(_preview_text(macro, self.plan, self.error, None, count))
                self.app.bell()
                return
            if not await self.app.push_screen_wait(ConfirmBulk(f"Apply “{macro.name}” to {count} tickets?")):
                return
        self._busy = True
        try:
            grace = self.app.config.ui.undo_seconds  # type: ignore[attr-defined]
            queue = partial(planning.apply_macro, grace=grace, reply=self.edited)
            _, ids = await self.app.cache.write(queue, macro, self.ticket_ids, self.settings)  # type: ignore[attr-defined]
        except (planning.PlanError, ActionError) as exc:
            self.error = f"Nothing was queued: {exc}"
            self._show(_preview_text(macro, self.plan, self.error, self.edited, count))
            self.app.bell()
            return
        finally:
            self._busy = False
        self.app.post_message(TicketsChanged(list(self.ticket_ids)))  # the screens behind show the effect
        self.app.wake_sync()  # type: ignore[attr-defined]
        where = f"#{self.ticket_ids[0]}" if count == 1 else f"{count} tickets"
        self.notify(f"“{macro.name}” queued on {where}" + (f" · sends in {grace:g}s" if grace else ""), markup=False)
        self.dismiss(AppliedMacro(macro.slug, macro.name, tuple(self.ticket_ids), tuple(ids)))


# ----------------------------------------------------------------------------- cache reads (reader threads)


def _orders_not_loaded(conn: Any, ticket_ids: list[int]) -> list[int]:
    marks = ",".join("?" * len(ticket_ids))
    return [r[0] for r in conn.execute(
        f"SELECT t.id FROM ticket t JOIN person p ON p.id = t.requester_id WHERE t.id IN ({marks})"
        " AND p.orders_synced_at IS NULL", ticket_ids)]


def _fits(conn: Any, macros: list[Macro], ticket_id: int, settings: Any) -> dict[str, bool | str]:
    from csconsole.macros import context, plan, templates

    try:
        ctx = context.build(conn, ticket_id, settings)
    except context.NoSuchTicket as exc:
        return {m.slug: str(exc) for m in macros}
    out: dict[str, bool | str] = {}
    for macro in macros:
        try:
            out[macro.slug] = plan.fits(ctx, macro)
        except templates.RenderError as exc:
            out[macro.slug] = str(exc)
    return out


# ----------------------------------------------------------------------------- rendering


def _label(macro: Macro, offsets: tuple[int, ...], fits: bool) -> Text:
    label = Text(no_wrap=True, overflow="ellipsis")
    label.append(f" {macro.key or ' '} ", style="bold reverse" if macro.key else "")
    label.append(" ")
    name = Text(macro.name, style="" if fits else "dim")
    for offset in offsets:
        if offset < len(macro.name) and not macro.name[offset].isspace():
            name.stylize("bold underline", offset, offset + 1)
    label.append_text(name)
    if macro.user:
        label.append(" · yours", style="italic dim")
    return label


def _preview_text(macro: Macro, plan: Plan | None, error: str | None, edited: str | None, count: int) -> Text:
    out = Text()
    out.append(macro.name, style="bold")
    if macro.description:
        out.append("\n" + macro.description, style="dim")
    if count > 1:
        out.append(f"\nPreview for one of {count} tickets (ctrl+→ for the next); each gets its own values.",
                   style="italic")
    if error is not None:
        out.append("\n\nCannot apply: ", style="bold red")
        out.append(clean(error), style="red")
        return out
    if plan is None:
        out.append("\n\nRendering…", style="dim")
        return out
    for step in plan.steps:
        if step.kind in ("reply", "note"):
            body = edited if step.kind == "reply" and edited is not None else step.payload["body"]
            head = "Public reply" if step.kind == "reply" else "Internal note"
            if step.kind == "reply" and edited is not None:
                head += " (edited)"
            out.append(f"\n\n{head}\n", style="bold" if step.kind == "reply" else "bold yellow")
            out.append(clean(body))
    others = [s for s in plan.steps if s.kind not in ("reply", "note")]
    if others:
        out.append("\n\nActions", style="bold")
        for step in others:
            out.append("\n • " + clean_line(step.summary, 200))
    if not plan.steps:
        out.append("\n\nNothing to change: the ticket already looks like this.", style="dim")
    return out
