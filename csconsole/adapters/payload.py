"""Reading JSON from helpdesk APIs defensively: the helpers every HTTP adapter shares.

Answers from a backend are untrusted shapes: a number may come as a string, a time without
its zone, a field may be missing. These turn them into our types or raise ValueError with
our own words (never an echo of the payload), which adapters report as "an answer this
console cannot read".
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

import httpx

from csconsole.adapters.base import AccountSpec, AdapterError


def as_int(value: Any, what: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.isdigit() and len(value) < 20:
        return int(value)
    raise ValueError(f"{what} is not a number")


def epoch(value: Any, what: str) -> int:
    """An ISO 8601 time (UTC when it names no zone) as epoch seconds."""
    if not isinstance(value, str):
        raise ValueError(f"{what} is missing")
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{what} is not an ISO 8601 time") from None
    return int((when if when.tzinfo else when.replace(tzinfo=timezone.utc)).timestamp())


def iso(seconds: int) -> str:
    return datetime.fromtimestamp(max(seconds, 0), timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def as_text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    raise ValueError(f"{what} is not text")


def words(text: str) -> str:
    return " ".join(text.split())


def header_int(response: httpx.Response, name: str) -> int | None:
    value = response.headers.get(name, "").strip()
    return int(value) if value.isdigit() else None


def reason(exc: Exception) -> str:
    """Our own words for what was wrong, never an echo of the payload."""
    return str(exc) if isinstance(exc, ValueError) else f"unexpected shape ({type(exc).__name__})"


def unreadable(adapter: str, where: str, what: str) -> AdapterError:
    return AdapterError(f"{adapter} sent an answer this console cannot read ({where}: {what})")


def number_option(adapter: str, account: AccountSpec, key: str, default: float) -> float:
    """A non-negative number from the account's options (a typo is named, not a crash)."""
    value = account.options.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise AdapterError(f"{adapter} account {account.name!r}: options.{key} must be a number")
    return value
