"""One macro file → a Macro, or every problem in it with file:line:column.

A file is checked completely before it becomes a Macro: TOML syntax, unknown keys,
values of the wrong kind, unknown statuses or reasons, template syntax, and placeholders
no ticket can fill. A file with any problem is never offered, so a macro is never applied
half-understood. The format is described in FORMAT.md beside this module.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from pathlib import Path
from typing import Any

from csconsole.adapters.base import CANCEL_REASONS, PRIORITY_BY_NAME, REFUND_REASONS, RETURN_REASONS, STATUSES
from csconsole.macros.locate import Source
from csconsole.macros.model import STORE_STEPS, Actions, Macro, Problem, StoreStep
from csconsole.text import clean_line, normalise_tag

TOP_KEYS = ("name", "description", "key", "when", "reply", "note", "actions", "commerce")
ACTION_KEYS = ("status", "priority", "assignee", "add_tags", "remove_tags", "fields")
STEP_KEYS = {
    "refund": {"action", "reason", "lines", "shipping", "restock", "notify", "note"},
    "cancel": {"action", "reason", "refund", "restock", "notify", "note"},
    "return_create": {"action", "reason", "lines", "note"},
}
STEP_REASONS = {"refund": REFUND_REASONS, "cancel": CANCEL_REASONS, "return_create": RETURN_REASONS}
MAX_BYTES = 256_000
"""A macro is a few paragraphs; anything far bigger is a mistake, not a macro."""


class _Checker:
    """Collects the problems of one file, each placed on its line and column."""

    def __init__(self, path: Path, source: Source) -> None:
        self.path = path
        self.source = source
        self.problems: list[Problem] = []

    def at(self, table: str, key: str | None, message: str, index: int = 0) -> None:
        spot = self.source.key(table, key, index)
        self.problems.append(Problem(self.path, spot.line, spot.column, message))

    def unknown_keys(self, data: dict[str, Any], table: str, known: Any, index: int = 0,
                     elsewhere: tuple[str, tuple[str, ...]] | None = None) -> None:
        """Report keys not in ``known``; ``elsewhere`` (table, keys) recognises a key that
        belongs in another table, such as ``status`` written above ``[actions]``."""
        for key in data:
            if key not in known:
                close = difflib.get_close_matches(key, list(known), n=1)
                moved = difflib.get_close_matches(key, list(elsewhere[1]), n=1) if elsewhere and not close else []
                if close:
                    hint = f"did you mean {close[0]!r}?"
                elif moved:
                    hint = f"did you mean {moved[0]!r} under [{elsewhere[0]}]?"  # type: ignore[index]
                else:
                    hint = f"known: {', '.join(sorted(known))}"
                where = f"[{table}] " if table else ""
                self.at(table, key, f"{where}unknown key {key!r} ({hint})", index)

    def typed(self, data: dict[str, Any], table: str, key: str, kind: type, default: Any, index: int = 0) -> Any:
        """``data[key]`` if it is of ``kind`` (str, bool, list or dict), else a problem and the default."""
        if key not in data:
            return default
        value = data[key]
        if not isinstance(value, kind):
            expected = {str: "text in quotes", bool: "true or false", list: 'a list like ["a", "b"]', dict: "a table"}[kind]
            self.at(table, key, f"{key}: expected {expected}, got {value!r}", index)
            return default
        return value

    def choice(self, data: dict[str, Any], table: str, key: str, options: tuple[str, ...], default: str | None,
               index: int = 0) -> str | None:
        value = self.typed(data, table, key, str, default, index)
        if value is not None and value not in options:
            close = difflib.get_close_matches(value, list(options), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"one of {', '.join(options)}"
            self.at(table, key, f"{key}: unknown value {value!r} ({hint})", index)
            return default
        return value


def load_file(path: Path, *, user: bool = False) -> tuple[Macro | None, list[Problem]]:
    """Read and check one macro file."""
    try:
        raw = path.read_bytes()
        if len(raw) > MAX_BYTES:
            return None, [Problem(path, 1, 1, f"the file is {len(raw):,} bytes; a macro must stay under {MAX_BYTES:,}")]
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(path, 1, 1, f"not UTF-8 text: {exc.reason} at byte {exc.start}")]
    except OSError as exc:
        return None, [Problem(path, 1, 1, f"cannot read the file: {exc.strerror or exc}")]
    return parse(path, text, user=user)


def parse(path: Path, text: str, *, user: bool = False) -> tuple[Macro | None, list[Problem]]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"\(at line (\d+), column (\d+)\)", str(exc))
        line, column = (int(m.group(1)), int(m.group(2))) if m else (1, 1)
        reason = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        return None, [Problem(path, line, column, f"not valid TOML: {reason}")]
    check = _Checker(path, Source(text))
    check.unknown_keys(data, "", TOP_KEYS, elsewhere=("actions", ACTION_KEYS))
    name = clean_line(check.typed(data, "", "name", str, ""), 120)
    if not name:
        check.at("", "name" if "name" in data else None, 'a macro needs a name = "..."')
    key = check.typed(data, "", "key", str, None)
    if key is not None and (len(key) != 1 or not key.isprintable() or key.isspace()):
        check.at("", "key", f"key: a quick key is one character, got {key!r}")
        key = None
    when = check.typed(data, "", "when", str, None)
    if when is not None:
        _check_condition(check, when)
    bodies = {}
    for kind in ("reply", "note"):
        body = check.typed(data, "", kind, str, None)
        if body is not None:
            if not body.strip():
                check.at("", kind, f"{kind}: the text is empty")
            else:
                _check_template(check, kind, body)
                bodies[kind] = body
    actions = _actions(check, check.typed(data, "", "actions", dict, {}))
    steps = _steps(check, check.typed(data, "", "commerce", list, []))
    if not bodies and actions == Actions() and not steps:
        check.at("", None, "the macro does nothing: give it a reply, a note, [actions] or [[commerce]] steps")
    if check.problems:
        return None, sorted(check.problems, key=lambda p: (p.line, p.column))
    return Macro(slug=path.stem, path=path, name=name, description=clean_line(check.typed(data, "", "description", str, ""), 300),
                 key=key, when=when, reply=bodies.get("reply"), note=bodies.get("note"), actions=actions,
                 store_steps=steps, user=user), []


def _check_condition(check: _Checker, when: str) -> None:
    from jinja2 import TemplateSyntaxError

    from csconsole.macros import context, templates

    spot = check.source.key("", "when")
    try:
        templates.compile_condition(when)
    except TemplateSyntaxError as exc:
        check.problems.append(Problem(check.path, spot.line, spot.column, f"when: {exc.message}"))
        return
    for unknown in templates.unknown_placeholders("{{ " + when + " }}", context.ROOTS):
        check.problems.append(Problem(check.path, spot.line, check.source.find(spot.line, unknown.name),
                                      f"when: {unknown.message}"))


def _check_template(check: _Checker, kind: str, body: str) -> None:
    from jinja2 import TemplateSyntaxError

    from csconsole.macros import context, templates

    first = check.source.body_line(kind)
    try:
        templates.compile_template(body)
    except TemplateSyntaxError as exc:
        line = first + (exc.lineno or 1) - 1
        check.problems.append(Problem(check.path, line, _template_column(check, line), f"{kind}: {exc.message}"))
        return
    for unknown in templates.unknown_placeholders(body, context.ROOTS):
        line = first + unknown.line - 1
        check.problems.append(Problem(check.path, line, check.source.find(line, unknown.name), f"{kind}: {unknown.message}"))


def _template_column(check: _Checker, line: int) -> int:
    """Jinja names the line of a syntax error, not the column: point at the line's first tag."""
    text = check.source.lines[line - 1] if 1 <= line <= len(check.source.lines) else ""
    found = [at for at in (text.find("{{"), text.find("{%")) if at >= 0]
    return min(found) + 1 if found else 1


def _actions(check: _Checker, data: dict[str, Any]) -> Actions:
    check.unknown_keys(data, "actions", ACTION_KEYS)
    status = check.choice(data, "actions", "status", STATUSES, None)
    priority_name = check.choice(data, "actions", "priority", tuple(PRIORITY_BY_NAME), None)
    assignee = check.typed(data, "actions", "assignee", str, None)
    if assignee is not None and not assignee.strip():
        check.at("actions", "assignee", 'assignee: "me", "none", "lead" or an agent\'s email')
        assignee = None
    tags = {}
    for key in ("add_tags", "remove_tags"):
        values = check.typed(data, "actions", key, list, [])
        cleaned = []
        for value in values:
            tag = normalise_tag(value) if isinstance(value, str) else ""
            if not tag:
                check.at("actions", key, f"{key}: {value!r} is not a tag (letters, digits, '-', '_' and ':')")
            elif tag not in cleaned:
                cleaned.append(tag)
        tags[key] = tuple(cleaned)
    both = set(tags["add_tags"]) & set(tags["remove_tags"])
    if both:
        check.at("actions", "remove_tags", f"remove_tags: {', '.join(sorted(both))} is also in add_tags")
    fields = check.typed(data, "actions", "fields", dict, {})
    for field, value in fields.items():
        if not isinstance(value, (str, int, float, bool)):
            check.at("actions", "fields", f"fields: {field} must be text, a number or true/false, got {value!r}")
    return Actions(status=status, priority=PRIORITY_BY_NAME[priority_name] if priority_name else None,
                   assignee=assignee.strip() if assignee else None, add_tags=tags["add_tags"],
                   remove_tags=tags["remove_tags"], fields=tuple((str(k), v) for k, v in fields.items()))


def _steps(check: _Checker, entries: list[Any]) -> tuple[StoreStep, ...]:
    steps = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            check.at("commerce", None, "commerce: each step is a [[commerce]] table", index)
            continue
        action = check.choice(entry, "commerce", "action", STORE_STEPS, None, index)
        if action is None:
            if "action" not in entry:
                check.at("commerce", None, f'[[commerce]] needs action = "..." (one of {", ".join(STORE_STEPS)})', index)
            continue
        check.unknown_keys(entry, "commerce", STEP_KEYS[action], index)
        reason_default = "CUSTOMER" if action == "cancel" else None
        reason = check.choice(entry, "commerce", "reason", STEP_REASONS[action], reason_default, index)
        if reason is None and "reason" not in entry:
            check.at("commerce", None, f"a {action} step needs a reason (one of {', '.join(STEP_REASONS[action])})", index)
        lines = check.choice(entry, "commerce", "lines", ("all", "none"), "all" if action == "return_create" else "none",
                             index)
        shipping = check.typed(entry, "commerce", "shipping", bool, False, index)
        if action == "refund" and lines == "none" and not shipping:
            check.at("commerce", None, 'a refund step refunds nothing: set lines = "all" or shipping = true', index)
        if action == "return_create" and lines == "none":
            check.at("commerce", "lines", 'a return step returns nothing: use lines = "all"', index)
        steps.append(StoreStep(action=action, reason=reason or "", lines=lines or "none", shipping=shipping,
                               restock=check.typed(entry, "commerce", "restock", bool, True, index),
                               notify=check.typed(entry, "commerce", "notify", bool, True, index),
                               refund=check.typed(entry, "commerce", "refund", bool, True, index),
                               note=check.typed(entry, "commerce", "note", str, "", index)))
    return tuple(steps)
