"""Money is an integer count of minor units with its currency: never a float.

Amounts cross the adapters as strings or integers, are stored as integers, and are shown
through Decimal so that 0.1 + 0.2 is never a refund amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

# ISO 4217 exponents for the currencies that are not 2.
_EXPONENTS = {"JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "HUF": 2, "BHD": 3, "KWD": 3, "JOD": 3, "TND": 3}
_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "CAD": "CA$", "AUD": "A$"}


def exponent(currency: str) -> int:
    return _EXPONENTS.get(currency.upper(), 2)


@dataclass(frozen=True, order=True)
class Money:
    minor: int
    currency: str

    @classmethod
    def parse(cls, amount: str | int | Decimal, currency: str) -> "Money":
        """From a decimal string such as '24.95' (what APIs send) to minor units."""
        if isinstance(amount, float):
            raise TypeError("money is never a float")
        value = Decimal(str(amount))
        quantum = Decimal(1).scaleb(-exponent(currency))
        if value != value.quantize(quantum):
            raise ValueError(f"{amount} has more decimals than {currency} allows")
        return cls(int((value / quantum).to_integral_value(ROUND_HALF_UP)), currency.upper())

    @property
    def decimal(self) -> Decimal:
        return Decimal(self.minor).scaleb(-exponent(self.currency))

    def amount_str(self) -> str:
        """The plain decimal string APIs expect, for example '24.95'."""
        places = exponent(self.currency)
        return f"{self.decimal:.{places}f}"

    def __str__(self) -> str:
        return format_minor(self.minor, self.currency)

    def __add__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.minor + other.minor, self.currency)

    def __sub__(self, other: "Money") -> "Money":
        self._same(other)
        return Money(self.minor - other.minor, self.currency)

    def _same(self, other: "Money") -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot mix {self.currency} and {other.currency}")


def format_minor(minor: int, currency: str) -> str:
    """'$24.95', '€1,024.00', '12,000 JPY': compact, for tables and summaries."""
    places = exponent(currency)
    value = Decimal(minor).scaleb(-places)
    number = f"{value:,.{places}f}"
    symbol = _SYMBOLS.get(currency.upper())
    if symbol and places:
        return f"-{symbol}{number[1:]}" if number.startswith("-") else f"{symbol}{number}"
    return f"{number} {currency.upper()}"
