"""The lead dashboard in the pilot: every binding, acting from the figures, the refresh
loop (never blocking keys, stale figures saying since when), approvals and layouts.

Each acting test checks what reached the cache or the outbox, not only the screen.
"""

import json
import re
import sqlite3
import threading
import time

import pytest

from csconsole import clock, stats
from csconsole.app import CSConsole
from csconsole.commands import screen_commands
from csconsole.keymap import known_bindings
from csconsole.screens.dashboard import DashboardScreen, FigureTable
from csconsole.screens.help import HelpScreen
from csconsole.screens.pickers import AgentPicker, Confirm, KeyChoice, TagEditor
from csconsole.screens.queue import QueueScreen
from csconsole.screens.view_picker import ViewPicker
from csconsole.store.queue import ViewQuery
from tests.conftest import ANCHOR
from tests.pilot import screen_text, wait_for

SAM = "sam@northwind-outfitters.example"
PRIYA = "priya@northwind-outfitters.example"


class App(CSConsole):
    """The console with its notifications on (run_test turns them off by default)."""

    def run_test(self, *args, **kwargs):
        return super().run_test(*args, notifications=True, **kwargs)


def app_for(workspace, **kwargs) -> CSConsole:
    return App(workspace, sync=False, start_dashboard=kwargs.pop("start_dashboard", True), **kwargs)


async def ready(pilot) -> DashboardScreen:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen)
    await wait_for(pilot, lambda: screen.figures is not None and screen.ticket_list.current is not None
                   and pilot.app.me is not None, what="figures and rows")
    return screen


def outbox(workspace, states=("pending",)) -> list[dict]:
    with workspace.open_cache() as conn:
        marks = ",".join("?" * len(states))
        rows = conn.execute(f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY id", states).fetchall()
        return [dict(r) | {"payload": json.loads(r["payload"])} for r in rows]


def add_approval(workspace, amount: int, reason: str = "damaged in transit") -> tuple[int, int]:
    """A refund an agent queued above their limit (as outbox.enqueue leaves it): (outbox id, ticket)."""
    with workspace.open_cache() as conn:
        ticket = conn.execute("SELECT id FROM ticket WHERE unsolved = 1 ORDER BY id LIMIT 1 OFFSET ?",
                              (amount % 7,)).fetchone()[0]
        cur = conn.execute(
            "INSERT INTO outbox (ticket_id, kind, payload, undo, idempotency_key, state, actor, created_at)"
            " VALUES (?, 'refund', ?, '{}', ?, 'approval', ?, ?)",
            (ticket, json.dumps({"amount": amount, "currency": "USD", "reason": reason}), f"approval-{amount}", SAM,
             ANCHOR - 7200))
        return cur.lastrowid, ticket


def focus(screen: DashboardScreen, table_id: str) -> FigureTable:
    table = screen.query_one(f"#{table_id}", FigureTable)
    table.focus()
    return table


# -- opening and leaving


async def test_g_d_opens_it_over_the_queue_and_esc_goes_back(workspace):
    async with app_for(workspace, start_dashboard=False).run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen)
                       and pilot.app.screen.ticket_list.current is not None)
        await pilot.press("g", "d")
        screen = await ready(pilot)
        assert [type(s).__name__ for s in pilot.app.screen_stack[-2:]] == ["QueueScreen", "DashboardScreen"]
        assert "Lead dashboard" in screen_text(pilot.app) and "Backlog" in screen_text(pilot.app)
        await pilot.press("g", "d")  # already there: nothing stacks up
        await pilot.pause()
        assert pilot.app.screen is screen and len(pilot.app.screen_stack) == 3
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(pilot.app.screen) is QueueScreen)


async def test_leaving_while_its_reads_are_in_flight_is_not_a_crash(workspace):
    """The lead presses esc while the counts and figures are still being read: the console
    goes on, and the dashboard is gone. (The narrower race, a read that returns while the
    screen's widgets are being removed, is what ``screens.gone`` guards; see
    test_app_navigation.)"""
    import asyncio

    async with app_for(workspace, start_dashboard=False).run_test(size=(160, 45)) as pilot:
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen)
                       and pilot.app.screen.ticket_list.current is not None)
        await pilot.press("g", "d")
        screen = await ready(pilot)
        read = pilot.app.cache.read

        async def slow_read(fn, *args, **kwargs):
            result = await read(fn, *args, **kwargs)
            await asyncio.sleep(0.2)
            return result

        pilot.app.cache.read = slow_read
        screen.refresh_counts()
        screen.compute_figures()
        await pilot.pause(0.05)
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(pilot.app.screen) is QueueScreen)
        await pilot.pause(0.5)
        pilot.app.cache.read = read
        assert pilot.app.is_running and not screen.is_attached


async def test_started_with_dashboard_has_the_queue_below(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        assert type(pilot.app.screen_stack[-2]) is QueueScreen


async def test_g_d_from_a_ticket_returns_to_the_dashboard(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "TicketScreen")
        pilot.app.open_dashboard()
        await wait_for(pilot, lambda: pilot.app.screen is screen)


# -- what it shows


async def test_figures_are_the_stats_of_the_cache(workspace):
    async with app_for(workspace).run_test(size=(200, 50)) as pilot:
        screen = await ready(pilot)
        with workspace.open_cache() as conn:
            expected = stats.compute(conn, now=ANCHOR)
        assert screen.figures == expected
        sam = await wait_for(pilot, lambda: next((line for line in screen_text(pilot.app).splitlines()
                                                  if "Sam Okoye" in line), None), what="the agents table")
        assert f" {expected.agents[0].open} " in sam.split("Sam Okoye")[-1]
        text = screen_text(pilot.app)
        assert f"Backlog {expected.backlog}" in text and f"unassigned {expected.unassigned}" in text
        assert "No refund or return is waiting." in text and "Updated" in text


async def test_figures_follow_the_cache_on_the_configured_interval(make_workspace):
    workspace = make_workspace("[ui]\ndashboard_refresh = 0.5\n")
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        before = screen.figures.backlog
        with workspace.open_cache() as conn:
            conn.execute("UPDATE ticket SET status = 'open' WHERE id = (SELECT min(id) FROM ticket WHERE status = 'closed')")
        await wait_for(pilot, lambda: screen.figures.backlog == before + 1, timeout=5, what="the next round")
        await wait_for(pilot, lambda: f"Backlog {before + 1}" in screen_text(pilot.app))


async def test_figures_that_cannot_be_refreshed_say_since_when(make_workspace, monkeypatch):
    workspace = make_workspace("[ui]\ndashboard_refresh = 0.5\n")
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        since = screen.figures.at

        def locked(*args, **kwargs):
            raise sqlite3.OperationalError("database is locked")

        monkeypatch.setattr(stats, "compute", locked)
        await wait_for(pilot, lambda: screen.failure is not None, timeout=5)
        stamp = time.strftime("%H:%M:%S", time.localtime(since))
        await wait_for(pilot, lambda: f"⚠ stale since {stamp}: database is locked" in screen_text(pilot.app))
        assert screen.figures.at == since and "Backlog" in screen_text(pilot.app)  # the old figures stay
        monkeypatch.undo()
        clock.freeze(ANCHOR + 120)
        await wait_for(pilot, lambda: screen.failure is None and screen.figures.at == ANCHOR + 120, timeout=5)
        assert "stale" not in screen_text(pilot.app)


async def test_a_slow_round_never_blocks_keys(make_workspace, monkeypatch):
    workspace = make_workspace("[ui]\ndashboard_refresh = 0.5\n")
    release = threading.Event()
    real = stats.compute

    def slow(*args, **kwargs):
        release.wait(10)  # on the reader thread, as a million-ticket round would be
        return real(*args, **kwargs)

    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        monkeypatch.setattr(stats, "compute", slow)
        screen.action_reload()
        await pilot.pause(0.1)
        assert any(w.group == "figures" and w.is_running for w in pilot.app.workers)
        await pilot.press("j", "j")
        assert screen.ticket_list.cursor == 2
        assert any(w.group == "figures" and w.is_running for w in pilot.app.workers)  # keys went first
        release.set()
        await wait_for(pilot, lambda: not any(w.group == "figures" and w.is_running for w in pilot.app.workers))


async def test_no_rounds_while_a_ticket_covers_it(make_workspace, monkeypatch):
    workspace = make_workspace("[ui]\ndashboard_refresh = 0.5\n")
    calls = []
    real = stats.compute
    monkeypatch.setattr(stats, "compute", lambda *a, **k: calls.append(1) or real(*a, **k))
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        await pilot.press("enter")
        await wait_for(pilot, lambda: type(pilot.app.screen).__name__ == "TicketScreen")
        await pilot.pause(0.7)
        covered = len(calls)
        await pilot.pause(1.2)
        assert len(calls) == covered
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen and len(calls) > covered)


# -- the queue side: the agents' keys


async def test_views_and_search_then_esc_steps_back(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ViewPicker))
        await pilot.press("2")
        await wait_for(pilot, lambda: pilot.app.screen is screen and screen.view_index == 1)
        await pilot.press("slash", *"tag:vip", "enter")
        await wait_for(pilot, lambda: screen.search == "tag:vip" and screen.ticket_list.count is not None)
        await pilot.press("escape")  # first esc: the filter goes, the view stays
        await wait_for(pilot, lambda: screen.search is None)
        assert pilot.app.screen is screen and screen.view_index == 1
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(pilot.app.screen) is QueueScreen)


async def test_reload_recomputes_the_figures(workspace, monkeypatch):
    calls = []
    real = stats.compute
    monkeypatch.setattr(stats, "compute", lambda *a, **k: calls.append(1) or real(*a, **k))
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        before = len(calls)
        await pilot.press("R")
        await wait_for(pilot, lambda: len(calls) > before)


@pytest.mark.parametrize("key, dialog", [("s", KeyChoice), ("p", KeyChoice), ("t", TagEditor), ("A", AgentPicker)])
async def test_triage_keys_open_their_dialogs(workspace, key, dialog):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        await pilot.press(key)
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, dialog))
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        assert outbox(workspace) == []


async def test_assign_to_me_and_macro_keys(workspace):
    from csconsole.screens.macro_picker import MacroPicker

    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        await pilot.press("v")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, ViewPicker))
        await pilot.press("2")  # Unassigned
        await wait_for(pilot, lambda: screen.view_index == 1 and screen.ticket_list.current is not None)
        row = screen.ticket_list.current
        await pilot.press("a")
        rows = await wait_for(pilot, lambda: outbox(workspace))
        assert [(r["kind"], r["ticket_id"], r["payload"]["assignee"]) for r in rows] == [
            ("assign", row.id, "alex@northwind-outfitters.example")]
        await pilot.press("m")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker))
        await pilot.press("escape")
        await wait_for(pilot, lambda: pilot.app.screen is screen)


async def test_select_the_whole_filtered_view_and_clear_it(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        focus(screen, "agents")
        await pilot.press("enter")
        ticket_list = screen.ticket_list
        await wait_for(pilot, lambda: ticket_list.count == screen.figures.agents[0].open)
        await pilot.press("X")
        await wait_for(pilot, lambda: len(ticket_list.selected) == ticket_list.count)
        assert f"{ticket_list.count} selected" in screen_text(pilot.app)
        await pilot.press("X")
        await wait_for(pilot, lambda: not ticket_list.selected)


# -- acting from the figures


async def test_tab_walks_the_panels_and_j_k_move_in_a_table(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        assert screen.ticket_list.has_focus
        await pilot.press("tab")
        sla = screen.query_one("#sla", FigureTable)
        assert sla.has_focus
        await pilot.press("tab")
        agents = screen.query_one("#agents", FigureTable)
        assert agents.has_focus and agents.cursor_row == 0
        await pilot.press("j", "j", "k")
        assert agents.cursor_row == 1
        await pilot.press("shift+tab")
        assert sla.has_focus


async def test_an_sla_cell_filters_the_queue_to_what_it_counts(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        sla = focus(screen, "sla")
        await pilot.pause()
        sla.move_cursor(row=4, column=1)  # all priorities, breached
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.search == "status:unsolved sla:breached")
        await wait_for(pilot, lambda: screen.ticket_list.count == sum(screen.figures.sla_breached.values()))
        assert screen.ticket_list.has_focus and screen.query_one("#search").value == "status:unsolved sla:breached"
        sla.move_cursor(row=0, column=2)  # urgent, due within the hour
        sla.focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.search == "status:unsolved sla:soon priority:urgent")
        await wait_for(pilot, lambda: screen.ticket_list.count == screen.figures.sla_soon["urgent"])


async def test_the_most_loaded_agent_then_three_tickets_to_someone_else(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        sam = screen.figures.agents[0]
        assert sam.name == "Sam Okoye" and sam.open == max(a.open for a in screen.figures.agents)
        focus(screen, "agents")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.search == 'assignee:"Sam Okoye" status:unsolved')
        ticket_list = screen.ticket_list
        await wait_for(pilot, lambda: ticket_list.count == sam.open and ticket_list.current is not None)
        ids = [ticket_list.row_at(n).id for n in range(3)]
        await pilot.press("x", "x", "x", "A")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AgentPicker))
        await pilot.press(*"priya", "enter")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen)
        assert confirm.question == "Apply “assign → Priya Shah” to 3 tickets?"
        await pilot.press("y")
        rows = await wait_for(pilot, lambda: len(outbox(workspace)) == 3 and outbox(workspace))
        assert sorted(r["ticket_id"] for r in rows) == sorted(ids)
        assert {r["payload"]["assignee"] for r in rows} == {PRIYA}
        with workspace.open_cache() as conn:
            holders = {r[0] for r in conn.execute(
                f"SELECT p.remote_id FROM ticket t JOIN person p ON p.id = t.assignee_id WHERE t.id IN ({','.join('?' * 3)})",
                ids)}
        assert holders == {PRIYA}
        def sams_open():
            return next(a.open for a in screen.figures.agents if a.person_id == sam.person_id)

        await wait_for(pilot, lambda: sams_open() == sam.open - 3, what="figures after the move")
        agents = screen.query_one("#agents", FigureTable)
        assert agents.get_cell(str(sam.person_id), "open").plain == str(sam.open - 3)  # updated in place
        await wait_for(pilot, lambda: ticket_list.count == sam.open - 3)


async def test_unassigned_row_filters_to_unassigned(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        agents = focus(screen, "agents")
        agents.move_cursor(row=agents.row_count - 1)
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.search == stats.UNASSIGNED_QUERY)
        await wait_for(pilot, lambda: screen.ticket_list.count == screen.figures.unassigned)


# -- approvals


async def test_approve_and_decline_each_ask_first(workspace):
    approve_id, approve_ticket = add_approval(workspace, 23000)
    decline_id, _ = add_approval(workspace, 41000, "wants it all back")
    async with app_for(workspace).run_test(size=(200, 50)) as pilot:
        screen = await ready(pilot)
        table = focus(screen, "approvals")
        assert table.row_count == 2
        await wait_for(pilot, lambda: "refund $230.00" in screen_text(pilot.app))
        await pilot.press("enter")  # the refund's ticket in the queue
        await wait_for(pilot, lambda: screen.search == f"id:{approve_ticket}" and screen.ticket_list.count == 1)
        table.focus()
        await pilot.press("Y")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen)
        assert confirm.question.startswith(f"Approve refund $230.00 · #{approve_ticket} · by {SAM}")
        await pilot.press("y")
        await wait_for(pilot, lambda: [r["id"] for r in outbox(workspace)] == [approve_id])
        await wait_for(pilot, lambda: [a.outbox_id for a in screen.figures.approvals] == [decline_id])
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("n")  # changed their mind: nothing happens
        await wait_for(pilot, lambda: pilot.app.screen is screen)
        assert [r["id"] for r in outbox(workspace, ("approval",))] == [decline_id]
        await pilot.press("N")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: [r["id"] for r in outbox(workspace, ("discarded",))] == [decline_id])
        await wait_for(pilot, lambda: "No refund or return is waiting." in screen_text(pilot.app))
        with workspace.open_cache() as conn:
            audit = conn.execute("SELECT outbox_id, actor, result FROM audit ORDER BY id").fetchall()
        me = "alex@northwind-outfitters.example"
        assert [tuple(r) for r in audit] == [(approve_id, me, "approved"), (decline_id, me, "declined")]
        assert screen.check_action("decide", (True,)) is None  # nothing left: the keys show greyed out


async def test_only_a_configured_lead_may_decide(make_workspace):
    workspace = make_workspace('[policy]\nleads = ["dana@northwind-outfitters.example"]\n')
    outbox_id, _ = add_approval(workspace, 23000)
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("Y")
        await wait_for(pilot, lambda: "Only a team lead" in screen_text(pilot.app))
        assert not isinstance(pilot.app.screen, Confirm)
        assert [r["id"] for r in outbox(workspace, ("approval",))] == [outbox_id]


# -- keys: help, palette, keymap


async def test_help_lists_every_dashboard_binding(workspace):
    async with app_for(workspace).run_test(size=(160, 50)) as pilot:
        screen = await ready(pilot)
        add_approval(workspace, 23000)
        screen.action_reload()
        await wait_for(pilot, lambda: screen.figures.approvals)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = screen_text(pilot.app)
        for description in ("Approve refund", "Decline refund", "Next panel", "Previous panel", "Back", "Views",
                            "Search", "Select view", "Assign to…", "Reload", "Lead dashboard"):
            assert re.search(rf"{re.escape(description)}(?!\w)", text), description
        await pilot.press("escape")
        focus(screen, "agents")
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        assert "Filter the queue by this figure" in screen_text(pilot.app)


async def test_palette_offers_the_bindings_and_the_dashboard(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        screen = await ready(pilot)
        titles = {c.title for c in screen_commands(pilot.app, screen)}
        assert {"Approve refund", "Decline refund", "Views", "Assign to…", "View: Unassigned"} <= titles
        await pilot.press("escape")
        await wait_for(pilot, lambda: type(pilot.app.screen) is QueueScreen)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"lead dash")
        await wait_for(pilot, lambda: "Lead dashboard" in screen_text(pilot.app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen))


async def test_every_dashboard_binding_has_an_id_a_user_can_remap(make_workspace):
    ids = set(known_bindings())
    assert {"dashboard.back", "dashboard.next_panel", "dashboard.previous_panel", "dashboard.approve",
            "dashboard.decline", "figures.filter", "figures.down", "figures.up"} <= ids
    for cls in (DashboardScreen, FigureTable):
        assert all(b.id for b in cls.BINDINGS)
    workspace = make_workspace('[keys]\n"dashboard.approve" = "ctrl+y"\n')
    add_approval(workspace, 23000)
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))


# -- layouts


@pytest.mark.parametrize("width, layout", [(200, "-side-by-side"), (120, "-side-by-side"), (119, "-stacked"),
                                           (80, "-stacked")])
async def test_side_by_side_from_120_columns_stacked_below(workspace, width, layout):
    async with app_for(workspace).run_test(size=(width, 40)) as pilot:
        screen = await ready(pilot)
        assert screen.has_class(layout)
        queue, health = screen.query_one("#queue-side"), screen.query_one("#health")
        if layout == "-stacked":
            assert health.region.y > queue.region.y and health.region.width == queue.region.width
        else:
            assert health.region.x > queue.region.x and health.region.y == queue.region.y


async def test_usable_at_80_by_24(workspace):
    async with app_for(workspace).run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        assert screen.ticket_list.size.height >= 6
        await pilot.press("tab", "tab")  # the agents table scrolls into view
        agents = screen.query_one("#agents", FigureTable)
        await wait_for(pilot, lambda: "Sam Okoye" in screen_text(pilot.app))
        assert agents.has_focus
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.search == 'assignee:"Sam Okoye" status:unsolved')
        expected = ViewQuery(screen.search, "updated", now=ANCHOR)
        with screen.app.workspace.open_cache() as conn:
            count = expected.count(conn)
        await wait_for(pilot, lambda: screen.ticket_list.count == count)
