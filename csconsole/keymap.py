"""The user's keys: [keys] in the config maps a binding id to keys ("list.down" = "j,n").

Every binding in the console carries an id; this module knows them all, so a typo in the
config is reported with its file and line before the console starts instead of silently
doing nothing. Textual's App.set_keymap applies the result.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections.abc import Iterable

from textual.binding import Binding
from textual.keys import REPLACED_KEYS, Keys

from csconsole.config import Config, ConfigError

MODIFIERS = ("ctrl", "shift", "alt", "meta", "super", "hyper")
_NAMED_KEYS = {key.value for key in Keys}


def binding_classes() -> list[type]:
    """Every class whose BINDINGS an agent can remap."""
    from csconsole.app import CSConsole
    from csconsole.screens.dashboard import DashboardScreen, FigureTable
    from csconsole.screens.help import HelpScreen
    from csconsole.screens.macro_picker import MacroPicker
    from csconsole.screens.order_dialogs import CancelDialog, RefundDialog, ReturnDialog
    from csconsole.screens.outbox import OutboxScreen
    from csconsole.screens.pickers import AgentPicker, Confirm, KeyChoice, NamePrompt, TagEditor
    from csconsole.screens.queue import QueueScreen
    from csconsole.screens.ticket import TicketScreen
    from csconsole.screens.view_picker import ViewPicker
    from csconsole.widgets.composer import Composer
    from csconsole.widgets.orders_panel import OrdersPanel
    from csconsole.widgets.ticket_list import TicketList

    return [CSConsole, QueueScreen, TicketScreen, TicketList, Composer, HelpScreen, ViewPicker, KeyChoice,
            AgentPicker, TagEditor, Confirm, NamePrompt, MacroPicker, RefundDialog, ReturnDialog,
            CancelDialog, OrdersPanel, OutboxScreen, DashboardScreen, FigureTable]


def known_bindings(classes: Iterable[type] | None = None) -> dict[str, Binding]:
    found: dict[str, Binding] = {}
    for cls in classes or binding_classes():
        for binding in getattr(cls, "BINDINGS", []):
            if isinstance(binding, Binding) and binding.id:
                found[binding.id] = binding
    return found


def valid_key(key: str) -> bool:
    """A Textual key name: 'j', 'G', 'enter', 'ctrl+r', 'f5', 'left_square_bracket'..."""
    if not key:
        return False
    *mods, base = key.split("+")
    if any(m not in MODIFIERS for m in mods) or not base:
        return False
    if len(base) == 1:
        return base.isprintable()
    if base in _NAMED_KEYS or re.fullmatch(r"f([1-9]|1[0-9]|2[0-4])", base):
        return True
    try:  # characters by their Unicode name, as Textual spells them: 'question_mark', 'slash'
        unicodedata.lookup(REPLACED_KEYS.get(base, base).replace("_", " "))
        return True
    except KeyError:
        return False


def check(config: Config) -> dict[str, str]:
    """The keymap to apply; raises ConfigError (file:line) for an unknown id or a bad key."""
    known = known_bindings()
    for binding_id, keys in config.keys.items():
        line = config.keys_lines.get(binding_id)
        if binding_id not in known:
            close = difflib.get_close_matches(binding_id, list(known), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else " (see the ? overlay for the names)"
            raise ConfigError(config.path, line, f"[keys] {binding_id}: no such binding{hint}")
        for key in (k.strip() for k in keys.split(",")):
            if not valid_key(key):
                raise ConfigError(config.path, line,
                                  f"[keys] {binding_id}: {key!r} is not a key name (like 'j', 'ctrl+r', 'f5', 'enter')")
    return dict(config.keys)
