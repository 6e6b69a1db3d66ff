"""App-wide messages: what the sync engine's thread tells the UI."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from csconsole.sync.status import SyncStatus


@dataclass
class SyncStatusChanged(Message):
    status: SyncStatus

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SyncStatusChanged)


@dataclass
class TicketsChanged(Message):
    """Rows changed in the cache (an empty list: 'many, refresh everything')."""

    ids: list[int]


@dataclass
class ThreadLoaded(Message):
    ticket_id: int
    error: str | None


@dataclass
class OrdersLoaded(Message):
    ticket_id: int
    error: str | None


@dataclass
class ActionFinished(Message):
    outbox_id: int
    ticket_id: int | None
    state: str
    text: str
