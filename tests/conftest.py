"""Shared fixtures: every test gets its own config and data folders and a fixed clock.

A demo workspace (backend + synced cache, threads included) is built once per session at
a fixed anchor time and copied for each test that needs one, so tests are fast and the
screens they draw are the same on every run.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from csconsole import clock

ANCHOR = 1795000000
"""2026-11-18 11:06 UTC: the demo store's 'now' in every test."""


@pytest.fixture(autouse=True)
def isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No test reads or writes the developer's real config, data or keyring."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local/share"))
    monkeypatch.setenv("CSCONSOLE_CONFIG", str(tmp_path / "config" / "config.toml"))
    monkeypatch.setenv("CSCONSOLE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("CSCONSOLE_FROZEN_TIME", str(ANCHOR))
    monkeypatch.setenv("PYTHON_KEYRING_BACKEND", "keyring.backends.null.Keyring")
    clock.freeze(ANCHOR)
    yield tmp_path
    clock.freeze(None)


def _sync(workspace) -> None:
    from csconsole.sync.engine import SyncEngine

    async def go() -> None:
        engine = SyncEngine(workspace.open_cache, workspace.make_helpdesk, workspace.make_store)
        await engine.open()
        try:
            await engine.identify()
            await engine.pull_once()
            ids = [r[0] for r in engine.conn.execute("SELECT id FROM ticket")]
            engine.prefetch_limit = len(ids)
            await engine.prefetch(ids)
        finally:
            await engine.close()

    asyncio.run(go())


@pytest.fixture(scope="session")
def demo_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A demo workspace (1,000 tickets, seed 7) synced once for the whole session."""
    from csconsole import paths
    from csconsole.workspace import Workspace

    clock.freeze(ANCHOR)
    root = tmp_path_factory.mktemp("demo-template")
    resolved = paths.resolve(root / "config.toml", root / "data")
    workspace = Workspace.load(resolved)
    from csconsole.adapters.demo import generator

    generator.build(workspace.demo_backend, tickets=1000, seed=7, anchor=ANCHOR)
    _sync(workspace)
    clock.freeze(None)
    return root / "data"


@pytest.fixture
def make_workspace(isolated: Path, demo_template: Path) -> Callable[..., object]:
    """A fresh copy of the demo workspace in this test's data folder (optionally with a config)."""
    from csconsole import paths
    from csconsole.workspace import Workspace

    def make(config_text: str | None = None, name: str | None = None):
        data = isolated / "data"
        if not data.exists():
            shutil.copytree(demo_template, data)
        config_file = isolated / "config" / "config.toml"
        if config_text is not None:
            config_file.parent.mkdir(parents=True, exist_ok=True)
            config_file.write_text(config_text, encoding="utf-8")
        return Workspace.load(paths.resolve(config_file, data), name)

    return make


@pytest.fixture
def workspace(make_workspace):
    return make_workspace()


@pytest.fixture
def cache(workspace):
    conn = workspace.open_cache()
    yield conn
    conn.close()
