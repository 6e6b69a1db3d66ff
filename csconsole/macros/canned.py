"""Canned replies the helpdesk stores but does not fill in (Freshdesk), as macro templates.

Freshdesk fills its placeholders (``{{ticket.requester.firstname}}``) only when an agent
inserts a canned response in its web page; a reply sent through the API goes out exactly
as written. So the console fills them in itself: each placeholder it knows becomes the
macro placeholder with the same meaning, and a response that uses any other one, or any
other template syntax, is refused with the placeholder named. A customer never receives
``{{ticket.url}}`` or an empty gap.

The rest of the text is data, never template source: every ``{`` in it is written out as
a Jinja expression that prints a brace, so nothing an administrator typed can become
template code in the sandbox.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

PLACEHOLDERS = {
    "ticket.id": "ticket.number",
    "ticket.subject": "ticket.subject",
    "ticket.status": "ticket.status",
    "ticket.priority": "ticket.priority",
    "ticket.requester.name": "requester.name",
    "ticket.requester.firstname": "requester.first_name",
    "ticket.requester.email": "requester.email",
    "ticket.agent.name": "agent.name",
    "ticket.agent.firstname": "agent.first_name",
    "ticket.agent.email": "agent.email",
    "helpdesk_name": "store.name",
}
"""Freshdesk's placeholders that mean the same as one of the macro placeholders."""

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.]*)\s*\}\}")
_TEMPLATE_SYNTAX = re.compile(r"\{\{|\{%|\}\}|%\}")


@dataclass(frozen=True)
class Translation:
    template: str | None
    """The macro body (Jinja source), or None when the text cannot be filled in."""
    problem: str | None = None


def translate(text: str) -> Translation:
    """The canned reply as a macro template, or why it cannot be one."""
    if not text.strip():
        return Translation(None, "the helpdesk gave no text for it")
    out: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(text):
        literal = text[position:match.start()]
        if _TEMPLATE_SYNTAX.search(literal):
            return Translation(None, f"template syntax csconsole cannot fill in: {_excerpt(literal)}")
        name = match.group(1)
        if name not in PLACEHOLDERS:
            return Translation(None, f"placeholder {{{{{name}}}}} is not one csconsole can fill in"
                                     f" (it knows {', '.join(sorted(PLACEHOLDERS))})")
        out.append(_literal(literal))
        out.append("{{ " + PLACEHOLDERS[name] + " }}")
        position = match.end()
    rest = text[position:]
    if _TEMPLATE_SYNTAX.search(rest):
        return Translation(None, f"template syntax csconsole cannot fill in: {_excerpt(rest)}")
    out.append(_literal(rest))
    return Translation("".join(out))


def _literal(text: str) -> str:
    return text.replace("{", '{{ "{" }}')


def _excerpt(text: str) -> str:
    found = _TEMPLATE_SYNTAX.search(text)
    start = found.start() if found else 0
    return " ".join(text[start:start + 40].split())
