"""`?`: every key that works on the screen underneath, as bound right now (keymap included)."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

CHORDS = (("g d", "Lead dashboard"),)


def binding_rows(screen: Screen) -> list[tuple[str, str, bool]]:
    """(keys, description, enabled) for the screen's active bindings, one row per action."""
    app = screen.app
    by_action: dict[tuple[int, str], tuple[list[str], str, bool]] = {}
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in ("help_quit", "command_palette_close"):
            continue
        slot = (id(active.node), binding.action)
        display = app.get_key_display(Binding(key, binding.action, key_display=binding.key_display if key == binding.key else None))
        keys, _, _ = by_action.setdefault(slot, ([], binding.description, active.enabled))
        if display not in keys:
            keys.append(display)
    return [(" ".join(keys), description, enabled) for keys, description, enabled in by_action.values()]


class HelpScreen(ModalScreen[None]):
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll { width: 76; max-height: 90%; height: auto; border: round $accent; background: $surface; padding: 0 1; }
    """
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close", id="help.close")]

    def __init__(self, screen: Screen) -> None:
        super().__init__()
        self.target = screen

    def compose(self) -> ComposeResult:
        table = Table(box=None, show_header=False, expand=True, padding=(0, 1))
        table.add_column("keys", style="bold cyan", no_wrap=True, width=22)
        table.add_column("action")
        for keys, description, enabled in sorted(binding_rows(self.target), key=lambda r: r[1].lower()):
            table.add_row(Text(keys), Text(description, style="" if enabled else "dim"))
        for keys, description in CHORDS:
            if getattr(self.app, "has_dashboard", False):
                table.add_row(Text(keys), Text(description))
        title = Text(f"Keys on this screen ({type(self.target).__name__.replace('Screen', '').lower() or 'app'})",
                     style="bold")
        with VerticalScroll():
            yield Static(title, markup=False)
            yield Static(table, markup=False)
            yield Static(Text("ctrl+p opens the command palette with every action by name · esc closes",
                              style="dim"), markup=False)
