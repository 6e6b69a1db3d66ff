"""A ticket's thread: customer messages, public replies and internal notes, newest last.

Every body is customer-controlled text: it is cleaned of control sequences and shown as a
plain ``Text`` (never markup); a body longer than the display limit is cut with a marker.
"""

from __future__ import annotations

import time

from rich.text import Text
from textual.containers import VerticalScroll
from textual.widgets import Static

from csconsole import clock
from csconsole.store.tickets import MessageView
from csconsole.text import clean_line, for_display


def _when(at: int) -> str:
    return time.strftime("%a %d %b %H:%M", time.gmtime(at)) + f" UTC · {clock.age(clock.now() - at)} ago"


class MessageBox(Static):
    """One message; its CSS class says who wrote it and whether the customer saw it."""

    def __init__(self, message: MessageView) -> None:
        if message.role == "customer":
            kind = "customer"
        elif message.public:
            kind = "reply"
        else:
            kind = "note"
        classes = f"message {kind}" + (" pending" if message.pending else "")
        super().__init__(self._content(message, kind), classes=classes, markup=False)

    @staticmethod
    def _content(message: MessageView, kind: str) -> Text:
        head = Text()
        label = {"customer": "Customer", "reply": "Public reply", "note": "Internal note"}[kind]
        head.append(f"{label} · ", style="bold")
        head.append(clean_line(message.author, 60), style="bold")
        head.append(f"  {_when(message.created_at)}", style="dim")
        if message.pending:
            head.append("  ⟳ queued, not sent yet", style="bold")
        body, cut = for_display(message.body)
        text = Text.assemble(head, "\n", Text(body))
        if cut:
            text.append(f"\n… message cut here: {len(message.body):,} characters in all", style="dim italic")
        return text


class ThreadView(VerticalScroll):

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self._shown: list[tuple[int, bool, int]] | None = None

    async def show(self, messages: list[MessageView], note: str | None = None) -> None:
        """Replace the thread (only when it changed) and keep the newest message in view.

        What is shown is recorded only once the new messages are mounted: the ticket screen's
        loader is an exclusive worker, so a newer load can cancel this one half-way, and a
        record written first would make the next load skip a thread that is not on screen.
        """
        signature = [(m.id, m.pending, len(m.body)) for m in messages]
        if signature == self._shown and note is None:
            return
        self._shown = None
        async with self.batch():
            await self.remove_children()
            widgets: list[Static] = [MessageBox(m) for m in messages]
            if note:
                widgets.append(Static(Text(note, style="dim italic"), classes="thread-note", markup=False))
            await self.mount_all(widgets)
        self._shown = signature
        self.scroll_end(animate=False, immediate=True)
