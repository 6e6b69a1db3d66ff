"""A small HTTP server on 127.0.0.1 for contract tests: real sockets, real HTTP/1.1.

Routes are (method, regex) → handler(request) returning a Reply. Every request is recorded,
and a test can queue one-off replies (429, 500, garbage, a slow answer) in front of a route.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    match: re.Match[str] | None = None

    def json(self) -> Any:
        return json.loads(self.body or b"null")

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None
    delay: float = 0.0
    after: Callable[[], None] | None = None
    """Run after the handler (e.g. apply the change) but before answering; with a delay
    longer than the client's timeout this is 'applied, answer lost'."""


Handler = Callable[[Request], Reply]


class FakeServer:
    def __init__(self) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.queued: list[tuple[str, re.Pattern[str], Reply]] = []
        self.requests: list[Request] = []
        self.lock = threading.Lock()
        server = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # else every small answer waits ~40 ms on loopback

            def log_message(self, *args: Any) -> None:
                pass

            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
                reply = server.dispatch(request)
                if reply.after:
                    reply.after()
                if reply.delay:
                    time.sleep(reply.delay)
                payload = reply.raw if reply.raw is not None else (
                    b"" if reply.body is None else json.dumps(reply.body).encode())
                try:
                    self.send_response(reply.status)
                    headers = {"Content-Type": "application/json; charset=utf-8", **reply.headers}
                    for key, value in headers.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _serve

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host}:{port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        self.routes.append((method, re.compile(pattern + r"\Z"), handler))

    def queue(self, method: str, pattern: str, reply: Reply, times: int = 1) -> None:
        """Answer the next ``times`` matching requests with ``reply`` instead of the route."""
        with self.lock:
            self.queued.extend([(method, re.compile(pattern + r"\Z"), reply)] * times)

    def dispatch(self, request: Request) -> Reply:
        with self.lock:
            self.requests.append(request)
            for n, (method, pattern, reply) in enumerate(self.queued):
                if method == request.method and pattern.match(request.path):
                    del self.queued[n]
                    return reply
        for method, pattern, handler in self.routes:
            m = pattern.match(request.path)
            if method == request.method and m:
                request.match = m
                return handler(request)
        return Reply(404, {"error": "RecordNotFound", "description": "Not found"})

    def calls(self, method: str, pattern: str) -> list[Request]:
        rx = re.compile(pattern + r"\Z")
        return [r for r in self.requests if r.method == method and rx.match(r.path)]

    def __enter__(self) -> "FakeServer":
        self.thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
