"""The shared HTTP layer against a real loopback server: status codes become our errors."""

import asyncio

import pytest

from csconsole.adapters import base
from csconsole.adapters.http import HttpClient, check_url
from tests.fakes.server import FakeServer, Reply


def call(server: FakeServer, method: str, path: str, **kwargs):
    async def go():
        client = HttpClient(server.url, what="test", timeout=kwargs.pop("timeout", 5.0), auth=("user", "s3cret-token"))
        try:
            return await client.json(method, path, **kwargs)
        finally:
            await client.aclose()

    return asyncio.run(go())


def test_https_required_except_loopback():
    assert check_url("https://acme.zendesk.com/", "zd") == "https://acme.zendesk.com"
    assert check_url("http://127.0.0.1:8089", "rt") == "http://127.0.0.1:8089"
    with pytest.raises(base.AdapterError, match="plain http"):
        check_url("http://acme.zendesk.com", "zd")
    with pytest.raises(base.AdapterError, match="not in the URL"):
        check_url("https://me:pw@acme.zendesk.com", "zd")


def test_status_codes_map_to_errors():
    with FakeServer() as server:
        server.route("GET", "/ok", lambda r: Reply(200, {"a": 1}))
        assert call(server, "GET", "/ok") == {"a": 1}
        server.queue("GET", "/ok", Reply(429, {"error": "slow down"}, headers={"Retry-After": "0"}), times=3)
        with pytest.raises(base.RateLimited) as info:
            call(server, "GET", "/ok")
        assert info.value.retry_after == 0
        assert len(server.calls("GET", "/ok")) == 4  # the first call, then 3 tries before the engine decides
        server.queue("GET", "/ok", Reply(503, raw=b"down"))
        assert call(server, "GET", "/ok") == {"a": 1}  # a read retries by itself
        server.queue("POST", "/write", Reply(500, {"error": "oops"}))
        with pytest.raises(base.TransientError) as info:
            call(server, "POST", "/write", json={})
        assert info.value.maybe_applied and "oops" in str(info.value)
        server.queue("POST", "/write", Reply(401, {"error": "Couldn't authenticate you"}))
        with pytest.raises(base.AuthError, match="credentials rejected"):
            call(server, "POST", "/write", json={})
        server.queue("PUT", "/write", Reply(422, {"error": "RecordInvalid", "description": "Record validation errors",
                                                   "details": {"base": [{"description": "closed ticket"}]}}))
        with pytest.raises(base.RejectedError) as info:
            call(server, "PUT", "/write", json={})
        assert "RecordInvalid" in str(info.value)
        with pytest.raises(base.NotFound):
            call(server, "GET", "/nowhere")
        server.route("GET", "/garbage", lambda r: Reply(200, raw=b"<html>oops"))
        with pytest.raises(base.TransientError, match="not valid JSON"):
            call(server, "GET", "/garbage")


def test_lost_answer_on_a_write_is_ambiguous_and_secret_free():
    with FakeServer() as server:
        server.route("POST", "/slow", lambda r: Reply(201, {"id": 1}, delay=1.5))
        with pytest.raises(base.TransientError) as info:
            call(server, "POST", "/slow", json={}, timeout=0.5)
        assert info.value.maybe_applied
        assert "s3cret" not in str(info.value) and "Authorization" not in str(info.value)
