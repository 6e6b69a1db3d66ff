"""Pictures of the lead dashboard (pytest-textual-snapshot) at the three sizes it promises:
side by side at 200x50 and 120x40, stacked at 80x24. Sync is off, the clock is fixed and
local time is UTC, so the figures and the 'Updated' line are the same on every run.

Review a changed snapshot in snapshot_report.html before updating with --snapshot-update.
"""

import time

import pytest

from csconsole.app import CSConsole
from csconsole.screens.dashboard import DashboardScreen
from tests.pilot import screen_text, wait_for
from tests.test_dashboard import add_approval


@pytest.fixture
def utc(monkeypatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


async def _ready(pilot) -> None:
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, DashboardScreen) and pilot.app.screen)
    await wait_for(pilot, lambda: screen.figures is not None and screen.ticket_list.current is not None)
    await wait_for(pilot, lambda: "…" not in str(screen.query_one("#views").render()), what="view counts")
    await wait_for(pilot, lambda: "Sam Okoye" in screen_text(pilot.app) or screen.size.height < 30, what="agents")
    await pilot.pause()


@pytest.mark.parametrize("size", [(200, 50), (120, 40), (80, 24)], ids=["200x50", "120x40", "80x24"])
def test_dashboard_split_layout(workspace, snap_compare, utc, size):
    """Wide: queue left, health right (backlog, 24 h trend, SLA, agents with Sam Okoye on top
    in red, one refund awaiting approval). 80x24: the health side stacked under the queue."""
    add_approval(workspace, 23000)
    assert snap_compare(CSConsole(workspace, sync=False, start_dashboard=True), run_before=_ready, terminal_size=size)
