"""Opening a workspace cache: WAL mode, pragmas, migrations, transactions.

Connections are plain ``sqlite3`` connections in autocommit mode; writes go through
``transaction()`` so that a row and everything that depends on it (a pull page and its
cursor, an outbox row and its local effect) commit together or not at all.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from csconsole.store.migrations import LATEST, STEPS


class CacheError(Exception):
    """The cache file cannot be used; the message says why and what to do."""


_SETUP = threading.Lock()
"""Serialises the pragmas and migrations of connections opened at the same moment. On a new
file, two threads switching it to WAL together can deadlock on SQLite's locks, and SQLite
answers "database is locked" at once instead of waiting out the busy timeout."""


def connect(path: Path, *, readonly: bool = False, shared: bool = False) -> sqlite3.Connection:
    """Open (and if needed create and migrate) the cache at ``path``.

    ``shared`` lets another thread close the connection once its owner thread is done.
    """
    if not readonly:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        if readonly:
            conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None,
                                   check_same_thread=not shared)
        else:
            conn = sqlite3.connect(path, isolation_level=None, timeout=10.0, check_same_thread=not shared)
    except sqlite3.Error as exc:
        raise CacheError(f"cannot open the cache {path}: {exc}") from None
    conn.row_factory = sqlite3.Row
    with _SETUP:
        return _set_up(conn, path, readonly)


def _set_up(conn: sqlite3.Connection, path: Path, readonly: bool) -> sqlite3.Connection:
    try:
        conn.execute("PRAGMA busy_timeout = 10000")
        if not readonly:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise CacheError(f"{path}: SQLite refused WAL mode (got {mode})")
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA temp_store = MEMORY")
        if not readonly:
            migrate(conn, path)
        else:
            check_version(conn, path)
    except sqlite3.DatabaseError as exc:
        conn.close()
        raise CacheError(f"{path} is not a usable csconsole cache ({exc}); move it aside and sync again") from None
    except CacheError:
        conn.close()
        raise
    return conn


def version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def check_version(conn: sqlite3.Connection, path: Path) -> None:
    found = version(conn)
    if found > LATEST:
        raise CacheError(f"{path} was written by a newer csconsole (schema {found}, this one knows {LATEST}); upgrade csconsole")
    if found < LATEST:
        raise CacheError(f"{path} needs migrating (schema {found} < {LATEST}); open it once for writing")


def migrate(conn: sqlite3.Connection, path: Path | str = "cache", *, target: int = LATEST) -> int:
    """Bring the file up to ``target``; each step commits with its version number."""
    current = version(conn)
    if current > LATEST:
        raise CacheError(f"{path} was written by a newer csconsole (schema {current}, this one knows {LATEST}); upgrade csconsole")
    while current < target:
        conn.execute("BEGIN IMMEDIATE")
        try:
            current = version(conn)  # another process may have migrated meanwhile
            if current >= target:
                conn.execute("COMMIT")
                break
            for statement in _statements(STEPS[current]):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {current + 1}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        current += 1
    return current


def _statements(script: str) -> Iterator[str]:
    """Split a migration into statements (executescript would commit on its own)."""
    buffer = ""
    for line in script.splitlines(keepends=True):
        buffer += line
        if sqlite3.complete_statement(buffer):
            statement = buffer.strip()
            if statement:
                yield statement
            buffer = ""
    if buffer.strip():
        raise CacheError(f"incomplete statement in a migration: {buffer.strip()[:60]}")


@contextmanager
def transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error (including KeyboardInterrupt)."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    else:
        conn.execute("COMMIT")


def get_meta(conn: sqlite3.Connection, key: str, default: str | None = None) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return row[0] if row else default


def set_meta(conn: sqlite3.Connection, key: str, value: str | None) -> None:
    conn.execute("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                 (key, value))
