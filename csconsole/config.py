"""The config file: one TOML file, read with the standard library's tomllib.

Every mistake is reported as ``file:line: what is wrong`` so a person can fix it without
reading code. Secrets never live here (see secrets.py); an account only names its adapter,
URL and user.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

DEFAULT_VIEWS: tuple[tuple[str, str, str], ...] = (
    ("My open", "assignee:me status:unsolved", "sla"),
    ("Unassigned", "assignee:none status:unsolved", "sla"),
    ("Urgent", "priority:urgent status:unsolved", "sla"),
    ("Waiting on customer", "status:pending", "updated"),
    ("SLA breaching", "status:unsolved (sla:breached OR sla:soon)", "sla"),
    ("Refund and return requests", "status:unsolved (tag:refund OR tag:return OR tag:exchange)", "sla"),
    ("All", "", "updated"),
)
SORTS = ("updated", "created", "sla", "priority", "oldest")
COLUMNS = ("sel", "priority", "status", "id", "subject", "requester", "updated", "assignee", "sla")
DEFAULT_COLUMNS = COLUMNS


class ConfigError(Exception):
    """A mistake in the config file, with the file and line it is on."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        self.path = path
        self.line = line
        self.message = message
        where = f"{path}:{line}" if line else f"{path}"
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class Account:
    """A helpdesk or store login. The secret is in the keyring, never here."""

    name: str
    adapter: str
    url: str | None = None
    user: str | None = None
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Workspace:
    name: str
    helpdesk: str = "demo"
    store: str | None = "demo"
    demo_tickets: int = 1000
    demo_seed: int = 7


@dataclass(frozen=True)
class StoreInfo:
    """What macros say about the shop."""

    name: str = "Northwind Outfitters"
    signature: str = "The Northwind Outfitters team"
    support_email: str = "help@northwind-outfitters.example"
    discount_code: str = "SORRY15"
    discount_value: str = "15%"
    locale: str = "en_US"
    currency: str = "USD"


@dataclass(frozen=True)
class Policy:
    """Refund and return rules an agent works within."""

    return_window_days: int = 30
    refund_limit: Decimal = Decimal("150.00")
    refund_limits: dict[str, Decimal] = field(default_factory=dict)
    photo_required_reasons: tuple[str, ...] = ("damaged", "defective")
    restock_default: bool = True
    leads: tuple[str, ...] = ()

    def limit_for(self, agent: str) -> Decimal:
        return self.refund_limits.get(agent, self.refund_limit)


@dataclass(frozen=True)
class SyncSettings:
    interval: float = 30.0
    prefetch: int = 20


@dataclass(frozen=True)
class UISettings:
    undo_seconds: float = 5.0
    dashboard_refresh: float = 5.0
    theme: str = "textual-dark"
    sla_soon_minutes: int = 60


@dataclass(frozen=True)
class ViewDef:
    """A saved view: a query in the search language, a sort and the columns shown."""

    name: str
    query: str = ""
    sort: str = "updated"
    columns: tuple[str, ...] = DEFAULT_COLUMNS


@dataclass(frozen=True)
class Config:
    path: Path
    workspace: str = "demo"
    workspaces: dict[str, Workspace] = field(default_factory=lambda: {"demo": Workspace("demo")})
    accounts: dict[str, Account] = field(default_factory=dict)
    store: StoreInfo = field(default_factory=StoreInfo)
    policy: Policy = field(default_factory=Policy)
    sync: SyncSettings = field(default_factory=SyncSettings)
    ui: UISettings = field(default_factory=UISettings)
    views: tuple[ViewDef, ...] = tuple(ViewDef(n, q, s) for n, q, s in DEFAULT_VIEWS)
    keys: dict[str, str] = field(default_factory=dict)
    keys_lines: dict[str, int] = field(default_factory=dict)
    macros_dir: Path | None = None

    def current_workspace(self, name: str | None = None) -> Workspace:
        wanted = name or self.workspace
        try:
            return self.workspaces[wanted]
        except KeyError:
            if wanted.startswith("demo"):
                return Workspace(wanted)
            known = ", ".join(sorted(self.workspaces)) or "none"
            raise ConfigError(self.path, None, f"no workspace named {wanted!r} (known: {known})") from None


# --------------------------------------------------------------------------- loading


def load(path: Path) -> Config:
    """Read the config file; a missing file means every default."""
    if not path.exists():
        return Config(path=path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"cannot read the file: {exc}") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line = int(match.group(1)) if match else None
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc))
        raise ConfigError(path, line, f"not valid TOML: {reason}") from None
    return _Reader(path, text).read(data)


class _Reader:
    """Turns parsed TOML into a Config, naming the line of every mistake."""

    def __init__(self, path: Path, text: str) -> None:
        self.path = path
        self.lines = text.splitlines()

    # -- locating a key in the source, for error messages
    def line_of(self, table: str, key: str | None = None, index: int = 0) -> int | None:
        header = re.compile(r"^\s*\[\[?\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
        current = ""
        seen = -1
        table_line = None
        for number, raw in enumerate(self.lines, start=1):
            m = header.match(raw)
            if m:
                current = m.group(1).replace('"', "")
                if current == table:
                    seen += 1
                    if seen == index:
                        table_line = number
                continue
            if key is None or current != table or seen != index:
                continue
            km = re.match(r'^\s*"?([^"=]+?)"?\s*=', raw)
            if km and km.group(1).strip() == key:
                return number
        if key is not None:
            # The key may name a table of its own ([table.key] or [key]), or be dotted/inline.
            qualified = f"{table}.{key}" if table else key
            for number, raw in enumerate(self.lines, start=1):
                m = header.match(raw)
                if m and m.group(1).replace('"', "") == qualified:
                    return number
            for number, raw in enumerate(self.lines, start=1):
                if re.match(rf'^\s*"?{re.escape(key)}"?\s*=', raw):
                    return number
        return table_line

    def fail(self, table: str, key: str | None, message: str, index: int = 0) -> ConfigError:
        name = f"[{table}] {key}" if table and key else (key or f"[{table}]")
        return ConfigError(self.path, self.line_of(table, key, index), f"{name}: {message}")

    # -- typed getters
    def get(self, data: dict[str, Any], table: str, key: str, kind: type, default: Any, index: int = 0) -> Any:
        if key not in data:
            return default
        value = data[key]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is int and isinstance(value, bool):
            raise self.fail(table, key, "expected a whole number, got true/false", index)
        if not isinstance(value, kind):
            expected = {str: "text in quotes", int: "a whole number", float: "a number", bool: "true or false",
                        list: "a list like [\"a\", \"b\"]", dict: "a table"}[kind]
            raise self.fail(table, key, f"expected {expected}, got {value!r}", index)
        return value

    def money(self, data: dict[str, Any], table: str, key: str, default: Decimal) -> Decimal:
        if key not in data:
            return default
        return self._decimal(data[key], table, key)

    def _decimal(self, value: Any, table: str, key: str) -> Decimal:
        try:
            if isinstance(value, float):
                raise InvalidOperation
            amount = Decimal(str(value))
        except InvalidOperation:
            raise self.fail(table, key, f'expected an amount in quotes like "150.00", got {value!r}') from None
        if amount < 0 or not amount.is_finite():
            raise self.fail(table, key, f"an amount must be zero or more, got {value!r}")
        return amount

    def unknown(self, data: dict[str, Any], table: str, known: set[str]) -> None:
        for key in data:
            if key not in known:
                hint = ", ".join(sorted(known))
                raise self.fail(table, key, f"unknown setting (known here: {hint})")

    # -- sections
    def read(self, data: dict[str, Any]) -> Config:
        self.unknown(data, "", {"workspace", "workspaces", "accounts", "store", "policy", "sync", "ui",
                                "views", "keys", "macros", "replace_default_views"})
        accounts = self.accounts(self.get(data, "", "accounts", dict, {}))
        workspaces = self.workspaces(self.get(data, "", "workspaces", dict, {}), accounts)
        workspace = self.get(data, "", "workspace", str, "demo")
        if workspace not in workspaces and workspace != "demo":
            raise ConfigError(self.path, self.line_of("", "workspace"),
                              f"workspace: no [workspaces.{workspace}] table in this file")
        workspaces.setdefault("demo", Workspace("demo"))
        macros = self.get(data, "", "macros", dict, {})
        self.unknown(macros, "macros", {"dir"})
        macros_dir = self.get(macros, "macros", "dir", str, None)
        keys, keys_lines = self.keys(self.get(data, "", "keys", dict, {}))
        return Config(
            path=self.path,
            workspace=workspace,
            workspaces=workspaces,
            accounts=accounts,
            store=self.store(self.get(data, "", "store", dict, {})),
            policy=self.policy(self.get(data, "", "policy", dict, {})),
            sync=self.sync(self.get(data, "", "sync", dict, {})),
            ui=self.ui(self.get(data, "", "ui", dict, {})),
            views=self.views(self.get(data, "", "views", list, []),
                             self.get(data, "", "replace_default_views", bool, False)),
            keys=keys,
            keys_lines=keys_lines,
            macros_dir=Path(macros_dir).expanduser() if macros_dir else None,
        )

    def accounts(self, raw: dict[str, Any]) -> dict[str, Account]:
        out: dict[str, Account] = {}
        for name, table in raw.items():
            where = f"accounts.{name}"
            if not isinstance(table, dict):
                raise self.fail("accounts", name, "expected a table [accounts.NAME]")
            if "adapter" not in table:
                raise self.fail(where, None, 'missing adapter = "..." (for example "zendesk", "rt", "shopify")')
            for secret_word in ("token", "password", "secret", "api_key"):
                if secret_word in table:
                    raise self.fail(where, secret_word,
                                    "secrets do not belong in the config file; "
                                    f"run `csconsole accounts add {name}` to keep it in the keyring")
            known = {"adapter", "url", "user", "options"}
            self.unknown(table, where, known)
            url = self.get(table, where, "url", str, None)
            if url is not None and not re.match(r"^https?://", url):
                raise self.fail(where, "url", f"expected an http:// or https:// address, got {url!r}")
            out[name] = Account(name=name, adapter=self.get(table, where, "adapter", str, ""),
                                url=url.rstrip("/") if url else None,
                                user=self.get(table, where, "user", str, None),
                                options=dict(self.get(table, where, "options", dict, {})))
        return out

    def workspaces(self, raw: dict[str, Any], accounts: dict[str, Account]) -> dict[str, Workspace]:
        out: dict[str, Workspace] = {}
        for name, table in raw.items():
            where = f"workspaces.{name}"
            if not isinstance(table, dict):
                raise self.fail("workspaces", name, "expected a table [workspaces.NAME]")
            self.unknown(table, where, {"helpdesk", "store", "demo_tickets", "demo_seed"})
            helpdesk = self.get(table, where, "helpdesk", str, "demo")
            store = self.get(table, where, "store", str, "demo" if helpdesk == "demo" else None)
            for key, value in (("helpdesk", helpdesk), ("store", store)):
                if value and value != "demo" and value not in accounts:
                    raise self.fail(where, key, f"no [accounts.{value}] table in this file")
            tickets = self.get(table, where, "demo_tickets", int, 1000)
            if tickets < 1:
                raise self.fail(where, "demo_tickets", "must be at least 1")
            out[name] = Workspace(name=name, helpdesk=helpdesk, store=store, demo_tickets=tickets,
                                  demo_seed=self.get(table, where, "demo_seed", int, 7))
        return out

    def store(self, raw: dict[str, Any]) -> StoreInfo:
        defaults = StoreInfo()
        self.unknown(raw, "store", set(StoreInfo.__dataclass_fields__))
        return StoreInfo(**{k: self.get(raw, "store", k, str, getattr(defaults, k)) for k in StoreInfo.__dataclass_fields__})

    def policy(self, raw: dict[str, Any]) -> Policy:
        d = Policy()
        self.unknown(raw, "policy", set(Policy.__dataclass_fields__))
        window = self.get(raw, "policy", "return_window_days", int, d.return_window_days)
        if window < 0:
            raise self.fail("policy", "return_window_days", "must be zero or more")
        limits_raw = self.get(raw, "policy", "refund_limits", dict, {})
        limits = {agent: self._decimal(v, "policy", "refund_limits") for agent, v in limits_raw.items()}
        reasons = self.get(raw, "policy", "photo_required_reasons", list, list(d.photo_required_reasons))
        leads = self.get(raw, "policy", "leads", list, list(d.leads))
        return Policy(
            return_window_days=window,
            refund_limit=self.money(raw, "policy", "refund_limit", d.refund_limit),
            refund_limits=limits,
            photo_required_reasons=tuple(str(r) for r in reasons),
            restock_default=self.get(raw, "policy", "restock_default", bool, d.restock_default),
            leads=tuple(str(x) for x in leads),
        )

    def sync(self, raw: dict[str, Any]) -> SyncSettings:
        d = SyncSettings()
        self.unknown(raw, "sync", {"interval", "prefetch"})
        interval = self.get(raw, "sync", "interval", float, d.interval)
        if interval < 1:
            raise self.fail("sync", "interval", "must be at least 1 second")
        prefetch = self.get(raw, "sync", "prefetch", int, d.prefetch)
        if prefetch < 0:
            raise self.fail("sync", "prefetch", "must be zero or more")
        return SyncSettings(interval=interval, prefetch=prefetch)

    def ui(self, raw: dict[str, Any]) -> UISettings:
        d = UISettings()
        self.unknown(raw, "ui", set(UISettings.__dataclass_fields__))
        undo = self.get(raw, "ui", "undo_seconds", float, d.undo_seconds)
        if undo < 0 or undo > 120:
            raise self.fail("ui", "undo_seconds", "must be between 0 and 120 seconds")
        refresh = self.get(raw, "ui", "dashboard_refresh", float, d.dashboard_refresh)
        if refresh < 0.5:
            raise self.fail("ui", "dashboard_refresh", "must be at least 0.5 seconds")
        return UISettings(undo_seconds=undo, dashboard_refresh=refresh,
                          theme=self.get(raw, "ui", "theme", str, d.theme),
                          sla_soon_minutes=self.get(raw, "ui", "sla_soon_minutes", int, d.sla_soon_minutes))

    def views(self, raw: list[Any], replace: bool) -> tuple[ViewDef, ...]:
        views: list[ViewDef] = [] if replace else [ViewDef(n, q, s) for n, q, s in DEFAULT_VIEWS]
        for index, table in enumerate(raw):
            if not isinstance(table, dict):
                raise ConfigError(self.path, self.line_of("views", None, index), "views: expected [[views]] tables")
            self.unknown(table, "views", {"name", "query", "sort", "columns"})
            name = self.get(table, "views", "name", str, None, index)
            if not name:
                raise self.fail("views", None, 'each [[views]] needs name = "..."', index)
            query = self.get(table, "views", "query", str, "", index)
            from csconsole.store.search import QueryError, parse

            try:
                parse(query)
            except QueryError as exc:
                raise self.fail("views", "query", f"{exc.message} at column {exc.position + 1} of {query!r}", index) from None
            sort = self.get(table, "views", "sort", str, "updated", index)
            if sort not in SORTS:
                raise self.fail("views", "sort", f"unknown sort {sort!r} (one of {', '.join(SORTS)})", index)
            columns = tuple(self.get(table, "views", "columns", list, list(DEFAULT_COLUMNS), index))
            for column in columns:
                if column not in COLUMNS:
                    raise self.fail("views", "columns", f"unknown column {column!r} (one of {', '.join(COLUMNS)})", index)
            view = ViewDef(name=name, query=query, sort=sort, columns=columns)
            views = [v for v in views if v.name != name] + [view]
        return tuple(views)

    def keys(self, raw: dict[str, Any]) -> tuple[dict[str, str], dict[str, int]]:
        keys: dict[str, str] = {}
        lines: dict[str, int] = {}
        for binding_id, value in raw.items():
            if not isinstance(value, str) or not value.strip():
                raise self.fail("keys", binding_id, f'expected keys in quotes like "ctrl+r" or "r,f5", got {value!r}')
            keys[binding_id] = value
            lines[binding_id] = self.line_of("keys", binding_id) or 0
        return keys, lines


def save_view(path: Path, view: ViewDef) -> None:
    """Append (or replace) a [[views]] table in the config file, keeping its comments."""
    import tomlkit

    document = tomlkit.parse(path.read_text(encoding="utf-8")) if path.exists() else tomlkit.document()
    views = document.get("views")
    if views is None:
        views = tomlkit.aot()
        document["views"] = views
    for index in range(len(views) - 1, -1, -1):
        if views[index].get("name") == view.name:
            del views[index]
    table = tomlkit.table()
    table["name"] = view.name
    table["query"] = view.query
    table["sort"] = view.sort
    views.append(table)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(tomlkit.dumps(document), encoding="utf-8")
