"""Store actions in the outbox (refunds, returns, cancels): validation and local effects.

The helpdesk actions live in store/outbox.py; this module answers for every other kind.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Any

from csconsole.adapters.base import STORE_ACTIONS


def validate(conn: sqlite3.Connection, intent: Any) -> dict[str, Any]:
    from csconsole.store.outbox import ActionError

    if intent.kind not in STORE_ACTIONS:
        raise ActionError(f"unknown action {intent.kind!r}")
    raise ActionError(f"{intent.kind} is not available in this version")


def apply_local(conn: sqlite3.Connection, outbox_id: int, kind: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {}


def revert_local(conn: sqlite3.Connection, row: sqlite3.Row, undo: Mapping[str, Any]) -> None:
    pass


def on_sent(conn: sqlite3.Connection, row: Any, remote_id: str | None) -> None:
    pass
