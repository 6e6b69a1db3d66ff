"""Macros the helpdesk itself holds (Zendesk), as the picker and the CLI see them.

They come from the cache (the sync engine lists them when it connects), are offered beside
the files, and apply as one outbox action: the helpdesk renders its own placeholders and
sets its own fields, so the preview lists what the macro will do rather than its text.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from csconsole.macros.model import Macro
from csconsole.text import clean_line

FIELD_WORDS = {"status": "status →", "priority": "priority →", "assignee_id": "assign →", "group_id": "group →",
               "set_tags": "tags set to", "current_tags": "add tags", "remove_tags": "remove tags",
               "comment_value": "reply", "comment_value_html": "reply", "comment_mode_is_public": "public reply:"}


def macros(conn: sqlite3.Connection, account: str) -> list[Macro]:
    rows = conn.execute("SELECT * FROM remote_macro WHERE account = ? ORDER BY title", (account,)).fetchall()
    out = []
    for r in rows:
        actions = tuple((str(field), value) for field, value in json.loads(r["actions"]))
        out.append(Macro(slug=f"{account}-{r['remote_id']}", path=Path(f"<{account} macro {r['remote_id']}>"),
                         name=clean_line(r["title"], 80), description=clean_line(r["description"], 200) or
                         f"held by the helpdesk ({account})", remote_id=r["remote_id"], remote_actions=actions))
    return out


def describe_actions(actions: tuple[tuple[str, Any], ...]) -> list[str]:
    """The macro's actions in words, customer-safe (its text is the helpdesk's template)."""
    lines = []
    for field, value in actions:
        if isinstance(value, (list, tuple)):
            value = " ".join(str(v) for v in value)
        label = FIELD_WORDS.get(field, f"{field} →")
        if field in ("comment_value", "comment_value_html"):
            lines.append(f"{label}: “{clean_line(value, 160)}” (the helpdesk fills in its placeholders)")
        else:
            lines.append(f"{label} {clean_line(value, 60)}")
    return lines
