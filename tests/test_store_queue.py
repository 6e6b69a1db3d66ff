"""Views over the cache: keyset paging agrees with the plain query, search finds text."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csconsole.store import ingest
from csconsole.store.queue import SORT_KEYS, ViewQuery
from tests.conftest import ANCHOR

QUERIES = ["", "status:unsolved", "assignee:me status:unsolved", "tag:refund OR tag:return", "priority:>=high",
           "sla:breached", "order", "status:solved -tag:spam", "created:<3d"]


def all_ids(cache, view: ViewQuery) -> list[int]:
    return [r.id for r in view.page(cache, 10_000)]


@pytest.mark.parametrize("query", QUERIES)
@pytest.mark.parametrize("sort", sorted(SORT_KEYS))
def test_keyset_pages_cover_the_view_exactly(cache, query, sort):
    view = ViewQuery(query, sort, now=ANCHOR)
    expected = all_ids(cache, view)
    assert view.count(cache) == len(expected)
    seen, after = [], None
    while True:
        page = view.page(cache, 37, after=after)
        if not page:
            break
        seen.extend(r.id for r in page)
        after = page[-1].key(view.sort)
    assert seen == expected
    # Backwards from the end, and from any page boundary, gives the same rows.
    if expected:
        tail = view.page_before(cache, 37)
        assert [r.id for r in tail] == expected[-37:]
        middle = view.page(cache, 37, offset=37)
        if middle:
            before = view.page_before(cache, 37, before=middle[0].key(view.sort))
            assert [r.id for r in before] == expected[:37][-len(before):]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(offset=st.integers(min_value=0, max_value=1100), sort=st.sampled_from(sorted(SORT_KEYS)))
def test_offset_and_keyset_agree(cache, offset, sort):
    view = ViewQuery("", sort, now=ANCHOR)
    by_offset = view.page(cache, 20, offset=offset)
    anchor = view.page(cache, 1, offset=offset - 1) if offset else []
    if anchor:
        by_key = view.page(cache, 20, after=anchor[0].key(sort))
        assert [r.id for r in by_key] == [r.id for r in by_offset]


def test_views_use_indexes_not_scans(cache):
    for query, sort in [("status:unsolved", "sla"), ("assignee:me status:unsolved", "sla"), ("", "updated")]:
        view = ViewQuery(query, sort, now=ANCHOR)
        base, params = view._base()
        order, _, _ = view._order()
        plan = " ".join(r[3] for r in cache.execute("EXPLAIN QUERY PLAN SELECT t.id " + base + f" ORDER BY {order} LIMIT 100", params))
        assert "SCAN t " not in plan + " " or "USING" in plan, plan
        assert "TEMP B-TREE" not in plan or query == "assignee:me status:unsolved", plan


def test_full_text_search_finds_subject_thread_and_requester(cache):
    damaged = ViewQuery("damaged", "updated", now=ANCHOR)
    rows = damaged.page(cache, 500)
    assert rows and all(r.id for r in rows)
    assert damaged.sort == "created"  # word searches list newest first
    assert [r.id for r in rows] == sorted((r.id for r in rows), reverse=True)
    name = cache.execute("SELECT name FROM person WHERE kind = 'customer' LIMIT 1").fetchone()[0]
    assert ViewQuery(f'"{name}"', "created", now=ANCHOR).count(cache) >= 1
    phrase = ViewQuery('"return label"', "created", now=ANCHOR).page(cache, 5)
    assert phrase


def test_fts_follows_new_text(cache):
    from csconsole.adapters.base import MessageRecord, PersonRecord

    assert ViewQuery("zanzibar", "created", now=ANCHOR).count(cache) == 0
    ingest.save_thread(cache, 40010, [MessageRecord("m1", PersonRecord("x@y.z", "X", "x@y.z"), "customer", True,
                                                    "Shipping to Zanzibar?", ANCHOR)], ingest.People())
    assert [r.id for r in ViewQuery("zanzibar", "created", now=ANCHOR).page(cache, 5)] == [40010]


def test_order_refs_are_found(cache):
    ref = cache.execute("SELECT order_ref, ticket_id FROM ticket_order LIMIT 1").fetchone()
    ids = [r.id for r in ViewQuery(f"order:#{ref[0]}", "updated", now=ANCHOR).page(cache, 50)]
    assert ref[1] in ids


def test_order_ref_pattern():
    assert ingest.order_refs("Where is order #1042?", "order no. 20455 and order 3001") == {"1042", "20455", "3001"}
    assert ingest.order_refs("call me at 2026") == set()
