"""Where a key sits in a macro's TOML source, so every problem has a line and a column.

tomllib gives values, not positions. Macro files are small and flat (top-level keys, an
``[actions]`` table, ``[[store]]`` entries), so a line scanner that knows table headers
and skips multi-line strings finds any key reliably enough to point an editor at it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_HEADER = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.\-\"' ]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+(?:\s*\.\s*[A-Za-z0-9_\-]+)*)\s*=""")


@dataclass(frozen=True)
class Spot:
    line: int
    column: int


@dataclass(frozen=True)
class _Key:
    table: str
    index: int
    """Which entry of an array of tables ([[store]]) the key is in; 0 otherwise."""
    key: str
    line: int
    column: int
    value_line: int
    """The line the value starts on: a body's first template line is on it, or on the next
    line when the value opens with a triple quote and a line break."""


class Source:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()
        self._keys = list(self._scan())

    def _scan(self):
        table, index, counts = "", 0, {}
        open_quote: str | None = None
        for number, raw in enumerate(self.lines, start=1):
            if open_quote is not None:
                if raw.count(open_quote) % 2 == 1:
                    open_quote = None
                continue
            header = _HEADER.match(raw)
            if header:
                table = header.group(2).replace('"', "").replace("'", "").replace(" ", "")
                if header.group(1) == "[[":
                    counts[table] = counts.get(table, -1) + 1
                    index = counts[table]
                else:
                    index = 0
                continue
            m = _KEY.match(raw)
            if not m:
                continue
            key = m.group(1).strip("\"'").replace(" ", "")
            rest = raw[m.end():].lstrip()
            value_line = number
            for quote in ('"""', "'''"):
                if rest.startswith(quote):
                    if rest.count(quote) == 1:
                        open_quote = quote
                        if rest == quote:
                            value_line = number + 1
                    break
            yield _Key(table, index, key, number, m.start(1) + 1, value_line)

    def key(self, table: str, key: str | None = None, index: int = 0) -> Spot:
        """The key in that table (dotted keys such as ``actions.status`` count too); else the
        table's header; else the top of the file."""
        for k in self._keys:
            if key is not None and k.key == key and k.table == table and k.index == index:
                return Spot(k.line, k.column)
            if key is not None and not k.table and k.key == f"{table}.{key}" and table:
                return Spot(k.line, k.column)
        return self.table(table, index)

    def table(self, table: str, index: int = 0) -> Spot:
        seen = -1
        for number, raw in enumerate(self.lines, start=1):
            header = _HEADER.match(raw)
            if header and header.group(2).replace('"', "").replace(" ", "") == table:
                seen += 1
                if seen == index:
                    return Spot(number, raw.index("[") + 1)
        for k in self._keys:
            if not k.table and k.key == table:
                return Spot(k.line, k.column)
        return Spot(1, 1)

    def body_line(self, key: str) -> int:
        """The file line of a top-level string value's first line (for template errors)."""
        for k in self._keys:
            if not k.table and k.key == key:
                return k.value_line
        return 1

    def find(self, line: int, word: str) -> int:
        """The column of ``word`` on a line, for pointing inside a template; 1 if absent."""
        if 1 <= line <= len(self.lines):
            at = self.lines[line - 1].find(word)
            if at >= 0:
                return at + 1
        return 1
