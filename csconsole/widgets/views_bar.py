"""The row of saved views above the queue, with the number of tickets in each."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from csconsole.text import clean_line


class ViewsBar(Static):

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.names: list[str] = []
        self.counts: dict[str, int] = {}
        self.active: str | None = None
        self.search: str | None = None

    def show(self, names: list[str], active: str | None, counts: dict[str, int] | None = None,
             search: str | None = None) -> None:
        self.names = names
        self.active = active
        self.search = search
        if counts is not None:
            self.counts = counts
        self._redraw()

    def on_resize(self) -> None:
        self._redraw()

    def _redraw(self) -> None:
        line = Text(no_wrap=True, overflow="ellipsis")
        for n, name in enumerate(self.names, start=1):
            label = f" {n} {clean_line(name, 40)}"
            count = self.counts.get(name)
            label += f" {count:,} " if count is not None else " … "
            style = "reverse bold" if name == self.active and self.search is None else ""
            line.append(label, style=style)
            line.append("│", style="dim")
        if self.search is not None:
            line.append(f" / {clean_line(self.search, 60)} ", style="reverse bold")
        self.update(line, layout=False)
