"""What can still be refunded, line by line, and what a refund request adds up to.

An order's paid total (lines, tax and discount, plus shipping) is shared out over its
lines in proportion to their price, to the cent, with the rounding left on the last line,
so the shares always add up to exactly what was paid. A line's refundable amount is its
share minus what was refunded on it; refunding k of n remaining units gives k/n of what
is left (the last unit takes the remainder). Shipping is refundable up to what was paid
for it. Nothing here can ever add up to more than was paid: hypothesis checks that.
Money is integer minor units; no float anywhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class LineMoney:
    line_id: str
    title: str
    quantity: int
    share: int
    """This line's part of what was paid (tax and discount included)."""
    refunded_quantity: int
    refunded_amount: int

    @property
    def refundable_quantity(self) -> int:
        return max(self.quantity - self.refunded_quantity, 0)

    @property
    def refundable_amount(self) -> int:
        return max(self.share - self.refunded_amount, 0)

    def amount_for(self, quantity: int) -> int:
        """What refunding ``quantity`` more units gives back."""
        left = self.refundable_quantity
        if quantity <= 0 or left <= 0:
            return 0
        if quantity >= left:
            return self.refundable_amount
        return self.refundable_amount * quantity // left


@dataclass(frozen=True)
class OrderMoney:
    currency: str
    paid: int
    refunded: int
    shipping_paid: int
    shipping_refunded: int
    lines: tuple[LineMoney, ...]

    @property
    def refundable(self) -> int:
        return max(self.paid - self.refunded, 0)

    @property
    def shipping_refundable(self) -> int:
        return max(min(self.shipping_paid - self.shipping_refunded, self.refundable), 0)

    def line(self, line_id: str) -> LineMoney:
        for line in self.lines:
            if line.line_id == line_id:
                return line
        raise RefundError(f"the order has no line {line_id}")


class RefundError(ValueError):
    """A refund request that cannot be made; the message says why, for the agent."""


def shares(line_totals: Sequence[int], goods_paid: int) -> list[int]:
    """Split ``goods_paid`` over lines in proportion to their totals, exact to the cent."""
    subtotal = sum(line_totals)
    if not line_totals:
        return []
    if subtotal <= 0:
        return [0] * (len(line_totals) - 1) + [goods_paid]
    out = [goods_paid * total // subtotal for total in line_totals[:-1]]
    out.append(goods_paid - sum(out))
    return out


def order_money(*, currency: str, paid: int, refunded: int, shipping: int, shipping_refunded: int,
                lines: Sequence[Mapping[str, object]]) -> OrderMoney:
    """From an order's figures (cache rows or backend rows, same keys) to what is refundable.

    ``lines`` items carry id, title, quantity, total, refunded_quantity, refunded_amount.
    """
    shipping_paid = min(shipping, paid)
    goods = shares([int(line["total"]) for line in lines], max(paid - shipping_paid, 0))  # type: ignore[arg-type]
    money_lines = tuple(
        LineMoney(str(line["id"]), str(line["title"]), int(line["quantity"]), share,  # type: ignore[arg-type]
                  int(line.get("refunded_quantity", 0)), int(line.get("refunded_amount", 0)))  # type: ignore[arg-type]
        for line, share in zip(lines, goods))
    return OrderMoney(currency, paid, refunded, shipping_paid, shipping_refunded, money_lines)


@dataclass(frozen=True)
class RefundPlan:
    """A checked refund: per-line amounts, shipping, and the exact total."""

    lines: tuple[tuple[str, int, int], ...]
    """(line id, quantity, amount)."""
    shipping: int
    total: int
    currency: str


def plan_refund(money: OrderMoney, quantities: Mapping[str, int], shipping: int) -> RefundPlan:
    """Check a request against what is refundable; raise RefundError if it asks too much."""
    planned = []
    for line_id, quantity in quantities.items():
        if quantity == 0:
            continue
        if quantity < 0:
            raise RefundError("a quantity cannot be negative")
        line = money.line(line_id)
        if quantity > line.refundable_quantity:
            raise RefundError(f"{line.title}: only {line.refundable_quantity} of {line.quantity} can still be refunded")
        planned.append((line_id, quantity, line.amount_for(quantity)))
    if shipping < 0:
        raise RefundError("shipping cannot be negative")
    if shipping > money.shipping_refundable:
        raise RefundError(f"at most {money.shipping_refundable} of the shipping can still be refunded")
    total = sum(amount for *_, amount in planned) + shipping
    if total <= 0:
        raise RefundError("nothing to refund: pick at least one item or the shipping")
    if total > money.refundable:
        raise RefundError("that is more than is left to refund on this order")
    return RefundPlan(tuple(planned), shipping, total, money.currency)
