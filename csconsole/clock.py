"""The one place that reads the time, so tests and snapshots can fix it.

Timestamps are whole seconds since the epoch (UTC) everywhere in the cache: they compare,
index and subtract cheaply, and SLA and age figures are arithmetic on them.
"""

from __future__ import annotations

import os
import time

FROZEN_ENV = "CSCONSOLE_FROZEN_TIME"
_frozen: int | None = int(os.environ[FROZEN_ENV]) if os.environ.get(FROZEN_ENV) else None


def now() -> int:
    return _frozen if _frozen is not None else int(time.time())


def freeze(at: int | None) -> None:
    """Fix the clock (tests and snapshots); None lets it run again."""
    global _frozen
    _frozen = at


def age(seconds: int) -> str:
    """A compact age an agent scans: 45s, 12m, 3h, 5d, 8w."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h"
    if seconds < 86400 * 14:
        return f"{seconds // 86400}d"
    if seconds < 86400 * 365:
        return f"{seconds // (86400 * 7)}w"
    return f"{seconds // (86400 * 365)}y"


def duration(seconds: int) -> str:
    """A signed two-unit duration such as '1h20m' or '2d3h' for SLA and response times."""
    seconds = int(seconds)
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{sign}{days}d{hours}h" if hours else f"{sign}{days}d"
    if hours:
        return f"{sign}{hours}h{minutes:02d}m"
    return f"{sign}{minutes}m"
