"""What a macro is once its file has been read, and how a problem in a file is named.

Everything here is plain frozen data: a Macro is checked completely when it is loaded
(loader.py), so the picker and the CLI can trust it, and a broken file never becomes a
Macro at all, only a list of Problems.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ASSIGN_ME = "me"
"""``assignee = "me"``: the agent applying the macro."""
ASSIGN_NOBODY = "none"
"""``assignee = "none"``: take the ticket off everyone's plate."""
ASSIGN_LEAD = "lead"
"""``assignee = "lead"``: the first of ``[policy] leads`` in the config."""

STORE_STEPS = ("refund", "cancel", "return_create")
"""The store actions a macro may take. Approving, declining or receiving a return are a
lead's or the warehouse's decisions about one parcel, not something to do in bulk."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a macro file, where an editor can jump to it."""

    path: Path
    line: int
    column: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.column}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"file": str(self.path), "line": self.line, "column": self.column, "message": self.message}


@dataclass(frozen=True)
class StoreStep:
    """A declarative commerce step; the amounts come from the order when it is applied.

    ``lines`` is "all" (what is left to refund or return of every line) or "none";
    ``shipping`` refunds what is left of the shipping charge.
    """

    action: str
    reason: str
    lines: str = "none"
    shipping: bool = False
    restock: bool = True
    notify: bool = True
    refund: bool = True
    note: str = ""


@dataclass(frozen=True)
class Actions:
    """Ticket field changes, applied after the reply or note."""

    status: str | None = None
    priority: int | None = None
    assignee: str | None = None
    """None: leave as is; else "me", "none", "lead" or an agent's email, id or name."""
    add_tags: tuple[str, ...] = ()
    remove_tags: tuple[str, ...] = ()
    fields: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class Macro:
    slug: str
    """The file name without .toml: what `csconsole macros apply` takes and what a user
    file overrides."""
    path: Path
    name: str
    description: str = ""
    key: str | None = None
    """One character that picks the macro at once in the picker."""
    when: str | None = None
    """A Jinja2 expression over the same placeholders; the macro fits a ticket when it is true."""
    reply: str | None = None
    note: str | None = None
    actions: Actions = field(default_factory=Actions)
    store_steps: tuple[StoreStep, ...] = ()
    user: bool = False
    """From the user's folder (rather than shipped)."""
    held_by: str | None = None
    """The helpdesk account that holds the macro (listed by the last sync), if not a file."""
    remote_id: str | None = None
    """A macro the helpdesk holds (Zendesk): applied by the helpdesk, which fills it in."""
    remote_actions: tuple[tuple[str, Any], ...] = ()
    """Its actions as the helpdesk lists them (field, value), for the preview."""

    @property
    def needs_store(self) -> bool:
        return bool(self.store_steps)
