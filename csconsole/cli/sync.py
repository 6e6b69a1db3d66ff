"""`csconsole sync`: one pull-and-push pass (or keep going), for scripts and cron."""

from __future__ import annotations

import argparse
import json
import sys

from csconsole.cli import EXIT_FAILURE, _common, load_workspace


def register(sub: argparse._SubParsersAction) -> None:
    sync = sub.add_parser("sync", help="pull from the helpdesk and push the outbox once (or keep going)")
    _common(sync)
    sync.add_argument("--watch", action="store_true", help="keep syncing until interrupted")
    sync.add_argument("--json", action="store_true", help="print the result as JSON")
    sync.set_defaults(handler=cmd_sync)


def cmd_sync(args: argparse.Namespace) -> int:
    workspace = load_workspace(args)
    workspace.ensure_demo()
    result = run_sync(workspace, watch=args.watch, show_progress=not args.json)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        line = f"synced {result['tickets']:,} tickets; outbox: {result['sent']} sent"
        for state in ("retry", "failed", "conflict"):
            if result[state]:
                line += f", {result[state]} {state}"
        if result["error"]:
            line += f"; error: {result['error']}"
        print(line)
    return 0 if not result["error"] and not result["failed"] and not result["conflict"] else EXIT_FAILURE


def run_sync(workspace, *, watch: bool, show_progress: bool) -> dict:
    """One sync pass (or until Ctrl-C with ``watch``), reporting progress on stderr."""
    import asyncio
    import time

    from csconsole.sync.engine import SyncEngine
    from csconsole.sync.status import NullListener, SyncStatus

    class Printer(NullListener):
        def __init__(self) -> None:
            self.last = 0.0
            self.status: SyncStatus | None = None

        def sync_status(self, status: SyncStatus) -> None:
            self.status = status
            if not show_progress or status.progress is None or not status.progress.done:
                return
            now = time.monotonic()
            if now - self.last < 0.25:
                return
            self.last = now
            p = status.progress
            total = f"/{p.total:,}" if p.total else ""
            print(f"\r  pulled {p.done:,}{total} tickets · {p.rate:,.0f}/s   ", end="", file=sys.stderr, flush=True)

    printer = Printer()
    engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store, printer,
                        interval=workspace.config.sync.interval)
    counts = {"tickets": 0, "sent": 0, "retry": 0, "failed": 0, "conflict": 0}
    original_pull = engine.pull_once
    original_push = engine.push_due

    async def counting_pull() -> int:
        done = await original_pull()
        counts["tickets"] += done
        return done

    async def counting_push(*, drain: bool = False):
        outcomes = await original_push(drain=drain)
        for outcome in outcomes:
            counts[outcome.state if outcome.state in counts else "retry"] += 1
        return outcomes

    engine.pull_once = counting_pull  # type: ignore[method-assign]
    engine.push_due = counting_push  # type: ignore[method-assign]
    try:
        asyncio.run(engine.run(watch=watch))
    except KeyboardInterrupt:
        pass
    if show_progress and printer.last:
        print(file=sys.stderr)
    status = printer.status
    error = status.last_error if status and status.state in ("error", "offline") else None
    return {**counts, "error": error, "workspace": workspace.name}
