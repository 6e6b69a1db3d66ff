"""The `csconsole` command.

With no subcommand it opens the console on the default workspace (the built-in demo when
nothing is configured). Subcommands serve scripts and cron: `demo`, `sync`, and the ones
later parts add. Every failure a person can cause (a broken config, a missing account,
an unreachable helpdesk) ends in one clear line on stderr and a non-zero exit, never a
traceback. Imports stay inside the functions: `csconsole --version` must not load Textual.
"""

from __future__ import annotations

import argparse
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


COMMAND_MODULES = ("demo", "sync", "macros", "accounts", "stats")
"""Subcommands, one module each in csconsole/cli/; each has register(subparsers) and keeps
its heavy imports inside its handler, so building the parser stays cheap."""


def build_parser() -> argparse.ArgumentParser:
    from importlib import import_module

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
    for name in COMMAND_MODULES:
        import_module(f"csconsole.cli.{name}").register(sub)
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
        from csconsole.adapters.base import AdapterError
        from csconsole.config import ConfigError
        from csconsole.store.db import CacheError
        from csconsole.workspace import WorkspaceError

        if isinstance(exc, ConfigError):
            print(f"csconsole: config error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, (CacheError, WorkspaceError, AdapterError)):  # e.g. an http:// URL, a missing user
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


FRAME_RATE = "120"
"""Textual paces repaints with a timer (60 per second by default): a key pressed just after
a frame waits up to 17 ms for the next one. At 120 the wait halves; our frames are cheap."""


def cmd_console(args: argparse.Namespace) -> int:
    import os

    os.environ.setdefault("TEXTUAL_FPS", FRAME_RATE)  # read when Textual is first imported
    workspace = load_workspace(args)
    if workspace.ensure_demo():
        print(f"Built the demo workspace {workspace.name!r} ({workspace.spec.demo_tickets:,} tickets).", file=sys.stderr)
    from csconsole.app import CSConsole
    from csconsole.keymap import check

    check(workspace.config)  # a bad [keys] entry stops here, with its file and line
    app = CSConsole(workspace, sync=not args.no_sync, start_dashboard=args.dashboard)
    app.run()
    return app.return_code or 0
