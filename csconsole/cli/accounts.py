"""`csconsole accounts add|list|verify|remove`: the helpdesk and store logins.

An account is an ``[accounts.NAME]`` table in the config file (adapter, url, user, options);
its token goes to the system keyring (secrets.py), never into the file. Where no keyring
backend exists (a headless box) the account is still written and we say plainly to set
``CSCONSOLE_SECRET_<NAME>`` instead. The file is edited with tomlkit, so a person's comments
and layout survive, and every edit is read back with the real config reader before it
atomically replaces the file: a command never leaves a config that csconsole cannot load.
Credentials only travel over HTTPS, except to loopback (test servers, a local RT).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from csconsole.cli import EXIT_FAILURE, EXIT_USAGE, CliError, _common

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def register(sub: argparse._SubParsersAction) -> None:
    accounts = sub.add_parser("accounts", help="add, list, verify or remove helpdesk and store accounts")
    _common(accounts)
    actions = accounts.add_subparsers(dest="accounts_command", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add an account; its token goes to the system keyring",
                             description="Add an account to the config file and keep its token in the system keyring."
                                         " With --workspace W, workspace W uses the account (W is created if missing).")
    _common(add)
    add.add_argument("name", help="a short name for the account, e.g. 'zendesk' or 'shop'")
    add.add_argument("--adapter", required=True, help="which backend: zendesk, freshdesk, rt, shopify, ...")
    add.add_argument("--url", help="the helpdesk or store address (https://, or http:// on loopback only)")
    add.add_argument("--user", help="who signs in, e.g. the agent's email address")
    add.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                     help="an adapter option (repeatable), e.g. --option view=360001234")
    add.add_argument("--secret-stdin", action="store_true", help="read the token from stdin instead of prompting")
    add.set_defaults(handler=cmd_add)

    listing = actions.add_parser("list", help="show the accounts and where each token is found (never the token)")
    _common(listing)
    listing.add_argument("--json", action="store_true", help="print the accounts as JSON")
    listing.set_defaults(handler=cmd_list)

    verify = actions.add_parser("verify", help="sign in with an account and say who it is and how it will sync")
    _common(verify)
    verify.add_argument("name")
    verify.add_argument("--json", action="store_true", help="print the identity as JSON")
    verify.set_defaults(handler=cmd_verify)

    remove = actions.add_parser("remove", help="remove an account and its keyring entry")
    _common(remove)
    remove.add_argument("name")
    remove.set_defaults(handler=cmd_remove)


# ----------------------------------------------------------------------------- add


def cmd_add(args: argparse.Namespace) -> int:
    from csconsole import secrets
    from csconsole.adapters.base import HelpdeskAdapter

    name = args.name
    if not NAME.match(name) or name == "demo":
        raise CliError(f"{name!r} cannot name an account: use letters, digits, '-' and '_' (and not 'demo')", EXIT_USAGE)
    cls = _adapter_class(args.adapter)
    url = _checked_url(args.url, name) if args.url else None
    if cls.needs_secret and not url:
        raise CliError(f"--url is required for a {args.adapter} account", EXIT_USAGE)
    options = dict(_option(text) for text in args.option)
    path = _config_path(args)
    document = _read(path)
    accounts = _super_table(document, "accounts")
    if name in accounts:
        raise CliError(f"{path}: account {name!r} already exists; `csconsole accounts remove {name}` first")
    table = _table({"adapter": args.adapter, "url": url, "user": args.user})
    if options:
        table["options"] = _table(options)
    accounts[name] = table
    if args.workspace:
        workspaces = _super_table(document, "workspaces")
        if args.workspace not in workspaces:
            workspaces[args.workspace] = _table({})
        workspaces[args.workspace]["helpdesk" if issubclass(cls, HelpdeskAdapter) else "store"] = name
    secret = _read_secret(args, name) if cls.needs_secret else None
    _write(path, document)
    print(f"Added account {name!r} ({args.adapter}{', ' + url if url else ''}) to {path}.", file=sys.stderr)
    if args.workspace:
        print(f"Workspace {args.workspace!r} uses it: open it with `csconsole -w {args.workspace}`.", file=sys.stderr)
    if secret is not None:
        try:
            where = secrets.store(name, secret)
        except secrets.SecretError as exc:
            print(f"csconsole: the token was not stored: {exc}", file=sys.stderr)
        else:
            print(f"Its token is in the {where}. Check it with `csconsole accounts verify {name}`.", file=sys.stderr)
    return 0


def _adapter_class(adapter: str):
    from csconsole.adapters.registry import UnknownAdapter, load_adapter

    try:
        return load_adapter(adapter)
    except UnknownAdapter as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _checked_url(url: str, name: str) -> str:
    from csconsole.adapters.base import AdapterError
    from csconsole.adapters.http import check_url

    try:
        return check_url(url, f"account {name}")
    except AdapterError as exc:
        raise CliError(str(exc), EXIT_USAGE) from None


def _option(text: str) -> tuple[str, Any]:
    """KEY=VALUE with TOML-like values: whole numbers, true/false, else text."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
        raise CliError(f"--option {text!r}: expected KEY=VALUE", EXIT_USAGE)
    if key in ("token", "password", "secret", "api_key"):
        raise CliError(f"--option {key}: secrets do not go in the config file; they are asked for separately", EXIT_USAGE)
    value = value.strip()
    if re.fullmatch(r"-?\d{1,18}", value):
        return key, int(value)
    if value in ("true", "false"):
        return key, value == "true"
    return key, value


def _read_secret(args: argparse.Namespace, name: str) -> str:
    if args.secret_stdin:
        secret = sys.stdin.readline().rstrip("\r\n")
    elif not sys.stdin.isatty():
        # getpass would fall back to reading stdin with an echo warning, and raise at its end.
        raise CliError(f"no terminal to ask for {name}'s token on; nothing was written. In a script, pipe it in:"
                       f" printf '%s' \"$TOKEN\" | csconsole accounts add {name} ... --secret-stdin", EXIT_USAGE)
    else:
        import getpass

        try:
            secret = getpass.getpass(f"Token (or password) for {name}: ")
        except (EOFError, KeyboardInterrupt):
            print(file=sys.stderr)
            raise CliError("no token given; nothing was written") from None
    if not secret.strip():
        raise CliError("no token given; nothing was written")
    return secret


# ----------------------------------------------------------------------------- list


def cmd_list(args: argparse.Namespace) -> int:
    from csconsole import config as cfg

    config = cfg.load(_config_path(args))
    rows = []
    for name, account in sorted(config.accounts.items()):
        rows.append({"name": name, "adapter": account.adapter, "url": account.url, "user": account.user,
                     "options": account.options, "secret": _secret_source(name, account.adapter),
                     "workspaces": sorted(w.name for w in config.workspaces.values() if name in (w.helpdesk, w.store))})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    if not rows:
        print(f"No accounts in {config.path}. Add one with `csconsole accounts add NAME --adapter ... --url ...`.")
        return 0
    for row in rows:
        used = f"  used by: {', '.join(row['workspaces'])}" if row["workspaces"] else ""
        print(f"{row['name']}: {row['adapter']} {row['url'] or ''} {row['user'] or ''}".rstrip())
        print(f"  token: {row['secret']}{used}")
    return 0


def _secret_source(name: str, adapter: str) -> str:
    """Where the token would be found; reads it only to see that it is there, never shows it."""
    from csconsole import secrets
    from csconsole.adapters.registry import UnknownAdapter, load_adapter

    try:
        if not load_adapter(adapter).needs_secret:
            return "not needed"
    except UnknownAdapter:
        return f"unknown adapter {adapter!r}"
    env = secrets.env_name(name)
    if os.environ.get(env):
        return f"environment variable {env}"
    if not secrets.keyring_available():
        return f"missing: no keyring on this machine; set {env}"
    return "system keyring" if secrets.get(name) else f"missing: run `csconsole accounts add {name}` again or set {env}"


# ----------------------------------------------------------------------------- verify


def cmd_verify(args: argparse.Namespace) -> int:
    import asyncio

    from csconsole import config as cfg
    from csconsole import secrets
    from csconsole.adapters.base import AccountSpec, AdapterError, AuthError

    config = cfg.load(_config_path(args))
    account = config.accounts.get(args.name)
    if account is None:
        raise CliError(f"no account named {args.name!r} in {config.path}", EXIT_USAGE)
    cls = _adapter_class(account.adapter)
    if account.url:
        _checked_url(account.url, account.name)
    secret = secrets.get(account.name) if cls.needs_secret else None
    if cls.needs_secret and not secret:
        raise CliError(secrets.missing(account.name))
    spec = AccountSpec(name=account.name, adapter=account.adapter, url=account.url, user=account.user,
                       options=dict(account.options))

    async def check():
        adapter = cls(spec, secret)
        try:
            return await adapter.verify()
        finally:
            await adapter.aclose()

    try:
        me = asyncio.run(check())
    except AuthError as exc:
        raise CliError(f"{account.name}: bad credentials: {exc}", EXIT_FAILURE) from None
    except AdapterError as exc:
        raise CliError(f"{account.name}: {exc}", EXIT_FAILURE) from None
    if args.json:
        print(json.dumps({"account": account.name, "id": me.remote_id, "name": me.name, "email": me.email,
                          "role": me.role, "mode": me.mode}, indent=2))
    else:
        who = f"{me.name} <{me.email}>" if me.email else me.name
        print(f"{account.name}: OK, signed in as {who} ({me.role}); sync mode: {me.mode or 'default'}")
    return 0


# ----------------------------------------------------------------------------- remove


def cmd_remove(args: argparse.Namespace) -> int:
    from csconsole import secrets

    path = _config_path(args)
    document = _read(path)
    accounts = document.get("accounts")
    if accounts is None or args.name not in accounts:
        raise CliError(f"no account named {args.name!r} in {path}", EXIT_USAGE)
    users = sorted(w for w, table in (document.get("workspaces") or {}).items()
                   if args.name in (table.get("helpdesk"), table.get("store")))
    if users:
        raise CliError(f"account {args.name!r} is used by workspace {', '.join(users)}: point "
                       f"{'it' if len(users) == 1 else 'them'} at another account first")
    del accounts[args.name]
    if not accounts:
        del document["accounts"]
    _write(path, document)
    print(f"Removed account {args.name!r} from {path}.", file=sys.stderr)
    if secrets.delete(args.name):
        print("Its token was deleted from the system keyring.", file=sys.stderr)
    if os.environ.get(secrets.env_name(args.name)):
        print(f"The environment variable {secrets.env_name(args.name)} is still set; unset it yourself.", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- the file


def _config_path(args: argparse.Namespace) -> Path:
    from csconsole import paths

    return paths.resolve(args.config, args.data_dir).config_file


def _read(path: Path):
    import tomlkit
    from tomlkit.exceptions import ParseError

    from csconsole import config as cfg

    if not path.exists():
        return tomlkit.document()
    cfg.load(path)  # a broken file is reported with its line before we touch it
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except ParseError as exc:
        raise CliError(f"{path}: {exc}", EXIT_USAGE) from None


def _super_table(document, key: str):
    import tomlkit

    if key not in document:
        document[key] = tomlkit.table(is_super_table=True)
    return document[key]


def _table(values: dict[str, Any]):
    import tomlkit

    table = tomlkit.table()
    for key, value in values.items():
        if value is not None:
            table[key] = value
    return table


def _write(path: Path, document) -> None:
    """Check the new text with the real reader, then replace the file in one step."""
    import tomlkit

    from csconsole import config as cfg

    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(tomlkit.dumps(document), encoding="utf-8")
    try:
        cfg.load(temporary)
        if path.exists():
            os.chmod(temporary, path.stat().st_mode & 0o777)
        os.replace(temporary, path)
    except cfg.ConfigError as exc:
        raise CliError(f"{path}: the change would break the config ({exc.message}); nothing was written",
                       EXIT_USAGE) from None
    finally:
        temporary.unlink(missing_ok=True)
