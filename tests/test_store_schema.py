"""The cache file: migrations, the models they must match, WAL, versions."""

import sqlite3

import pytest

from csconsole.store import db, migrations


def test_new_file_is_wal_and_latest(tmp_path):
    conn = db.connect(tmp_path / "c.sqlite")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.version(conn) == migrations.LATEST
    conn.close()


def test_threads_opening_a_new_file_together_all_get_a_cache(tmp_path):
    """The app's reader and writer threads and the sync engine open a first-run cache at
    once; unserialised, two of them switching it to WAL deadlock and one fails at once."""
    from concurrent.futures import ThreadPoolExecutor

    for attempt in range(20):
        path = tmp_path / f"c{attempt}.sqlite"
        with ThreadPoolExecutor(max_workers=4) as pool:
            conns = list(pool.map(lambda _: db.connect(path, shared=True), range(4)))
        assert {db.version(c) for c in conns} == {migrations.LATEST}
        for conn in conns:
            conn.close()


def test_migrations_match_the_models(tmp_path):
    """Every SQLModel table exists with exactly the model's columns (and vice versa)."""
    from sqlmodel import SQLModel

    import csconsole.store.models  # noqa: F401  (registers the tables)

    conn = db.connect(tmp_path / "c.sqlite")
    for table in SQLModel.metadata.sorted_tables:
        columns = {row[1] for row in conn.execute(f"PRAGMA table_xinfo({table.name})")}
        assert columns == {c.name for c in table.columns}, table.name
    real_tables = {r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'ticket_fts%' AND name NOT LIKE 'sqlite_%'")}
    assert real_tables == set(SQLModel.metadata.tables)


def test_orm_reads_what_sqlite_wrote(cache):
    """The SQLModel view works on the same file (used off the hot path)."""
    from sqlmodel import Session, create_engine, select

    from csconsole.store.models import Ticket

    path = cache.execute("PRAGMA database_list").fetchone()[2]
    engine = create_engine(f"sqlite:///{path}")
    with Session(engine) as session:
        first = session.exec(select(Ticket).order_by(Ticket.id).limit(1)).one()
        assert first.id == 40001 and first.unsolved in (0, 1)
    engine.dispose()


def test_migrate_steps_from_zero_and_is_idempotent(tmp_path):
    raw = sqlite3.connect(tmp_path / "c.sqlite", isolation_level=None)
    assert db.migrate(raw, target=0) == 0
    assert db.migrate(raw) == migrations.LATEST
    assert db.migrate(raw) == migrations.LATEST
    raw.close()


def test_newer_cache_is_refused(tmp_path):
    path = tmp_path / "c.sqlite"
    db.connect(path).close()
    raw = sqlite3.connect(path)
    raw.execute(f"PRAGMA user_version = {migrations.LATEST + 1}")
    raw.close()
    with pytest.raises(db.CacheError, match="newer csconsole"):
        db.connect(path)


def test_garbage_file_is_refused_clearly(tmp_path):
    path = tmp_path / "c.sqlite"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(db.CacheError, match="not a usable csconsole cache"):
        db.connect(path)


def test_failed_transaction_leaves_nothing(cache):
    with pytest.raises(RuntimeError):
        with db.transaction(cache):
            cache.execute("UPDATE ticket SET subject = 'changed' WHERE id = 40001")
            raise RuntimeError("boom")
    assert cache.execute("SELECT subject FROM ticket WHERE id = 40001").fetchone()[0] != "changed"
