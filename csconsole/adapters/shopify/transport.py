"""One shop's Admin GraphQL endpoint: cost-based throttling, errors, the token kept out.

Shopify meters GraphQL by query cost, not by request count: every answer carries
``extensions.cost`` with the bucket's ``currentlyAvailable`` points and its ``restoreRate``.
The bucket is remembered here, and a request whose last known cost the bucket cannot hold
yet waits for it to refill, so a burst of reads slows down instead of being refused.
A ``THROTTLED`` answer (HTTP 200 or 429) is ``RateLimited`` with the computed wait,
``(requestedQueryCost - currentlyAvailable) / restoreRate``: reads wait and retry here, writes
go back to the outbox, which is safe because a throttled request was never processed.

HTTP 200 is not success: GraphQL ``errors`` and a mutation's ``userErrors`` are failures, and
their words are passed on (cleaned, cut short). No message ever contains the access token:
they are built from operation names and Shopify's text, and scrubbed once more on the way out.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from csconsole.adapters.base import AdapterError, AuthError, RateLimited, RejectedError, TransientError
from csconsole.adapters.http import RETRY_CAP, HttpClient, parse_json, retry_after
from csconsole.text import clean_line

READ_ATTEMPTS = 3


@dataclass
class CostBucket:
    """Shopify's leaky bucket as the last answer described it."""

    clock: Callable[[], float] = time.monotonic
    maximum: float | None = None
    available: float | None = None
    restore_rate: float | None = None
    seen_at: float = 0.0
    costs: dict[str, float] = field(default_factory=dict)
    """The last requestedQueryCost of each operation: what it will ask the bucket for next time."""

    def observe(self, operation: str, cost: Any) -> None:
        if not isinstance(cost, Mapping):
            return
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, (int, float)):
            self.costs[operation] = float(requested)
        status = cost.get("throttleStatus")
        try:
            maximum = float(status["maximumAvailable"])
            available = float(status["currentlyAvailable"])
            rate = float(status["restoreRate"])
        except (TypeError, KeyError, ValueError):
            return
        self.maximum, self.available, self.restore_rate, self.seen_at = maximum, available, rate, self.clock()

    def wait_before(self, operation: str) -> float:
        """Seconds until the bucket holds what ``operation`` asked for last time (0 if unknown)."""
        cost = self.costs.get(operation)
        if cost is None or self.available is None or not self.restore_rate:
            return 0.0
        refilled = self.available + (self.clock() - self.seen_at) * self.restore_rate
        now = min(self.maximum or refilled, refilled)
        return 0.0 if now >= cost else (cost - now) / self.restore_rate


def throttle_wait(cost: Any) -> float | None:
    """The documented wait after THROTTLED: (requested - available) / restoreRate."""
    try:
        status = cost["throttleStatus"]
        wait = (float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])) / float(status["restoreRate"])
    except (TypeError, KeyError, ValueError, ZeroDivisionError):
        return None
    return max(wait, 0.0)


def operation_name(document: str) -> str:
    match = re.match(r"\s*(?:query|mutation)\s+(\w+)", document)
    return match.group(1) if match else "query"


def describe(problems: Any, limit: int = 300) -> str:
    """Shopify's own words from ``errors`` or ``userErrors`` (field paths in brackets)."""
    parts = []
    for problem in problems if isinstance(problems, list) else [problems]:
        if isinstance(problem, Mapping):
            text = str(problem.get("message") or problem.get("code") or "")
            where = problem.get("field")
            if isinstance(where, list) and where:
                text += f" [{'.'.join(str(p) for p in where)}]"
        else:
            text = str(problem)
        if text:
            parts.append(text)
    return clean_line("; ".join(dict.fromkeys(parts)) or "no reason given", limit)


def checked(data: Mapping[str, Any], name: str, what: str, errors_key: str = "userErrors") -> dict[str, Any]:
    """A mutation's payload, or RejectedError with Shopify's userErrors (HTTP 200 is no success)."""
    payload = data.get(name)
    if not isinstance(payload, dict):
        raise RejectedError(f"Shopify did not {what}: {name} answered nothing")
    problems = payload.get(errors_key) or []
    if problems:
        raise RejectedError(f"Shopify refused to {what}: {describe(problems)}")
    return payload


def _codes(errors: list[Any]) -> set[str]:
    codes = set()
    for error in errors:
        if isinstance(error, Mapping) and isinstance(error.get("extensions"), Mapping):
            codes.add(str(error["extensions"].get("code", "")))
    return codes


def graphql_error(where: str, errors: Any, write: bool) -> AdapterError:
    """Top-level GraphQL ``errors`` (HTTP 200) as one of our errors."""
    errors = errors if isinstance(errors, list) else [errors]
    codes, message = _codes(errors), describe(errors)
    if "ACCESS_DENIED" in codes:
        return AuthError(f"{where}: access denied ({message}); check the app's scopes")
    if "IDEMPOTENCY_CONCURRENT_REQUEST" in codes:
        return TransientError(f"{where}: the same refund is still being processed ({message})",
                              maybe_applied=True, retry_after=2.0)
    if "IDEMPOTENCY_KEY_PARAMETER_MISMATCH" in codes:
        return RejectedError(f"{where}: Shopify already saw this refund's key with other amounts ({message});"
                             " check the order's refunds before trying again")
    if "INTERNAL_SERVER_ERROR" in codes:
        return TransientError(f"{where}: Shopify had an internal error ({message})", maybe_applied=write)
    return RejectedError(f"{where}: Shopify refused the request: {message}")


def scrub(exc: BaseException, secret: str | None) -> None:
    if secret:
        exc.args = tuple(a.replace(secret, "[token]") if isinstance(a, str) else a for a in exc.args)


class GraphQL:
    """POSTs documents to /admin/api/{version}/graphql.json and returns their ``data``."""

    def __init__(self, http: HttpClient, version: str, secret: str | None,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.http = http
        self.path = f"/admin/api/{version}/graphql.json"
        self._secret = secret
        self.sleep = sleep
        self.bucket = CostBucket(clock)
        self.served_version: str | None = None
        """X-Shopify-API-Version of the last answer: Shopify serves another version when ours is retired."""

    async def run(self, document: str, variables: Mapping[str, Any] | None = None, *, write: bool = False) -> dict:
        try:
            return await self._run(document, dict(variables or {}), write)
        except AdapterError as exc:
            scrub(exc, self._secret)
            raise

    async def _run(self, document: str, variables: dict[str, Any], write: bool) -> dict:
        operation = operation_name(document)
        attempts = 1 if write else READ_ATTEMPTS
        for attempt in range(1, attempts + 1):
            wait = self.bucket.wait_before(operation)
            if wait > RETRY_CAP:
                raise RateLimited(f"shopify {operation}: the query cost bucket needs {wait:.0f}s to refill",
                                  retry_after=wait)
            if wait > 0:
                await self.sleep(wait)
            try:
                return await self._post(operation, document, variables, write)
            except RateLimited as exc:
                delay = exc.retry_after if exc.retry_after is not None else 2.0 ** attempt
                if attempt == attempts or delay > RETRY_CAP:
                    raise
                await self.sleep(delay)
        raise AssertionError("unreachable")

    async def _post(self, operation: str, document: str, variables: dict[str, Any], write: bool) -> dict:
        where = f"shopify {operation}"
        response = await self.http.request("POST", self.path, json={"query": document, "variables": variables},
                                           idempotent=not write, ok=(429,))
        self.served_version = response.headers.get("X-Shopify-API-Version", self.served_version)
        body = parse_json(response, where, maybe_applied=write and response.status_code != 429)
        if not isinstance(body, dict):
            raise TransientError(f"{where}: the answer was not a GraphQL response", maybe_applied=write)
        cost = body.get("extensions", {}).get("cost") if isinstance(body.get("extensions"), Mapping) else None
        self.bucket.observe(operation, cost)
        errors = body.get("errors")
        if response.status_code == 429 or (isinstance(errors, list) and "THROTTLED" in _codes(errors)):
            wait = throttle_wait(cost)
            wait = wait if wait is not None else (retry_after(response) or 1.0)
            raise RateLimited(f"{where}: throttled by Shopify's query cost limit; retry in {wait:.1f}s",
                              retry_after=wait)
        if errors:
            raise graphql_error(where, errors, write)
        data = body.get("data")
        if not isinstance(data, dict):
            raise TransientError(f"{where}: the answer had no data", maybe_applied=write)
        return data
