"""One ticket: its thread, newest last, with the requester and their orders beside it."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual import on
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Static

from csconsole import clock
from csconsole import sla as sla_rules
from csconsole.adapters.base import PRIORITIES
from csconsole import triage
from csconsole.screens import gone
from csconsole.screens.triage import TRIAGE_BINDINGS, TriageActions
from csconsole.store.outbox import Intent
from csconsole.store.tickets import TicketDetail, load_detail
from csconsole.text import clean_line
from csconsole.widgets.composer import Composer
from csconsole.widgets.footer import Footer
from csconsole.widgets.orders_panel import OrdersPanel
from csconsole.widgets.status_bar import StatusBar
from csconsole.widgets.thread_view import ThreadView
from csconsole.widgets.ticket_list import TicketList

WIDE = 120
"""From this many columns the orders panel sits beside the thread (on narrower terminals
`o` brings it up, and esc or `o` puts it away)."""


def header_text(d: TicketDetail, now: int) -> Text:
    out = Text(no_wrap=True, overflow="ellipsis")
    out.append(f" #{d.id} ", style="bold reverse")
    out.append(" " + clean_line(d.subject, 300), style="bold")
    out.append("\n ")
    status_style = {"new": "bold green", "open": "bold", "pending": "cyan", "hold": "magenta"}.get(d.status, "dim")
    out.append(d.status, style=status_style)
    priority_style = {4: "bold red", 3: "yellow", 1: "dim"}.get(d.priority, "")
    out.append(" · ")
    out.append(PRIORITIES.get(d.priority, "?"), style=priority_style)
    out.append(" · " + (clean_line(d.assignee, 40) if d.assignee else "unassigned"))
    state = sla_rules.state(d.sla_due_at, now)
    if state == "breached":
        out.append(f" · SLA late {clock.duration(now - d.sla_due_at)}", style="bold red")
    elif state in ("soon", "ok"):
        out.append(f" · SLA due in {clock.duration(d.sla_due_at - now)}", style="yellow" if state == "soon" else "")
    if d.channel:
        out.append(f" · via {clean_line(d.channel, 20)}", style="dim")
    out.append(f" · opened {clock.age(now - d.created_at)} ago · updated {clock.age(now - d.updated_at)} ago", style="dim")
    count = max(d.message_count, d.cached_messages)  # some helpdesks (RT) do not count for us
    out.append(f" · {count} message{'s' if count != 1 else ''}", style="dim")
    if d.pending_actions:
        out.append(f" · ↑ {d.pending_actions} unsent", style="bold cyan")
    out.append("\n ")
    if d.tags:
        out.append("tags: ", style="dim")
        out.append(" ".join(clean_line(t, 40) for t in d.tags), style="italic")
    else:
        out.append("no tags", style="dim")
    return out


class TicketScreen(TriageActions, Screen):
    """One instance serves every ticket (show_ticket swaps the content): composing a
    screen costs tens of milliseconds, re-filling one costs one query and a repaint."""

    BINDINGS = [
        Binding("escape", "back", "Back to queue", id="ticket.back"),
        Binding("right_square_bracket", "step(1)", "Next ticket", key_display="]", id="ticket.next"),
        Binding("left_square_bracket", "step(-1)", "Previous ticket", key_display="[", show=False,
                id="ticket.previous"),
        Binding("r", "compose('reply')", "Reply", id="ticket.reply"),
        Binding("n", "compose('note')", "Note", id="ticket.note"),
        Binding("o", "orders", "Orders", id="ticket.orders"),
        Binding("R", "refund", "Refund…", id="ticket.refund"),
        Binding("E", "returns", "Return…", show=False, id="ticket.returns"),
        Binding("C", "cancel_order", "Cancel order…", show=False, id="ticket.cancel_order"),
        *TRIAGE_BINDINGS,
    ]

    def __init__(self, ticket_id: int = 0, ticket_list: TicketList | None = None) -> None:
        super().__init__()
        self.ticket_id = ticket_id
        self.ticket_list = ticket_list
        self.detail: TicketDetail | None = None
        self.orders_error: str | None = None
        self.thread_note: str | None = None
        self._asked_thread: int | None = None
        """The ticket's updated_at when its thread was last asked for."""
        self._asked_orders = False
        self._seen: set[int] | None = None
        """Messages from others the agent has already seen on this ticket (collision check)."""

    def compose(self) -> ComposeResult:
        yield Static("", id="ticket-head", markup=False)
        with Horizontal(id="ticket-body"):
            with Vertical(id="ticket-main"):
                yield ThreadView(id="thread")
                yield Static("", id="collision", markup=False)
                yield Composer(id="composer")
            yield OrdersPanel(id="orders")
        yield StatusBar(id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.app.data_signal.subscribe(self, self._on_data)  # type: ignore[attr-defined]
        self.app.fetch_signal.subscribe(self, self._on_fetch)  # type: ignore[attr-defined]
        self._layout()
        if self.ticket_id:
            self.load()

    def on_screen_resume(self) -> None:
        self.query_one(ThreadView).focus()

    def on_resize(self) -> None:
        self._layout()

    def _layout(self) -> None:
        panel = self.query_one(OrdersPanel)
        panel.display = self.size.width >= WIDE or panel.has_focus

    @work(exclusive=True, group="ticket-load")
    async def load(self) -> None:
        detail = await self.app.cache.read(load_detail, self.ticket_id)  # type: ignore[attr-defined]
        if gone(self):
            return
        if detail is None:
            self.query_one("#ticket-head", Static).update(Text(f" Ticket #{self.ticket_id} is not in the cache", style="bold red"))
            return
        self.detail = detail
        self.query_one("#ticket-head", Static).update(header_text(detail, clock.now()))
        if not self.app.store_capabilities:  # type: ignore[attr-defined]
            self.orders_error = "no store is set up for this workspace"
        self.query_one(OrdersPanel).show(detail, self.orders_error)
        note = self.thread_note
        if not detail.thread_is_fresh and self._asked_thread != detail.updated_at:
            self._asked_thread = detail.updated_at  # ask again whenever the ticket moves on
            note = note or "loading the rest of the thread…"
            self.app.fetch_thread(self.ticket_id)  # type: ignore[attr-defined]
        if self.app.store_capabilities and detail.requester.order_count is None and not self._asked_orders:  # type: ignore[attr-defined]
            self._asked_orders = True
            self.app.fetch_orders(self.ticket_id)  # type: ignore[attr-defined]
        await self.query_one(ThreadView).show(detail.messages, note)
        self._check_collision(detail)
        left = Text()
        left.append(f"#{detail.id}", style="bold")
        if self.ticket_list is not None and self.ticket_list.count:
            left.append(f"  ·  {self.ticket_list.cursor + 1:,}/{self.ticket_list.count:,} in view", style="dim")
        self.query_one(StatusBar).set_left(left)

    def _on_data(self, ids: list[int]) -> None:
        if not ids or self.ticket_id in ids:
            self.load()

    def _on_fetch(self, event: tuple[str, int, str | None]) -> None:
        kind, ticket_id, error = event
        if ticket_id != self.ticket_id:
            return
        if kind == "thread":
            self.thread_note = f"could not load the thread: {error}" if error else None
        else:
            self.orders_error = error
        self.load()

    def show_ticket(self, ticket_id: int, ticket_list: TicketList | None = None) -> None:
        """Show another ticket in this screen (next/previous, or a reuse from the queue)."""
        self.ticket_id = ticket_id
        if ticket_list is not None:
            self.ticket_list = ticket_list
        self.orders_error = self.thread_note = None
        self._asked_thread = None
        self._asked_orders = False
        self._seen = None
        if self.is_mounted:  # else on_mount loads it
            composer = self.query_one(Composer)
            if composer.display:
                self.run_worker(composer.action_close())
            self.query_one("#collision", Static).display = False
            self.load()

    # -- collisions: someone else wrote while the agent was reading
    def _check_collision(self, detail: TicketDetail) -> None:
        others = {m.id for m in detail.messages if not m.pending and m.author != self._my_name()}
        if self._seen is None or not self.query_one(Composer).display:
            self._seen = others
            self.query_one("#collision", Static).display = False
            return
        new = [m for m in detail.messages if m.id in others - self._seen]
        banner = self.query_one("#collision", Static)
        if new:
            who = ", ".join(dict.fromkeys(clean_line(m.author, 30) + (" (customer)" if m.role == "customer" else "")
                                          for m in new))
            banner.update(Text(f"⚠ While you were writing, {len(new)} new message{'s' if len(new) > 1 else ''} "
                               f"arrived from {who}. Read it above before you send.", style="bold"))
            banner.display = True

    def _my_name(self) -> str | None:
        me = self.app.me  # type: ignore[attr-defined]
        return me.name if me is not None else None

    # -- replies and notes
    async def action_compose(self, kind: str) -> None:
        if self.detail is None:
            return
        self._seen = None
        self._check_collision(self.detail)
        self.query_one(ThreadView).scroll_end(animate=False)
        await self.query_one(Composer).open(self.ticket_id, kind, self.detail.requester.name or "the customer")
        self._seen = {m.id for m in self.detail.messages if not m.pending and m.author != self._my_name()}

    @on(Composer.Send)
    async def _send(self, event: Composer.Send) -> None:
        intent = Intent(event.kind, event.ticket_id, {"body": event.body})
        summary = "Public reply" if event.kind == "reply" else "Internal note"
        ok = await self.app.enqueue([intent], summary=summary)  # type: ignore[attr-defined]
        if ok:
            await self.app.cache.write(triage.save_draft, event.ticket_id, event.kind, "")  # type: ignore[attr-defined]
            self.query_one(Composer).sent()
            self.query_one("#collision", Static).display = False
            self.query_one(ThreadView).focus()

    @on(Composer.Closed)
    def _composer_closed(self) -> None:
        self.query_one("#collision", Static).display = False
        self.query_one(ThreadView).focus()

    # -- triage on this ticket, then on to the next when it left the view
    def triage_targets(self) -> list[int]:
        return [self.ticket_id] if self.ticket_id else []

    def triage_current(self) -> dict[str, object]:
        d = self.detail
        return {"status": d.status, "priority": d.priority, "tags": d.tags} if d else {}

    async def after_triage(self, ticket_ids: list[int], kind: str) -> None:
        """Flow: once this ticket no longer belongs in the view, open the next one."""
        ticket_list = self.ticket_list
        if ticket_list is None or ticket_list.view is None or self.ticket_id not in ticket_ids:
            return
        still = await self.app.cache.read(triage.in_view, ticket_list.view, self.ticket_id)  # type: ignore[attr-defined]
        if still:
            return
        index = ticket_list.cursor
        here = await ticket_list.row_at_async(index)
        if here is not None and here.id == self.ticket_id:  # the list has not dropped it yet
            index += 1
        following = await ticket_list.row_at_async(index)
        if following is None:
            self.notify("That was the last ticket of this view", timeout=3, markup=False)
            self.app.pop_screen()
            return
        self.show_ticket(following.id)

    def action_back(self) -> None:
        panel = self.query_one(OrdersPanel)
        if panel.has_focus and self.size.width < WIDE:
            self.action_orders()
            return
        self.app.pop_screen()

    # -- orders, refunds, returns, cancels
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("refund", "returns", "cancel_order", "orders"):
            capability = {"refund": "refund", "returns": "returns", "cancel_order": "cancel", "orders": "orders"}[action]
            return capability in self.app.store_capabilities  # type: ignore[attr-defined]
        return True

    def action_orders(self) -> None:
        """Focus the orders panel (on narrow terminals it comes up over the thread)."""
        panel = self.query_one(OrdersPanel)
        if panel.has_focus:
            self.query_one(ThreadView).focus()
        else:
            panel.display = True
            panel.focus()
        self.call_after_refresh(self._layout)

    def _selected_order(self):
        order = self.query_one(OrdersPanel).order
        if order is None:
            self.notify("No order to act on (the store knows no order for this customer yet)", severity="warning",
                        markup=False)
        return order

    def action_refund(self) -> None:
        from csconsole.screens.order_dialogs import RefundDialog, reason_for

        async def go() -> None:
            order = self._selected_order()
            if order is None or self.detail is None:
                return
            if not order.money.refundable:
                self.notify(f"Nothing is left to refund on order #{order.number}", markup=False)
                return
            app = self.app
            payload = await app.push_screen_wait(RefundDialog(order, app.config.policy, app.actor,  # type: ignore[attr-defined]
                                                              reason_for(self.detail.tags)))
            if payload is not None:
                await self._queue_store("refund", order.id, payload, follow="refund confirmation")
        self.run_worker(go(), group="store", exclusive=True)

    def action_returns(self) -> None:
        from csconsole.adapters.base import DECLINE_REASONS
        from csconsole.screens.order_dialogs import ReturnDialog
        from csconsole.screens.pickers import KeyChoice

        async def go() -> None:
            order = self._selected_order()
            if order is None:
                return
            requested = [r for r in order.returns if r.status == "requested" and not r.pending]
            opened = [r for r in order.returns if r.status == "open" and not r.pending]
            choices = [("c", "create a return", "create")]
            if requested:
                choices += [("a", f"approve the customer's return request #{requested[0].remote_id}", "approve"),
                            ("d", f"decline return request #{requested[0].remote_id}", "decline")]
            if opened:
                choices.append(("v", f"the parcel of return #{opened[0].remote_id} arrived: mark received", "receive"))
            app = self.app
            what = "create" if len(choices) == 1 else await app.push_screen_wait(KeyChoice(f"Returns on #{order.number}", choices))
            if what == "create":
                payload = await app.push_screen_wait(ReturnDialog(order, app.config.policy))  # type: ignore[attr-defined]
                if payload is not None:
                    await self._queue_store("return_create", order.id, payload, follow="return instructions")
            elif what == "approve":
                await self._queue_store("return_approve", order.id, {"return": requested[0].remote_id},
                                        follow="return instructions")
            elif what == "decline":
                reason = await app.push_screen_wait(KeyChoice("Why decline it?", [
                    (str(n), r.replace("_", " ").lower(), r) for n, r in enumerate(DECLINE_REASONS, start=1)]))
                if reason is not None:
                    await self._queue_store("return_decline", order.id, {"return": requested[0].remote_id,
                                                                         "reason": reason})
            elif what == "receive":
                await self._queue_store("return_receive", order.id, {"return": opened[0].remote_id})
        self.run_worker(go(), group="store", exclusive=True)

    def action_cancel_order(self) -> None:
        from csconsole.screens.order_dialogs import CancelDialog

        async def go() -> None:
            order = self._selected_order()
            if order is None:
                return
            payload = await self.app.push_screen_wait(CancelDialog(order, self.app.config.policy))  # type: ignore[attr-defined]
            if payload is not None:
                await self._queue_store("cancel", order.id, payload, follow="cancel")
        self.run_worker(go(), group="store", exclusive=True)

    async def _queue_store(self, kind: str, order_id: int, payload: dict, follow: str | None = None) -> None:
        """Queue a store action on this ticket's queue; then offer the reply that goes with it."""
        from csconsole.store.outbox import describe

        intent = Intent(kind, self.ticket_id, payload, order_id=order_id)
        if await self.app.enqueue([intent], summary=describe(kind, payload)):  # type: ignore[attr-defined]
            self.load()
            if follow:
                from csconsole.screens.macro_picker import MacroPicker

                await self.app.push_screen_wait(MacroPicker([self.ticket_id], query=follow))  # type: ignore[attr-defined]

    async def action_step(self, delta: int) -> None:
        if self.ticket_list is None or not self.ticket_list.count:
            return
        index = self.ticket_list.cursor + delta
        if not 0 <= index < self.ticket_list.count:
            self.app.bell()
            return
        row = await self.ticket_list.row_at_async(index)
        if row is None:
            return
        self.ticket_list.cursor = index
        self.show_ticket(row.id)
