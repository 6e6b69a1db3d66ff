"""Widgets of the console; each one's styles sit beside it in a .tcss file."""

from __future__ import annotations

from pathlib import Path


def tcss(module_file: str) -> str:
    """The stylesheet that sits beside a widget module (``ticket_list.py`` → ``ticket_list.tcss``)."""
    return Path(module_file).with_suffix(".tcss").read_text(encoding="utf-8")
