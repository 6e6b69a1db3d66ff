"""Initial sync and outbox push against a Zendesk-shaped server on loopback.

    .venv/bin/python bench/sync_zendesk.py [--tickets 100000] [--actions 2000]

A child process serves the fake Zendesk (tests/fakes/zendesk.py) with the given number of
tickets as cursor-based incremental export pages of 100, with sideloaded users, built
before the clock starts (so the server does not compete with the console for the
interpreter, and little for the cores). Then, in this process:

1. adapter only: the pages read and mapped to records, nothing stored (the ceiling);
2. initial sync: ``SyncEngine.pull_once`` into an empty workspace cache, end to end
   (HTTP, JSON, mapping, ingest, cursor commits, the deferred FTS rebuild);
3. outbox push: one action per ticket (notes and status changes) queued, then pushed with
   ``push_due(drain=True)``: mark sending, PUT with safe_update, mark sent.

The aim for (2) is at least 5,000 tickets/s for 100,000 tickets.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TOKEN = "bench-token"
ADMIN = "ada@acme.example"


def serve(tickets: int) -> None:
    """The child: seed the fake, build its export pages, serve until our parent closes stdin."""
    import json

    from tests.fakes.server import Reply, Request
    from tests.fakes.zendesk import FakeZendesk

    class PagedZendesk(FakeZendesk):
        """The fake with its export pages kept as encoded bytes until a ticket changes, so the
        server takes little of the two cores the console is measured on."""

        def __init__(self, **kwargs) -> None:
            self.pages: dict[tuple, Reply] = {}
            super().__init__(**kwargs)

        def _export(self, request: Request, uid: int) -> Reply:
            key = tuple(sorted((k, v[0]) for k, v in request.query.items()))
            reply = self.pages.get(key)
            if reply is None:
                reply = super()._export(request, uid)
                if reply.status != 200:
                    return reply
                reply = self.pages[key] = Reply(200, raw=json.dumps(reply.body).encode())
            return Reply(200, raw=reply.raw)

        def _changed(self, tid: int, at: int | None = None) -> None:
            self.pages = {}
            super()._changed(tid, at)

    fake = PagedZendesk(now=1_700_000_000, rate_limit=10**9)  # measure the console, not Zendesk's budget
    fake.add_user("Ada Admin", ADMIN, "admin", token=TOKEN)
    agents = [fake.add_user(f"Agent {n}", f"agent{n}@acme.example", "agent") for n in range(20)]
    customers = [fake.add_user(f"Customer {n}", f"customer{n}@example.com") for n in range(5000)]
    statuses = ("new", "open", "open", "pending", "hold", "solved", "closed")
    priorities = ("low", "normal", "normal", "high", "urgent", None)
    for n in range(tickets):
        fake.add_ticket(f"Where is my order #{100000 + n}? It was due last week", customers[n % len(customers)],
                        body=f"Hello, I ordered on the 3rd and order #{100000 + n} has not arrived. Can you check?",
                        assignee=agents[n % 20] if n % 3 else None, status=statuses[n % 7],
                        priority=priorities[n % 6], tags=["wismo", f"region-{n % 5}"])
    query = {"include": ["users"], "per_page": ["100"], "start_time": ["0"]}
    while True:  # the pages a first sync asks for, built before the clock starts
        page = json.loads(fake._export(Request("GET", "", query, {}, b""), 0).raw)
        if page["end_of_stream"]:
            break
        query = {"include": ["users"], "per_page": ["100"], "cursor": [page["after_cursor"]]}
    with fake:
        print(fake.server.url, flush=True)
        sys.stdin.read()


def workspace(url: str, root: Path):
    from csconsole import paths
    from csconsole.workspace import Workspace

    config = root / "config.toml"
    config.write_text(textwrap.dedent(f"""\
        workspace = "bench"
        [accounts.zd]
        adapter = "zendesk"
        url = "{url}"
        user = "{ADMIN}"
        [accounts.zd.options]
        page_size = 100
        [workspaces.bench]
        helpdesk = "zd"
        """))
    os.environ["CSCONSOLE_SECRET_ZD"] = TOKEN
    return Workspace.load(paths.resolve(config, root / "data"))


async def adapter_only(ws) -> tuple[int, float]:
    adapter = ws.make_helpdesk()
    started = time.perf_counter()
    count = 0
    try:
        async for page in adapter.changed_tickets(None):
            count += len(page.tickets)
    finally:
        await adapter.aclose()
    return count, time.perf_counter() - started


async def initial_sync(ws) -> tuple[int, float]:
    from csconsole.sync.engine import SyncEngine

    engine = SyncEngine(ws.open_cache, ws.make_helpdesk)
    await engine.open()
    try:
        await engine.identify()
        started, cpu = time.perf_counter(), time.process_time()
        count = await engine.pull_once()
        return count, time.perf_counter() - started, time.process_time() - cpu
    finally:
        await engine.close()


async def push(ws, actions: int) -> tuple[int, float]:
    from csconsole.store import outbox
    from csconsole.store.outbox import Intent
    from csconsole.sync.engine import SyncEngine

    cache = ws.open_cache()
    ids = [r[0] for r in cache.execute("SELECT id FROM ticket WHERE status IN ('open', 'pending', 'new')"
                                       " ORDER BY id LIMIT ?", (actions,))]
    intents = [Intent("note", tid, {"body": f"Checked the carrier for #{tid}."}) if n % 2 else
               Intent("status", tid, {"status": "pending"}) for n, tid in enumerate(ids)]
    for start in range(0, len(intents), 500):
        outbox.enqueue(cache, intents[start:start + 500], actor=ADMIN)
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
        raise SystemExit(f"only {sent} of {len(intents)} actions were sent")
    return sent, elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--actions", type=int, default=2_000)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        serve(args.serve)
        return
    print(f"seeding a loopback Zendesk with {args.tickets:,} tickets…", file=sys.stderr)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} (other work slows every figure)")
    child = subprocess.Popen([sys.executable, __file__, "--serve", str(args.tickets)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        url = child.stdout.readline().strip()
        if not url:
            raise SystemExit("the fake Zendesk did not start")
        with tempfile.TemporaryDirectory(prefix="csconsole-bench-") as tmp:
            ws = workspace(url, Path(tmp))
            count, seconds = asyncio.run(adapter_only(ws))
            print(f"adapter only (HTTP + JSON + mapping): {count:,} tickets in {seconds:.1f} s = {count / seconds:,.0f} tickets/s")
            count, seconds, cpu = asyncio.run(initial_sync(ws))
            print(f"initial sync into the cache (end to end): {count:,} tickets in {seconds:.1f} s"
                  f" = {count / seconds:,.0f} tickets/s (aim: 5,000); console CPU {cpu:.1f} s"
                  f" = {count / cpu:,.0f} tickets per CPU second")
            sent, seconds = asyncio.run(push(ws, args.actions))
            print(f"outbox push (notes and status changes): {sent:,} actions in {seconds:.1f} s = {sent / seconds:,.0f} actions/s")
    finally:
        child.stdin.close()
        child.wait(timeout=30)


if __name__ == "__main__":
    main()
