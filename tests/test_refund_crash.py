"""A refund whose answer is lost and whose process is killed is applied exactly once."""

import os
import signal
import subprocess
import sys
import time

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.store import outbox
from tests.test_commerce import ME, delivered, first_line, refund_intent  # noqa: F401  (fixture)


def test_refund_killed_after_the_store_applied_it(workspace, delivered, cache):  # noqa: F811
    line = first_line(cache, delivered["order"])
    [row_id] = outbox.enqueue(cache, [refund_intent(cache, delivered["order"], delivered["ticket"], {line: 1})], actor=ME)
    key = cache.execute("SELECT idempotency_key FROM outbox WHERE id = ?", (row_id,)).fetchone()[0]
    backend = DemoBackend(workspace.demo_backend)
    backend.inject("store", "hang_after_apply")
    sync = subprocess.Popen([sys.executable, "-m", "csconsole", "sync"], env=dict(os.environ),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while backend.refund_by_key(key) is None:
        assert sync.poll() is None, sync.communicate()
        assert time.monotonic() < deadline, "the refund never reached the store"
        time.sleep(0.05)
    sync.send_signal(signal.SIGKILL)  # the store has applied it; its answer never arrived
    sync.wait()
    assert cache.execute("SELECT state, attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()[:] == ("sending", 1)
    again = subprocess.run([sys.executable, "-m", "csconsole", "sync", "--json"], env=dict(os.environ),
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    row = cache.execute("SELECT state, attempts FROM outbox WHERE id = ?", (row_id,)).fetchone()
    assert row[:] == ("sent", 1)  # found by its key, not sent a second time
    refunds = backend.conn.execute("SELECT count(*) FROM refund WHERE order_id = ?", (int(delivered["remote"]),)).fetchone()
    assert refunds[0] == 1
    results = [r[0] for r in cache.execute("SELECT result FROM audit WHERE outbox_id = ? ORDER BY id", (row_id,))]
    assert results == ["queued", "done"]
