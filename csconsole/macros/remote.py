"""Macros the helpdesk itself holds, as the picker sees them.

They come from the cache (the sync engine lists them when it connects) and are offered
beside the files. Two kinds:

- a macro the helpdesk applies (Zendesk) is one outbox action: the helpdesk renders its
  own placeholders and sets its own fields, so the preview lists what the macro will do
  rather than its text;
- a canned reply the helpdesk only stores (Freshdesk) becomes an ordinary reply macro,
  its placeholders translated to the console's own (canned.py) and filled in here, so
  its preview is the exact text. One the console cannot fill in is listed as a problem.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from csconsole.macros.model import Macro, Problem
from csconsole.text import clean_line


@dataclass(frozen=True)
class Held:
    macros: list[Macro] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


FIELD_WORDS = {"status": "status →", "priority": "priority →", "assignee_id": "assign →", "group_id": "group →",
               "set_tags": "tags set to", "current_tags": "add tags", "remove_tags": "remove tags",
               "comment_value": "reply", "comment_value_html": "reply", "comment_mode_is_public": "public reply:"}


def macros(conn: sqlite3.Connection, account: str) -> Held:
    from csconsole.macros.canned import translate

    held = Held()
    for r in conn.execute("SELECT * FROM remote_macro WHERE account = ? ORDER BY title", (account,)).fetchall():
        path = Path(f"<{account} macro {r['remote_id']}>")
        name = clean_line(r["title"], 80)
        description = clean_line(r["description"], 200) or f"held by the helpdesk ({account})"
        slug = f"{account}-{r['remote_id']}"
        if r["reply"] is not None:
            translated = translate(r["reply"])
            if translated.template is None:
                held.problems.append(Problem(path, 1, 1, f"“{name}”: {translated.problem}"))
            else:
                held.macros.append(Macro(slug=slug, path=path, name=name, description=description, held_by=account,
                                         reply=translated.template))
            continue
        actions = tuple((str(field), value) for field, value in json.loads(r["actions"]))
        held.macros.append(Macro(slug=slug, path=path, name=name, description=description, held_by=account,
                                 remote_id=r["remote_id"], remote_actions=actions))
    return held


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
