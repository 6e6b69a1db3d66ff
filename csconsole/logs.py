"""Logging to a file in the data folder (the terminal belongs to the UI).

Log lines carry what happened, never a secret: adapters' messages are built without
credentials, and httpx's own loggers (which can print request headers) stay at WARNING.
"""

from __future__ import annotations

import logging
from pathlib import Path


def setup(path: Path, level: int = logging.INFO) -> None:
    root = logging.getLogger()
    if any(getattr(h, "_csconsole", False) for h in root.handlers):
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, encoding="utf-8")
    except OSError:
        return
    handler._csconsole = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
