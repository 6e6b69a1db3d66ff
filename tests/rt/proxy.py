"""A TCP proxy on loopback in front of RT, to slow traffic down or cut it at a chosen point.

RT's standalone server speaks HTTP/1.0 and closes every connection after one answer, so one
connection is one request. Modes, switchable while the proxy runs:

- ``pass``: forward both ways, each request held ``delay`` seconds first (a slow network);
- ``hold_writes``: ticket writes are never forwarded (the helpdesk never hears them);
- ``lose_answers``: ticket writes reach RT, their answers never come back (applied, answer lost).

Runs its own event loop on a thread, so a test can drive a real subprocess through it.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
from typing import Self
from urllib.parse import urlsplit

WRITE = re.compile(rb"^(POST|PUT) /REST/2\.0/ticket/\d+")
"""A request that changes a ticket (a reply, a comment, a field update); searches sent as
POST (/groups, /users) are reads."""


class Proxy:
    def __init__(self, upstream: str, *, delay: float = 0.0) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.delay = delay
        self.mode = "pass"
        self.writes_seen = 0
        self.requests: list[str] = []
        """'METHOD /path?query' of every request, in order."""
        self.port = 0
        self._clients: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rt-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Self:
        self._thread.start()
        self._ready.wait(5)
        return self

    def __exit__(self, *exc: object) -> None:
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._server = self._loop.run_until_complete(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._loop.close()

    async def _shutdown(self) -> None:
        """Cut every held connection and let each handler end on its own."""
        assert self._server is not None
        self._server.close()
        for writer in list(self._clients):
            writer.transport.abort()
        for _ in range(500):
            if not self._clients:
                break
            await asyncio.sleep(0.01)

    async def _serve(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        self._clients.add(client_writer)
        try:
            first = await client_reader.read(65536)
            if not first:
                return
            self.requests.append(" ".join(first.split(b"\r\n", 1)[0].decode("latin-1").split(" ")[:2]))
            write = bool(WRITE.match(first))
            if write:
                self.writes_seen += 1
            mode = self.mode
            if write and mode == "hold_writes":
                await client_reader.read()  # until the client gives up or is killed
                return
            if self.delay:
                await asyncio.sleep(self.delay)
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
            up_writer.write(first)
            await up_writer.drain()
            to_rt = asyncio.ensure_future(_pump(client_reader, up_writer))
            if write and mode == "lose_answers":
                await up_reader.read()  # RT finishes the request; the answer goes nowhere
                to_rt.cancel()
                await asyncio.gather(to_rt, return_exceptions=True)
                await client_reader.read()  # until the client gives up or is killed
            else:
                await _pump(up_reader, client_writer)
                to_rt.cancel()
            up_writer.close()
        except (ConnectionError, OSError):
            pass
        finally:
            self._clients.discard(client_writer)
            with contextlib.suppress(Exception):
                client_writer.close()


async def _pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
