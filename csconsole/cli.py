"""The `csconsole` command.

With no subcommand it opens the console on the default workspace (the built-in demo when
nothing is configured). Subcommands serve scripts and cron: `demo`, `sync`, and the ones
later parts add. Every failure a person can cause (a broken config, a missing account,
an unreachable helpdesk) ends in one clear line on stderr and a non-zero exit, never a
traceback. Imports stay inside the functions: `csconsole --version` must not load Textual.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence

from csconsole import __version__

EXIT_USAGE = 2
EXIT_FAILURE = 1


class CliError(Exception):
    """A problem to report in one line (exit code 2 for usage/config, 1 otherwise)."""

    def __init__(self, message: str, code: int = EXIT_FAILURE) -> None:
        super().__init__(message)
        self.code = code


def _common(parser: argparse.ArgumentParser, *, top: bool = False) -> None:
    """Options every command takes, before or after its name (a subcommand's copy must not
    reset what was given before it, hence SUPPRESS there)."""
    default = None if top else argparse.SUPPRESS
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="config file (default: the platform's config folder; env CSCONSOLE_CONFIG)")
    parser.add_argument("--data-dir", metavar="DIR", default=default,
                        help="where caches live (default: the platform's data folder; env CSCONSOLE_DATA_DIR)")
    parser.add_argument("-w", "--workspace", metavar="NAME", default=default,
                        help="workspace to use (default: from the config, else 'demo')")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csconsole",
        description="A keyboard-driven terminal console for ecommerce customer service.",
        epilog="With no command, opens the console. Run `csconsole COMMAND --help` for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"csconsole {__version__}")
    _common(parser, top=True)
    parser.add_argument("--dashboard", action="store_true", help="start on the team lead dashboard")
    parser.add_argument("--no-sync", action="store_true", help="do not sync in the background (work from the cache)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="build (or rebuild) a demo workspace, e.g. for benchmarks")
    _common(demo)
    demo.add_argument("--tickets", type=int, default=None, help="number of tickets (default 1000; up to 1,000,000)")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default 7): the same seed gives the same store")
    demo.add_argument("--open", action="store_true", help="open the console on it afterwards")
    demo.set_defaults(handler=cmd_demo)

    sync = sub.add_parser("sync", help="pull from the helpdesk and push the outbox once (or keep going)")
    _common(sync)
    sync.add_argument("--watch", action="store_true", help="keep syncing until interrupted")
    sync.add_argument("--json", action="store_true", help="print the result as JSON")
    sync.set_defaults(handler=cmd_sync)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = getattr(args, "handler", cmd_console)
    try:
        return handler(args)
    except CliError as exc:
        print(f"csconsole: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # the known failures, without a traceback
        from csconsole.config import ConfigError
        from csconsole.store.db import CacheError
        from csconsole.workspace import WorkspaceError

        if isinstance(exc, ConfigError):
            print(f"csconsole: config error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, (CacheError, WorkspaceError)):
            print(f"csconsole: {exc}", file=sys.stderr)
            return EXIT_FAILURE
        raise


def load_workspace(args: argparse.Namespace):
    from csconsole import paths
    from csconsole.logs import setup
    from csconsole.workspace import Workspace

    resolved = paths.resolve(args.config, args.data_dir)
    setup(resolved.log_file)
    return Workspace.load(resolved, args.workspace)


def cmd_console(args: argparse.Namespace) -> int:
    workspace = load_workspace(args)
    if workspace.ensure_demo():
        print(f"Built the demo workspace {workspace.name!r} ({workspace.spec.demo_tickets:,} tickets).", file=sys.stderr)
    from csconsole.app import CSConsole

    app = CSConsole(workspace, sync=not args.no_sync, start_dashboard=args.dashboard)
    app.run()
    return app.return_code or 0


def cmd_demo(args: argparse.Namespace) -> int:
    if args.tickets is not None and not 1 <= args.tickets <= 1_000_000:
        raise CliError("--tickets must be between 1 and 1,000,000", EXIT_USAGE)
    workspace = load_workspace(args)
    if not workspace.is_demo:
        raise CliError(f"workspace {workspace.name!r} is not a demo workspace", EXIT_USAGE)
    tickets = args.tickets or workspace.spec.demo_tickets

    def progress(stage: str, done: int, total: int) -> None:
        print(f"\r  {stage}: {done:,}/{total:,}   ", end="", file=sys.stderr, flush=True)

    print(f"Building demo workspace {workspace.name!r} with {tickets:,} tickets…", file=sys.stderr)
    workspace.ensure_demo(tickets, args.seed, rebuild=True, progress=progress)
    print(file=sys.stderr)
    result = run_sync(workspace, watch=False, show_progress=True)
    print(f"Done: {result['tickets']:,} tickets in {workspace.db_path}", file=sys.stderr)
    if args.open:
        from csconsole.app import CSConsole

        CSConsole(workspace).run()
    elif workspace.name != workspace.config.workspace:
        print(f"Open it with: csconsole --workspace {workspace.name}", file=sys.stderr)
    return 0


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
