"""The thread widget keeps what it shows in step with what is on screen."""

import asyncio

from textual.app import App, ComposeResult

from csconsole.store.tickets import MessageView
from csconsole.widgets.thread_view import MessageBox, ThreadView


class ThreadApp(App):
    def compose(self) -> ComposeResult:
        yield ThreadView(id="thread")


MESSAGES = [
    MessageView(id=1, author="Isabella Taylor", role="customer", public=True, body="Where is order 1514?",
                created_at=1_700_000_000, pending=False),
    MessageView(id=2, author="Alex Rivera", role="agent", public=True, body="It is on its way.",
                created_at=1_700_000_600, pending=False),
]


async def test_a_show_cancelled_half_way_does_not_blank_the_next_one():
    """The ticket screen's loader is an exclusive worker: a newer load cancels an older one
    mid-show. The next show of the same messages must still put them on screen (a CI run
    once found the thread empty because the widget thought it already showed them)."""
    app = ThreadApp()
    async with app.run_test() as pilot:
        view = app.query_one(ThreadView)
        # Cancel at each of the first few steps of the show: where exactly depends on Textual.
        for steps in range(1, 6):
            await view.show(MESSAGES[:1], "loading the rest of the thread…")
            await pilot.pause()
            newer = asyncio.create_task(view.show(MESSAGES))
            for _ in range(steps):
                await asyncio.sleep(0)
            newer.cancel()
            await asyncio.gather(newer, return_exceptions=True)
            await pilot.pause()
            await view.show(MESSAGES)
            await pilot.pause()
            shown = [str(box.render()).split(" ·")[0] for box in view.query(MessageBox)]
            assert shown == ["Customer", "Public reply"], f"cancelled after {steps} steps"
