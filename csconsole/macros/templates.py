"""The Jinja2 sandbox macros render in, its filters, and the static check of placeholders.

Rules that keep a customer email whole and the program safe:

- Templates come only from macro files. Customer text (subjects, names, bodies) reaches a
  template as a *value* in the context and is printed as it is: ``{{ }}`` or ``{% %}`` in
  a subject stays literal, because nothing ever renders a value as template source.
- SandboxedEnvironment refuses attributes such as ``__class__`` or ``__globals__``, so a
  template cannot reach Python internals.
- StrictUndefined makes a misspelt placeholder an error. A placeholder the ticket simply
  has no value for (no tracking number yet) is a ``Missing``: false in ``{% if %}`` and
  ``or``, and an error naming it when printed, so a gap never reaches a customer.
- Money and dates are formatted with babel in the customer's locale (the ``locale``
  placeholder), falling back to the store's.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import types
import typing
from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError, TemplateSyntaxError, nodes
from jinja2 import meta as jinja_meta
from jinja2.runtime import StrictUndefined, Undefined
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import pass_context

from csconsole.money import Money, exponent


class RenderError(Exception):
    """A template that cannot be rendered for this ticket; ``line`` is the template's line."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


class Missing(StrictUndefined):
    """A placeholder this ticket has no value for (the order has not shipped, there is no
    order...). Falsy, so templates can test it; printing, iterating or formatting it raises
    an error that names the placeholder and says why it is empty."""

    __slots__ = ("_why",)

    def __init__(self, name: str, why: str) -> None:
        super().__init__(hint=f"{name} has no value for this ticket ({why})", name=name)
        self._why = why

    def __bool__(self) -> bool:
        return False

    __eq__ = Undefined.__eq__
    __ne__ = Undefined.__ne__
    __hash__ = Undefined.__hash__

    def __getattr__(self, name: str) -> Any:
        if name[:1] == "_":
            raise AttributeError(name)
        return Missing(f"{self._undefined_name}.{name}", self._why)


def missing(name: str, why: str) -> Any:
    """A Missing value, typed loosely so context dataclasses can hold it in any field."""
    return Missing(name, why)


# ----------------------------------------------------------------------------- filters


def resolve_locale(*candidates: str | None) -> str:
    """The first candidate babel knows ('de-DE' and 'de_DE' both work); 'en_US' at worst.

    A customer's locale comes from the helpdesk and may be anything, so it is parsed, never
    trusted."""
    from babel import Locale, UnknownLocaleError

    for value in candidates:
        if not value or not isinstance(value, str) or len(value) > 35:
            continue
        try:
            return str(Locale.parse(value.replace("-", "_")))
        except (ValueError, TypeError, UnknownLocaleError):
            continue
    return "en_US"


def _locale(context: Any) -> str:
    value = context.get("locale")
    return value if isinstance(value, str) else "en_US"


def _refuse_missing(value: Any) -> None:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()


@pass_context
def money_filter(context: Any, value: Any, currency: str | None = None) -> str:
    """``{{ order.total | money }}`` or ``{{ 2495 | money("USD") }}``: minor units shown the
    way the customer's locale writes money (``$24.95``, ``24,95 €``)."""
    from babel.numbers import format_currency

    _refuse_missing(value)
    if isinstance(value, Money):
        minor, code = value.minor, currency or value.currency
    elif isinstance(value, int) and not isinstance(value, bool):
        if not currency:
            raise TemplateError('money needs a currency for a bare amount, e.g. {{ 2495 | money("USD") }}')
        minor, code = value, currency
    else:
        raise TemplateError(f"money expects an amount, got {type(value).__name__}")
    code = str(code).upper()
    return format_currency(Decimal(minor).scaleb(-exponent(code)), code, locale=_locale(context))


@pass_context
def date_filter(context: Any, value: Any, format: str = "long") -> str:
    """``{{ order.created_at | date }}``: a date the way the customer's locale writes it;
    format is short, medium, long, full or a CLDR pattern such as "d MMMM"."""
    from babel.dates import format_date

    _refuse_missing(value)
    if isinstance(value, dt.datetime):
        day = value.astimezone(dt.timezone.utc).date()
    elif isinstance(value, dt.date):
        day = value
    elif isinstance(value, int) and not isinstance(value, bool):
        day = dt.datetime.fromtimestamp(value, dt.timezone.utc).date()
    else:
        raise TemplateError(f"date expects a date, got {type(value).__name__}")
    return format_date(day, format=format, locale=_locale(context))


def first_name(value: Any) -> str:
    """'Ava Nielsen' → 'Ava'; 'Nielsen, Ava' → 'Ava'; an address or nothing → ''."""
    _refuse_missing(value)
    text = " ".join(str(value or "").split())
    if "@" in text:
        return ""
    if "," in text:
        text = text.split(",", 1)[1].strip()
    words = [w for w in text.split(" ") if w.rstrip(".").lower() not in ("mr", "mrs", "ms", "mx", "dr", "prof")]
    return words[0] if words else ""


# ----------------------------------------------------------------------------- environment


def _finalize(value: Any) -> Any:
    if value is None:
        raise TemplateError("a placeholder printed nothing (None)")
    return value


@lru_cache(maxsize=1)
def environment() -> SandboxedEnvironment:
    env = SandboxedEnvironment(undefined=StrictUndefined, finalize=_finalize, autoescape=False,
                               trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=False)
    env.filters.update(money=money_filter, date=date_filter, first_name=first_name)
    return env


@lru_cache(maxsize=512)
def compile_template(source: str) -> Template:
    """Parse once; raises TemplateSyntaxError (with its line) for a broken template."""
    return environment().from_string(source)


def compile_condition(source: str) -> Any:
    return environment().compile_expression(source)


def render(source: str, values: Mapping[str, Any]) -> str:
    """Render a macro body; any failure becomes a RenderError with the template's line."""
    try:
        text = compile_template(source).render(values)
    except TemplateSyntaxError as exc:
        raise RenderError(exc.message or str(exc), exc.lineno) from None
    except Exception as exc:  # undefined, sandbox, filter and Python errors alike
        raise RenderError(_describe(exc), _template_line(exc)) from None
    return tidy(text)


def evaluate(source: str, values: Mapping[str, Any]) -> bool:
    """A ``when`` condition for one ticket."""
    try:
        return bool(compile_condition(source)(**values))
    except Exception as exc:
        raise RenderError(f"condition {source!r}: {_describe(exc)}") from None


def _describe(exc: BaseException) -> str:
    from jinja2.exceptions import SecurityError

    if isinstance(exc, SecurityError):
        return f"not allowed in a macro: {exc}"
    if isinstance(exc, TemplateError):
        return str(exc.message if getattr(exc, "message", None) else exc)
    return f"{type(exc).__name__}: {exc}"


def _template_line(exc: BaseException) -> int | None:
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == "<template>":
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


_BLANK_RUNS = re.compile(r"\n{3,}")


def tidy(text: str) -> str:
    """Trailing spaces off every line, at most one blank line in a row, none at the ends:
    a paragraph an ``{% if %}`` left out leaves no hole in the email."""
    lines = [line.rstrip() for line in text.split("\n")]
    return _BLANK_RUNS.sub("\n\n", "\n".join(lines)).strip("\n")


# ----------------------------------------------------------------------------- static check


@dataclasses.dataclass(frozen=True)
class ListOf:
    item: type


def _shape(hint: Any) -> type | ListOf | None:
    """A context field's type reduced to what the checker follows: a context dataclass, a
    list of them, or None (a scalar, whose attributes are not checked)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(hint):
            shape = _shape(arg)
            if shape is not None:
                return shape
        return None
    if origin is list:
        inner = _shape(typing.get_args(hint)[0])
        return ListOf(inner) if isinstance(inner, type) else None
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return hint
    return None


@lru_cache(maxsize=64)
def _fields(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    return {f.name: _shape(hints[f.name]) for f in dataclasses.fields(cls)}


@dataclasses.dataclass(frozen=True)
class Unknown:
    """A placeholder the context will never have: ``name`` as written, on template ``line``."""

    line: int
    name: str
    message: str


def unknown_placeholders(source: str, roots: Mapping[str, Any]) -> list[Unknown]:
    """Names and attributes no ticket can fill (typos), found without rendering.

    Follows attribute chains from the context's roots, through ``{% for x in ... %}`` and
    ``{% set x = ... %}``; anything it cannot follow (indexing, filters) is left to render
    time, where StrictUndefined still catches it.
    """
    env = environment()
    tree = env.parse(source)
    known = set(roots) | set(env.globals)
    problems: list[Unknown] = []
    undeclared = jinja_meta.find_undeclared_variables(tree) - known
    reported: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx == "load" and node.name in undeclared and node.name not in reported:
            reported.add(node.name)
            hint = ", ".join(sorted(roots))
            problems.append(Unknown(node.lineno, node.name, f"unknown placeholder {node.name!r} (known: {hint})"))
    _Checker({name: _shape(kind) for name, kind in roots.items()}, problems).visit_all(tree.body)
    return sorted(problems, key=lambda p: p.line)


class _Checker:
    def __init__(self, scope: dict[str, Any], problems: list[Unknown]) -> None:
        self.scope = scope
        self.problems = problems

    def visit_all(self, body: list[nodes.Node]) -> None:
        for node in body:
            self.visit(node)

    def visit(self, node: nodes.Node) -> None:
        if isinstance(node, nodes.For):
            self.visit(node.iter)
            shape = self.resolve(node.iter)
            inner = dict(self.scope)
            if isinstance(node.target, nodes.Name):
                inner[node.target.name] = shape.item if isinstance(shape, ListOf) else None
            child = _Checker(inner, self.problems)
            child.visit_all(node.body)
            if node.test is not None:
                child.visit(node.test)
            self.visit_all(node.else_)
            return
        if isinstance(node, nodes.Assign) and isinstance(node.target, nodes.Name):
            self.visit(node.node)
            self.scope[node.target.name] = self.resolve(node.node)
            return
        if isinstance(node, nodes.Getattr):
            self.resolve(node)
            return
        for child in node.iter_child_nodes():
            self.visit(child)

    def resolve(self, node: nodes.Node) -> Any:
        if isinstance(node, nodes.Name):
            return self.scope.get(node.name)
        if isinstance(node, nodes.Getattr):
            owner = self.resolve(node.node)
            if isinstance(owner, type):
                fields = _fields(owner)
                if node.attr not in fields:
                    self.problems.append(Unknown(node.lineno, node.attr, _no_such(owner, node.attr, fields)))
                    return None
                return fields[node.attr]
            return None
        for child in node.iter_child_nodes():
            self.visit(child)
        return None


def _no_such(owner: type, attr: str, fields: Mapping[str, Any]) -> str:
    import difflib

    label = getattr(owner, "LABEL", owner.__name__)
    close = difflib.get_close_matches(attr, list(fields), n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(fields)})"
    return f"{label} has no placeholder {attr!r}{hint}"

