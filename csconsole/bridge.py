"""The sync engine's listener for the TUI: turns engine callbacks into app messages.

The engine calls these from its own thread; ``post_message`` is thread-safe, so nothing
here touches a widget.
"""

from __future__ import annotations

from textual.app import App

from csconsole import messages
from csconsole.sync.status import SyncStatus


class AppListener:
    def __init__(self, app: App) -> None:
        self.app = app

    def sync_status(self, status: SyncStatus) -> None:
        self.app.post_message(messages.SyncStatusChanged(status))

    def tickets_changed(self, ids: list[int]) -> None:
        self.app.post_message(messages.TicketsChanged(list(ids)))

    def thread_loaded(self, ticket_id: int, error: str | None) -> None:
        self.app.post_message(messages.ThreadLoaded(ticket_id, error))

    def orders_loaded(self, ticket_id: int, error: str | None) -> None:
        self.app.post_message(messages.OrdersLoaded(ticket_id, error))

    def action_finished(self, outbox_id: int, ticket_id: int | None, state: str, message: str) -> None:
        self.app.post_message(messages.ActionFinished(outbox_id, ticket_id, state, message))
