"""Driving the console with the keyboard: queue, ticket, next/previous, help, palette."""

from csconsole.app import CSConsole
from csconsole.screens.help import HelpScreen
from csconsole.screens.queue import QueueScreen
from csconsole.screens.ticket import TicketScreen
from csconsole.widgets.ticket_list import TicketList
from tests.pilot import screen_text, wait_for


def app_for(workspace, **kwargs) -> CSConsole:
    return CSConsole(workspace, sync=kwargs.pop("sync", False), **kwargs)


async def loaded_queue(pilot) -> TicketList:
    ticket_list = await wait_for(pilot, lambda: pilot.app.screen.query_one(TicketList), what="queue")
    await wait_for(pilot, lambda: ticket_list.count is not None and ticket_list.current is not None, what="rows")
    return ticket_list


async def test_queue_lists_my_open_tickets(workspace):
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        assert isinstance(pilot.app.screen, QueueScreen)
        await pilot.pause()
        text = screen_text(pilot.app)
        assert "My open" in text and "Unassigned" in text and f"{ticket_list.count} tickets" in text
        assert "Subject" in text and "Requester" in text and "SLA" in text
        expected = ticket_list.count
        with workspace.open_cache() as conn:
            mine = conn.execute("SELECT count(*) FROM ticket t JOIN person p ON p.id = t.assignee_id"
                                " WHERE p.is_me = 1 AND t.unsolved = 1").fetchone()[0]
        assert expected == mine > 0


async def test_cursor_keys(workspace):
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        await pilot.press("j", "j", "down")
        assert ticket_list.cursor == 3
        await pilot.press("k")
        assert ticket_list.cursor == 2
        await pilot.press("G")
        assert ticket_list.cursor == ticket_list.count - 1
        await pilot.press("g")
        assert ticket_list.cursor == 0
        await pilot.press("pagedown")
        assert ticket_list.cursor > 10


async def test_all_view_pages_through_a_thousand_tickets(workspace):
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("7")
        await wait_for(pilot, lambda: ticket_list.count == 1000, what="All view")
        await pilot.press("G")
        last = await wait_for(pilot, lambda: ticket_list.current, what="last row")
        with workspace.open_cache() as conn:
            expected = conn.execute("SELECT id FROM ticket ORDER BY updated_at, id LIMIT 1").fetchone()[0]
        assert last.id == expected
        for _ in range(3):
            await pilot.press("pageup")
        await wait_for(pilot, lambda: ticket_list.current is not None, what="row after paging up")


async def test_open_ticket_then_back_at_the_same_place(workspace):
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        await pilot.press("j", "j")
        row = ticket_list.current
        await pilot.press("enter")
        screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen)
        await wait_for(pilot, lambda: screen.detail is not None and screen.detail.id == row.id, what="ticket")
        text = screen_text(pilot.app)
        assert f"#{row.id}" in text and row.subject[:30] in text
        assert "Customer ·" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
        assert ticket_list.cursor == 2 and ticket_list.current.id == row.id


async def test_next_and_previous_ticket(workspace):
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        first, second = ticket_list.row_at(0), ticket_list.row_at(1)
        await pilot.press("enter")
        screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: screen.detail and screen.detail.id == second.id, what="next ticket")
        await pilot.press("left_square_bracket")
        await wait_for(pilot, lambda: screen.detail and screen.detail.id == first.id, what="previous ticket")
        await pilot.press("left_square_bracket")  # at the top: stays
        assert screen.ticket_id == first.id
        await pilot.press("right_square_bracket", "right_square_bracket", "escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
        assert ticket_list.cursor == 2


async def test_thread_shows_replies_and_notes_differently(workspace):
    with workspace.open_cache() as conn:
        tid = conn.execute("SELECT ticket_id FROM message WHERE public = 0 GROUP BY ticket_id HAVING count(*) >= 1"
                           " LIMIT 1").fetchone()[0]
    app = app_for(workspace)
    async with app.run_test(size=(160, 50)) as pilot:
        await loaded_queue(pilot)
        pilot.app.open_ticket(tid)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.detail is not None)
        await wait_for(pilot, lambda: screen.query(".note"), what="note widget")
        assert screen.query(".customer") and screen.query(".note")
        note = screen.query(".note").first()
        assert "Internal note" in str(note.render())


async def test_help_overlay_lists_the_screen_keys(workspace):
    async with app_for(workspace).run_test(size=(160, 50)) as pilot:
        await loaded_queue(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = screen_text(pilot.app)
        for words in ("Open", "Views", "First ticket", "Last ticket", "Page down", "Sync now"):
            assert words in text, words
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen))
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = screen_text(pilot.app)
        assert "Next ticket" in text and "Previous ticket" in text and "Back to queue" in text


async def test_palette_offers_the_same_actions(workspace):
    async with app_for(workspace).run_test(size=(160, 50)) as pilot:
        ticket_list = await loaded_queue(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"last ticket")
        await wait_for(pilot, lambda: "Last ticket" in screen_text(pilot.app), what="palette match")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ticket_list.cursor == ticket_list.count - 1, what="palette action ran")


async def test_keymap_from_config_changes_bindings(make_workspace):
    workspace = make_workspace('[keys]\n"list.down" = "n"\n')
    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        ticket_list = await loaded_queue(pilot)
        await pilot.press("n", "n")
        assert ticket_list.cursor == 2
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))


async def test_background_sync_fills_an_empty_cache(make_workspace, isolated):
    import shutil

    workspace = make_workspace()
    for path in workspace.db_path.parent.glob("*"):
        path.unlink()
    async with CSConsole(workspace, sync=True).run_test(size=(160, 40)) as pilot:
        ticket_list = await wait_for(pilot, lambda: pilot.app.screen.query_one(TicketList))
        await wait_for(pilot, lambda: pilot.app.sync_status and pilot.app.sync_status.last_pull_at, what="first pull")
        await wait_for(pilot, lambda: ticket_list.count and ticket_list.current, what="rows after sync")
        assert "synced" in screen_text(pilot.app)
    shutil.rmtree(isolated / "unused", ignore_errors=True)


async def test_a_lone_change_shows_at_once_and_a_burst_is_gathered(workspace):
    """An agent's undo must repaint now; a sync backfill storing a page every few
    milliseconds must not repaint the queue for every page."""
    from csconsole import messages

    async with app_for(workspace).run_test(size=(160, 40)) as pilot:
        await loaded_queue(pilot)
        await pilot.pause(0.5)  # let start-up's own changes settle
        published: list[list[int]] = []
        pilot.app.data_signal.subscribe(pilot.app.screen, published.append)
        pilot.app.post_message(messages.TicketsChanged([7]))
        await wait_for(pilot, lambda: published, timeout=0.2, what="the lone change, without waiting out a window")
        assert published == [[7]]
        for n in range(100, 140):
            pilot.app.post_message(messages.TicketsChanged([n]))
            await pilot.pause(0.005)
        await wait_for(pilot, lambda: published[-1] and published[-1][-1] == 139, what="the end of the burst")
        assert len(published) <= 5, published
        assert sorted(i for batch in published[1:] for i in batch) == list(range(100, 140))


async def test_a_widget_being_removed_counts_as_gone():
    """Workers check ``gone`` after each await: Textual removes a screen's widgets before it
    cancels the screen's workers, and a worker that then queried them failed with NoMatches
    (the console crashed on quit, or on leaving the dashboard, now and then)."""
    from textual.app import App
    from textual.widgets import Static

    from csconsole.screens import gone

    async with App().run_test() as pilot:
        widget = Static("x")
        await pilot.app.screen.mount(widget)
        assert not gone(widget) and not gone(pilot.app.screen)
        removal = widget.remove()
        assert gone(widget)  # from the moment its removal starts
        await removal
        assert gone(widget)
