"""The refund, return and cancel dialogs: what the agent asks for, checked as they type.

Each dialog shows what is still possible (refundable per line and for shipping, returnable
per line), refuses more, says where policy applies (over the agent's refund limit: a lead
approves; a reason that needs a photo; outside the return window), and ends on one
confirmation with the exact amount and currency. They dismiss with the action's payload
(see STORE_ACTIONS in adapters/base.py) or None; the ticket screen queues it.
"""

from __future__ import annotations

import time
from decimal import InvalidOperation

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Checkbox, Input, Select, Static

from csconsole import clock
from csconsole.adapters.base import CANCEL_REASONS, REFUND_REASONS, RETURN_REASONS
from csconsole.commerce import refunds
from csconsole.commerce.actions import over_limit
from csconsole.config import Policy
from csconsole.money import Money, format_minor
from csconsole.screens.pickers import Confirm
from csconsole.store.orders import OrderDetail
from csconsole.text import clean_line

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 96; height: auto; max-height: 95%; border: round $accent; background: $surface; padding: 0 1; }}
{name} .title {{ text-style: bold; }}
{name} .hint {{ color: $text-muted; }}
{name} .row {{ height: 3; }}
{name} .label {{ width: 1fr; padding: 1 1 0 0; }}
{name} .qty, {name} .shipping {{ width: 12; }}
{name} .amount {{ width: 16; padding: 1 0 0 1; }}
{name} #summary {{ padding: 1 0 0 0; }}
{name} VerticalScroll {{ height: auto; max-height: 14; }}
{name} Select {{ width: 40; }}
"""
REASON_FROM_TAG = {"damaged": "damaged", "wrong-item": "wrong_item", "exchange": "size", "sizing": "size",
                   "cancel": "cancelled", "wismo": "late_delivery", "return": "unwanted", "refund": "other"}


def reason_for(tags: list[str]) -> str:
    return next((REASON_FROM_TAG[t] for t in tags if t in REASON_FROM_TAG), "other")


class _OrderDialog(ModalScreen[dict | None]):
    BINDINGS = [Binding("ctrl+s", "confirm", "Confirm…", id="order_dialog.confirm"),
                Binding("escape", "dismiss(None)", "Cancel", id="order_dialog.cancel")]

    def __init__(self, order: OrderDetail) -> None:
        super().__init__()
        self.order = order
        self.problem: str | None = None

    def money(self, minor: int) -> str:
        return format_minor(minor, self.order.currency)

    def _quantities(self) -> dict[str, int]:
        out = {}
        for widget in self.query(".qty").results(Input):
            try:
                out[widget.name or ""] = int(widget.value or 0)
            except ValueError:
                out[widget.name or ""] = -1
        return out

    def summary(self) -> Text:
        raise NotImplementedError

    def payload(self) -> dict:
        raise NotImplementedError

    def question(self) -> str:
        raise NotImplementedError

    def on_mount(self) -> None:
        first = next(iter(self.query(".qty").results(Input)), None)
        if first is not None:
            first.focus()
        self._update()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    @on(Select.Changed)
    def _update(self) -> None:
        self.query_one("#summary", Static).update(self.summary())

    def action_confirm(self) -> None:
        self._update()
        if self.problem:
            self.app.bell()
            return
        self.run_worker(self._confirm(), exclusive=True, group="confirm")

    async def _confirm(self) -> None:
        if await self.app.push_screen_wait(Confirm(self.question())):
            self.dismiss(self.payload())


class RefundDialog(_OrderDialog):
    DEFAULT_CSS = DIALOG_CSS.format(name="RefundDialog")

    def __init__(self, order: OrderDetail, policy: Policy, agent: str, reason: str = "other") -> None:
        super().__init__(order)
        self.policy = policy
        self.agent = agent
        self.reason = reason if reason in REFUND_REASONS else "other"
        self.plan: refunds.RefundPlan | None = None

    def compose(self) -> ComposeResult:
        o, money = self.order, self.order.money
        with Vertical():
            yield Static(f"Refund on order #{clean_line(o.number, 20)} · paid {self.money(money.paid)} · "
                         f"refunded {self.money(money.refunded)} · refundable {self.money(money.refundable)}",
                         classes="title", markup=False)
            with VerticalScroll():
                for line in money.lines:
                    if not line.refundable_quantity:
                        continue
                    with Horizontal(classes="row"):
                        yield Static(f"{clean_line(line.title, 40)}  (up to {line.refundable_quantity}, "
                                     f"{self.money(line.refundable_amount)} left)", classes="label", markup=False)
                        yield Input("0", name=line.line_id, type="integer", max_length=4, classes="qty")
                        yield Static("", classes="amount", markup=False, name=line.line_id)
                if money.shipping_refundable:
                    with Horizontal(classes="row"):
                        yield Static(f"Shipping (up to {self.money(money.shipping_refundable)})", classes="label",
                                     markup=False)
                        yield Input("0", id="shipping", type="number", classes="shipping")
            yield Checkbox("Put the items back in stock", value=self.policy.restock_default, id="restock")
            yield Select([(r.replace("_", " "), r) for r in REFUND_REASONS], value=self.reason, allow_blank=False,
                         id="reason")
            yield Checkbox("The customer sent a photo of the problem", id="photo")
            yield Input(placeholder="note for the customer (optional)", id="note")
            yield Static("", id="summary", markup=False)
            yield Static("tab moves · type a quantity · ctrl+s refund… · esc cancel", classes="hint", markup=False)

    def _shipping(self) -> int:
        box = self.query("#shipping").results(Input)
        widget = next(iter(box), None)
        if widget is None or not widget.value.strip():
            return 0
        return Money.parse(widget.value.strip(), self.order.currency).minor

    def summary(self) -> Text:
        self.problem, self.plan = None, None
        reason = str(self.query_one("#reason", Select).value)
        photo = self.query_one("#photo", Checkbox)
        photo.display = reason in self.policy.photo_required_reasons
        out = Text()
        try:
            quantities = self._quantities()
            shipping = self._shipping()
            for amount_box in self.query(".amount").results(Static):
                qty = quantities.get(amount_box.name or "", 0)
                line = self.order.money.line(amount_box.name or "")
                amount_box.update(self.money(line.amount_for(qty)) if qty > 0 else "")
            self.plan = refunds.plan_refund(self.order.money, quantities, shipping)
        except (refunds.RefundError, ValueError, InvalidOperation) as exc:
            self.problem = str(exc) if str(exc) else "check the amounts"
            out.append(self.problem, style="bold red")
            return out
        out.append(f"Refund {self.money(self.plan.total)} {self.order.currency}", style="bold")
        if self.plan.shipping:
            out.append(f" (incl. {self.money(self.plan.shipping)} shipping)")
        if photo.display and not photo.value:
            self.problem = f"“{reason.replace('_', ' ')}” needs a photo from the customer first"
            out.append(f"\n{self.problem}", style="bold red")
        limit = self.policy.limit_for(self.agent)
        if over_limit(self.plan.total, self.order.currency, limit):
            out.append(f"\nAbove your limit of {limit} {self.order.currency}: it will wait for a lead's approval.",
                       style="yellow")
        return out

    def payload(self) -> dict:
        assert self.plan is not None
        return {"lines": [{"line": line, "quantity": qty} for line, qty, _ in self.plan.lines],
                "shipping": self.plan.shipping, "restock": self.query_one("#restock", Checkbox).value,
                "reason": str(self.query_one("#reason", Select).value), "note": self.query_one("#note", Input).value,
                "notify": True, "amount": self.plan.total, "currency": self.plan.currency}

    def question(self) -> str:
        assert self.plan is not None
        return (f"Refund exactly {self.money(self.plan.total)} {self.order.currency} on order #{self.order.number} "
                "to the original payment method?")


class ReturnDialog(_OrderDialog):
    DEFAULT_CSS = DIALOG_CSS.format(name="ReturnDialog")

    def __init__(self, order: OrderDetail, policy: Policy, reason: str = "OTHER") -> None:
        super().__init__(order)
        self.policy = policy
        self.reason = reason if reason in RETURN_REASONS else "OTHER"

    def returnable(self) -> dict[str, int]:
        return {line.remote_id: line.fulfilled_quantity - line.returned_quantity for line in self.order.lines}

    def compose(self) -> ComposeResult:
        room = self.returnable()
        with Vertical():
            yield Static(f"Return from order #{clean_line(self.order.number, 20)}", classes="title", markup=False)
            with VerticalScroll():
                for line in self.order.lines:
                    if room[line.remote_id] <= 0:
                        continue
                    with Horizontal(classes="row"):
                        yield Static(f"{clean_line(line.title, 48)}  (up to {room[line.remote_id]})", classes="label",
                                     markup=False)
                        yield Input("0", name=line.remote_id, type="integer", max_length=4, classes="qty")
            yield Select([(r.replace("_", " ").lower(), r) for r in RETURN_REASONS], value=self.reason,
                         allow_blank=False, id="reason")
            yield Input(placeholder="note (optional)", id="note")
            yield Static("", id="summary", markup=False)
            yield Static("tab moves · ctrl+s create the return… · esc cancel", classes="hint", markup=False)

    def window_days_left(self) -> int | None:
        if self.order.delivered_at is None:
            return None
        return self.policy.return_window_days - (clock.now() - self.order.delivered_at) // 86400

    def summary(self) -> Text:
        self.problem = None
        room, picks = self.returnable(), self._quantities()
        out = Text()
        for line_id, qty in picks.items():
            if qty < 0 or qty > room.get(line_id, 0):
                self.problem = f"{self.order.title_of(line_id)}: only {room.get(line_id, 0)} can be returned"
        if not self.problem and not any(q > 0 for q in picks.values()):
            self.problem = "pick at least one item to return"
        if self.problem:
            out.append(self.problem, style="bold red")
            return out
        items = ", ".join(f"{q}× {self.order.title_of(line_id)}" for line_id, q in picks.items() if q > 0)
        out.append(f"Return {items}", style="bold")
        left = self.window_days_left()
        if left is not None and left < 0:
            out.append(f"\nOutside the {self.policy.return_window_days}-day return window "
                       f"(delivered {-left + self.policy.return_window_days} days ago): this is an exception.",
                       style="yellow")
        return out

    def payload(self) -> dict:
        return {"lines": [{"line": line, "quantity": q} for line, q in self._quantities().items() if q > 0],
                "reason": str(self.query_one("#reason", Select).value), "note": self.query_one("#note", Input).value}

    def question(self) -> str:
        return f"Create this return on order #{self.order.number}? The customer can then send the items back."


class CancelDialog(_OrderDialog):
    DEFAULT_CSS = DIALOG_CSS.format(name="CancelDialog")

    def __init__(self, order: OrderDetail, policy: Policy) -> None:
        super().__init__(order)
        self.policy = policy

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(f"Cancel order #{clean_line(self.order.number, 20)} · placed "
                         f"{time.strftime('%d %b %Y', time.gmtime(self.order.created_at))} · "
                         f"{self.money(self.order.total)}", classes="title", markup=False)
            yield Checkbox(f"Refund what was paid ({self.money(self.order.money.refundable)})", value=True, id="refund")
            yield Checkbox("Put the items back in stock", value=self.policy.restock_default, id="restock")
            yield Select([(r.lower(), r) for r in CANCEL_REASONS], value="CUSTOMER", allow_blank=False, id="reason")
            yield Input(placeholder="note (optional)", id="note")
            yield Static("", id="summary", markup=False)
            yield Static("tab moves · ctrl+s cancel the order… · esc back", classes="hint", markup=False)

    def summary(self) -> Text:
        self.problem = None
        if self.order.cancelled_at:
            self.problem = "this order is already cancelled"
        elif self.order.fulfillment_status != "unfulfilled":
            self.problem = f"it has shipped ({self.order.fulfillment_status}): start a return instead"
        if self.problem:
            return Text(self.problem, style="bold red")
        refund = self.query_one("#refund", Checkbox).value
        return Text(f"Cancel #{self.order.number}" + (f" and refund {self.money(self.order.money.refundable)}"
                                                      if refund else " without a refund"), style="bold")

    def payload(self) -> dict:
        return {"refund": self.query_one("#refund", Checkbox).value, "restock": self.query_one("#restock", Checkbox).value,
                "reason": str(self.query_one("#reason", Select).value), "note": self.query_one("#note", Input).value,
                "notify": True}

    def question(self) -> str:
        refund = self.query_one("#refund", Checkbox).value
        return (f"Cancel order #{self.order.number}" + (f" and refund {self.money(self.order.money.refundable)} "
                                                      f"{self.order.currency}" if refund else "") + "? This cannot be undone once sent.")
