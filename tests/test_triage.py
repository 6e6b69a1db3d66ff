"""Issue 4 in the pilot: every triage key, search, bulk, undo, flow, drafts, collisions.

Each test checks what reached the outbox (kind, payload, ticket), not only the screen.
"""

import json

import pytest

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.app import CSConsole
from csconsole.screens.pickers import AgentPicker, Confirm, KeyChoice, NamePrompt, TagEditor
from csconsole.screens.queue import QueueScreen
from csconsole.screens.ticket import TicketScreen
from csconsole.widgets.composer import Composer
from csconsole.widgets.ticket_list import TicketList
from tests.pilot import screen_text, wait_for

ME = "alex@northwind-outfitters.example"


class App(CSConsole):
    """The console with its notifications on (run_test turns them off by default)."""

    def run_test(self, *args, **kwargs):
        return super().run_test(*args, notifications=True, **kwargs)


def app_for(workspace, **kwargs) -> CSConsole:
    return App(workspace, sync=kwargs.pop("sync", False), **kwargs)


def outbox_rows(workspace, states=("pending",)) -> list[dict]:
    with workspace.open_cache() as conn:
        marks = ",".join("?" * len(states))
        rows = conn.execute(f"SELECT * FROM outbox WHERE state IN ({marks}) ORDER BY id", states).fetchall()
        return [dict(r) | {"payload": json.loads(r["payload"])} for r in rows]


async def ready(pilot) -> TicketList:
    ticket_list = await wait_for(pilot, lambda: pilot.app.screen.query_one(TicketList))
    await wait_for(pilot, lambda: ticket_list.current is not None and pilot.app.me is not None, what="queue rows")
    return ticket_list


async def open_current(pilot) -> TicketScreen:
    await pilot.press("enter")
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen)
    await wait_for(pilot, lambda: screen.detail is not None)
    return screen


async def test_status_key_then_choice_queues_one_action(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        row = ticket_list.current
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("p")
        rows = await wait_for(pilot, lambda: outbox_rows(workspace), what="outbox row")
        assert [(r["kind"], r["ticket_id"], r["payload"]) for r in rows] == [("status", row.id, {"status": "pending"})]
        assert rows[0]["actor"] == ME and rows[0]["base_version"]
        assert "sending in" in screen_text(pilot.app)


async def test_priority_assign_me_and_tags(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        await pilot.press("v")
        await pilot.pause()
        await pilot.press("2")  # Unassigned
        await wait_for(pilot, lambda: pilot.app.screen.view_index == 1 and ticket_list.current is not None)
        row = ticket_list.current
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("u")
        await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 1)
        await pilot.press("t")
        editor = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TagEditor) and pilot.app.screen)
        await pilot.press(*"+vip -", "w", "i", "s", "m", "o", " ", "f", "o", "l", "l", "o", "w", "u", "p")
        assert editor.query_one("Input").value == "+vip -wismo followup"
        await pilot.press("enter")
        await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 2)
        await pilot.press("a")
        rows = await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 3 and outbox_rows(workspace))
        kinds = [(r["kind"], r["payload"]) for r in rows]
        assert kinds[0] == ("priority", {"priority": 4})
        had = row.tags.split()  # only the tags that change are sent
        assert kinds[1] == ("tags", {"add": [t for t in ("vip", "followup") if t not in had],
                                     "remove": ["wismo"] if "wismo" in had else []})
        assert kinds[2][0] == "assign" and kinds[2][1]["assignee"] == ME
        assert {r["ticket_id"] for r in rows} == {row.id}


async def test_a_change_the_ticket_already_shows_sends_nothing(workspace):
    """`a` on a ticket that is already mine: a notice, no helpdesk update."""
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)  # "My open": every row is mine
        await pilot.press("a")
        await wait_for(pilot, lambda: "Nothing to send" in screen_text(pilot.app), what="the notice")
        said = [n.message for n in pilot.app._notifications]
        assert "Nothing to send: “assign → Alex Rivera” changes nothing on that ticket" in said
        await pilot.pause(0.2)
        assert outbox_rows(workspace) == []


def test_changes_only_keeps_what_changes(workspace):
    from csconsole import triage
    from csconsole.store.outbox import Intent

    with workspace.open_cache() as conn:
        a, b = conn.execute("SELECT id, status, tags FROM ticket WHERE status = 'open' AND tags LIKE '%_ _%'"
                            " ORDER BY id LIMIT 2").fetchall()
        c = conn.execute("SELECT id FROM ticket WHERE status = 'pending' LIMIT 1").fetchone()
        kept = triage.changes_only(conn, triage.field_intents("status", [a[0], b[0], c[0]], "open"))
        assert [i.ticket_id for i in kept] == [c[0]]  # a bulk change touches only the tickets it changes
        has, also = a["tags"].split()[:2]
        [tags] = triage.changes_only(conn, triage.field_intents("tags", [a[0]], ([has.upper(), "brand-new"], [also, "absent"])))
        assert tags.payload == {"add": ["brand-new"], "remove": [also]}
        assert triage.changes_only(conn, triage.field_intents("tags", [a[0]], ([has], ["absent"]))) == []


async def test_assign_to_another_agent_by_fuzzy_name(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        row = ticket_list.current
        await pilot.press("A")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, AgentPicker))
        await pilot.press("p", "r", "y")
        await pilot.pause(0.1)
        await pilot.press("enter")
        rows = await wait_for(pilot, lambda: outbox_rows(workspace))
        assert rows[0]["payload"] == {"assignee": "priya@northwind-outfitters.example", "name": "Priya Shah"}
        assert rows[0]["ticket_id"] == row.id


async def test_search_with_errors_inline_then_results(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        await pilot.press("slash")
        await pilot.press(*"status:bogus")
        error = pilot.app.screen.query_one("#search-error")
        await wait_for(pilot, lambda: error.display, what="inline error")
        assert "unknown status 'bogus'" in str(error.render()) and "^" in str(error.render())
        for _ in range(len("status:bogus")):
            await pilot.press("backspace")
        await pilot.press(*"damaged status:unsolved")
        await pilot.press("enter")
        await wait_for(pilot, lambda: pilot.app.screen.search == "damaged status:unsolved" and ticket_list.count,
                       what="search results")
        assert ticket_list.has_focus
        with workspace.open_cache() as conn:
            from csconsole.store.queue import ViewQuery
            from tests.conftest import ANCHOR

            expected = ViewQuery("damaged status:unsolved", "updated", now=ANCHOR).count(conn)
        assert ticket_list.count == expected > 0
        assert "search: damaged status:unsolved" in screen_text(pilot.app)
        await pilot.press("slash", "escape")
        await wait_for(pilot, lambda: pilot.app.screen.search is None)


async def test_save_search_as_view_writes_the_config(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("slash", *"tag:vip", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, NamePrompt))
        for _ in range(10):
            await pilot.press("backspace")
        await pilot.press(*"VIPs", "enter")
        await wait_for(pilot, lambda: pilot.app.screen.view_def.name == "VIPs")
    text = workspace.config.path.read_text()
    assert 'name = "VIPs"' in text and 'query = "tag:vip"' in text
    from csconsole.config import load

    assert load(workspace.config.path).views[-1].query == "tag:vip"


async def test_bulk_select_confirm_and_outbox(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        ids = [ticket_list.row_at(i).id for i in range(3)]
        await pilot.press("x", "x", "x")
        assert ticket_list.selected == set(ids) and "3 selected" in screen_text(pilot.app)
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("s")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen)
        assert "3 tickets" in confirm.question
        await pilot.press("y")
        rows = await wait_for(pilot, lambda: outbox_rows(workspace))
        assert sorted(r["ticket_id"] for r in rows) == sorted(ids)
        assert {r["kind"] for r in rows} == {"status"} and len({r["batch"] for r in rows}) == 1
        assert not ticket_list.selected


async def test_select_whole_view_and_cancel_bulk(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        await pilot.press("X")
        await wait_for(pilot, lambda: len(ticket_list.selected) == ticket_list.count)
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("l")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("n")
        await pilot.pause(0.2)
        assert outbox_rows(workspace) == []
        await pilot.press("X")
        assert not ticket_list.selected


async def test_undo_takes_back_the_last_batch(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        row = ticket_list.current
        await pilot.press("p")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("l" if row.priority != 1 else "u")
        await wait_for(pilot, lambda: outbox_rows(workspace))
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("h" if row.status != "hold" else "p")
        await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 2)
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 1)
        assert outbox_rows(workspace, ("undone",))[0]["kind"] == "status"
        with workspace.open_cache() as conn:
            assert conn.execute("SELECT status FROM ticket WHERE id = ?", (row.id,)).fetchone()[0] == row.status
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: outbox_rows(workspace) == [])
        await pilot.press("ctrl+z")
        await wait_for(pilot, lambda: "Nothing to undo" in screen_text(pilot.app))


async def test_reply_and_note_composer_with_drafts(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        screen = await open_current(pilot)
        tid = screen.ticket_id
        await pilot.press("r")
        composer = screen.query_one(Composer)
        await wait_for(pilot, lambda: composer.display)
        assert "Public reply to" in screen_text(pilot.app)
        await pilot.press(*"Thanks, on it!")
        await pilot.pause(0.6)  # the draft is saved while typing
        with workspace.open_cache() as conn:
            assert conn.execute("SELECT body FROM draft WHERE ticket_id = ?", (tid,)).fetchone()[0] == "Thanks, on it!"
        await pilot.press("escape")  # close; the draft stays
        await wait_for(pilot, lambda: not composer.display)
        await pilot.press("n")
        await wait_for(pilot, lambda: composer.display and "Internal note" in screen_text(pilot.app))
        assert composer.text_area.text == ""
        await pilot.press(*"checked the warehouse", "ctrl+s")
        await wait_for(pilot, lambda: outbox_rows(workspace))
        await pilot.press("r")
        await wait_for(pilot, lambda: composer.display and composer.text_area.text == "Thanks, on it!")
        await pilot.press("ctrl+s")
        rows = await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 2 and outbox_rows(workspace))
        assert [(r["kind"], r["payload"]["body"]) for r in rows] == [("note", "checked the warehouse"),
                                                                     ("reply", "Thanks, on it!")]
        await wait_for(pilot, lambda: "queued, not sent yet" in screen_text(pilot.app))
        with workspace.open_cache() as conn:
            assert conn.execute("SELECT count(*) FROM draft").fetchone()[0] == 0


async def test_draft_survives_a_restart(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        screen = await open_current(pilot)
        tid = screen.ticket_id
        await pilot.press("r", *"half-written reply")
        await pilot.pause(0.6)
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        pilot.app.open_ticket(tid)
        screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen)
        await wait_for(pilot, lambda: screen.detail is not None)
        await pilot.press("r")
        composer = screen.query_one(Composer)
        await wait_for(pilot, lambda: composer.text_area.text == "half-written reply")


async def test_flow_opens_the_next_ticket_after_solving(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        first, second = ticket_list.row_at(0), ticket_list.row_at(1)
        screen = await open_current(pilot)
        assert screen.ticket_id == first.id
        await pilot.press("s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))
        await pilot.press("s")  # solved: leaves "My open"
        await wait_for(pilot, lambda: screen.ticket_id == second.id, what="next ticket opened by itself")
        assert isinstance(pilot.app.screen, TicketScreen)
        await wait_for(pilot, lambda: screen.detail and screen.detail.id == second.id)
        await pilot.press("t")  # a change that keeps it in the view stays put
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TagEditor))
        await pilot.press(*"followup", "enter")
        await wait_for(pilot, lambda: len(outbox_rows(workspace)) == 2)
        await pilot.pause(0.3)
        assert screen.ticket_id == second.id


async def test_flow_does_not_skip_a_ticket_when_the_list_refreshed_first(workspace):
    """The list may drop the solved ticket before the flow looks for the next one (a sync
    page landing meanwhile): the ticket that slid into its place is the next, not the one after."""
    from csconsole import messages

    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        first, second = ticket_list.row_at(0), ticket_list.row_at(1)
        screen = await open_current(pilot)
        with workspace.open_cache() as conn:
            conn.execute("UPDATE ticket SET status = 'solved' WHERE id = ?", (first.id,))
        pilot.app.post_message(messages.TicketsChanged([first.id]))
        await wait_for(pilot, lambda: ticket_list.row_at(0) and ticket_list.row_at(0).id == second.id,
                       what="the list dropping the solved ticket")
        await screen.after_triage([first.id], "status")
        await wait_for(pilot, lambda: screen.detail and screen.detail.id == second.id, what="the next ticket")
        assert ticket_list.cursor == 0 and ticket_list.current.id == second.id


async def test_collision_banner_when_the_customer_writes_meanwhile(workspace):
    async with app_for(workspace, sync=True).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        screen = await open_current(pilot)
        await pilot.press("r", *"Let me check")
        banner = screen.query_one("#collision")
        assert not banner.display
        DemoBackend(workspace.demo_backend).customer_message(screen.ticket_id, "Actually, never mind, it arrived!")
        pilot.app.wake_sync(pull=True)
        await wait_for(pilot, lambda: banner.display, timeout=15, what="collision banner")
        assert "new message" in str(banner.render()) and "(customer)" in str(banner.render())


async def test_bad_key_binding_is_reported_with_file_and_line(make_workspace):
    from csconsole.config import ConfigError
    from csconsole.keymap import check

    workspace = make_workspace('[ui]\nundo_seconds = 2\n\n[keys]\n"list.dwon" = "n"\n')
    with pytest.raises(ConfigError) as info:
        check(workspace.config)
    assert info.value.line == 5 and "did you mean 'list.down'" in str(info.value)
    workspace = make_workspace('[keys]\n"ticket.reply" = "ctrl+nope"\n')
    with pytest.raises(ConfigError, match=":2: .*'ctrl\\+nope' is not a key name"):
        check(workspace.config)


async def test_help_and_palette_show_the_bindings_in_force(make_workspace):
    from csconsole.screens.help import HelpScreen

    workspace = make_workspace('[keys]\n"triage.status" = "S"\n')
    async with app_for(workspace).run_test(size=(160, 50)) as pilot:
        await ready(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, HelpScreen))
        text = screen_text(pilot.app)
        line = next(line for line in text.splitlines() if "Status…" in line)
        assert " S " in f" {line} " and " s " not in f" {line.split('Status')[0]} "
        await pilot.press("escape")
        await pilot.press("S")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, KeyChoice))


async def test_views_by_name_in_the_palette(workspace):
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"view waiting")
        await wait_for(pilot, lambda: "View: Waiting on customer" in screen_text(pilot.app))
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen)
                       and pilot.app.screen.view_def.name == "Waiting on customer")


async def test_macro_key_opens_the_picker_on_the_targets(workspace):
    from csconsole.screens.macro_picker import MacroPicker

    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        ticket_list = await ready(pilot)
        ids = [ticket_list.row_at(0).id, ticket_list.row_at(1).id]
        await pilot.press("x", "x", "m")
        picker = await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker) and pilot.app.screen)
        assert list(picker.ticket_ids) == sorted(ids)
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, QueueScreen))


async def test_fast_typing_after_a_choice_never_dismisses_twice(workspace):
    """Keys typed right after a one-key choice must not close the screen underneath."""
    async with app_for(workspace).run_test(size=(160, 45)) as pilot:
        await ready(pilot)
        await pilot.press("s", "h", "o", "n", "s", "p", "v", "2", "3")
        await pilot.pause(0.3)
        assert len(pilot.app.screen_stack) >= 2 and pilot.app.screen_stack[1].__class__ is QueueScreen
