"""Helpers for driving the app with Textual's pilot."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def wait_for(pilot, predicate: Callable[[], object], timeout: float = 10.0, what: str = "condition"):
    """Let the app run until ``predicate()`` is truthy (workers and threads included)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        try:
            value = predicate()
        except Exception:  # widgets may not exist yet
            value = None
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.02)


def screen_text(app) -> str:
    """What a person would read on the screen right now."""
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())
