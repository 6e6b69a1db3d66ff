"""Queue health figures: a small cache built by hand, every figure worked out on paper,
each figure's queue query counting the same tickets, and a sanity run on the demo."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csconsole import stats
from csconsole.adapters.base import NO_SLA
from csconsole.commerce.approvals import Approval
from csconsole.store.db import connect
from csconsole.store.queue import ViewQuery

H, D = 3600, 86400
NOW = 1_795_000_000
"""2026-11-18 11:06:40 UTC."""
DAY0 = NOW - NOW % D
"""Midnight (UTC) before NOW: 'today' in these tests is 40,000 seconds long."""
ANA, BEN, CHO = "ana@shop.example", "ben@shop.example", "cho@shop.example"

# id, status, priority, assignee, created, first response, solved, SLA due (None: no SLA running)
TICKETS = [
    (1, "new", 4, None, NOW - H // 2, None, None, NOW + H // 2),
    (2, "open", 4, ANA, NOW - 2 * H, NOW - 3 * H // 2, None, NOW - H),
    (3, "open", 3, ANA, NOW - 5 * H, NOW - 4 * H, None, NOW - H // 2),
    (4, "pending", 2, ANA, NOW - 2 * D, NOW - 36 * H, None, None),
    (5, "hold", 1, BEN, NOW - 10 * D, NOW - 9 * D, None, None),
    (6, "open", 2, BEN, NOW - 20 * H, NOW - H, None, NOW + 2 * H),
    (7, "new", 3, CHO, NOW - 3 * D - 12 * H, None, None, NOW + H),
    (8, "solved", 2, ANA, NOW - 3 * H, NOW - 5 * H // 2, NOW - H, NOW - 5 * H),
    (9, "closed", 2, BEN, NOW - 3 * D, NOW - 2 * D, NOW - 2 * H, None),
    (10, "solved", 1, ANA, NOW - 8 * D, NOW - 15 * D // 2, NOW - 6 * D, None),
    (11, "solved", 4, None, NOW - 30 * H, NOW - 25 * H, NOW - 12 * H, None),
    (12, "closed", 2, BEN, NOW - 40 * D, NOW - 39 * D, NOW - 38 * D, None),
    (13, "closed", 2, BEN, NOW - 24 * H, None, NOW - 24 * H + 1, None),
]


def build(conn) -> dict[str, int]:
    people = {}
    for remote, kind, name, active in [(ANA, "agent", "Ana Lima", 1), (BEN, "agent", "Ben Ode", 1),
                                        (CHO, "agent", "Cho Park", 0), ("carl@example.com", "customer", "Carl", 1)]:
        cur = conn.execute("INSERT INTO person (remote_id, kind, name, email, active, is_me) VALUES (?, ?, ?, ?, ?, ?)",
                           (remote, kind, name, remote, active, int(remote == ANA)))
        people[remote] = cur.lastrowid
    for tid, status, priority, assignee, created, first, solved, due in TICKETS:
        conn.execute("INSERT INTO ticket (id, remote_id, status, priority, assignee_id, created_at, updated_at,"
                     " sla_due_at, first_response_at, solved_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                     (tid, str(tid), status, priority, people.get(assignee), created, solved or first or created,
                      NO_SLA if due is None else due, first, solved))
    for author, role, at in [(ANA, "agent", NOW - 600), (BEN, "agent", NOW - 3 * H),
                             ("carl@example.com", "customer", NOW - 60)]:
        conn.execute("INSERT INTO message (ticket_id, author_id, author_role, public, body, created_at)"
                     " VALUES (2, ?, ?, 1, 'x', ?)", (people[author], role, at))
    for n, (actor, state, kind, sent, payload) in enumerate([
            (ANA, "sent", "status", NOW - 2 * H, {"status": "open"}),
            (BEN, "sent", "note", NOW - H, {"body": "x"}),
            (ANA, "pending", "note", None, {"body": "y"}),
            (ANA, "approval", "refund", None, {"amount": 23000, "currency": "USD", "reason": "damaged"}),
            (BEN, "pending", "refund", None, {"amount": 500, "currency": "USD", "reason": "late"})]):
        conn.execute("INSERT INTO outbox (ticket_id, kind, payload, idempotency_key, state, actor, created_at, sent_at)"
                     " VALUES (4, ?, ?, ?, ?, ?, ?, ?)", (kind, json.dumps(payload), f"k{n}", state, actor, NOW - 2 * H, sent))
    return people


@pytest.fixture
def hand(tmp_path):
    conn = connect(tmp_path / "hand.sqlite")
    people = build(conn)
    yield conn, people
    conn.close()


def figures(conn) -> stats.Stats:
    return stats.compute(conn, now=NOW, day_start=DAY0)


def test_backlog_by_status_priority_and_age(hand):
    s = figures(hand[0])
    assert s.by_status == {"new": 2, "open": 3, "pending": 1, "hold": 1}
    assert s.backlog == 7
    assert s.by_priority == {"urgent": 2, "high": 2, "normal": 2, "low": 1}
    # 0.5 h, 2 h, 5 h and 20 h, 2 d, 3.5 d and 10 d
    assert s.by_age == {"<1h": 1, "1-4h": 1, "4-24h": 2, "1-3d": 1, "older": 2}
    assert s.unassigned == 1


def test_sla_breached_and_due_within_the_hour_per_priority(hand):
    s = figures(hand[0])
    # #8 is solved: its old due time is not a breach. #7 is due exactly at the hour: soon.
    assert s.sla_breached == {"urgent": 1, "high": 1, "normal": 0, "low": 0}
    assert s.sla_soon == {"urgent": 1, "high": 1, "normal": 0, "low": 0}
    narrow = stats.compute(hand[0], now=NOW, day_start=DAY0, soon_seconds=H // 2)
    assert narrow.sla_soon == {"urgent": 1, "high": 0, "normal": 0, "low": 0}


def test_per_agent_load(hand):
    conn, people = hand
    s = figures(conn)
    # Cho is inactive; the customer is not an agent. Most open tickets first.
    assert [(a.name, a.open, a.solved_today) for a in s.agents] == [("Ana Lima", 3, 1), ("Ben Ode", 2, 1)]
    ana, ben = s.agents
    assert ana.person_id == people[ANA] and ana.email == ANA
    assert ana.first_response_today == 1800  # #2 30 min, #8 30 min, #3 1 h
    assert ben.first_response_today == 19 * H  # #6 only; #9 was first answered two days ago
    assert ana.last_active == NOW - 600  # her message, newer than her sent action
    assert ben.last_active == NOW - H  # his sent note, newer than his message


def test_team_created_and_solved_per_hour(hand):
    s = figures(hand[0])
    created = [0] * 24
    for hour in (23, 21, 18, 20, 3):  # #1, #2, #3, #8, #6; #13 was created exactly 24 h ago: outside
        created[hour] = 1
    solved = [0] * 24
    for hour in (22, 21, 11, 0):  # #8, #9, #11, #13 (one second into the window)
        solved[hour] = 1
    assert list(s.created_per_hour) == created
    assert list(s.solved_per_hour) == solved


def test_team_medians_today_and_seven_days(hand):
    s = figures(hand[0])
    # First reply today: 30 min (#2), 30 min (#8), 1 h (#3), 19 h (#6).
    assert s.first_response.today == (1800 + 3600) / 2
    # Seven days adds 12 h (#4), 1 d (#9), 5 h (#11): 30m 30m 1h 5h 12h 19h 1d.
    assert s.first_response.week == 5 * H
    # Solved today: 2 h (#8) and 2 d 22 h (#9).
    assert s.resolution.today == (2 * H + 3 * D - 2 * H) / 2
    # Seven days adds 2 d (#10), 18 h (#11) and 1 s (#13).
    assert s.resolution.week == 18 * H


def test_approvals_waiting_for_a_lead(hand):
    s = figures(hand[0])
    assert s.approvals == (Approval(4, "refund", 4, None, None, 23000, "USD", "damaged", ANA, NOW - 2 * H),)


def test_each_figure_names_the_query_that_lists_its_tickets(hand):
    conn, _ = hand
    s = figures(conn)

    def count(query: str) -> int:
        return ViewQuery(query, "updated", now=NOW, soon_seconds=s.soon_seconds).count(conn)

    for status, n in s.by_status.items():
        assert count(stats.status_query(status)) == n
    for priority, n in s.by_priority.items():
        assert count(stats.priority_query(priority)) == n
    for label, n in s.by_age.items():
        assert count(stats.age_query(label)) == n
    for priority in s.sla_breached:
        assert count(stats.sla_query("breached", priority)) == s.sla_breached[priority]
        assert count(stats.sla_query("soon", priority)) == s.sla_soon[priority]
    assert count(stats.sla_query("breached")) == sum(s.sla_breached.values())
    for agent in s.agents:
        assert count(stats.agent_query(agent)) == agent.open
    assert count(stats.UNASSIGNED_QUERY) == s.unassigned


def test_empty_cache_has_zeros_and_no_medians(tmp_path):
    with connect(tmp_path / "empty.sqlite") as conn:
        s = stats.compute(conn, now=NOW, day_start=DAY0)
    assert s.backlog == 0 and set(s.by_age.values()) == {0} and s.agents == ()
    assert s.first_response == stats.Medians(None, None) and s.resolution == stats.Medians(None, None)
    assert s.created_per_hour == (0,) * 24


def test_json_has_every_figure(hand):
    data = json.loads(figures(hand[0]).to_json())
    assert data["at"] == NOW and data["day_start"] == DAY0
    assert data["backlog"]["total"] == 7 and data["backlog"]["by_age"]["older"] == 2
    assert data["sla"] == {"soon_seconds": 3600, "breached": {"urgent": 1, "high": 1, "normal": 0, "low": 0},
                           "soon": {"urgent": 1, "high": 1, "normal": 0, "low": 0}}
    assert data["agents"][0] == {"name": "Ana Lima", "email": ANA, "open": 3, "solved_today": 1,
                                 "first_response_median_today": 1800, "last_active": NOW - 600}
    assert data["team"]["hours"][0] == NOW - 24 * H and data["team"]["hours"][-1] == NOW - H
    assert data["team"]["first_response_median"] == {"today": 2700, "7d": 5 * H}
    assert data["approvals"][0]["amount"] == 23000 and data["approvals"][0]["requested_by"] == ANA


def test_today_starts_at_local_midnight(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    time.tzset()
    try:
        # 11:06 UTC is 06:06 in New York (EST, UTC-5): the local day began at 05:00 UTC.
        assert stats.local_day_start(NOW) == DAY0 + 5 * H
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_bars_share_one_scale():
    assert stats.bars([0, 1, 4, 8], top=8) == " ▁▄█"
    assert stats.bars([2, 2], top=8) == "▂▂"
    assert stats.bars([]) == "" and stats.bars([0, 0]) == "  "


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.integers(min_value=-10**6, max_value=10**7), min_size=1, max_size=200),
       ids=st.sampled_from(["sequential", "even", "shuffled"]), sample=st.sampled_from([2, 4, 7, 1000]))
def test_median_is_exact_whatever_the_sample(tmp_path_factory, values, ids, sample):
    """The band shortcut (small samples force it) gives the same answer as sorting,
    including when the sample by id is skewed and the band misses."""
    conn = connect(tmp_path_factory.mktemp("median") / "m.sqlite")
    order = list(range(1, len(values) + 1))
    if ids == "even":
        order = [2 * i for i in order]
    elif ids == "shuffled":
        order = sorted(order, key=lambda i: (values[i - 1] % 7, i))
    conn.executemany("INSERT INTO ticket (id, remote_id, status, created_at, updated_at, sla_due_at, first_response_at)"
                     " VALUES (?, ?, 'open', 0, 0, 0, ?)", [(i, str(i), v) for i, v in zip(order, values)])
    got = stats._median(conn, "t.first_response_at - t.created_at", "t.first_response_at IS NOT NULL", (),
                        sample=sample)
    assert got == statistics.median(values)
    conn.close()


def test_demo_workspace_sanity(cache):
    from tests.conftest import ANCHOR

    s = stats.compute(cache, now=ANCHOR)
    unsolved = cache.execute("SELECT count(*) FROM ticket WHERE status IN ('new', 'open', 'pending', 'hold')").fetchone()[0]
    assert s.backlog == unsolved == sum(s.by_priority.values()) == sum(s.by_age.values())
    assert sum(a.open for a in s.agents) + s.unassigned == unsolved
    assert s.agents[0].name == "Sam Okoye" and s.agents[0].open == max(a.open for a in s.agents)
    assert sum(s.created_per_hour) == cache.execute(
        "SELECT count(*) FROM ticket WHERE created_at > ? AND created_at <= ?", (ANCHOR - D, ANCHOR)).fetchone()[0]
    assert s.first_response.week and s.resolution.week and s.first_response.week > 0
    for agent in s.agents:
        assert ViewQuery(stats.agent_query(agent), "updated", now=ANCHOR).count(cache) == agent.open


def test_figures_use_indexes_not_table_scans(cache):
    """Every statement compute() runs is planned on an index: a full scan would cost
    hundreds of milliseconds at a million tickets."""
    plans = []
    cache.set_trace_callback(lambda sql: plans.append(sql) if sql.lstrip().upper().startswith("SELECT") else None)
    stats.compute(cache, now=1795000000)
    cache.set_trace_callback(None)
    scans = []
    for sql in plans:
        if "FROM ticket" not in sql:
            continue
        detail = " | ".join(r[3] for r in cache.execute("EXPLAIN QUERY PLAN " + sql))
        if "SCAN t " in detail + " " or "SCAN ticket " in detail + " ":
            scans.append((sql, detail))
    assert not scans, scans


def test_stats_module_does_not_import_textual():
    code = "import sys, csconsole.stats; print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ})
    assert out.stdout.strip() == "[]"
