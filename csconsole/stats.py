"""Queue health: the figures of the lead dashboard and of `csconsole stats`.

Every figure is an aggregate query over index ranges; nothing loops over tickets in
Python, so recomputing them all costs about the same with a thousand or a million tickets
cached. What it does grow with is the number of tickets inside the time windows (today,
the last 7 days), which the medians must read through their indexes (schema V3).

What each figure counts (the screen and the JSON say the same):

- backlog: unsolved tickets (new, open, pending, hold) by status, by priority, and by age
  since creation (under 1 h, 1-4 h, 4-24 h, 1-3 d, older);
- SLA: unsolved tickets whose reply is overdue now, or due within ``soon_seconds``, per priority;
- per agent (active agents, most open tickets first): unsolved tickets assigned to them;
  tickets of theirs solved today; the median first-response time of their tickets that got
  a first reply today (the cache knows who holds a ticket, not always who wrote its first
  reply, so the holder is credited); their last activity, the newest of their messages in
  the cache and their actions sent through the outbox;
- team: tickets created and solved in each of the last 24 hours (oldest hour first); the
  median first-response time (first reply minus creation) of tickets first answered today
  and in the last 7 days; the median resolution time (solved minus created) of tickets
  solved in the same windows;
- refunds and returns waiting for a lead's approval (commerce.approvals.pending).

"Today" starts at local midnight: the lead's day, not UTC's. The ``*_query`` functions give
the search-language query that lists exactly the tickets a figure counts, which is how the
dashboard filters its queue side and how the tests check every figure against the queue.
"""

from __future__ import annotations

import json
import math
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass

from csconsole import clock
from csconsole.adapters.base import PRIORITIES, UNSOLVED
from csconsole.commerce import approvals as approvals_store

HOUR = 3600
DAY = 86400
AGE_BUCKETS = (("<1h", 0), ("1-4h", HOUR), ("4-24h", 4 * HOUR), ("1-3d", DAY), ("older", 3 * DAY))
"""(label, lowest age): each bucket runs up to the next one's lowest age."""
_AGE_QUERIES = ("created:<1h", "created:>=1h created:<4h", "created:>=4h created:<24h", "created:>=1d created:<3d",
                "created:>=3d")
LEVELS = tuple(sorted(PRIORITIES, reverse=True))
"""Priority levels, most urgent first (the order a lead reads them in)."""
SAMPLE = 2000
"""Rows sampled to place a median (see _median); smaller windows are simply sorted."""
BARS = "▁▂▃▄▅▆▇█"


@dataclass(frozen=True)
class AgentLoad:
    person_id: int
    name: str
    email: str | None
    open: int
    solved_today: int
    first_response_today: float | None
    """Median seconds from creation to first reply, over their tickets first answered today."""
    last_active: int | None


@dataclass(frozen=True)
class Medians:
    """Median durations in seconds (None when the window holds no ticket)."""

    today: float | None
    week: float | None


@dataclass(frozen=True)
class Stats:
    at: int
    """The clock time the figures were computed for."""
    day_start: int
    soon_seconds: int
    by_status: dict[str, int]
    by_priority: dict[str, int]
    by_age: dict[str, int]
    sla_breached: dict[str, int]
    sla_soon: dict[str, int]
    agents: tuple[AgentLoad, ...]
    unassigned: int
    created_per_hour: tuple[int, ...]
    solved_per_hour: tuple[int, ...]
    first_response: Medians
    resolution: Medians
    approvals: tuple[approvals_store.Approval, ...]

    @property
    def backlog(self) -> int:
        return sum(self.by_status.values())

    def to_json(self) -> str:
        """The figures for a wallboard or a chat bot: counts, epoch seconds, durations in seconds."""
        first_hour = self.at - 24 * HOUR
        return json.dumps({
            "at": self.at,
            "day_start": self.day_start,
            "backlog": {"total": self.backlog, "by_status": self.by_status, "by_priority": self.by_priority,
                        "by_age": self.by_age},
            "sla": {"soon_seconds": self.soon_seconds, "breached": self.sla_breached, "soon": self.sla_soon},
            "agents": [{"name": a.name, "email": a.email, "open": a.open, "solved_today": a.solved_today,
                        "first_response_median_today": a.first_response_today, "last_active": a.last_active}
                       for a in self.agents],
            "unassigned": self.unassigned,
            "team": {"hours": [first_hour + i * HOUR for i in range(24)],
                     "created_per_hour": list(self.created_per_hour), "solved_per_hour": list(self.solved_per_hour),
                     "first_response_median": {"today": self.first_response.today, "7d": self.first_response.week},
                     "resolution_median": {"today": self.resolution.today, "7d": self.resolution.week}},
            "approvals": [asdict(a) for a in self.approvals],
        }, indent=2, ensure_ascii=False)


def local_day_start(now: int) -> int:
    """Local midnight at or before ``now``."""
    t = time.localtime(now)
    return int(time.mktime((t.tm_year, t.tm_mon, t.tm_mday, 0, 0, 0, 0, 0, -1)))


def compute(conn: sqlite3.Connection, *, now: int | None = None, soon_seconds: int = HOUR,
            day_start: int | None = None) -> Stats:
    """Every figure, read in one go (call it on a reader thread: it takes milliseconds, not
    microseconds)."""
    now = clock.now() if now is None else now
    day = local_day_start(now) if day_start is None else day_start
    week = now - 7 * DAY
    by_status, by_priority, by_age = _backlog(conn, now)
    breached, soon = _sla(conn, now, soon_seconds)
    created, solved = _per_hour(conn, now)
    first_response = "t.first_response_at - t.created_at"
    resolution = "t.solved_at - t.created_at"
    return Stats(
        at=now, day_start=day, soon_seconds=soon_seconds,
        by_status=by_status, by_priority=by_priority, by_age=by_age,
        sla_breached=breached, sla_soon=soon,
        agents=_agents(conn, now, day),
        unassigned=conn.execute("SELECT count(*) FROM ticket WHERE assignee_id IS NULL AND unsolved = 1").fetchone()[0],
        created_per_hour=created, solved_per_hour=solved,
        first_response=Medians(
            _median(conn, first_response, "t.first_response_at BETWEEN ? AND ?", (day, now)),
            _median(conn, first_response, "t.first_response_at BETWEEN ? AND ?", (week, now))),
        resolution=Medians(
            _median(conn, resolution, "t.solved_at BETWEEN ? AND ?", (day, now)),
            _median(conn, resolution, "t.solved_at BETWEEN ? AND ?", (week, now))),
        approvals=tuple(approvals_store.pending(conn)),
    )


def _backlog(conn: sqlite3.Connection, now: int) -> tuple[dict[str, int], dict[str, int], dict[str, int]]:
    """Each count is one index range (per status, per priority, per age bound): counting a
    range of index entries is several times cheaper than grouping or summing over them."""
    by_status = {status: conn.execute("SELECT count(*) FROM ticket WHERE status = ?", (status,)).fetchone()[0]
                 for status in UNSOLVED}
    by_priority = {PRIORITIES[level]: conn.execute("SELECT count(*) FROM ticket WHERE priority = ? AND unsolved = 1",
                                                   (level,)).fetchone()[0] for level in LEVELS}
    # Unsolved tickets younger than each bucket's upper bound; the buckets are the differences.
    younger = [conn.execute("SELECT count(*) FROM ticket WHERE unsolved = 1 AND created_at > ?",
                            (now - low,)).fetchone()[0] for _, low in AGE_BUCKETS[1:]]
    cumulative = [0, *younger, sum(by_status.values())]
    by_age = {label: cumulative[n + 1] - cumulative[n] for n, (label, _) in enumerate(AGE_BUCKETS)}
    return by_status, by_priority, by_age


def _sla(conn: sqlite3.Connection, now: int, soon_seconds: int) -> tuple[dict[str, int], dict[str, int]]:
    breached, soon = {}, {}
    for level in LEVELS:
        name = PRIORITIES[level]
        breached[name], soon[name] = conn.execute(
            "SELECT (SELECT count(*) FROM ticket WHERE priority = ?1 AND unsolved = 1 AND sla_due_at <= ?2),"
            " (SELECT count(*) FROM ticket WHERE priority = ?1 AND unsolved = 1 AND sla_due_at > ?2 AND sla_due_at <= ?3)",
            (level, now, now + soon_seconds)).fetchone()
    return breached, soon


def _per_hour(conn: sqlite3.Connection, now: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Created and solved in each hour (start, start + 1 h] of the last 24, oldest first."""
    rows = conn.execute(
        """WITH RECURSIVE hour(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM hour WHERE i < 23)
           SELECT (SELECT count(*) FROM ticket WHERE created_at > ?1 + i * 3600 AND created_at <= ?1 + i * 3600 + 3600),
                  (SELECT count(*) FROM ticket WHERE solved_at > ?1 + i * 3600 AND solved_at <= ?1 + i * 3600 + 3600)
           FROM hour ORDER BY i""", (now - 24 * HOUR,)).fetchall()
    return tuple(r[0] for r in rows), tuple(r[1] for r in rows)


def _agents(conn: sqlite3.Connection, now: int, day: int) -> tuple[AgentLoad, ...]:
    rows = conn.execute(
        """SELECT p.id, p.name, p.email,
                  (SELECT count(*) FROM ticket t WHERE t.assignee_id = p.id AND t.unsolved = 1) AS open,
                  (SELECT count(*) FROM ticket t WHERE t.assignee_id = p.id AND t.solved_at BETWEEN ?1 AND ?2),
                  (SELECT max(m.created_at) FROM message m WHERE m.author_id = p.id AND m.author_role = 'agent'),
                  (SELECT max(o.sent_at) FROM outbox o WHERE o.state = 'sent' AND o.actor = p.remote_id)
           FROM person p WHERE p.kind = 'agent' AND p.active = 1 ORDER BY open DESC, p.name""", (day, now)).fetchall()
    return tuple(
        AgentLoad(person_id=r[0], name=r[1], email=r[2], open=r[3], solved_today=r[4],
                  first_response_today=_median(conn, "t.first_response_at - t.created_at",
                                               "t.assignee_id = ? AND t.first_response_at BETWEEN ? AND ?",
                                               (r[0], day, now)),
                  last_active=max((x for x in (r[5], r[6]) if x is not None), default=None))
        for r in rows)


def _median(conn: sqlite3.Connection, value: str, where: str, params: Sequence[object], *,
            sample: int = SAMPLE) -> float | None:
    """The exact median of ``value`` over ``ticket t WHERE where`` (None if no row matches).

    Sorting 85,000 durations costs SQLite about 35 ms, several times what it costs to read
    them, so a big window is read a few times and only a thin band of it is sorted: a 1-in-k
    sample (by ticket id) places a band that almost surely holds the middle, one count says
    how many rows lie below the band, and the middle is picked from the sorted band. When
    the band misses (an unrepresentative sample), everything is sorted: the answer is always
    exact, only its cost varies.
    """
    source = f"FROM ticket t WHERE {where}"
    total = conn.execute(f"SELECT count(*) {source}", params).fetchone()[0]
    if not total:
        return None
    rank, width = (total - 1) // 2, 2 - total % 2  # the lower middle (0-based) and how many middles
    if total >= 4 * sample:
        step = total // sample
        margin = 2 * math.isqrt(sample)
        low, high = conn.execute(
            f"SELECT min(v), max(v) FROM (SELECT {value} AS v {source} AND t.id % ? = 0 ORDER BY v LIMIT ? OFFSET ?)",
            (*params, step, 2 * margin, max(total // step // 2 - margin, 0))).fetchone()
        below = total if low is None else conn.execute(f"SELECT count(*) {source} AND {value} < ?",
                                                       (*params, low)).fetchone()[0]
        if below <= rank:
            found, middle = conn.execute(
                f"SELECT count(*), avg(v) FROM (SELECT {value} AS v {source} AND {value} BETWEEN ? AND ?"
                " ORDER BY v LIMIT ? OFFSET ?)", (*params, low, high, width, rank - below)).fetchone()
            if found == width:
                return middle
    return conn.execute(f"SELECT avg(v) FROM (SELECT {value} AS v {source} ORDER BY v LIMIT ? OFFSET ?)",
                        (*params, width, rank)).fetchone()[0]


# -- the queue query behind each figure


def status_query(status: str) -> str:
    return f"status:{status}"


def priority_query(priority: str) -> str:
    return f"status:unsolved priority:{priority}"


def age_query(label: str) -> str:
    return "status:unsolved " + _AGE_QUERIES[[b for b, _ in AGE_BUCKETS].index(label)]


def sla_query(state: str, priority: str | None = None) -> str:
    """state: 'breached' or 'soon'; without a priority, every priority."""
    return f"status:unsolved sla:{state}" + (f" priority:{priority}" if priority else "")


def agent_query(agent: AgentLoad) -> str:
    """Their unsolved tickets; by name (what a lead reads), or by email when the name cannot be quoted."""
    who = agent.name if agent.name and '"' not in agent.name else (agent.email or "")
    return f'assignee:"{who}" status:unsolved'


UNASSIGNED_QUERY = "assignee:none status:unsolved"


def bars(values: Sequence[int], top: int | None = None) -> str:
    """A sparkline on a shared scale (``top``), so two series can be compared bar for bar;
    a zero is a blank, not the lowest bar."""
    top = max(top if top is not None else max(values, default=0), 1)
    return "".join(" " if v <= 0 else BARS[min(math.ceil(v * len(BARS) / top), len(BARS)) - 1] for v in values)


def describe_approval(a: approvals_store.Approval) -> str:
    """One line a lead decides on: what, how much, where, who asked and why (text cleaned)."""
    from csconsole.money import format_minor
    from csconsole.text import clean_line

    parts = [f"{a.kind.replace('_', ' ')} {format_minor(a.amount, a.currency or 'USD')}"]
    if a.ticket_id is not None:
        parts.append(f"#{a.ticket_id}")
    if a.order_number:
        parts.append(f"order #{clean_line(a.order_number, 20)}")
    parts.append(f"by {clean_line(a.requested_by, 40) or '?'}")
    if a.reason:
        parts.append(clean_line(a.reason, 60))
    return " · ".join(parts)
