"""The command palette (ctrl+p): every action of the current screen by name, plus views
and 'open ticket #N'."""

from __future__ import annotations

from collections.abc import Iterable

from textual.app import App, SystemCommand
from textual.screen import Screen

from csconsole.screens.help import binding_rows


def screen_commands(app: App, screen: Screen) -> Iterable[SystemCommand]:
    """One palette entry per binding of the screen, named as in the help overlay, and one
    per saved view on the queue."""
    from csconsole.screens.queue import QueueScreen

    if isinstance(screen, QueueScreen):
        for index, view in enumerate(screen.views):
            yield SystemCommand(f"View: {view.name}", f"key: v {index + 1}" if index < 9 else view.query,
                                lambda index=index: screen.show_view(index))
    seen = set()
    for key, active in screen.active_bindings.items():
        binding = active.binding
        if not binding.description or binding.action in ("command_palette", "help_quit"):
            continue
        slot = (id(active.node), binding.action)
        if slot in seen:
            continue
        seen.add(slot)
        keys = next((k for k, d, _ in binding_rows(screen) if d == binding.description), key)
        node = active.node
        action = binding.action

        def run(node=node, action=action) -> None:
            app.call_later(app.run_action, action, node)

        yield SystemCommand(binding.description, f"key: {keys}", run)
