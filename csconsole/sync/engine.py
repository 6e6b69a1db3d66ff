"""The sync engine: one asyncio loop that pulls, pushes and fetches on request.

It runs in its own thread under the TUI (``EngineThread``), or in the foreground for
``csconsole sync``. It owns its own cache connection; the UI never waits on it. Pulls
store each page with its cursor in one transaction; pushes go through sync/push.py.
Requests from the UI (open a ticket's thread, load a customer's orders, prefetch the top
of the view, wake up because the outbox has new rows) arrive thread-safely.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any

from csconsole import clock
from csconsole.adapters.base import (
    LIST_MACROS,
    AdapterError, AuthError, CommerceAdapter, HelpdeskAdapter, Identity, RateLimited, TransientError,
)
from csconsole.store import ingest, outbox
from csconsole.sync.push import PushOutcome, adapter_for, due_rows, push_one
from csconsole.sync.status import NullListener, Progress, SyncListener, SyncStatus

log = logging.getLogger(__name__)


class SyncEngine:
    def __init__(self, conn_factory: Callable[[], sqlite3.Connection], helpdesk_factory: Callable[[], HelpdeskAdapter],
                 store_factory: Callable[[], CommerceAdapter | None] | None = None,
                 listener: SyncListener | None = None, *, interval: float = 30.0, prefetch: int = 20) -> None:
        self._conn_factory = conn_factory
        self._helpdesk_factory = helpdesk_factory
        self._store_factory = store_factory
        self.listener: SyncListener = listener or NullListener()
        self.interval = interval
        self.prefetch_limit = prefetch
        self.conn: sqlite3.Connection | None = None
        self.helpdesk: HelpdeskAdapter | None = None
        self.store: CommerceAdapter | None = None
        self.identity: Identity | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self._wake_pull: asyncio.Event | None = None
        self._wake_push: asyncio.Event | None = None
        self._stop: asyncio.Event | None = None
        self._status = SyncStatus("starting")
        self._push_paused_until = 0.0
        self._people = ingest.People()
        self._early: list[Coroutine[Any, Any, Any]] = []
        self._early_lock = threading.Lock()

    # -- status
    def _emit(self, **changes: Any) -> None:
        fields = self._status.__dict__ | changes
        if self.conn is not None:
            fields["outbox"] = outbox.counts(self.conn)
        self._status = SyncStatus(**fields)
        self.listener.sync_status(self._status)

    @property
    def status(self) -> SyncStatus:
        return self._status

    # -- lifecycle
    async def open(self) -> None:
        self._wake_pull, self._wake_push, self._stop = asyncio.Event(), asyncio.Event(), asyncio.Event()
        self.conn = self._conn_factory()
        self.helpdesk = self._helpdesk_factory()
        self.store = self._store_factory() if self._store_factory else None
        with self._early_lock:
            self.loop = asyncio.get_running_loop()
            early, self._early = self._early, []
        for coro in early:
            asyncio.ensure_future(self._after_identity(coro))
        self._emit(state="starting")

    async def _after_identity(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Early requests run once the engine knows who it is (or gave up trying)."""
        for _ in range(600):
            if self.identity is not None or self._status.state in ("error", "offline", "stopped"):
                break
            await asyncio.sleep(0.05)
        await coro

    async def close(self) -> None:
        for adapter in (self.helpdesk, self.store):
            if adapter is not None:
                try:
                    await adapter.aclose()
                except Exception:  # closing is best effort
                    log.debug("closing adapter failed", exc_info=True)
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    async def identify(self) -> Identity:
        """Who we are on the helpdesk, and the agent list (for assignment and 'me')."""
        assert self.helpdesk is not None and self.conn is not None
        self.identity = await self.helpdesk.verify()
        agents = await self.helpdesk.list_agents()
        me = self.identity
        if not any(a.remote_id == me.remote_id for a in agents):
            from csconsole.adapters.base import PersonRecord

            agents.append(PersonRecord(me.remote_id, me.name, me.email, "agent"))
        ingest.save_agents(self.conn, agents, me.remote_id, self._people)
        if self.helpdesk.can(LIST_MACROS):
            try:
                ingest.save_remote_macros(self.conn, self.helpdesk.account.name, await self.helpdesk.list_macros())
            except AdapterError as exc:  # the console works without them
                log.warning("could not list the helpdesk's macros: %s", exc)
        self._emit(mode=me.mode)
        return me

    async def run(self, *, watch: bool = True) -> None:
        """Pull and push until stopped (or one pass of each when not watching)."""
        await self.open()
        try:
            await self._guarded(self.identify)
            if not watch:
                await self._guarded(self.pull_once)
                await self.push_due(drain=True)
                self._emit(state="idle" if not self._status.last_error else self._status.state)
                return
            await asyncio.gather(self._pull_loop(), self._push_loop())
        finally:
            self._emit(state="stopped")
            await self.close()

    async def _guarded(self, step: Callable[[], Coroutine[Any, Any, Any]]) -> bool:
        try:
            await step()
            return True
        except AuthError as exc:
            self._emit(state="error", last_error=str(exc))
        except (RateLimited, TransientError) as exc:
            self._emit(state="offline", last_error=str(exc))
        except AdapterError as exc:
            self._emit(state="error", last_error=str(exc))
        except Exception as exc:  # never let a bad answer kill the engine
            log.exception("sync step failed")
            self._emit(state="error", last_error=f"{type(exc).__name__}: {exc}")
        return False

    def _call_soon(self, callback: Callable[[], Any]) -> bool:
        """Schedule on the engine's loop from any thread; False once the engine has stopped."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return False
        try:
            loop.call_soon_threadsafe(callback)
        except RuntimeError:  # closed between the check and the call
            return False
        return True

    def stop(self) -> None:
        """Thread-safe."""
        if self._stop is not None:
            self._call_soon(self._stop.set)
            self.wake()

    def wake(self, pull: bool = False) -> None:
        """Thread-safe: the outbox has new rows (or the user asked to sync now)."""
        if self._wake_push is not None:
            self._call_soon(self._wake_push.set)
        if pull and self._wake_pull is not None:
            self._call_soon(self._wake_pull.set)

    def submit(self, coro: Coroutine[Any, Any, Any]) -> None:
        """Thread-safe: run a request (thread fetch, orders, prefetch) on the engine's loop.

        A request made before the engine's loop runs waits for it instead of being lost.
        """
        with self._early_lock:
            loop = self.loop
            if loop is None:
                self._early.append(coro)
                return
        if loop.is_closed():
            coro.close()
            return
        try:
            asyncio.run_coroutine_threadsafe(coro, loop)
        except RuntimeError:
            coro.close()

    async def _sleep(self, seconds: float, event: asyncio.Event) -> None:
        assert self._stop is not None
        stop_task = asyncio.ensure_future(self._stop.wait())
        wake_task = asyncio.ensure_future(event.wait())
        try:
            await asyncio.wait({stop_task, wake_task}, timeout=max(seconds, 0.0), return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop_task.cancel()
            wake_task.cancel()
        event.clear()

    # -- pull
    async def _pull_loop(self) -> None:
        assert self._stop is not None and self._wake_pull is not None
        failures = 0
        while not self._stop.is_set():
            if self.identity is None:
                ok = await self._guarded(self.identify)
            else:
                ok = await self._guarded(self.pull_once)
            failures = 0 if ok else failures + 1
            delay = self.interval if ok else min(self.interval * 2 ** min(failures, 4), 600)
            if not ok:
                self._emit(retry_in=delay)
            await self._sleep(delay, self._wake_pull)

    async def pull_once(self) -> int:
        """Bring the cache up to date with the helpdesk; returns the tickets stored."""
        assert self.helpdesk is not None and self.conn is not None
        account = self.helpdesk.account.name
        cursor = ingest.load_cursor(self.conn, account)
        backfill = cursor is None and self.conn.execute("SELECT count(*) FROM ticket").fetchone()[0] == 0
        started, done = time.monotonic(), 0
        self._emit(state="pulling", progress=Progress(0, None, 0.0), retry_in=None)
        async for page in self.helpdesk.changed_tickets(cursor):
            ingest.store_page(self.conn, account, page.tickets, page.cursor, self._people, index=not backfill)
            done += len(page.tickets)
            rate = done / max(time.monotonic() - started, 1e-6)
            self._emit(state="pulling", progress=Progress(done, page.total, rate))
            if page.tickets:
                self.listener.tickets_changed([t.number for t in page.tickets])
            await asyncio.sleep(0)
        if ingest.index_dirty(self.conn):
            self._emit(state="indexing")
            await asyncio.to_thread(_rebuild_index, self._conn_factory)
        self._emit(state="idle", last_pull_at=clock.now(), last_error=None, progress=None)
        if done:
            self.listener.tickets_changed([])
        return done

    # -- push
    async def _push_loop(self) -> None:
        assert self._stop is not None and self._wake_push is not None and self.conn is not None
        while not self._stop.is_set():
            if self.identity is not None:
                await self.push_due()
            wake = outbox.next_wakeup(self.conn)
            now = time.time()
            delay = self.interval if wake is None else max(wake - now, 0.05)
            delay = max(delay, self._push_paused_until - now)
            await self._sleep(min(delay, self.interval), self._wake_push)

    async def push_due(self, *, drain: bool = False) -> list[PushOutcome]:
        """Send what is due now (``drain``: keep going while rows become due, for one-shot syncs)."""
        assert self.conn is not None and self.helpdesk is not None
        outcomes: list[PushOutcome] = []
        while time.time() >= self._push_paused_until:
            rows = due_rows(self.conn)
            if not rows:
                if drain and self._pending_soon():
                    await asyncio.sleep(0.2)
                    continue
                break
            progressed = False
            for row in rows:
                adapter = adapter_for(row, self.helpdesk, self.store)
                if adapter is None:
                    outbox.mark_failed(self.conn, row.id, "no store is set up for this workspace")
                    continue
                self._emit(state="pushing")
                outcome = await push_one(self.conn, row, adapter)
                outcomes.append(outcome)
                self.listener.action_finished(row.id, row.ticket_id, outcome.state, outcome.message)
                if row.ticket_id is not None:
                    self.listener.tickets_changed([row.ticket_id])
                if outcome.state == "sent":
                    progressed = True
                if outcome.state == "conflict" and row.ticket_id is not None:
                    await self._guarded(lambda tid=row.ticket_id: self.refresh_ticket(tid))
                if outcome.pause:
                    self._push_paused_until = time.time() + outcome.pause
                    self._emit(state="offline", last_error=outcome.message, retry_in=outcome.pause)
                    return outcomes
                if outcome.state == "retry":
                    self._emit(state="offline", last_error=outcome.message)
            if not progressed and not drain:
                break
            if not progressed and drain and not self._pending_soon():
                break
        if self._status.state == "pushing":
            self._emit(state="idle")
        return outcomes

    def _pending_soon(self) -> bool:
        assert self.conn is not None
        wake = outbox.next_wakeup(self.conn)
        return wake is not None and wake - time.time() < 30

    # -- requests from the UI
    async def refresh_ticket(self, ticket_id: int) -> None:
        assert self.helpdesk is not None and self.conn is not None
        remote = self.conn.execute("SELECT remote_id FROM ticket WHERE id = ?", (ticket_id,)).fetchone()
        if remote is None:
            return
        record = await self.helpdesk.fetch_ticket(remote[0])
        ingest.store_page(self.conn, self.helpdesk.account.name, [record], ingest.load_cursor(self.conn, self.helpdesk.account.name),
                          self._people)
        await self.fetch_thread(ticket_id)

    async def fetch_thread(self, ticket_id: int) -> None:
        assert self.helpdesk is not None and self.conn is not None
        error = None
        try:
            remote = self.conn.execute("SELECT remote_id FROM ticket WHERE id = ?", (ticket_id,)).fetchone()
            if remote is not None:
                messages = await self.helpdesk.fetch_thread(remote[0])
                ingest.save_thread(self.conn, ticket_id, messages, self._people)
        except AdapterError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("fetching thread %s failed", ticket_id)
            error = f"{type(exc).__name__}: {exc}"
        self.listener.thread_loaded(ticket_id, error)

    async def prefetch(self, ticket_ids: list[int]) -> None:
        """Fetch threads for the top of the view that are missing or stale."""
        assert self.conn is not None
        ids = ticket_ids[: self.prefetch_limit]
        if not ids:
            return
        marks = ",".join("?" * len(ids))
        stale = [r[0] for r in self.conn.execute(
            f"SELECT id FROM ticket t WHERE id IN ({marks}) AND (thread_synced_at IS NULL OR thread_synced_at < updated_at"
            " OR (SELECT count(*) FROM message m WHERE m.ticket_id = t.id) < t.message_count)",
            ids)]
        for ticket_id in stale:
            await self.fetch_thread(ticket_id)

    async def fetch_orders(self, ticket_id: int) -> None:
        """Load the requester's orders (and any the thread names) into the cache."""
        assert self.conn is not None
        error = None
        try:
            if self.store is not None:
                row = self.conn.execute("SELECT p.email FROM ticket t JOIN person p ON p.id = t.requester_id WHERE t.id = ?",
                                        (ticket_id,)).fetchone()
                refs = tuple(r[0] for r in self.conn.execute("SELECT order_ref FROM ticket_order WHERE ticket_id = ?",
                                                             (ticket_id,)))
                if row and row[0]:
                    orders = await self.store.orders_for_customer(row[0], refs)
                    ingest.save_orders(self.conn, orders, self._people)
                    self.conn.execute("UPDATE person SET orders_synced_at = ? WHERE id ="
                                      " (SELECT requester_id FROM ticket WHERE id = ?)", (clock.now(), ticket_id))
        except AdapterError as exc:
            error = str(exc)
        except Exception as exc:
            log.exception("fetching orders for %s failed", ticket_id)
            error = f"{type(exc).__name__}: {exc}"
        self.listener.orders_loaded(ticket_id, error)


def _rebuild_index(conn_factory: Callable[[], sqlite3.Connection]) -> None:
    conn = conn_factory()
    try:
        ingest.rebuild_index(conn)
    finally:
        conn.close()


class EngineThread(threading.Thread):
    """Runs a SyncEngine on its own event loop, so no network or disk work touches the UI thread."""

    def __init__(self, engine: SyncEngine) -> None:
        super().__init__(name="csconsole-sync", daemon=True)
        self.engine = engine
        self.started_event = threading.Event()

    def run(self) -> None:
        async def main() -> None:
            task = asyncio.ensure_future(self.engine.run(watch=True))
            while self.engine.loop is None and not task.done():
                await asyncio.sleep(0.01)
            self.started_event.set()
            await task

        try:
            asyncio.run(main())
        except Exception:
            log.exception("the sync engine stopped")
        finally:
            self.started_event.set()

    def stop(self, timeout: float = 5.0) -> None:
        self.engine.stop()
        self.join(timeout)
