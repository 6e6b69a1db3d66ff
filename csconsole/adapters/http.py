"""What every HTTP adapter shares: one httpx client, status codes mapped to our errors.

- HTTPS only, except to loopback (test servers, a local RT): credentials never cross a
  network in the clear.
- 429 → RateLimited with Retry-After (seconds or an HTTP date) or X-RateLimit-Retry-After;
  5xx and network trouble → TransientError, marked ``maybe_applied`` when a write may have
  landed (the request was sent and the answer lost); 401 → AuthError; 404 → NotFound;
  other 4xx → RejectedError with the backend's own message (cleaned and cut short).
- Reads (``idempotent=True``) are retried here a few times with backoff; writes never are:
  the outbox decides, after asking the backend what happened.
- Error messages name the method, path and status, never a header or a credential.
"""

from __future__ import annotations

import asyncio
import email.utils
import ipaddress
import json
import random
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx

from csconsole.adapters.base import AdapterError, AuthError, NotFound, RateLimited, RejectedError, TransientError
from csconsole.text import clean_line

READ_RETRIES = 3
RETRY_CAP = 60.0
"""Seconds: a read waits at most this long for a Retry-After before giving up to the engine."""


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str | None, what: str) -> str:
    if not url:
        raise AdapterError(f"{what}: no URL configured")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise AdapterError(f"{what}: {url!r} is not an http(s) URL")
    if parts.scheme == "http" and not is_loopback(url):
        raise AdapterError(f"{what}: refusing to send credentials over plain http to {parts.hostname}; use https")
    if parts.username or parts.password:
        raise AdapterError(f"{what}: put the user in the account's 'user' setting, not in the URL")
    return url.rstrip("/")


def retry_after(response: httpx.Response) -> float | None:
    for header in ("Retry-After", "X-RateLimit-Retry-After"):
        value = response.headers.get(header)
        if value is None:
            continue
        value = value.strip()
        try:
            return max(float(value), 0.0)
        except ValueError:
            try:
                when = email.utils.parsedate_to_datetime(value)
                return max(when.timestamp() - time.time(), 0.0)
            except (TypeError, ValueError):
                continue
    return None


def backend_message(response: httpx.Response, limit: int = 300) -> str:
    """The backend's own words about an error, from the usual JSON shapes or plain text."""
    try:
        body = response.json()
    except ValueError:
        return clean_line(response.text, limit)
    parts: list[str] = []

    def walk(value: Any, depth: int = 0) -> None:
        if depth > 4 or len(parts) > 6:
            return
        if isinstance(value, str):
            parts.append(value)
        elif isinstance(value, Mapping):
            for key in ("error", "message", "description", "msg", "detail", "errors", "details", "userErrors"):
                if key in value:
                    walk(value[key], depth + 1)
        elif isinstance(value, list):
            for item in value[:5]:
                walk(item, depth + 1)

    walk(body)
    text = "; ".join(dict.fromkeys(p for p in parts if p)) or json.dumps(body)[:limit]
    return clean_line(text, limit)


class HttpClient:
    """An httpx.AsyncClient with our error mapping; one per adapter instance."""

    def __init__(self, base_url: str, *, what: str, auth: httpx.Auth | tuple[str, str] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float = 30.0,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.base_url = check_url(base_url, what)
        self.what = what
        self.client = httpx.AsyncClient(
            base_url=self.base_url, auth=auth, headers={"Accept": "application/json", **(headers or {})},
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)), transport=transport,
            follow_redirects=False, limits=httpx.Limits(max_connections=8, max_keepalive_connections=4))

    async def aclose(self) -> None:
        await self.client.aclose()

    async def request(self, method: str, path: str, *, idempotent: bool | None = None, ok: tuple[int, ...] = (),
                      **kwargs: Any) -> httpx.Response:
        """Send a request; returns the response for 2xx (and any status in ``ok``), else raises."""
        idempotent = method in ("GET", "HEAD") if idempotent is None else idempotent
        attempts = READ_RETRIES if idempotent else 1
        for attempt in range(1, attempts + 1):
            try:
                return await self._once(method, path, idempotent, ok, **kwargs)
            except (RateLimited, TransientError) as exc:
                wait = exc.retry_after if exc.retry_after is not None else min(2 ** attempt, 10) * random.uniform(0.5, 1.5)
                if attempt == attempts or wait > RETRY_CAP:
                    raise
                await asyncio.sleep(wait)
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, idempotent: bool, ok: tuple[int, ...], **kwargs: Any) -> httpx.Response:
        where = f"{self.what} {method} {urlsplit(path).path or path}"
        try:
            response = await self.client.request(method, path, **kwargs)
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise TransientError(f"{where}: cannot connect ({type(exc).__name__})") from None
        except httpx.TimeoutException as exc:
            raise TransientError(f"{where}: timed out ({type(exc).__name__})", maybe_applied=not idempotent) from None
        except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError) as exc:
            raise TransientError(f"{where}: connection dropped ({type(exc).__name__})", maybe_applied=not idempotent) from None
        except httpx.HTTPError as exc:
            raise TransientError(f"{where}: {type(exc).__name__}", maybe_applied=not idempotent) from None
        status = response.status_code
        if 200 <= status < 300 or status in ok:
            return response
        message = backend_message(response)
        if status == 429:
            raise RateLimited(f"{where}: rate limited (429) {message}".rstrip(), retry_after=retry_after(response))
        if status >= 500:
            raise TransientError(f"{where}: server error {status} {message}".rstrip(),
                                 maybe_applied=not idempotent and status != 503, retry_after=retry_after(response))
        if status == 401:
            raise AuthError(f"{where}: credentials rejected (401) {message}".rstrip())
        if status == 404:
            raise NotFound(f"{where}: not found (404)")
        if 300 <= status < 400:
            raise AuthError(f"{where}: redirected ({status}); check the URL and credentials")
        raise RejectedError(f"{where}: refused ({status}) {message}".rstrip())

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """Like request(), and parse the JSON body (a garbled body is a transient error)."""
        response = await self.request(method, path, **kwargs)
        return parse_json(response, f"{self.what} {method} {urlsplit(path).path or path}",
                          maybe_applied=not kwargs.get("idempotent", method in ("GET", "HEAD")))


def parse_json(response: httpx.Response, where: str, *, maybe_applied: bool = False) -> Any:
    if response.status_code == 204 or not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        raise TransientError(f"{where}: the answer was not valid JSON ({len(response.content)} bytes)",
                             maybe_applied=maybe_applied) from None
