"""Initial sync and outbox push against the real Request Tracker 5 (tests/rt/start.sh).

    .venv/bin/python bench/sync_rt.py [--tickets 1000] [--actions 30] [--measured-offset]

The queue ``csconsole-bench`` is seeded once with ``--tickets`` tickets (through
``POST /tickets/bulk``, about 0.2 s a ticket: three minutes for a thousand) and kept for
later runs. Then, in this process, against RT on loopback (CSCONSOLE_RT_URL, default
http://127.0.0.1:8089):

1. adapter only: the pages read and mapped to records, nothing stored;
2. initial sync: ``SyncEngine.pull_once`` into an empty workspace cache, end to end;
3. incremental pull with nothing changed: what every poll costs once synced;
4. outbox push: ``--actions`` each of replies, internal notes and field changes (status
   and priority), queued then pushed with ``push_due(drain=True)``;
5. incremental pull of the tickets those pushes changed.

The account names the server's timezone (UTC, as start.sh sets it); ``--measured-offset``
leaves it out, so the adapter measures RT's offset and overlaps each pull by an hour.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.rt import client  # the repository's RT test client

QUEUE = "csconsole-bench"


def seed(rt, tickets: int) -> int:
    """Make sure the bench queue holds ``tickets`` tickets; returns how many it has."""
    if rt.http.get(f"/queue/{QUEUE}").status_code == 404:
        rt.http.post("/queue", json={"Name": QUEUE}).raise_for_status()
    have = rt.http.get("/tickets", params={"query": f"Queue = '{QUEUE}'", "per_page": 1}).json()["total"] or 0
    if have >= tickets:
        return have
    print(f"seeding {tickets - have:,} tickets into {QUEUE} (once; about 0.2 s each)…", file=sys.stderr)
    statuses = ("new", "open", "open", "resolved")
    batch = []
    for n in range(have, tickets):
        batch.append({"Queue": QUEUE, "Subject": f"Where is my order #{100000 + n}?", "Status": statuses[n % 4],
                      "Requestor": f"customer{n % 200}@customers.example", "Priority": (0, 50, 100, 150)[n % 4],
                      "Content": f"Hello, order #{100000 + n} has not arrived. Can you check?",
                      "ContentType": "text/plain"})
        if len(batch) == 50 or n == tickets - 1:
            rt.http.post("/tickets/bulk", json=batch, timeout=120).raise_for_status()
            batch = []
            print(f"\r  {n + 1:,}/{tickets:,}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return tickets


def workspace(root: Path, measured: bool):
    from csconsole import paths
    from csconsole.workspace import Workspace

    zone = "" if measured else ', timezone = "UTC"'
    config = root / "config.toml"
    config.write_text(textwrap.dedent(f"""\
        workspace = "bench"
        [accounts.rt]
        adapter = "rt"
        url = "{client.URL}"
        user = "{client.USER}"
        options = {{ queues = ["{QUEUE}"]{zone} }}
        [workspaces.bench]
        helpdesk = "rt"
        """))
    os.environ["CSCONSOLE_SECRET_RT"] = client.PASSWORD
    return Workspace.load(paths.resolve(config, root / "data"))


async def adapter_only(ws) -> tuple[int, float]:
    adapter = ws.make_helpdesk()
    try:
        await adapter.verify()
        started = time.perf_counter()
        count = 0
        async for page in adapter.changed_tickets(None):
            count += len(page.tickets)
        return count, time.perf_counter() - started
    finally:
        await adapter.aclose()


async def pull(ws) -> tuple[int, float]:
    from csconsole.sync.engine import SyncEngine

    engine = SyncEngine(ws.open_cache, ws.make_helpdesk)
    await engine.open()
    try:
        await engine.identify()
        started = time.perf_counter()
        count = await engine.pull_once()
        return count, time.perf_counter() - started
    finally:
        await engine.close()


async def push(ws, intents) -> tuple[int, float]:
    from csconsole.store import outbox
    from csconsole.sync.engine import SyncEngine

    cache = ws.open_cache()
    outbox.enqueue(cache, intents, actor=client.USER)
    cache.close()
    engine = SyncEngine(ws.open_cache, ws.make_helpdesk)
    await engine.open()
    try:
        await engine.identify()
        started = time.perf_counter()
        outcomes = await engine.push_due(drain=True)
        elapsed = time.perf_counter() - started
    finally:
        await engine.close()
    sent = sum(o.state == "sent" for o in outcomes)
    if sent != len(intents):
        raise SystemExit(f"only {sent} of {len(intents)} actions were sent: {[o.message for o in outcomes][:3]}")
    return sent, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=1000)
    parser.add_argument("--actions", type=int, default=30, help="of each kind (replies, notes, field changes)")
    parser.add_argument("--measured-offset", action="store_true", help="leave the timezone out of the account")
    args = parser.parse_args()
    from csconsole.store.outbox import Intent

    if not client.reachable():
        raise SystemExit(f"no RT answers at {client.URL}: run tests/rt/start.sh first")
    rt = client.RT()
    try:
        total = seed(rt, args.tickets)
    finally:
        rt.close()
    with tempfile.TemporaryDirectory(prefix="csconsole-bench-rt-") as tmp:
        ws = workspace(Path(tmp), args.measured_offset)
        count, seconds = asyncio.run(adapter_only(ws))
        print(f"adapter only (HTTP + JSON + mapping): {count:,} tickets in {seconds:.2f} s"
              f" = {count / seconds:,.0f} tickets/s")
        count, seconds = asyncio.run(pull(ws))
        print(f"initial sync into the cache (end to end): {count:,} of {total:,} tickets in {seconds:.2f} s"
              f" = {count / seconds:,.0f} tickets/s")
        count, seconds = asyncio.run(pull(ws))
        print(f"incremental pull, nothing changed: {count:,} tickets in {seconds:.2f} s")

        cache = ws.open_cache()
        ids = [r[0] for r in cache.execute("SELECT id FROM ticket WHERE status IN ('new', 'open') ORDER BY id DESC"
                                           " LIMIT ?", (args.actions,))]
        cache.close()
        runs = {
            "replies": [Intent("reply", tid, {"body": f"Order #{tid}: the carrier has it, tracking follows."})
                        for tid in ids],
            "internal notes": [Intent("note", tid, {"body": f"Checked the carrier for #{tid}."}) for tid in ids],
            "field changes": [Intent("priority" if n % 2 else "status", tid,
                                     {"priority": "high"} if n % 2 else {"status": "pending"})
                              for n, tid in enumerate(ids)],
        }
        for name, intents in runs.items():
            sent, seconds = asyncio.run(push(ws, intents))
            print(f"outbox push, {name}: {sent:,} actions in {seconds:.2f} s = {sent / seconds:,.1f} actions/s")
        count, seconds = asyncio.run(pull(ws))
        print(f"incremental pull of what the pushes changed: {count:,} tickets in {seconds:.2f} s"
              f" = {count / seconds:,.0f} tickets/s")


if __name__ == "__main__":
    main()
