"""The search language: what agents type after '/' and what saved views are made of.

    refund "arrived damaged" status:unsolved tag:vip -tag:spam assignee:me|none|NAME
    requester:jane order:1042 created:>7d updated:<2h sla:breached|soon priority:>=high

Words and "phrases" search subject, thread and requester (SQLite FTS5); fields filter;
everything is ANDed unless joined by OR; parentheses group; '-' or NOT negates. Relative
times read as ages: created:>7d is 'more than 7 days old', updated:<2h 'within 2 hours';
dates read as dates: created:>=2026-11-01. A mistake raises QueryError with the column it
is at; nothing the user types reaches SQL except as a bound parameter.
"""

from __future__ import annotations

import re
from calendar import timegm
from dataclasses import dataclass, field
from datetime import datetime

from csconsole.adapters.base import NO_SLA, PRIORITY_BY_NAME, STATUSES

FIELDS = ("status", "priority", "tag", "assignee", "requester", "order", "created", "updated", "sla", "id", "channel")
STATUS_GROUPS = {"unsolved": ("new", "open", "pending", "hold"), "solved": ("solved", "closed")}
SLA_STATES = ("breached", "soon", "ok", "none")
_UNITS = {"m": 60, "min": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


class QueryError(ValueError):
    def __init__(self, message: str, position: int) -> None:
        super().__init__(f"{message} (at column {position + 1})")
        self.message = message
        self.position = position


# ----------------------------------------------------------------------------- syntax tree


@dataclass(frozen=True)
class Text:
    """A free word or a "phrase" for full-text search."""

    value: str
    phrase: bool = False
    prefix: bool = False
    position: int = 0


@dataclass(frozen=True)
class FieldTerm:
    name: str
    op: str  # '=', '<', '<=', '>', '>='
    value: str
    position: int = 0


@dataclass(frozen=True)
class Not:
    item: "Node"


@dataclass(frozen=True)
class And:
    items: tuple["Node", ...]


@dataclass(frozen=True)
class Or:
    items: tuple["Node", ...]


Node = Text | FieldTerm | Not | And | Or


# ----------------------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # word, phrase, field, lparen, rparen, or, and, not, minus
    text: str
    position: int
    field_name: str = ""
    op: str = ""
    prefix: bool = False


_FIELD = re.compile(r"([A-Za-z_]+):")


def _tokens(query: str) -> list[_Token]:
    out: list[_Token] = []
    i, n = 0, len(query)
    while i < n:
        ch = query[i]
        if ch.isspace():
            i += 1
            continue
        if ch == "(":
            out.append(_Token("lparen", ch, i))
            i += 1
            continue
        if ch == ")":
            out.append(_Token("rparen", ch, i))
            i += 1
            continue
        if ch == "-" and i + 1 < n and not query[i + 1].isspace():
            out.append(_Token("minus", ch, i))
            i += 1
            continue
        if ch == '"':
            end = query.find('"', i + 1)
            if end < 0:
                raise QueryError("a phrase is missing its closing quote", i)
            phrase = query[i + 1:end]
            if not phrase.strip():
                raise QueryError("empty phrase", i)
            prefix = end + 1 < n and query[end + 1] == "*"
            out.append(_Token("phrase", phrase, i, prefix=prefix))
            i = end + 1 + (1 if prefix else 0)
            continue
        m = _FIELD.match(query, i)
        if m:
            name = m.group(1).lower()
            start = i
            i = m.end()
            if name not in FIELDS:
                raise QueryError(f"unknown field '{m.group(1)}:' (known: {', '.join(FIELDS)})", start)
            op = ""
            for candidate in (">=", "<=", ">", "<", "="):
                if query.startswith(candidate, i):
                    op = candidate
                    i += len(candidate)
                    break
            if i < n and query[i] == '"':
                end = query.find('"', i + 1)
                if end < 0:
                    raise QueryError("a quoted value is missing its closing quote", i)
                value = query[i + 1:end]
                i = end + 1
            else:
                j = i
                while j < n and not query[j].isspace() and query[j] not in "()":
                    j += 1
                value = query[i:j]
                i = j
            if not value:
                raise QueryError(f"'{name}:' needs a value", start)
            out.append(_Token("field", value, start, field_name=name, op=op or "="))
            continue
        j = i
        while j < n and not query[j].isspace() and query[j] not in '()"':
            j += 1
        word = query[i:j]
        if word in ("OR", "AND", "NOT"):
            out.append(_Token(word.lower(), word, i))
        else:
            prefix = word.endswith("*") and len(word) > 1
            out.append(_Token("word", word.rstrip("*") if prefix else word, i, prefix=prefix))
        i = j
    return out


# ----------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, query: str) -> None:
        self.query = query
        self.tokens = _tokens(query)
        self.i = 0

    def peek(self) -> _Token | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def take(self) -> _Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def parse(self) -> Node:
        if not self.tokens:
            return And(())
        node = self.or_expr()
        token = self.peek()
        if token is not None:
            raise QueryError("unexpected ')'" if token.kind == "rparen" else f"unexpected {token.text!r}", token.position)
        return node

    def or_expr(self) -> Node:
        items = [self.and_expr()]
        while (token := self.peek()) is not None and token.kind == "or":
            self.take()
            if self.peek() is None or self.peek().kind in ("rparen", "or"):  # type: ignore[union-attr]
                raise QueryError("OR needs something on both sides", token.position)
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self) -> Node:
        items: list[Node] = []
        while (token := self.peek()) is not None and token.kind not in ("rparen", "or"):
            if token.kind == "and":
                self.take()
                if self.peek() is None or self.peek().kind in ("rparen", "or", "and"):  # type: ignore[union-attr]
                    raise QueryError("AND needs something on both sides", token.position)
                continue
            items.append(self.unary())
        if not items:
            token = self.peek()
            position = token.position if token else len(self.query)
            if token is not None and token.kind == "rparen":
                raise QueryError("unexpected ')'", position)
            raise QueryError("OR needs something on both sides" if token is not None else "nothing to search for here", position)
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self) -> Node:
        token = self.take()
        if token.kind in ("minus", "not"):
            nxt = self.peek()
            if nxt is None or nxt.kind in ("rparen", "or", "and"):
                raise QueryError(f"'{token.text}' must be followed by a word, a field or a group", token.position)
            return Not(self.unary())
        if token.kind == "lparen":
            if self.peek() is not None and self.peek().kind == "rparen":  # type: ignore[union-attr]
                raise QueryError("empty parentheses", token.position)
            node = self.or_expr()
            closing = self.peek()
            if closing is None or closing.kind != "rparen":
                raise QueryError("'(' is never closed", token.position)
            self.take()
            return node
        if token.kind == "word":
            return Text(token.text, prefix=token.prefix, position=token.position)
        if token.kind == "phrase":
            return Text(token.text, phrase=True, prefix=token.prefix, position=token.position)
        if token.kind == "field":
            _check_field(token)
            return FieldTerm(token.field_name, token.op, token.text, token.position)
        raise QueryError(f"unexpected {token.text!r}", token.position)


def parse(query: str) -> Node:
    """Parse a query; raises QueryError with the column of the first mistake."""
    return _Parser(query).parse()


def _check_field(token: _Token) -> None:
    name, value, op, position = token.field_name, token.text, token.op, token.position
    values = value.split(",") if name in ("status", "priority", "sla", "tag", "channel") else [value]
    if any(not v for v in values):
        raise QueryError(f"empty value in '{name}:{value}'", position)
    if name == "status":
        for v in values:
            if v.lower() not in STATUSES and v.lower() not in STATUS_GROUPS:
                raise QueryError(f"unknown status {v!r} (one of {', '.join(STATUSES)}, unsolved)", position)
        if op != "=":
            raise QueryError("status: compares only with ':' (use status:open,pending)", position)
    elif name == "priority":
        for v in values:
            if v.lower() not in PRIORITY_BY_NAME:
                raise QueryError(f"unknown priority {v!r} (low, normal, high or urgent)", position)
        if op != "=" and len(values) > 1:
            raise QueryError("a priority comparison takes one value", position)
    elif name == "sla":
        for v in values:
            if v.lower() not in SLA_STATES:
                raise QueryError(f"unknown SLA state {v!r} (one of {', '.join(SLA_STATES)})", position)
    elif name in ("created", "updated"):
        _time_bound(value, op, position, now=0)
    elif name == "id":
        if not value.lstrip("#").isdigit():
            raise QueryError(f"id: needs a ticket number, got {value!r}", position)
    elif name == "order":
        if not re.fullmatch(r"#?[\w-]{1,40}", value):
            raise QueryError(f"order: needs an order number, got {value!r}", position)
    elif op != "=":
        raise QueryError(f"'{name}:' does not compare with {op}", position)


def _time_bound(value: str, op: str, position: int, now: int) -> tuple[str, int]:
    """Turn a created:/updated: value into (sql operator, epoch seconds)."""
    m = re.fullmatch(r"(\d+)\s*(m|min|h|d|w)", value.lower())
    if m:
        seconds = int(m.group(1)) * _UNITS[m.group(2)]
        at = now - seconds
        # Ages: '>7d' = older than 7 days = created before now-7d.
        flipped = {">": "<", ">=": "<=", "<": ">", "<=": ">=", "=": ">="}[op]
        return flipped, at
    try:
        day = datetime.strptime(value, "%Y-%m-%d")
    except ValueError:
        raise QueryError(f"expected an age like 7d, 12h, 30m, 2w or a date like 2026-11-01, got {value!r}", position) from None
    at = timegm(day.timetuple())
    if op == "=":
        return "day", at
    if op == ">":
        return ">=", at + 86400
    if op == "<=":
        return "<", at + 86400
    return op, at


# ----------------------------------------------------------------------------- to SQL


@dataclass
class Compiled:
    """A WHERE clause over ``ticket t`` plus, when the query is words ANDed with filters,
    the FTS expression that can drive the query instead (the fast path)."""

    where: str = "1"
    params: list[object] = field(default_factory=list)
    fts: str | None = None
    fts_where: str = "1"
    fts_params: list[object] = field(default_factory=list)

    @property
    def has_text(self) -> bool:
        return self.fts is not None


def _fts_token(node: Text) -> str:
    quoted = '"' + node.value.replace('"', '""') + '"'
    return quoted + ("*" if node.prefix else "")


def _fts_expr(node: Node) -> str | None:
    """The FTS5 expression for a subtree FTS5 can answer alone (words, phrases and
    requester: joined by AND/OR, with NOT after something positive), else None."""
    if isinstance(node, Text):
        return _fts_token(node)
    if isinstance(node, FieldTerm):
        if node.name == "requester" and node.op == "=":
            return "requester : " + _fts_token(Text(node.value, phrase=True, prefix=True))
        return None
    if isinstance(node, Or):
        parts = [None if isinstance(item, Not) else _fts_expr(item) for item in node.items]
        return None if None in parts else "(" + " OR ".join(parts) + ")"  # type: ignore[arg-type]
    if isinstance(node, And):
        return _and_expr(node.items)
    return None


def _and_expr(items: tuple[Node, ...]) -> str | None:
    positives = [_fts_expr(item) for item in items if not isinstance(item, Not)]
    negatives = [_fts_expr(item.item) for item in items if isinstance(item, Not)]
    if not positives or None in positives or None in negatives:
        return None
    return "(" + " AND ".join(positives) + "".join(f" NOT {n}" for n in negatives) + ")"  # type: ignore[arg-type]


def compile_query(node: Node, *, now: int, soon_seconds: int = 3600) -> Compiled:
    params: list[object] = []
    where = _sql(node, params, now, soon_seconds)
    compiled = Compiled(where=where, params=params)
    # Fast path: the text part of a top-level AND drives the query from the FTS index.
    items = node.items if isinstance(node, And) else (node,)
    textual = [item for item in items if (_fts_expr(item.item) if isinstance(item, Not) else _fts_expr(item))]
    expression = _and_expr(tuple(textual)) if textual else None
    if expression:
        rest = [item for item in items if item not in textual]
        rest_params: list[object] = []
        rest_sql = " AND ".join(_sql(item, rest_params, now, soon_seconds) for item in rest) or "1"
        compiled.fts, compiled.fts_where, compiled.fts_params = expression, rest_sql, rest_params
    return compiled


def _sql(node: Node, params: list[object], now: int, soon: int) -> str:
    if isinstance(node, And):
        if not node.items:
            return "1"
        return "(" + " AND ".join(_sql(item, params, now, soon) for item in node.items) + ")"
    if isinstance(node, Or):
        return "(" + " OR ".join(_sql(item, params, now, soon) for item in node.items) + ")"
    if isinstance(node, Not):
        return f"NOT {_sql(node.item, params, now, soon)}"
    if isinstance(node, Text):
        params.append(_fts_token(node))
        return "t.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?)"
    return _field_sql(node, params, now, soon)


def _field_sql(node: FieldTerm, params: list[object], now: int, soon: int) -> str:
    name, op, value = node.name, node.op, node.value
    if name == "status":
        statuses: list[str] = []
        for v in value.lower().split(","):
            statuses.extend(STATUS_GROUPS.get(v, (v,)))
        if set(statuses) == set(STATUS_GROUPS["unsolved"]):
            return "t.unsolved = 1"
        params.extend(dict.fromkeys(statuses))
        return f"t.status IN ({','.join('?' * len(dict.fromkeys(statuses)))})"
    if name == "priority":
        levels = [PRIORITY_BY_NAME[v.lower()] for v in value.split(",")]
        if op != "=":
            params.append(levels[0])
            return f"t.priority {op} ?"
        params.extend(levels)
        return f"t.priority IN ({','.join('?' * len(levels))})"
    if name == "tag":
        tags = [v.lower() for v in value.split(",")]
        params.extend(tags)
        return f"t.id IN (SELECT ticket_id FROM ticket_tag WHERE tag IN ({','.join('?' * len(tags))}))"
    if name == "assignee":
        v = value.lower()
        if v == "me":
            return "t.assignee_id = (SELECT id FROM person WHERE is_me = 1 LIMIT 1)"
        if v in ("none", "nobody", "unassigned"):
            return "t.assignee_id IS NULL"
        params.extend([f"%{_like(value)}%", f"%{_like(value)}%"])
        return ("t.assignee_id IN (SELECT id FROM person WHERE kind = 'agent'"
                " AND (name LIKE ? ESCAPE '\\' OR email LIKE ? ESCAPE '\\'))")
    if name == "requester":
        params.append(_fts_expr(node))
        return "t.id IN (SELECT rowid FROM ticket_fts WHERE ticket_fts MATCH ?)"
    if name == "order":
        params.append(value.lstrip("#"))
        return "t.id IN (SELECT ticket_id FROM ticket_order WHERE order_ref = ?)"
    if name in ("created", "updated"):
        column = f"t.{name}_at"
        sql_op, at = _time_bound(value, op, node.position, now)
        if sql_op == "day":
            params.extend([at, at + 86400])
            return f"({column} >= ? AND {column} < ?)"
        params.append(at)
        return f"{column} {sql_op} ?"
    if name == "sla":
        parts = []
        for v in value.lower().split(","):
            if v == "breached":
                parts.append("t.sla_due_at <= ?")
                params.append(now)
            elif v == "soon":
                parts.append("(t.sla_due_at > ? AND t.sla_due_at <= ?)")
                params.extend([now, now + soon])
            elif v == "ok":
                parts.append("(t.sla_due_at > ? AND t.sla_due_at < ?)")
                params.extend([now + soon, NO_SLA])
            else:
                parts.append("t.sla_due_at >= ?")
                params.append(NO_SLA)
        return "(" + " OR ".join(parts) + ")"
    if name == "id":
        params.append(int(value.lstrip("#")))
        return "t.id = ?"
    if name == "channel":
        channels = value.lower().split(",")
        params.extend(channels)
        return f"t.channel IN ({','.join('?' * len(channels))})"
    raise QueryError(f"unknown field '{name}:'", node.position)


def _like(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
