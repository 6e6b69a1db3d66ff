"""Textual's footer, rebuilt only when what it shows changes.

Textual's ``Footer`` rebuilds every key widget each time the screen says its bindings may
have changed (focus moves, a screen is pushed, the app gains focus, the keymap is set), and
queues one rebuild per notice. Opening the console sent six such notices before the first
paint; each rebuild mounts and styles a dozen keys twice over (their ``compact`` flag is
set and then unset), about 40 ms of start-up and of every ticket opened. This footer
skips a rebuild when the keys it would show are the ones already shown.
"""

from __future__ import annotations

from collections.abc import Hashable

from textual.widgets import Footer as TextualFooter


class Footer(TextualFooter):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: Hashable | None = None

    def _keys_in_force(self) -> Hashable:
        """Everything ``Footer.compose`` reads, as a value to compare."""
        app = self.app
        keys = tuple(
            (binding.key, binding.action, binding.description, app.get_key_display(binding), enabled, tooltip,
             binding.group.description if binding.group else None)
            for _node, binding, enabled, tooltip in self.screen.active_bindings.values() if binding.show)
        palette = app.COMMAND_PALETTE_BINDING in self.screen.active_bindings
        return keys, palette, self.compact, self.show_command_palette, app.ENABLE_COMMAND_PALETTE

    async def recompose(self) -> None:
        if not self.is_attached:
            return
        shown = self._keys_in_force()
        if shown == self._shown:
            return
        await super().recompose()
        # Before the screen's bindings are known the footer composes empty: not a state to keep.
        self._shown = shown if self.children else None
