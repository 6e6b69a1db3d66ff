"""Kill `csconsole sync` (SIGKILL) in the middle of a pull and of a push against a real RT.

A real subprocess talks to RT through a TCP proxy on loopback (tests/rt/proxy.py) that slows
requests down, or holds a write, or lets a write through and loses its answer. After the
kill a second `csconsole sync` runs to the end, and then RT itself is asked: every ticket
is in the cache as RT has it, every queued action reached RT, and none reached it twice.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from csconsole import clock
from csconsole.store import outbox
from csconsole.store.db import connect
from csconsole.store.outbox import Intent
from tests.rt import client
from tests.rt.client import RT
from tests.rt.proxy import Proxy

pytestmark = [pytest.mark.rt, pytest.mark.slow,
              pytest.mark.skipif(not client.reachable(), reason="no RT server answers (run tests/rt/start.sh)")]


class Sync:
    """`csconsole sync` as a real process, in a workspace whose helpdesk is RT behind a proxy."""

    def __init__(self, root: Path, proxy: Proxy, queue: str, page_size: int) -> None:
        self.queue = queue
        config = root / "config" / "config.toml"
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(
            f'workspace = "rt"\n[accounts.rt]\nadapter = "rt"\nurl = "{proxy.url}"\nuser = "{client.USER}"\n'
            f'options = {{ queues = ["{queue}"], page_size = {page_size}, timeout = 60 }}\n'
            '[workspaces.rt]\nhelpdesk = "rt"\n', encoding="utf-8")
        self.env = {**os.environ, "CSCONSOLE_CONFIG": str(config), "CSCONSOLE_DATA_DIR": str(root / "data"),
                    "CSCONSOLE_SECRET_RT": client.PASSWORD}
        self.env.pop("CSCONSOLE_FROZEN_TIME", None)
        self.db = root / "data" / "workspaces" / "rt.sqlite"

    def start(self) -> subprocess.Popen:
        return subprocess.Popen([sys.executable, "-m", "csconsole", "sync", "--json"], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def run(self) -> dict:
        done = subprocess.run([sys.executable, "-m", "csconsole", "sync", "--json"], env=self.env,
                              capture_output=True, text=True, timeout=180, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)

    def query(self, sql: str, *args) -> list[tuple]:
        """Read the cache from outside, as the killed process left it (WAL and all)."""
        if not self.db.exists():
            return []
        conn = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True, timeout=5)
        try:
            return conn.execute(sql, args).fetchall()
        except sqlite3.OperationalError:  # not created yet
            return []
        finally:
            conn.close()

    def kill_when(self, process: subprocess.Popen, ready: Callable[[], bool], timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            assert process.poll() is None, "sync ended before the moment to kill it: " + process.communicate()[1]
            assert time.monotonic() < deadline, "the moment to kill never came"
            time.sleep(0.01)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        assert process.returncode == -signal.SIGKILL


@pytest.fixture
def rt():
    server = RT()
    yield server
    server.close()


@pytest.fixture
def proxy():
    with Proxy(client.URL) as running:
        yield running


def test_killed_during_a_pull_it_resumes_where_it_stopped(rt, proxy, isolated):
    queue = rt.queue("crash-pull")
    customer = rt.customer()
    seeded = []
    for n in range(24):
        ticket = rt.ticket(queue, f"Order question {n}", requestor=customer, Priority=100 if n % 3 == 0 else 0)
        if n % 4 == 0:
            rt.update(ticket, Status="stalled")
        seeded.append(ticket)
    sync = Sync(isolated, proxy, queue, page_size=4)

    proxy.delay = 0.2  # a slow network: each page of four takes a while
    process = sync.start()
    sync.kill_when(process, lambda: bool(sync.query(
        "SELECT 1 FROM sync_cursor WHERE cursor LIKE '%listing%' AND cursor NOT LIKE '%\"after\": 0%'")))
    (cursor,), = sync.query("SELECT cursor FROM sync_cursor")
    stored = {r[0] for r in sync.query("SELECT id FROM ticket")}
    assert 0 < len(stored) < len(seeded)  # killed half-way, with the pages it finished kept
    assert max(stored) == json.loads(cursor)["after"]

    proxy.delay = 0.0
    proxy.requests.clear()
    sync.run()
    listings = [parse_qs(urlsplit(r).query) for r in proxy.requests if "/tickets?" in r]
    first_listing = next(q["query"][0] for q in listings if q.get("orderby") == ["id"])
    assert f"id > {json.loads(cursor)['after']}" in first_listing  # resumed, not started over

    remote = rt.tickets(queue)
    cached = {r[0]: r[1:] for r in sync.query("SELECT id, subject, remote_status, remote_priority FROM ticket")}
    assert cached == {n: (t["Subject"], t["Status"], str(t["Priority"])) for n, t in remote.items()}


def _synced_ticket(rt: RT, sync: Sync, subject: str) -> int:
    ticket = rt.ticket(sync.queue, subject, requestor=rt.customer())
    sync.run()
    assert sync.query("SELECT id FROM ticket") == [(ticket,)]
    return ticket


def _queue_actions(sync: Sync, ticket: int, reply: str, note: str) -> None:
    conn = connect(sync.db)
    try:
        me = client.USER
        outbox.enqueue(conn, [Intent("reply", ticket, {"body": reply})], actor=me)
        outbox.enqueue(conn, [Intent("note", ticket, {"body": note})], actor=me)
        outbox.enqueue(conn, [Intent("status", ticket, {"status": "pending"}),
                              Intent("priority", ticket, {"priority": "high"})], actor=me)
    finally:
        conn.close()


@pytest.mark.parametrize("cut", ["hold_writes", "lose_answers"])
def test_killed_during_a_push_nothing_is_lost_or_sent_twice(rt, proxy, isolated, cut):
    """hold_writes: killed while RT has not heard the reply. lose_answers: killed after RT
    applied it but before the answer came back. Either way it lands exactly once."""
    clock.freeze(None)  # the outbox's timestamps are compared with RT's clock
    queue = rt.queue("crash-push")
    sync = Sync(isolated, proxy, queue, page_size=100)
    ticket = _synced_ticket(rt, sync, "Refund for a damaged lamp")
    reply, note = f"Your refund is on its way ({uuid.uuid4().hex[:6]}).", "Refunded in the shop admin."
    _queue_actions(sync, ticket, reply, note)

    proxy.mode = cut
    process = sync.start()

    def sending() -> bool:
        rows = sync.query("SELECT state FROM outbox WHERE kind = 'reply'")
        if rows != [("sending",)] or proxy.writes_seen < 1:
            return False
        return cut == "hold_writes" or rt.messages(ticket, "Correspond") == [(client.USER, reply)]

    sync.kill_when(process, sending)
    assert rt.messages(ticket, "Correspond") == ([] if cut == "hold_writes" else [(client.USER, reply)])

    proxy.mode = "pass"
    proxy.requests.clear()
    result = sync.run()
    posted = [r for r in proxy.requests if r == f"POST /REST/2.0/ticket/{ticket}/correspond"]
    assert len(posted) == (1 if cut == "hold_writes" else 0)  # found in RT, not sent again
    assert (result["sent"], result["failed"], result["conflict"]) == (4, 0, 0)
    assert rt.messages(ticket, "Correspond") == [(client.USER, reply)]
    assert rt.messages(ticket, "Comment") == [(client.USER, note)]
    remote = rt.get(ticket)
    assert (remote["Status"], str(remote["Priority"])) == ("stalled", "100")
    assert sync.query("SELECT DISTINCT state FROM outbox") == [("sent",)]
    assert sync.query("SELECT status, priority, pending_actions FROM ticket") == [("pending", 3, 0)]
    assert sync.query("SELECT count(*) FROM message WHERE body = ?", reply) == [(1,)]
