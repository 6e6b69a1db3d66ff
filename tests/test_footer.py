"""The footer rebuilds its keys only when the keys in force change."""

from textual.app import App, ComposeResult
from textual.binding import Binding

from csconsole.widgets.footer import Footer


class CountingFooter(Footer):
    builds = 0

    def compose(self) -> ComposeResult:
        children = list(super().compose())
        if children:
            CountingFooter.builds += 1
        yield from children


class FooterApp(App):
    BINDINGS = [Binding("x", "refund", "Refund"), Binding("y", "approve", "Approve")]
    allowed = True

    def compose(self) -> ComposeResult:
        yield CountingFooter()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return None if action == "approve" and not self.allowed else True


async def test_notices_that_change_nothing_do_not_rebuild_the_keys():
    app = FooterApp()
    async with app.run_test() as pilot:
        await pilot.pause()
        footer = app.query_one(CountingFooter)
        built = CountingFooter.builds
        assert built >= 1 and "Refund" in {str(k.description) for k in footer.children}
        for _ in range(5):  # focus moves, app focus, keymap: the keys stay the same
            app.screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.builds == built
        app.allowed = False  # Approve greys out: that is a change, and it shows
        app.screen.refresh_bindings()
        await pilot.pause()
        await pilot.pause()
        assert CountingFooter.builds == built + 1
        approve = next(k for k in footer.children if str(k.description) == "Approve")
        assert approve.has_class("-disabled")
