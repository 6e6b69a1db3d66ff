"""The Textual application: wiring only. Screens show, the cache answers, the engine syncs.

Nothing here waits on the network or the disk: reads and writes go through CacheAccess's
threads, and the sync engine runs on its own thread, started after the first paint so the
queue appears as fast as Python and Textual allow.
"""

from __future__ import annotations

import gc
import time
from pathlib import Path
from collections.abc import Iterable

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.events import Key
from textual.screen import Screen
from textual.signal import Signal

from csconsole import messages
from csconsole.cache import CacheAccess
from csconsole.sync.status import SyncStatus
from csconsole.workspace import Workspace

GC_THRESHOLD = 20_000
"""Allocations between young-generation collections (CPython's default is 700)."""
KNOWN_TAGS_FIRST = 3.0
KNOWN_TAGS_REFRESH = 300.0
"""Seconds between recounts of the tags in use (completion, not correctness, depends on it)."""
CHANGE_COALESCE = 0.3
"""Seconds: bursts of 'tickets changed' (a backfill stores a page every few ms) become one
refresh per window. The first change after a quiet spell (an agent's undo) shows at once."""


class CSConsole(App):
    TITLE = "csconsole"
    CSS_PATH = [Path(__file__).parent / name for name in (
        "app.tcss", "screens/queue.tcss", "screens/ticket.tcss", "screens/dashboard.tcss",
        "screens/macro_picker.tcss", "widgets/ticket_list.tcss", "widgets/status_bar.tcss",
        "widgets/views_bar.tcss", "widgets/thread_view.tcss", "widgets/orders_panel.tcss",
        "widgets/composer.tcss")]
    """Every stylesheet of the console, read once at start-up. Styles added when a screen or
    widget first appears make Textual re-parse and restyle the whole app at that moment
    (about 40 ms of a ticket's first opening)."""
    BINDINGS = [
        Binding("question_mark", "help", "Keys", key_display="?", id="app.help"),
        Binding("ctrl+r,f5", "sync_now", "Sync now", show=False, id="app.sync"),
        Binding("ctrl+z", "undo", "Undo last unsent action", show=False, id="app.undo"),
        Binding("O", "outbox", "Outbox", show=False, id="app.outbox"),
        Binding("q", "quit", "Quit", show=False, id="app.quit"),
    ]

    def __init__(self, workspace: Workspace, *, sync: bool = True, start_dashboard: bool = False) -> None:
        super().__init__()
        self.start_dashboard = start_dashboard
        self.workspace = workspace
        self.config = workspace.config
        self.cache = CacheAccess(workspace.db_path)
        self.sync_enabled = sync
        self.sync_status: SyncStatus | None = None
        self.sync_signal: Signal[SyncStatus] = Signal(self, "sync")
        self.data_signal: Signal[list[int]] = Signal(self, "data")
        self.fetch_signal: Signal[tuple[str, int, str | None]] = Signal(self, "fetch")
        self.engine_thread = None
        self._early_requests: list = []
        self._changed: set[int] | None = None
        self._chord: tuple[str, float] | None = None
        self._store_capabilities: frozenset[str] | None = None
        self.known_tags: list[str] = []
        self.me = None
        """The agent using the console (csconsole.triage.Agent), once the helpdesk said who."""
        self.theme = self.config.ui.theme

    # -- lifecycle
    def on_mount(self) -> None:
        from csconsole.screens.queue import QueueScreen

        if self.config.keys:
            from csconsole.config import ConfigError
            from csconsole.keymap import check

            try:
                self.set_keymap(check(self.config))
            except ConfigError as exc:  # the CLI refuses to start on this; here, say it and go on
                self.notify(str(exc), severity="error", timeout=15, markup=False)
        self.push_screen(QueueScreen())
        if self.start_dashboard:
            self.open_dashboard()
        self.load_me()
        self.call_after_refresh(self._settle_memory)
        self.call_after_refresh(self.learn_store_capabilities)
        if self.sync_enabled:
            self.call_after_refresh(self.start_sync)

    @staticmethod
    def _settle_memory() -> None:
        """After the first paint: keep the cyclic garbage collector off the keypress path.

        Rendering allocates many short-lived objects; with the default thresholds the
        collector ran about seven times per keypress and put 20-60 ms pauses into one frame
        in fifty. Freezing what start-up built and collecting less often removes them.
        """
        gc.freeze()
        gc.set_threshold(GC_THRESHOLD, 50, 100)

    def start_sync(self) -> None:
        """Start the sync engine on its own thread (after the first paint)."""
        from csconsole.bridge import AppListener
        from csconsole.sync.engine import EngineThread, SyncEngine

        ws = self.workspace
        engine = SyncEngine(ws.open_cache, ws.make_helpdesk, ws.make_store, AppListener(self),
                            interval=self.config.sync.interval, prefetch=self.config.sync.prefetch)
        for make in self._early_requests:
            engine.submit(make(engine))
        self._early_requests.clear()
        self.engine_thread = EngineThread(engine)
        self.engine_thread.start()

    async def on_unmount(self) -> None:
        if self.engine_thread is not None:
            self.engine_thread.stop()
        self.cache.close()

    @property
    def engine(self):
        return self.engine_thread.engine if self.engine_thread is not None else None

    @work(exclusive=True, group="me")
    async def load_me(self) -> None:
        from csconsole import triage

        self.me = await self.cache.read(triage.me)

    @work(thread=True, exclusive=True, group="store-capabilities")
    def learn_store_capabilities(self) -> None:
        """Find the store adapter after the first paint, on a thread: scanning the installed
        packages' entry points and importing the adapter takes 20-150 ms, which would
        otherwise land on the first ticket an agent opens."""
        _ = self.store_capabilities

    @property
    def store_capabilities(self) -> frozenset[str]:
        """What the workspace's store can do (empty without a store): the UI hides the rest."""
        if self._store_capabilities is None:
            spec = self.workspace.store_spec()
            capabilities: frozenset[str] = frozenset()
            if spec is not None:
                from csconsole.adapters.registry import UnknownAdapter, load_adapter

                try:
                    capabilities = load_adapter(spec.adapter).capabilities
                except UnknownAdapter:
                    pass
            self._store_capabilities = capabilities
        return self._store_capabilities

    @work(exclusive=True, group="known-tags")
    async def load_known_tags(self) -> None:
        """Tags in use, for completion in the tag editor: counted once in the background
        (grouping every tag of a million tickets takes about half a second)."""
        from csconsole import triage

        self.known_tags = await self.cache.read(triage.known_tags)

    @property
    def actor(self) -> str:
        """Who the outbox records as having acted (the agent's helpdesk id)."""
        return self.me.remote_id if self.me is not None else "me"

    async def enqueue(self, intents, *, summary: str) -> bool:
        """Queue actions with the undo grace; the agent sees the effect at once."""
        from csconsole.store import outbox

        grace = self.config.ui.undo_seconds
        try:
            await self.cache.write(outbox.enqueue, intents, actor=self.actor, grace=grace, policy=self.config.policy)
        except outbox.ActionError as exc:
            self.notify(str(exc), severity="error", markup=False)
            return False
        tickets = {i.ticket_id for i in intents if i.ticket_id is not None}
        where = f"#{next(iter(tickets))}" if len(tickets) == 1 else f"{len(tickets)} tickets"
        when = f"sending in {grace:g} s · ctrl+z undoes" if grace else "sending now"
        self.notify(f"{summary} on {where} · {when}", timeout=max(grace, 3), markup=False)
        self.post_message(messages.TicketsChanged(sorted(tickets)))
        self.wake_sync()
        return True

    # -- requests to the engine (thread-safe, fire and forget)
    def _request(self, make) -> None:
        """Hand a request to the engine; one made before the engine starts waits for it."""
        if self.engine is not None:
            self.engine.submit(make(self.engine))
        elif self.sync_enabled:
            self._early_requests.append(make)

    def fetch_thread(self, ticket_id: int) -> None:
        self._request(lambda engine: engine.fetch_thread(ticket_id))

    def fetch_orders(self, ticket_id: int) -> None:
        self._request(lambda engine: engine.fetch_orders(ticket_id))

    def prefetch(self, ticket_ids: list[int]) -> None:
        if ticket_ids:
            self._request(lambda engine: engine.prefetch(ticket_ids))

    def wake_sync(self, pull: bool = False) -> None:
        if self.engine is not None:
            self.engine.wake(pull=pull)

    # -- messages from the engine
    def on_sync_status_changed(self, message: messages.SyncStatusChanged) -> None:
        self.sync_status = message.status
        self.sync_signal.publish(message.status)

    def on_tickets_changed(self, message: messages.TicketsChanged) -> None:
        ids = set(message.ids or [-1])
        if self._changed is None:  # quiet until now: show it, then gather what follows
            self._publish(ids)
            self._changed = set()
            self.set_timer(CHANGE_COALESCE, self._end_window)
        else:
            self._changed.update(ids)

    def _end_window(self) -> None:
        changed, self._changed = self._changed, None
        if changed:  # the burst goes on: publish it and keep gathering
            self._publish(changed)
            self._changed = set()
            self.set_timer(CHANGE_COALESCE, self._end_window)

    def _publish(self, changed: set[int]) -> None:
        if self.me is None:
            self.load_me()
        self.data_signal.publish([] if -1 in changed else sorted(changed))

    def on_thread_loaded(self, message: messages.ThreadLoaded) -> None:
        self.fetch_signal.publish(("thread", message.ticket_id, message.error))

    def on_orders_loaded(self, message: messages.OrdersLoaded) -> None:
        self.fetch_signal.publish(("orders", message.ticket_id, message.error))

    def on_action_finished(self, message: messages.ActionFinished) -> None:
        if message.state in ("failed", "conflict"):
            where = f" on #{message.ticket_id}" if message.ticket_id else ""
            self.notify(f"{message.state}{where}: {message.text}", severity="error", timeout=8, markup=False)

    # -- navigation
    def _ticket_screen(self):
        from csconsole.screens.ticket import TicketScreen

        if "ticket" not in self._installed_screens:
            self.install_screen(TicketScreen(), "ticket")
        screen = self.get_screen("ticket")
        assert isinstance(screen, TicketScreen)
        return screen

    def open_ticket(self, ticket_id: int, ticket_list=None) -> None:
        """Show a ticket in the one TicketScreen the app keeps (see its docstring)."""
        screen = self._ticket_screen()
        screen.show_ticket(ticket_id, ticket_list)
        if self.screen is not screen:
            self.push_screen(screen)

    # -- actions
    def action_help(self) -> None:
        from csconsole.screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen(self.screen))

    async def action_undo(self) -> None:
        from csconsole.store import outbox

        rows = await self.cache.write(outbox.undo_last, self.actor)
        if not rows:
            self.notify("Nothing to undo: every action has been sent", timeout=3, markup=False)
            return
        tickets = sorted({r.ticket_id for r in rows if r.ticket_id is not None})
        what = outbox.describe(rows[0].kind, rows[0].payload) + (f" and {len(rows) - 1} more" if len(rows) > 1 else "")
        where = f"#{tickets[0]}" if len(tickets) == 1 else f"{len(tickets)} tickets"
        self.notify(f"Undone: {what} on {where}", timeout=4, markup=False)
        self.post_message(messages.TicketsChanged(tickets))

    def action_outbox(self) -> None:
        from csconsole.screens.outbox import OutboxScreen

        if not isinstance(self.screen, OutboxScreen):
            self.push_screen(OutboxScreen())

    def action_sync_now(self) -> None:
        self.wake_sync(pull=True)
        self.notify("Syncing now", timeout=2, markup=False)

    def on_key(self, event: Key) -> None:
        """Two-key chords (g d): the first key does its own job and arms the chord briefly."""
        chord, self._chord = self._chord, None
        if chord and chord[0] == "g" and event.key == "d" and time.monotonic() - chord[1] < 1.0:
            event.stop()
            self.open_dashboard()

    def arm_chord(self, key: str) -> None:
        self._chord = (key, time.monotonic())

    has_dashboard = True
    """The help overlay lists the g d chord."""

    def open_dashboard(self) -> None:
        """The lead's split view; it sits above the queue, so esc leads back there."""
        from csconsole.screens.dashboard import DashboardScreen

        if isinstance(self.screen, DashboardScreen):
            return
        below = next((s for s in self.screen_stack if isinstance(s, DashboardScreen)), None)
        if below is None:
            self.push_screen(DashboardScreen())
            return
        while self.screen is not below:
            self.pop_screen()

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        from csconsole.commands import screen_commands

        yield from super().get_system_commands(screen)
        yield from screen_commands(self, screen)
        yield SystemCommand("Lead dashboard", "key: g d · backlog, SLA, agents' load and approvals beside the queue",
                            self.open_dashboard)
