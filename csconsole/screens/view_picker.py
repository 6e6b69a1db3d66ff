"""`v`: pick a saved view by its digit (or arrows and enter)."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.screen import ModalScreen
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from csconsole.text import clean_line


class ViewPicker(ModalScreen[int | None]):
    DEFAULT_CSS = """
    ViewPicker { align: center middle; }
    ViewPicker > Vertical { width: 60; height: auto; max-height: 80%; border: round $accent; background: $surface; }
    ViewPicker #hint { color: $text-muted; padding: 0 1; }
    ViewPicker OptionList { height: auto; max-height: 20; border: none; }
    """
    BINDINGS = [Binding("escape", "dismiss(None)", "Close", id="picker.close")]

    def __init__(self, names: list[str], counts: dict[str, int], current: int) -> None:
        super().__init__()
        self.names = names
        self.counts = counts
        self.current = current

    def compose(self) -> ComposeResult:
        options = []
        for n, name in enumerate(self.names, start=1):
            count = self.counts.get(name)
            label = f"{n if n < 10 else ' '}  {clean_line(name, 40)}"
            if count is not None:
                label += f"  ({count:,})"
            options.append(Option(label, id=str(n - 1)))
        with Vertical():
            yield Static("Views: press a digit, or move and enter", id="hint", markup=False)
            yield OptionList(*options, markup=False)

    def on_mount(self) -> None:
        option_list = self.query_one(OptionList)
        option_list.highlighted = self.current
        option_list.focus()

    def on_key(self, event: Key) -> None:
        if not self.is_current:  # a second digit typed fast must not dismiss twice
            return
        if event.character and event.character.isdigit() and event.character != "0":
            index = int(event.character) - 1
            if index < len(self.names):
                event.stop()
                self.dismiss(index)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(int(event.option.id or 0))
