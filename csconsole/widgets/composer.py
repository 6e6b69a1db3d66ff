"""The reply and note composer under the thread.

It is clearly one or the other: a public reply goes to the customer, an internal note only
to colleagues, and the frame says which in its colour and title. What is typed is saved as
a draft in the cache every moment, so leaving the ticket, a crash or a restart never loses
it; sending goes through the outbox with the undo grace.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from textual import on
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Static, TextArea

from csconsole import triage
from csconsole.text import clean_line

DRAFT_SAVE_DELAY = 0.4
"""Seconds of quiet typing before the draft is written (at most a few writes a second)."""


class Composer(Vertical):
    BINDINGS = [
        Binding("ctrl+s", "send", "Send", id="composer.send"),
        Binding("ctrl+e", "editor", "Edit in $EDITOR", id="composer.editor"),
        Binding("escape", "close", "Close (keeps the draft)", id="composer.close"),
    ]

    @dataclass
    class Send(Message):
        ticket_id: int
        kind: str  # reply | note
        body: str

    @dataclass
    class Closed(Message):
        pass

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.ticket_id = 0
        self.kind = "reply"
        self._save_timer: Timer | None = None

    def compose(self):
        yield Static("", id="composer-title", markup=False)
        yield Static("ctrl+s send · ctrl+e $EDITOR · esc close (draft kept)", id="composer-hint", markup=False)

    @property
    def text_area(self) -> TextArea:
        return self.query_one(TextArea)

    async def open(self, ticket_id: int, kind: str, to: str) -> None:
        """Show the composer for a reply or a note, with any saved draft.

        The text area is created on first use: it is the costliest widget of the ticket
        screen to build, and most tickets are triaged without a reply typed."""
        if not self.query(TextArea):
            await self.mount(TextArea(id="composer-text", soft_wrap=True, show_line_numbers=False),
                             before=self.query_one("#composer-hint"))
        self.ticket_id, self.kind = ticket_id, kind
        self.set_class(kind == "note", "note")
        self.set_class(kind == "reply", "reply")
        title = f"Public reply to {clean_line(to, 40)} (the customer sees this)" if kind == "reply" else \
            "Internal note (only agents see this)"
        self.query_one("#composer-title", Static).update(title)
        draft = await self.app.cache.read(triage.load_draft, ticket_id, kind)  # type: ignore[attr-defined]
        self.text_area.load_text(draft)
        self.text_area.move_cursor(self.text_area.document.end)
        self.display = True
        self.text_area.focus()

    @on(TextArea.Changed)
    def _changed(self) -> None:
        if self._save_timer is not None:
            self._save_timer.stop()
        self._save_timer = self.set_timer(DRAFT_SAVE_DELAY, self.save_draft)

    async def save_draft(self) -> None:
        if self.ticket_id:
            await self.app.cache.write(triage.save_draft, self.ticket_id, self.kind, self.text_area.text)  # type: ignore[attr-defined]

    async def action_close(self) -> None:
        await self.save_draft()
        self.display = False
        self.post_message(self.Closed())

    def action_send(self) -> None:
        body = self.text_area.text
        if not body.strip():
            self.app.bell()
            return
        if self._save_timer is not None:
            self._save_timer.stop()
        self.post_message(self.Send(self.ticket_id, self.kind, body))

    def sent(self) -> None:
        """The message is in the outbox: empty and hide (its draft went in the same write)."""
        self.text_area.load_text("")
        self.display = False

    def action_editor(self) -> None:
        """Hand the text to $EDITOR (vim, nano...) and take back what is saved."""
        command = shlex.split(os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi")
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8") as handle:
            handle.write(self.text_area.text)
            path = Path(handle.name)
        try:
            with self.app.suspend():
                result = subprocess.run([*command, str(path)])
            if result.returncode == 0:
                self.text_area.load_text(path.read_text(encoding="utf-8"))
                self.text_area.move_cursor(self.text_area.document.end)
            else:
                self.notify(f"{command[0]} exited with {result.returncode}; the text was not changed",
                            severity="warning", markup=False)
        except Exception as exc:  # no terminal to suspend (headless), or no such editor
            self.notify(f"cannot run the editor: {exc}", severity="error", markup=False)
        finally:
            path.unlink(missing_ok=True)
