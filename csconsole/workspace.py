"""A workspace put together: its config, its cache file and its two backends.

The same object serves the TUI, ``csconsole sync`` and the other commands, so the demo
workspace and a real Zendesk one take exactly the same path through the program.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from csconsole import config as cfg
from csconsole import secrets
from csconsole.adapters.base import AccountSpec, Adapter, CommerceAdapter, Driver, HelpdeskAdapter
from csconsole.adapters.demo.content import ME
from csconsole.paths import Paths


class WorkspaceError(Exception):
    pass


@dataclass
class Workspace:
    paths: Paths
    config: cfg.Config
    spec: cfg.Workspace

    @classmethod
    def load(cls, paths: Paths, name: str | None = None) -> "Workspace":
        config = cfg.load(paths.config_file)
        return cls(paths, config, config.current_workspace(name))

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def db_path(self) -> Path:
        return self.paths.workspace_db(self.name)

    @property
    def is_demo(self) -> bool:
        return self.spec.helpdesk == "demo"

    @property
    def demo_backend(self) -> Path:
        return self.paths.demo_backend_db(self.name)

    def open_cache(self) -> sqlite3.Connection:
        from csconsole.store.db import connect

        return connect(self.db_path)

    def ensure_demo(self, tickets: int | None = None, seed: int | None = None, *, rebuild: bool = False,
                    progress=None) -> bool:
        """Build the demo backend if it is missing (or asked to); True when it was built."""
        if not (self.is_demo or self.spec.store == "demo"):
            return False
        if self.demo_backend.exists() and not rebuild:
            return False
        from csconsole.adapters.demo import generator

        generator.build(self.demo_backend, tickets=tickets or self.spec.demo_tickets, seed=seed or self.spec.demo_seed,
                        progress=progress)
        if rebuild:
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.db_path) + suffix).unlink(missing_ok=True)
        return True

    # -- accounts
    def helpdesk_spec(self) -> AccountSpec:
        return self._spec(self.spec.helpdesk, "demo")

    def store_spec(self) -> AccountSpec | None:
        return self._spec(self.spec.store, "demo-store") if self.spec.store else None

    def _spec(self, account_name: str, demo_adapter: str) -> AccountSpec:
        if account_name == "demo":
            return AccountSpec(name=demo_adapter, adapter=demo_adapter, user=ME[1],
                               options={"path": str(self.demo_backend)})
        account = self.config.accounts.get(account_name)
        if account is None:
            raise WorkspaceError(f"{self.config.path}: workspace {self.name!r} names account {account_name!r},"
                                 " which has no [accounts] table")
        return AccountSpec(name=account.name, adapter=account.adapter, url=account.url, user=account.user,
                           options=dict(account.options))

    def make_helpdesk(self, driver: Driver | None = None) -> HelpdeskAdapter:
        adapter = self._make(self.helpdesk_spec(), driver)
        if not isinstance(adapter, HelpdeskAdapter):
            raise WorkspaceError(f"adapter {adapter.name!r} is not a helpdesk adapter")
        return adapter

    def make_store(self, driver: Driver | None = None) -> CommerceAdapter | None:
        spec = self.store_spec()
        if spec is None:
            return None
        adapter = self._make(spec, driver)
        if not isinstance(adapter, CommerceAdapter):
            raise WorkspaceError(f"adapter {adapter.name!r} is not a store adapter")
        return adapter

    def _make(self, spec: AccountSpec, driver: Driver | None) -> Adapter:
        from csconsole.adapters.registry import load_adapter

        cls = load_adapter(spec.adapter)
        secret = None
        if cls.needs_secret:
            secret = secrets.get(spec.name)
            if not secret:
                raise WorkspaceError(secrets.missing(spec.name))
        return cls(spec, secret, driver)
