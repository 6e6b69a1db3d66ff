"""`csconsole demo`: build (or rebuild) a demo workspace, up to a million tickets."""

from __future__ import annotations

import argparse
import sys

from csconsole.cli import EXIT_USAGE, CliError, _common, load_workspace


def register(sub: argparse._SubParsersAction) -> None:
    demo = sub.add_parser("demo", help="build (or rebuild) a demo workspace, e.g. for benchmarks")
    _common(demo)
    demo.add_argument("--tickets", type=int, default=None, help="number of tickets (default 1000; up to 1,000,000)")
    demo.add_argument("--seed", type=int, default=None, help="random seed (default 7): the same seed gives the same store")
    demo.add_argument("--open", action="store_true", help="open the console on it afterwards")
    demo.set_defaults(handler=cmd_demo)


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
    from csconsole.cli.sync import run_sync

    result = run_sync(workspace, watch=False, show_progress=True)
    print(f"Done: {result['tickets']:,} tickets in {workspace.db_path}", file=sys.stderr)
    if args.open:
        from csconsole.app import CSConsole

        CSConsole(workspace).run()
    elif workspace.name != workspace.config.workspace:
        print(f"Open it with: csconsole --workspace {workspace.name}", file=sys.stderr)
    return 0
