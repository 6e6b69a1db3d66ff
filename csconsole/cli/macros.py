"""`csconsole macros list|show|validate|apply`: macros from a shell script or a cron job.

``apply`` queues the macro's actions in the workspace cache's outbox, all at once or not
at all; `csconsole sync` (or the running console) sends them. ``--dry-run`` prints exactly
what would be queued and writes nothing. ``validate`` prints ``file:line:column: message``
per problem and exits 1 if there is any, so it works as a pre-commit hook.

Exit codes: 0 done; 1 the macro is broken or cannot be applied to a ticket (nothing was
queued); 2 usage (no such macro or ticket, bad config).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from csconsole.cli import EXIT_FAILURE, EXIT_USAGE, CliError, _common, load_workspace


def register(sub: argparse._SubParsersAction) -> None:
    macros = sub.add_parser("macros", help="list, check and apply macros (canned replies and actions), the helpdesk's"
                                           " own included")
    _common(macros)
    verbs = macros.add_subparsers(dest="verb", metavar="VERB", required=True)

    listing = verbs.add_parser("list", help="the macros this workspace offers, and any broken files")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=cmd_list)

    show = verbs.add_parser("show", help="one macro: its text, condition and actions")
    _common(show)
    show.add_argument("name", help="file name (e.g. wismo-shipped) or display name")
    show.add_argument("--json", action="store_true", help="print JSON")
    show.set_defaults(handler=cmd_show)

    validate = verbs.add_parser("validate", help="check macro files; file:line:column per problem, exit 1 if any")
    _common(validate)
    validate.add_argument("paths", nargs="*", type=Path, metavar="PATH",
                          help="files or folders (default: the shipped macros and your own)")
    validate.add_argument("--json", action="store_true", help="print JSON")
    validate.set_defaults(handler=cmd_validate)

    apply = verbs.add_parser("apply", help="queue a macro on one or more tickets (all or nothing)")
    _common(apply)
    apply.add_argument("name", help="file name (e.g. wismo-shipped) or display name")
    apply.add_argument("--ticket", type=int, action="append", required=True, metavar="ID",
                       help="ticket id (repeat for several: each is rendered with its own values)")
    apply.add_argument("--dry-run", action="store_true", help="print exactly what would be sent; write nothing")
    apply.add_argument("--json", action="store_true", help="print JSON")
    apply.set_defaults(handler=cmd_apply)


def _library(args: argparse.Namespace):
    from csconsole.macros import library

    workspace = load_workspace(args)
    return workspace, library.for_workspace(workspace)


def _held(workspace):
    """The helpdesk's own macros as the last sync listed them (none before a first sync)."""
    from csconsole.macros.remote import Held, macros

    if not workspace.db_path.exists():
        return Held()
    conn = workspace.open_cache()
    try:
        return macros(conn, workspace.helpdesk_spec().name)
    finally:
        conn.close()


def _origin(macro) -> str:
    if macro.held_by is not None:
        return "helpdesk"
    return "yours" if macro.user else "shipped"


def _out(data: Any) -> None:
    print(json.dumps(data, indent=2, ensure_ascii=False))


def _macro_dict(macro) -> dict[str, Any]:
    from dataclasses import asdict

    from csconsole.adapters.base import PRIORITIES

    a = macro.actions
    return {"slug": macro.slug, "name": macro.name, "description": macro.description, "key": macro.key,
            "when": macro.when, "file": str(macro.path), "user": macro.user, "origin": _origin(macro),
            "needs_store": macro.needs_store, "helpdesk_macro": macro.remote_id,
            "reply": macro.reply, "note": macro.note,
            "actions": {"status": a.status, "priority": PRIORITIES.get(a.priority) if a.priority else None, "assignee": a.assignee, "add_tags": list(a.add_tags),
                        "remove_tags": list(a.remove_tags), "fields": dict(a.fields)},
            "commerce": [asdict(step) for step in macro.store_steps]}


def cmd_list(args: argparse.Namespace) -> int:
    workspace, library = _library(args)
    held = _held(workspace)
    has_store = bool(workspace.spec.store)
    offered = library.offered(has_store) + held.macros
    everything = library.macros + held.macros
    problems = library.problems + held.problems
    if args.json:
        _out({"macros": [{**_macro_dict(m), "offered": m in offered} for m in everything],
              "problems": [p.as_dict() for p in problems]})
        return 0
    for macro in offered:
        print(f"{macro.key or ' '}  {macro.name:<46} {macro.slug:<28} {_origin(macro)}")
    hidden = len(everything) - len(offered)
    if hidden:
        print(f"({hidden} macro{'s' if hidden != 1 else ''} with store steps hidden: this workspace has no store)")
    if problems:
        print(f"\n{len(problems)} problem{'s' if len(problems) != 1 else ''}:", file=sys.stderr)
        for problem in problems:
            print(f"  {problem}", file=sys.stderr)
    return 0


def _find(workspace, library, name: str):
    from csconsole.macros.library import find_in

    macro = library.find(name) or find_in(_held(workspace).macros, name)
    if macro is not None:
        return macro
    broken = [p for p in library.problems if p.path.stem == name.removesuffix(".toml")]
    if broken:
        raise CliError(f"macro {name!r} is broken and cannot be used:\n" + "\n".join(f"  {p}" for p in broken),
                       EXIT_FAILURE)
    raise CliError(f"no macro named {name!r} (see `csconsole macros list`)", EXIT_USAGE)


def cmd_show(args: argparse.Namespace) -> int:
    workspace, library = _library(args)
    macro = _find(workspace, library, args.name)
    if args.json:
        _out(_macro_dict(macro))
        return 0
    print(f"{macro.name}  ({macro.path})")
    if macro.description:
        print(macro.description)
    print(f"quick key: {macro.key or 'none'}")
    print(f"when: {macro.when or 'always'}")
    for kind in ("reply", "note"):
        body = getattr(macro, kind)
        if body is not None:
            print(f"\n── {kind} ──\n{body.strip()}")
    if macro.remote_id is not None:
        from csconsole.macros.remote import describe_actions

        print("\n── applied by the helpdesk ──")
        for line in describe_actions(macro.remote_actions):
            print(f"• {line}")
    data = _macro_dict(macro)
    actions = {k: v for k, v in data["actions"].items() if v not in (None, [], {})}
    if actions or macro.store_steps:
        print("\n── actions ──")
        for key, value in actions.items():
            print(f"• {key}: {value}")
        for step in data["commerce"]:
            print("• " + ", ".join(f"{k}={v}" for k, v in step.items() if v not in ("", None)))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from csconsole.macros import library as lib

    if args.paths:
        macros, problems = lib.load_files([(path, True) for path in lib.expand(args.paths)])
    else:
        _, library = _library(args)
        macros, problems = library.macros, library.problems
    if args.json:
        _out({"ok": not problems, "macros": len(macros), "problems": [p.as_dict() for p in problems]})
    else:
        for problem in problems:
            print(problem)
        files = len({p.path for p in problems})
        summary = (f"{len(problems)} problem{'s' if len(problems) != 1 else ''} in {files} file{'s' if files != 1 else ''}"
                   if problems else f"{len(macros)} macro{'s' if len(macros) != 1 else ''} OK")
        print(summary, file=sys.stderr)
    return EXIT_FAILURE if problems else 0


def cmd_apply(args: argparse.Namespace) -> int:
    from csconsole.macros import plan as planning
    from csconsole.macros.context import Settings
    from csconsole.store import outbox

    workspace, library = _library(args)
    macro = _find(workspace, library, args.name)
    settings = Settings.for_workspace(workspace)
    if macro.needs_store and not settings.has_store:
        raise CliError(f"{macro.slug} has store steps, and workspace {workspace.name!r} has no store", EXIT_USAGE)
    if not workspace.db_path.exists():
        raise CliError(f"workspace {workspace.name!r} has no cache yet: run `csconsole sync` first", EXIT_USAGE)
    ticket_ids = list(dict.fromkeys(args.ticket))
    conn = workspace.open_cache()
    try:
        unknown = [t for t in ticket_ids if conn.execute("SELECT 1 FROM ticket WHERE id = ?", (t,)).fetchone() is None]
        if unknown:
            raise CliError(f"no ticket {', '.join(f'#{t}' for t in unknown)} in the cache of {workspace.name!r}",
                           EXIT_USAGE)
        if settings.has_store:
            _load_orders(workspace, conn, ticket_ids)
        plans, errors = planning.plan_many(conn, macro, ticket_ids, settings)
        if errors:
            return _refuse(args, macro, errors)
        if args.dry_run:
            if args.json:
                _out({"macro": macro.slug, "dry_run": True, "tickets": [p.as_dict() for p in plans]})
            else:
                print("\n".join(planning.describe(p) for p in plans), end="")
            return 0
        try:
            ids = planning.apply(conn, plans, policy=settings.policy)
        except outbox.ActionError as exc:
            return _refuse(args, macro, [planning.PlanError(ticket_ids[0], f"nothing was queued: {exc}")])
    finally:
        conn.close()
    if args.json:
        _out({"macro": macro.slug, "dry_run": False, "queued": ids, "tickets": [p.as_dict() for p in plans]})
    else:
        for p in plans:
            done = ", ".join(s.summary for s in p.steps) or "nothing to change"
            print(f"#{p.ticket_id}: {done}")
        print(f"Queued {len(ids)} action{'s' if len(ids) != 1 else ''}; `csconsole sync` sends them.", file=sys.stderr)
    return 0


def _refuse(args: argparse.Namespace, macro, errors) -> int:
    if args.json:
        _out({"macro": macro.slug, "errors": [{"ticket": e.ticket_id, "message": e.message} for e in errors]})
    for error in errors:
        print(f"csconsole: {macro.slug}: {error}", file=sys.stderr)
    return EXIT_FAILURE


def _load_orders(workspace, conn, ticket_ids: list[int]) -> None:
    """Fetch the orders of requesters the cache has never asked the store about, so the
    macro sees the right order; on failure, say so and go on with what the cache has."""
    import asyncio

    marks = ",".join("?" * len(ticket_ids))
    todo = [r[0] for r in conn.execute(
        f"SELECT t.id FROM ticket t JOIN person p ON p.id = t.requester_id WHERE t.id IN ({marks})"
        " AND p.orders_synced_at IS NULL", ticket_ids)]
    if not todo:
        return
    from csconsole.sync.engine import SyncEngine
    from csconsole.sync.status import NullListener

    class Errors(NullListener):
        def __init__(self) -> None:
            self.seen: list[str] = []

        def orders_loaded(self, ticket_id: int, error: str | None) -> None:
            if error:
                self.seen.append(f"#{ticket_id}: {error}")

    listener = Errors()

    async def fetch() -> None:
        engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store, listener)
        await engine.open()
        try:
            for ticket_id in todo:
                await engine.fetch_orders(ticket_id)
        finally:
            await engine.close()

    try:
        asyncio.run(fetch())
    except Exception as exc:  # no token, no network: the cache is still worth using
        listener.seen.append(str(exc))
    for line in listener.seen:
        print(f"csconsole: could not load orders ({line}); using the cache", file=sys.stderr)
