"""The UI's way to the cache: reads and writes on background threads, never the UI thread.

Reads run on a small pool (a slow count must not hold up a page of the queue), writes on
one thread so that an agent's actions reach the outbox in the order they were made. Each
thread keeps its own sqlite3 connection (connections are not shared between threads).
"""

from __future__ import annotations

import asyncio
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import ParamSpec, TypeVar

from csconsole.store.db import connect

P = ParamSpec("P")
T = TypeVar("T")


class CacheAccess:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._lock = threading.Lock()
        self._readers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="cache-read")
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cache-write")

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path, shared=True)
            self._local.conn = conn
            with self._lock:
                self._connections.append(conn)
        return conn

    def _call(self, fn: Callable[..., T], args: tuple, kwargs: dict[str, object]) -> T:
        return fn(self._conn(), *args, **kwargs)

    async def read(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn(conn, *args, **kwargs)`` on a reader thread."""
        return await asyncio.get_running_loop().run_in_executor(self._readers, self._call, fn, args, kwargs)

    async def write(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        """Run ``fn(conn, *args, **kwargs)`` on the single writer thread (in submission order)."""
        return await asyncio.get_running_loop().run_in_executor(self._writer, self._call, fn, args, kwargs)

    def close(self) -> None:
        self._readers.shutdown(wait=True, cancel_futures=True)
        self._writer.shutdown(wait=True)
        with self._lock:
            for conn in self._connections:
                conn.close()
            self._connections.clear()
