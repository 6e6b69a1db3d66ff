"""Small dialogs the triage keys open: a key per choice, an agent by fuzzy name, tags with
completion, a yes/no for bulk changes, a name for a saved search. Each is a ModalScreen
that dismisses with its answer (None when the agent backs out with esc)."""

from __future__ import annotations

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.events import Key
from textual.fuzzy import Matcher
from textual.screen import ModalScreen
from textual.suggester import Suggester
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from csconsole.text import clean_line
from csconsole.triage import Agent

DIALOG_CSS = """
{name} {{ align: center middle; }}
{name} > Vertical {{ width: 70; height: auto; max-height: 80%; border: round $accent; background: $surface; padding: 0 1; }}
{name} .title {{ text-style: bold; }}
{name} .hint {{ color: $text-muted; }}
{name} OptionList {{ height: auto; max-height: 16; border: none; }}
"""


class KeyChoice(ModalScreen[object]):
    """One key per choice (status, priority): the key press is the decision."""

    DEFAULT_CSS = DIALOG_CSS.format(name="KeyChoice")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="choice.cancel")]

    def __init__(self, title: str, choices: list[tuple[str, str, object]], current: object = None) -> None:
        super().__init__()
        self.title_text = title
        self.choices = choices
        self.current = current

    def compose(self) -> ComposeResult:
        lines = Text()
        for key, label, value in self.choices:
            lines.append(f"  {key}  ", style="bold cyan")
            lines.append(label, style="bold" if value == self.current else "")
            lines.append("  (now)\n" if value == self.current else "\n", style="dim")
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            yield Static(lines, markup=False)
            yield Static("press a key · esc cancels", classes="hint", markup=False)

    def on_key(self, event: Key) -> None:
        if not self.is_current:  # keys typed fast after the choice still arrive here: ignore them
            return
        for key, _, value in self.choices:
            if event.character == key:
                event.stop()
                self.dismiss(value)
                return


class AgentPicker(ModalScreen[tuple[str | None, str] | None]):
    """Type a few letters of a name or email; enter assigns to the highlighted agent."""

    DEFAULT_CSS = DIALOG_CSS.format(name="AgentPicker")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="agent.cancel"),
                Binding("down", "move(1)", "Next", show=False, id="agent.down"),
                Binding("up", "move(-1)", "Previous", show=False, id="agent.up")]

    def __init__(self, agents: list[Agent], count: int = 1) -> None:
        super().__init__()
        self.agents = agents
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical():
            what = "this ticket" if self.count == 1 else f"{self.count} tickets"
            yield Static(f"Assign {what} to…", classes="title", markup=False)
            yield Input(placeholder="name or email", id="agent-filter")
            yield OptionList(id="agents", markup=False)
            yield Static("enter assigns · “nobody” unassigns · esc cancels", classes="hint", markup=False)

    def on_mount(self) -> None:
        self._fill("")

    @on(Input.Changed, "#agent-filter")
    def _filter(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def _fill(self, typed: str) -> None:
        options = self.query_one(OptionList)
        options.clear_options()
        matcher = Matcher(typed) if typed else None
        scored = []
        for n, agent in enumerate(self.agents):
            score = 1.0 if matcher is None else max(matcher.match(agent.name), matcher.match(agent.email or ""))
            if score > 0:
                scored.append((score, n, agent))
        if matcher is None or Matcher(typed).match("nobody") > 0:
            scored.append((0.5 if matcher else 0.0, len(self.agents), None))
        for _, n, agent in sorted(scored, key=lambda x: (-x[0], x[1])):
            if agent is None:
                options.add_option(Option(Text("nobody (unassign)", style="italic"), id="-"))
                continue
            label = Text(clean_line(agent.name, 30), style="bold")
            label.append(f"  {clean_line(agent.email or '', 40)}", style="dim")
            label.append(f"  {agent.open_tickets} open" + ("  (me)" if agent.is_me else ""))
            options.add_option(Option(label, id=str(n)))
        if options.option_count:
            options.highlighted = 0

    def action_move(self, delta: int) -> None:
        options = self.query_one(OptionList)
        if options.option_count:
            options.highlighted = ((options.highlighted or 0) + delta) % options.option_count

    @on(Input.Submitted, "#agent-filter")
    def _submit(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self._choose(options.get_option_at_index(options.highlighted).id)

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id == "-":
            self.dismiss((None, "nobody"))
        elif option_id is not None:
            agent = self.agents[int(option_id)]
            self.dismiss((agent.remote_id, agent.name))


class _LastWordSuggester(Suggester):
    """Completes the word being typed from the tags already in use."""

    def __init__(self, tags: list[str]) -> None:
        super().__init__(use_cache=False, case_sensitive=True)
        self.tags = tags

    async def get_suggestion(self, value: str) -> str | None:
        head, _, word = value.rpartition(" ")
        sign = word[:1] if word[:1] in "+-" else ""
        stem = word[len(sign):].lower()
        if not stem:
            return None
        for tag in self.tags:
            if tag.startswith(stem) and tag != stem:
                return f"{head} {sign}{tag}".lstrip() if head else f"{sign}{tag}"
        return None


class TagEditor(ModalScreen[str | None]):
    """'+tag' adds, '-tag' removes, a bare word adds; tab completes from known tags."""

    DEFAULT_CSS = DIALOG_CSS.format(name="TagEditor")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="tags.cancel")]

    def __init__(self, current: list[str], known: list[str], count: int = 1) -> None:
        super().__init__()
        self.current = current
        self.known = known
        self.count = count

    def compose(self) -> ComposeResult:
        with Vertical():
            what = "this ticket" if self.count == 1 else f"{self.count} tickets"
            yield Static(f"Tags of {what}", classes="title", markup=False)
            if self.current:
                yield Static("now: " + " ".join(clean_line(t, 40) for t in self.current), classes="hint", markup=False)
            yield Input(placeholder="+vip -spam followup", id="tag-edit", suggester=_LastWordSuggester(self.known))
            yield Static("+tag adds · -tag removes · → or tab completes · enter applies · esc cancels",
                         classes="hint", markup=False)

    def on_key(self, event: Key) -> None:
        if event.key == "tab":  # accept the completion, as → does at the end of the line
            event.stop()
            event.prevent_default()
            edit = self.query_one(Input)
            if edit.cursor_at_end:
                edit.action_cursor_right()

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip() or None)


class Confirm(ModalScreen[bool]):
    """y applies, n or esc cancels; used once per bulk change, naming how many tickets."""

    DEFAULT_CSS = DIALOG_CSS.format(name="Confirm")
    BINDINGS = [Binding("y", "dismiss(True)", "Yes", id="confirm.yes"),
                Binding("n,escape", "dismiss(False)", "No", id="confirm.no")]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.question, classes="title", markup=False)
            yield Static("y yes · n no", classes="hint", markup=False)


class NamePrompt(ModalScreen[str | None]):
    DEFAULT_CSS = DIALOG_CSS.format(name="NamePrompt")
    BINDINGS = [Binding("escape", "dismiss(None)", "Cancel", id="name.cancel")]

    def __init__(self, title: str, value: str = "") -> None:
        super().__init__()
        self.title_text = title
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, classes="title", markup=False)
            yield Input(value=self.value, id="name")

    @on(Input.Submitted)
    def _submit(self, event: Input.Submitted) -> None:
        self.dismiss(clean_line(event.value, 60) or None)
