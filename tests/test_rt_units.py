"""The Request Tracker adapter's own logic, without a server: dates, cursors, priorities, text.

The behaviour against a real RT is in test_rt_adapter.py and test_rt_crash.py.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from csconsole.adapters.base import AccountSpec, AdapterError, AuthError
from csconsole.adapters.rt import (
    DST_MARGIN, RTHelpdesk, _body_part, _Cursor, _DateReader, _html_to_text, _level, _priorities, _quote, _relative,
)


def epoch(text: str) -> int:
    return int(datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC).timestamp())


def test_dates_are_written_in_the_zone_rt_reads_them_in():
    new_york = _DateReader(zone=ZoneInfo("America/New_York"))
    assert new_york.literal(epoch("2026-11-23 17:00:00")) == "2026-11-23 12:00:00"
    assert _DateReader(zone=ZoneInfo("UTC")).literal(epoch("2026-11-23 17:00:00")) == "2026-11-23 17:00:00"
    # Within a day of a DST change RT may apply the other offset: an hour earlier, never later.
    assert new_york.literal(epoch("2026-11-01 12:00:00")) == "2026-11-01 06:00:00"
    measured = _DateReader(offset=-5 * 3600, margin=DST_MARGIN)
    assert measured.literal(epoch("2026-11-23 17:00:00")) == "2026-11-23 11:00:00"


def test_a_cursor_never_claims_a_second_that_was_not_over():
    settled = _Cursor(since=1000, after=42)
    assert json.loads(settled.dump(server_now=1005)) == {"since": 1000, "after": 42}
    assert json.loads(settled.dump(server_now=1001)) == {"since": 1000, "after": 0}
    resumed = _Cursor.parse(_Cursor(listing_started=900, after=7).dump())
    assert (resumed.since, resumed.listing_started, resumed.after) == (None, 900, 7)
    for broken in (None, "", "garbage", "[1]", '{"since": "x"}'):
        fresh = _Cursor.parse(broken)
        assert (fresh.since, fresh.listing_started, fresh.after) == (None, None, 0)  # a full listing, never a gap


def test_priorities_map_both_ways_and_can_be_configured():
    default = _priorities(None)
    assert [_level(v, default) for v in (0, 24, 25, 50, 75, 99, 100, 149, 150, 999)] == [1, 1, 2, 2, 3, 3, 3, 4, 4, 4]
    custom = _priorities({"urgent": 99, "high": 70})
    assert custom == {"low": 0, "normal": 50, "high": 70, "urgent": 99} and _level(90, custom) == 4
    with pytest.raises(AdapterError):
        _priorities({"critical": 200})


def test_html_bodies_become_text_and_scripts_never_show():
    html = "<p>Hi <b>there</b></p><script>alert('x')</script><style>p{}</style><ul><li>one</li><li>two</li></ul>"
    assert _html_to_text(html) == "Hi there\n\none\n\ntwo"
    parts = [{"id": 1, "ContentType": "multipart/alternative"}, {"id": 2, "ContentType": "text/html"},
             {"id": 3, "ContentType": "text/plain", "Filename": "notes.txt"}, {"id": 4, "ContentType": "text/plain"}]
    assert _body_part(parts)["id"] == 4 and _body_part(parts[:3])["id"] == 2 and _body_part(parts[:1]) is None


def test_ticketsql_strings_and_links_stay_inside_rt():
    assert _quote("O'Brien \\ team") == "'O\\'Brien \\\\ team'"
    assert _relative("https://rt.internal:8443/rt/REST/2.0/tickets?page=2") == "/REST/2.0/tickets?page=2"
    with pytest.raises(AdapterError):
        _relative("https://elsewhere.example/steal?page=2")


def test_an_auth_token_is_sent_as_a_token_and_never_shown():
    token = "1-14-" + "0123456789abcdef" * 2
    adapter = RTHelpdesk(AccountSpec("rt", "rt", url="https://rt.example"), token)
    assert adapter.http.client.headers["Authorization"] == f"token {token}" and adapter._login == "14"
    assert token not in repr(adapter)
    with pytest.raises(AuthError, match="user"):
        RTHelpdesk(AccountSpec("rt", "rt", url="https://rt.example"), "a password without a user")
    with pytest.raises(AdapterError, match="https"):
        RTHelpdesk(AccountSpec("rt", "rt", url="http://rt.example", user="root"), "password")


def _rt_answering(groups: list[dict]) -> tuple[RTHelpdesk, list[str]]:
    """An adapter whose RT answers from a table: the Privileged group (when ``groups`` holds
    it), users searched by login name, and each user's own record."""
    users = {
        "root": {"Name": "root", "RealName": "Root", "EmailAddress": "root@example.com", "Privileged": 1, "Disabled": "0"},
        "kim": {"Name": "kim", "RealName": "Kim Lee", "EmailAddress": "kim@example.com", "Privileged": 1, "Disabled": "1"},
        "desk": {"Name": "desk", "RealName": "Desk", "EmailAddress": "", "Privileged": 0, "Disabled": "0"},
        "Nobody": {"Name": "Nobody", "Privileged": 1, "Disabled": "0"},
    }
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/REST/2.0")
        asked.append(f"{request.method} {path}")
        if path == "/groups":
            return httpx.Response(200, json={"items": groups, "count": len(groups)})
        if path == "/group/4/members":
            return httpx.Response(200, json={"items": [{"type": "user", "id": "root"}, {"type": "user", "id": "kim"}]})
        if path == "/users":
            assert json.loads(request.url.params["query"]) == [{"field": "Name", "operator": "NOT LIKE", "value": "@"}]
            return httpx.Response(200, json={"items": [{"type": "user", "id": name} for name in users]})
        return httpx.Response(200, json=users[path.removeprefix("/user/")])

    adapter = RTHelpdesk(AccountSpec("rt", "rt", url="https://rt.example", user="root"), "password")
    adapter.http.client._transport = httpx.MockTransport(answer)
    return adapter, asked


async def test_agents_come_from_the_privileged_group_or_else_from_login_names():
    adapter, asked = _rt_answering([{"type": "group", "id": 4}])
    assert [a.remote_id for a in await adapter.list_agents()] == ["root"]  # kim is disabled
    assert "GET /users" not in asked
    # RT builds whose /groups searches only user-defined groups: users with a login name,
    # each confirmed privileged and enabled from its own record.
    adapter, asked = _rt_answering([])
    assert [a.remote_id for a in await adapter.list_agents()] == ["root"]
    assert "GET /users" in asked
