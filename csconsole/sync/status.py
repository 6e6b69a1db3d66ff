"""What the sync engine tells whoever runs it (the TUI, or the `sync` command)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class Progress:
    done: int
    total: int | None
    rate: float
    """Tickets per second over this pull so far."""

    @property
    def remaining_seconds(self) -> float | None:
        if not self.total or self.rate <= 0:
            return None
        return max(self.total - self.done, 0) / self.rate


@dataclass(frozen=True)
class SyncStatus:
    state: str  # starting | pulling | pushing | idle | offline | error | stopped
    last_pull_at: int | None = None
    last_error: str | None = None
    progress: Progress | None = None
    outbox: dict[str, int] = field(default_factory=dict)
    mode: str | None = None
    retry_in: float | None = None


class SyncListener(Protocol):
    """Called from the engine's thread: implementations must be thread-safe (post a message)."""

    def sync_status(self, status: SyncStatus) -> None: ...

    def tickets_changed(self, ids: list[int]) -> None: ...

    def thread_loaded(self, ticket_id: int, error: str | None) -> None: ...

    def orders_loaded(self, ticket_id: int, error: str | None) -> None: ...

    def action_finished(self, outbox_id: int, ticket_id: int | None, state: str, message: str) -> None: ...


class NullListener:
    def sync_status(self, status: SyncStatus) -> None:
        pass

    def tickets_changed(self, ids: list[int]) -> None:
        pass

    def thread_loaded(self, ticket_id: int, error: str | None) -> None:
        pass

    def orders_loaded(self, ticket_id: int, error: str | None) -> None:
        pass

    def action_finished(self, outbox_id: int, ticket_id: int | None, state: str, message: str) -> None:
        pass
