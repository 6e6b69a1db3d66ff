"""The query language: property tests over arbitrary input, and what each form means."""


import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csconsole.store.search import And, FieldTerm, Not, Or, QueryError, Text, compile_query, parse

ATOMS = st.sampled_from([
    "refund", '"arrived damaged"', "status:open", "status:unsolved", "priority:>=high", "tag:vip", "-tag:spam",
    "assignee:me", "assignee:none", "assignee:priya", "requester:olivia", "order:1042", "created:>7d",
    "updated:<2h", "sla:breached", "sla:soon", "jack*", "id:40001", "channel:email",
])
QUERIES = st.recursive(ATOMS, lambda inner: st.one_of(
    st.tuples(inner, inner).map(" ".join),
    st.tuples(inner, inner).map(" OR ".join),
    inner.map(lambda q: f"({q})"),
    inner.map(lambda q: f"-({q})"),
), max_leaves=6)


@given(st.text(max_size=80))
@settings(max_examples=500, deadline=None)
def test_any_input_parses_or_says_where(text):
    try:
        node = parse(text)
    except QueryError as exc:
        assert 0 <= exc.position <= len(text)
        assert exc.message
        return
    compile_query(node, now=1_800_000_000)


@given(QUERIES)
@settings(max_examples=300, deadline=None)
def test_well_formed_queries_run_in_sqlite(cache_conn, query):
    compiled = compile_query(parse(query), now=1_800_000_000)
    cache_conn.execute("SELECT count(*) FROM ticket t WHERE " + compiled.where, compiled.params).fetchone()
    if compiled.has_text:
        cache_conn.execute("SELECT count(*) FROM ticket_fts f JOIN ticket t ON t.id = f.rowid WHERE ticket_fts MATCH ? AND "
                           + compiled.fts_where, [compiled.fts, *compiled.fts_params]).fetchone()


@pytest.fixture(scope="module")
def cache_conn(tmp_path_factory):
    from csconsole.store import db

    conn = db.connect(tmp_path_factory.mktemp("q") / "c.sqlite")
    yield conn
    conn.close()


def test_structure():
    assert parse("a b") == And((Text("a", position=0), Text("b", position=2)))
    assert parse("a OR b") == Or((Text("a", position=0), Text("b", position=5)))
    assert parse("-tag:spam") == Not(FieldTerm("tag", "=", "spam", 1))
    assert parse('"two words"') == Text("two words", phrase=True, position=0)
    assert parse("priority:>=high") == FieldTerm("priority", ">=", "high", 0)
    assert parse("") == And(())


@pytest.mark.parametrize("query, position, words", [
    ("status:done", 0, "unknown status"),
    ("refund colour:red", 7, "unknown field"),
    ('"never closed', 0, "closing quote"),
    ("(refund", 0, "never closed"),
    ("refund)", 6, "unexpected ')'"),
    ("a OR", 2, "both sides"),
    ("created:>soon", 0, "age like 7d"),
    ("tag:", 0, "needs a value"),
    ("priority:>=high,low", 0, "one value"),
    ("refund NOT", 7, "must be followed"),
])
def test_mistakes_point_at_their_column(query, position, words):
    with pytest.raises(QueryError) as info:
        parse(query)
    assert info.value.position == position, info.value
    assert words in info.value.message


def test_ages_and_dates():
    now = 1_800_000_000
    c = compile_query(parse("created:>7d updated:<2h"), now=now)
    assert c.params == [now - 7 * 86400, now - 2 * 3600] and "created_at < ?" in c.where and "updated_at > ?" in c.where
    c = compile_query(parse("created:2026-11-01"), now=now)
    assert "created_at >= ?" in c.where and c.params[1] - c.params[0] == 86400


def test_words_drive_the_full_text_index():
    c = compile_query(parse('refund "arrived damaged" -spam status:open OR status:new'), now=0)
    assert c.fts is None  # a top-level OR mixes words and fields: the plain path
    c = compile_query(parse('(jacket OR boots) requester:olivia -spam status:unsolved'), now=0)
    assert c.fts == '(("jacket" OR "boots") AND requester : "olivia"* NOT "spam")'
    assert c.fts_where == "t.unsolved = 1"
