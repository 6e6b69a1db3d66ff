"""Beside the thread: who wrote in, how much they have bought, and their recent orders."""

from __future__ import annotations

import time

from rich.text import Text
from textual.widgets import Static

from csconsole.money import format_minor
from csconsole.store.tickets import TicketDetail
from csconsole.text import clean_line
from csconsole.widgets import tcss


def requester_text(detail: TicketDetail, *, orders_error: str | None = None, max_orders: int = 6) -> Text:
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
    for o in detail.orders[:max_orders]:
        mentioned = o.number in detail.order_refs
        out.append("\n")
        out.append(f"#{clean_line(o.number, 20)}", style="bold reverse" if mentioned else "bold")
        out.append(f"  {time.strftime('%d %b %Y', time.gmtime(o.created_at))}  {format_minor(o.total, o.currency)}\n")
        state = o.financial_status.replace("_", " ")
        if o.refunded:
            state += f" ({format_minor(o.refunded, o.currency)} back)"
        out.append(f"  {state} · {o.fulfillment_status}\n", style="dim")
        if o.items:
            out.append(f"  {clean_line(o.items, 70)}\n")
        if o.tracking_number:
            out.append(f"  {clean_line(o.carrier or '', 10)} {clean_line(o.tracking_number, 30)} · {o.delivery or ''}\n",
                       style="cyan")
    if len(detail.orders) > max_orders:
        out.append(f"\n… {len(detail.orders) - max_orders} older orders\n", style="dim")
    return out


class RequesterPanel(Static):
    DEFAULT_CSS = tcss(__file__)

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)

    def show(self, detail: TicketDetail, orders_error: str | None = None) -> None:
        self.update(requester_text(detail, orders_error=orders_error))
