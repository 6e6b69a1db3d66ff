"""The line under the queue: the view's count, where the cursor is, and how sync is doing."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from csconsole import clock
from csconsole.sync.status import SyncStatus
from csconsole.text import clean_line


def sync_text(status: SyncStatus | None, now: int) -> Text:
    """A short, coloured account of the sync state (never raw backend text with markup)."""
    out = Text()
    if status is None:
        return Text("○ not syncing", style="dim")
    if status.state == "pulling" and status.progress:
        p = status.progress
        part = f"⟳ syncing {p.done:,}"
        if p.total:
            part += f"/{p.total:,} ({min(p.done * 100 // max(p.total, 1), 100)}%)"
        if p.rate:
            part += f" · {p.rate:,.0f}/s"
        remaining = p.remaining_seconds
        if remaining is not None and remaining >= 1:
            part += f" · {clock.duration(int(remaining))} left" if remaining >= 60 else f" · {remaining:.0f}s left"
        out.append(part, style="bold")
    elif status.state == "indexing":
        out.append("⟳ building the search index", style="bold")
    elif status.state in ("offline", "error"):
        label = "✖ offline" if status.state == "offline" else "✖ sync error"
        out.append(label, style="bold red")
        if status.last_error:
            out.append(": " + clean_line(status.last_error, 80), style="red")
        if status.retry_in:
            out.append(f" · retry in {status.retry_in:.0f}s", style="red")
    elif status.state == "starting":
        out.append("⟳ connecting", style="dim")
    elif status.last_pull_at:
        out.append(f"● synced {clock.age(now - status.last_pull_at)} ago", style="green")
    else:
        out.append("● " + status.state, style="green")
    counts = status.outbox
    to_send = counts.get("pending", 0) + counts.get("sending", 0)
    if to_send:
        out.append(f"  ↑ {to_send} to send", style="bold cyan")
    if counts.get("conflict"):
        out.append(f"  ⚠ {counts['conflict']} conflict{'s' if counts['conflict'] > 1 else ''}", style="bold yellow")
    if counts.get("failed"):
        out.append(f"  ✖ {counts['failed']} failed", style="bold red")
    if counts.get("approval"):
        out.append(f"  ⏸ {counts['approval']} awaiting approval", style="yellow")
    return out


class StatusBar(Static):
    """Left: what the agent is looking at. Right: the sync state, from the app's signal."""


    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("", id=id, markup=False)
        self.left = Text()

    def on_mount(self) -> None:
        self.app.sync_signal.subscribe(self, self._on_sync)  # type: ignore[attr-defined]
        self.set_interval(10, self._redraw)
        self._redraw()

    def _on_sync(self, status: SyncStatus) -> None:
        self._redraw()

    def set_left(self, text: Text | str) -> None:
        self.left = text if isinstance(text, Text) else Text(text)
        self._redraw()

    def _redraw(self) -> None:
        right = sync_text(getattr(self.app, "sync_status", None), clock.now())
        right.append("   ? keys  ctrl+p commands", style="dim")
        width = max(self.size.width, 40)
        gap = max(width - self.left.cell_len - right.cell_len, 1)
        line = self.left.copy()
        line.append(" " * gap)
        line.append_text(right)
        line.truncate(width)
        self.update(line, layout=False)
