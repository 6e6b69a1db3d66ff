"""The macros an agent can use: the shipped folder, overridden and extended by their own.

A user file with the same name as a shipped one replaces it (even when the user's copy is
broken: falling back to the old text they meant to change would be worse). Folders are
polled by modification time, so an edited file is picked up on the next refresh without
restarting, and an unchanged folder costs a few stat calls.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from csconsole.macros.model import Macro, Problem

SHIPPED_PACKAGE_DIR = "_shipped_macros"
"""Where the wheel puts the top-level macros/ folder (pyproject's hatch force-include)."""


def shipped_dir() -> Path:
    """The shipped macros: inside the installed package, or next to it in a source checkout."""
    package = Path(__file__).resolve().parent.parent
    installed = package / SHIPPED_PACKAGE_DIR
    return installed if installed.is_dir() else package.parent / "macros"


def user_dir(workspace: Any) -> Path:
    """The config's ``[macros] dir``, else ``macros/`` beside the config file."""
    return workspace.config.macros_dir or workspace.paths.user_macros_dir


@dataclass(frozen=True)
class Folder:
    path: Path
    user: bool


def _files(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.glob("*.toml") if p.is_file() and not p.name.startswith("."))
    except OSError:
        return []


def _signature(folders: Sequence[Folder]) -> tuple:
    parts: list[tuple] = []
    for folder in folders:
        for path in _files(folder.path):
            try:
                st = path.stat()
            except OSError:
                continue
            parts.append((str(path), st.st_mtime_ns, st.st_size))
    return tuple(parts)


def find_in(macros: Sequence[Macro], name: str) -> Macro | None:
    """By file name or slug (``wismo-shipped``) or, ignoring case, by its display name."""
    wanted = name.removesuffix(".toml")
    for macro in macros:
        if macro.slug == wanted:
            return macro
    folded = name.casefold()
    return next((m for m in macros if m.name.casefold() == folded), None)


class Library:
    def __init__(self, folders: Sequence[Folder]) -> None:
        self.folders = tuple(folders)
        self.macros: list[Macro] = []
        """Every loaded macro, sorted by name."""
        self.problems: list[Problem] = []
        """Broken files and quick keys used twice."""
        self._signature: tuple | None = None
        self._lock = threading.Lock()

    def refresh(self) -> bool:
        """Reload if any file was added, removed or changed; True when something changed."""
        with self._lock:
            signature = _signature(self.folders)
            if signature == self._signature:
                return False
            self.macros, self.problems = _load(self.folders)
            self._signature = signature
            return True

    def find(self, name: str) -> Macro | None:
        return find_in(self.macros, name)

    def offered(self, has_store: bool) -> list[Macro]:
        """What the picker shows: store steps need a store."""
        return [m for m in self.macros if has_store or not m.needs_store]


def _load(folders: Sequence[Folder]) -> tuple[list[Macro], list[Problem]]:
    return load_files([(path, folder.user) for folder in folders for path in _files(folder.path)])


def load_files(files: Sequence[tuple[Path, bool]]) -> tuple[list[Macro], list[Problem]]:
    """Load (path, is_user) files in order: a later file of the same name replaces an earlier
    one. Returns the macros sorted by name, and every problem (broken files, key clashes)."""
    from csconsole.macros.loader import load_file

    by_slug: dict[str, Macro | None] = {}
    problems_by_slug: dict[str, list[Problem]] = {}
    for path, user in files:
        macro, problems = load_file(path, user=user)
        by_slug[path.stem] = macro
        problems_by_slug[path.stem] = problems
    problems = [p for slug in sorted(problems_by_slug) for p in problems_by_slug[slug]]
    macros, clashes = _settle_keys([m for m in by_slug.values() if m is not None])
    return sorted(macros, key=lambda m: (m.name.casefold(), m.slug)), problems + clashes


def expand(paths: Sequence[Path]) -> list[Path]:
    """Files as given, folders as their *.toml files (for `csconsole macros validate`)."""
    out: list[Path] = []
    for path in paths:
        out.extend(_files(path) if path.is_dir() else [path])
    return out


def _settle_keys(macros: list[Macro]) -> tuple[list[Macro], list[Problem]]:
    """One macro per quick key. The user's own macros choose first: taking a shipped macro's
    key is a choice (the shipped one loses it quietly), but two files of the same origin
    wanting one key is a mistake, reported on the later file."""
    owner: dict[str, Macro] = {}
    settled, problems = [], []
    for macro in sorted(macros, key=lambda m: (not m.user, m.slug)):
        first = owner.get(macro.key) if macro.key is not None else None
        if first is None:
            if macro.key is not None:
                owner[macro.key] = macro
            settled.append(macro)
            continue
        if first.user == macro.user:
            problems.append(_key_problem(macro, f"quick key {macro.key!r} is already used by {first.path.name};"
                                                f" {macro.path.name} has no quick key until one of them changes"))
        settled.append(replace(macro, key=None))
    return settled, problems


def _key_problem(macro: Macro, message: str) -> Problem:
    from csconsole.macros.locate import Source

    try:
        spot = Source(macro.path.read_text(encoding="utf-8")).key("", "key")
    except OSError:
        return Problem(macro.path, 1, 1, message)
    return Problem(macro.path, spot.line, spot.column, message)


_shared: dict[tuple[Folder, ...], Library] = {}
_shared_lock = threading.Lock()


def for_workspace(workspace: Any) -> Library:
    """One library per pair of folders for the whole process (the picker opens often; the
    files are parsed once and then only polled), refreshed before it is returned."""
    folders = (Folder(shipped_dir(), False), Folder(user_dir(workspace), True))
    with _shared_lock:
        library = _shared.setdefault(folders, Library(folders))
    library.refresh()
    return library
