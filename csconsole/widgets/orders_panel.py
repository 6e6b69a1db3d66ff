"""Beside the thread: the requester, what they bought, and the selected order in full.

The order the ticket is about (named in the thread, else the newest) is selected first.
j/k (or arrows) move between orders while the panel has focus; the ticket screen's R, E
and C act on the selected order. Everything shown comes from the cache; refunds and
returns still in the outbox say so ("queued", "awaiting approval").
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.reactive import reactive
from textual.widgets import Static

from csconsole.money import format_minor
from csconsole.store.orders import OrderDetail, order_detail
from csconsole.store.tickets import OrderSummary, TicketDetail
from csconsole.text import clean_line


def _day(at: int) -> str:
    return time.strftime("%d %b %Y", time.gmtime(at))


def requester_text(detail: TicketDetail, orders_error: str | None) -> Text:
    r = detail.requester
    out = Text()
    out.append(clean_line(r.name, 40) or "(no name)", style="bold")
    out.append("\n")
    if r.email:
        out.append(clean_line(r.email, 60) + "\n", style="dim")
    if r.locale:
        out.append(f"locale {clean_line(r.locale, 12)}\n", style="dim")
    out.append(f"{r.ticket_count} ticket{'s' if r.ticket_count != 1 else ''} in this workspace\n")
    if r.order_count is None:
        out.append("orders: " + (clean_line(orders_error, 80) if orders_error else "asking the store…") + "\n",
                   style="red" if orders_error else "dim italic")
    else:
        spend = ", ".join(format_minor(v, c) for c, v in sorted(r.spend.items())) or "nothing yet"
        out.append(f"{r.order_count} order{'s' if r.order_count != 1 else ''} · lifetime {spend}\n", style="bold")
    return out


def order_text(o: OrderDetail, mentioned: bool) -> Text:
    """The selected order in full: lines, money, parcel, refunds, returns."""
    m = lambda minor: format_minor(minor, o.currency)  # noqa: E731
    out = Text()
    out.append(f"▶ #{clean_line(o.number, 20)}", style="bold reverse")
    out.append(f"  {_day(o.created_at)}  {m(o.total)}" + ("  (named in the thread)" if mentioned else "") + "\n")
    state = f"{o.financial_status.replace('_', ' ')} · {o.fulfillment_status}"
    if o.cancelled_at:
        state += f" · cancelled {_day(o.cancelled_at)}"
    out.append(f"  {state}\n", style="dim")
    for line in o.lines:
        out.append(f"  {line.quantity}× {clean_line(line.title, 34)}")
        if line.variant:
            out.append(f" ({clean_line(line.variant, 16)})", style="dim")
        out.append(f"  {m(line.unit_price * line.quantity)}")
        notes = []
        if line.refunded_quantity:
            notes.append(f"{line.refunded_quantity} refunded")
        if line.returned_quantity:
            notes.append(f"{line.returned_quantity} returned")
        if line.fulfilled_quantity < line.quantity and not o.cancelled_at:
            notes.append(f"{line.quantity - line.fulfilled_quantity} not shipped")
        if notes:
            out.append("  " + ", ".join(notes), style="yellow")
        out.append("\n")
    if o.tracking_number:
        out.append(f"  {clean_line(o.carrier or '', 12)} {clean_line(o.tracking_number, 30)} · {o.delivery or ''}\n",
                   style="cyan")
        if o.tracking_url:
            out.append(f"  {clean_line(o.tracking_url, 90)}\n", style="dim")
    for r in o.refunds:
        style = {"done": "green", "failed": "red"}.get(r.state, "yellow")
        out.append(f"  refund {m(r.amount)}", style=style)
        if r.shipping:
            out.append(f" (shipping {m(r.shipping)})", style=style)
        out.append(f" · {r.state}" + (f" · {clean_line(r.reason, 20)}" if r.reason else "") + "\n", style=style)
    for r in o.returns:
        items = ", ".join(f"{q}× {clean_line(o.title_of(line_id), 24)}" for line_id, q in r.lines)
        name = "new" if r.pending else f"#{clean_line(r.remote_id, 12)}"
        out.append(f"  return {name} {r.status}{' (queued)' if r.pending else ''}: {items}\n", style="magenta")
    money = o.money
    out.append(f"  refundable {m(money.refundable)} (shipping {m(money.shipping_refundable)})\n", style="bold")
    return out


def summary_text(o: OrderSummary, mentioned: bool) -> Text:
    out = Text()
    out.append(f"  #{clean_line(o.number, 20)}", style="bold" if mentioned else "")
    out.append(f"  {_day(o.created_at)}  {format_minor(o.total, o.currency)}")
    out.append(f"  {o.financial_status.replace('_', ' ')} · {o.fulfillment_status}\n", style="dim")
    return out


class OrdersPanel(VerticalScroll, can_focus=True):
    BINDINGS = [
        Binding("j,down", "select(1)", "Next order", show=False, id="orders.next"),
        Binding("k,up", "select(-1)", "Previous order", show=False, id="orders.previous"),
    ]

    selected: reactive[int] = reactive(0, init=False)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.detail: TicketDetail | None = None
        self.orders_error: str | None = None
        self.order: OrderDetail | None = None

    def compose(self):
        yield Static("", id="orders-requester", markup=False)
        yield Static("", id="orders-list", markup=False)

    def show(self, detail: TicketDetail, orders_error: str | None = None) -> None:
        """New data for the ticket; keeps the selected order if it is still there."""
        previous = self.detail
        keep = self.order.id if self.order is not None and previous is not None and previous.id == detail.id else None
        self.detail, self.orders_error = detail, orders_error
        ids = [o.id for o in detail.orders]
        if keep in ids:
            index = ids.index(keep)
        else:
            named = [i for i, o in enumerate(detail.orders) if o.number in detail.order_refs]
            index = named[0] if named else 0
        self.set_reactive(OrdersPanel.selected, index)
        self.query_one("#orders-requester", Static).update(requester_text(detail, orders_error))
        self.load_order()

    def watch_selected(self) -> None:
        self.load_order()

    def action_select(self, delta: int) -> None:
        if self.detail and self.detail.orders:
            self.selected = (self.selected + delta) % len(self.detail.orders)

    def load_order(self) -> None:
        self.run_worker(self._load_order(), exclusive=True, group="order")

    async def _load_order(self) -> None:
        detail = self.detail
        if detail is None or not detail.orders:
            self.order = None
            self._render_orders()
            return
        summary = detail.orders[min(self.selected, len(detail.orders) - 1)]
        self.order = await self.app.cache.read(order_detail, summary.id)  # type: ignore[attr-defined]
        self._render_orders()

    def _render_orders(self) -> None:
        detail = self.detail
        out = Text()
        if detail is not None:
            for n, summary in enumerate(detail.orders):
                mentioned = summary.number in detail.order_refs
                out.append("\n")
                if self.order is not None and n == self.selected and self.order.id == summary.id:
                    out.append_text(order_text(self.order, mentioned))
                else:
                    out.append_text(summary_text(summary, mentioned))
            if detail.orders:
                out.append("\nj/k choose · R refund · E return · C cancel", style="dim")
        self.query_one("#orders-list", Static).update(out)
