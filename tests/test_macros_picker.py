"""The macro picker, pushed on a running console: search, quick keys, preview, edit, apply, bulk."""

import json
import subprocess
import sys
import time

import pytest

from csconsole.app import CSConsole
from csconsole.screens.macro_picker import AppliedMacro, ConfirmBulk, MacroPicker
from tests.pilot import screen_text, wait_for
from tests.test_macros_support import first_ticket, load_orders, write_macro


@pytest.fixture
def ready(workspace):
    """The demo workspace with orders loaded (the console loads them when a ticket opens)."""
    load_orders(workspace)
    return workspace


@pytest.fixture
def user_dir(isolated):
    return isolated / "config" / "macros"


def in_transit(workspace) -> int:
    with workspace.open_cache() as conn:
        return first_ticket(conn, workspace, "wismo", lambda v: bool(v["order"]) and v["order"].shipped
                            and not v["order"].delivered)


def not_shipped(workspace) -> int:
    with workspace.open_cache() as conn:
        return first_ticket(conn, workspace, "wismo", lambda v: bool(v["order"]) and not v["order"].shipped
                            and not v["order"].cancelled)


async def open_picker(pilot, ticket_ids: list[int]) -> MacroPicker:
    results: list = []
    picker = MacroPicker(ticket_ids)
    pilot.app.push_screen(picker, results.append)
    picker.results = results  # type: ignore[attr-defined]
    await wait_for(pilot, lambda: picker.library is not None and picker.shown, what="macros listed")
    await wait_for(pilot, lambda: picker.plan is not None or picker.error is not None, what="preview")
    return picker


def preview(picker) -> str:
    return str(picker.query_one("#macro-preview").render())


def outbox(workspace) -> list:
    with workspace.open_cache() as conn:
        return conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()


def app_for(workspace) -> CSConsole:
    app = CSConsole(workspace, sync=False)
    app.woken = 0  # type: ignore[attr-defined]

    def wake_sync(pull: bool = False) -> None:
        app.woken += 1  # type: ignore[attr-defined]

    app.wake_sync = wake_sync  # type: ignore[method-assign]
    return app


def test_importing_the_picker_loads_no_template_engine():
    code = "import sys, csconsole.screens.macro_picker; print('jinja2' in sys.modules, 'babel' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False False"


async def test_preview_shows_the_reply_and_every_action_for_the_ticket(ready):
    tid = in_transit(ready)
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [tid])
        fitting = [m.slug for m in picker.shown if picker.fit[m.slug] is True]
        assert picker.shown[: len(fitting)] == [m for m in picker.shown if m.slug in fitting]  # fitting first
        assert "wismo-shipped" in fitting and "wismo-not-shipped" not in fitting
        await pilot.press("w")
        await wait_for(pilot, lambda: picker.highlighted.slug == "wismo-shipped" and picker.plan
                       and picker.plan.macro.slug == "wismo-shipped", what="wismo preview")
        await wait_for(pilot, lambda: "Public reply" in preview(picker))
        text = preview(picker)
        assert "Where is my order: shipped" in text and "https://" in text and "• status → pending" in text
        assert picker.plan.reply in text
        assert f"Macros · ticket #{tid}" in screen_text(pilot.app)


async def test_quick_key_then_enter_applies_with_the_undo_grace(ready):
    tid = in_transit(ready)
    app = app_for(ready)
    async with app.run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [tid])
        await pilot.press("w")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "wismo-shipped")
        changed: list = []
        app.data_signal.subscribe(app.screen, changed.append)
        started = time.time()
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.results, what="dismissed")
        [result] = picker.results
        assert isinstance(result, AppliedMacro) and result.slug == "wismo-shipped" and result.ticket_ids == (tid,)
        rows = outbox(ready)
        assert [r["id"] for r in rows] == list(result.outbox_ids) and [r["kind"] for r in rows] == ["reply", "status"]
        assert all(r["not_before"] >= started + app.config.ui.undo_seconds - 1 for r in rows)
        assert app.woken == 1
        await wait_for(pilot, lambda: [tid] in changed, what="screens told the ticket changed")


async def test_keys_typed_before_the_macros_load_are_not_lost_or_misread(ready, monkeypatch):
    """`m w` typed faster than the library loads still means the macro on w."""
    import threading

    from csconsole.macros import library

    loaded = threading.Event()
    load = library.for_workspace
    monkeypatch.setattr(library, "for_workspace", lambda workspace: loaded.wait(30) and load(workspace))
    tid = in_transit(ready)
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = MacroPicker([tid])
        pilot.app.push_screen(picker)
        await wait_for(pilot, lambda: picker.query("#macro-search"), what="the search box")
        await pilot.press("w")
        assert picker.library is None  # the key came while the macros were still loading
        loaded.set()
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "wismo-shipped", what="w's macro")
        assert picker.query_one("#macro-search").value == ""


async def test_a_word_typed_before_the_macros_load_is_a_search():
    from textual.app import App

    from csconsole.screens.macro_picker import SearchBox

    class Box(App):
        def compose(self):
            yield SearchBox()

    async with Box().run_test() as pilot:
        box = pilot.app.query_one(SearchBox)
        box.focus()
        await pilot.press(*"wrong")  # w is a quick key, but five keys are a word
        assert box.value == "" and box.early == "wrong"
        box.keys_known(frozenset("wr"))
        await pilot.pause()
        assert box.value == "wrong" and box.early == ""
        await pilot.press("s")  # and typing goes on as usual
        assert box.value == "wrongs"


async def test_fuzzy_search_and_typing_on_after_a_quick_key(ready):
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [in_transit(ready)])
        await pilot.press(*"refnd conf")
        await wait_for(pilot, lambda: picker.shown and picker.shown[0].slug == "refund-confirmation")
        await pilot.press(*["backspace"] * 10)
        await pilot.press("w", "r")  # w picks a macro; r carries on the word: "wr"
        await wait_for(pilot, lambda: picker.query_one("#macro-search").value == "wr")
        await wait_for(pilot, lambda: picker.shown[0].slug == "wrong-item")
        await pilot.press("escape")
        await wait_for(pilot, lambda: picker.results == [None])


async def test_a_missing_placeholder_is_shown_and_blocks_applying(ready, user_dir):
    write_macro(user_dir, "track", 'name = "Tracking link"\nkey = "t"\nreply = "Track it: {{ order.tracking_url }}"\n')
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [not_shipped(ready)])
        await pilot.press("t")
        await wait_for(pilot, lambda: picker.error and "tracking_url" in picker.error, what="error preview")
        await wait_for(pilot, lambda: "Cannot apply" in preview(picker))
        assert "order.tracking_url has no value for this ticket (the order has not shipped yet)" in preview(picker)
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert picker.results == [] and outbox(ready) == []


async def test_edit_the_reply_before_sending(ready):
    tid = in_transit(ready)
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [tid])
        await pilot.press("w")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "wismo-shipped")
        await pilot.press("e")
        editor = picker.query_one("#macro-editor")
        await wait_for(pilot, lambda: editor.display and editor.has_focus, what="editor")
        assert editor.text == picker.plan.reply
        editor.load_text("Hi! {{ 7*7 }} is sent as typed.")
        await pilot.press("escape")  # back to the preview, the edit kept
        await wait_for(pilot, lambda: "Public reply (edited)" in preview(picker))
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.results, what="applied")
        with ready.open_cache() as conn:
            body = conn.execute("SELECT body FROM message WHERE outbox_id IS NOT NULL").fetchone()[0]
        assert body == "Hi! {{ 7*7 }} is sent as typed."


async def test_bulk_asks_once_and_renders_each_ticket_with_its_own_values(ready):
    with ready.open_cache() as conn:
        rows = conn.execute("SELECT t.id, p.name FROM ticket t JOIN person p ON p.id = t.requester_id"
                            " WHERE t.status = 'pending' GROUP BY p.id ORDER BY t.id LIMIT 3").fetchall()
    ids = [r[0] for r in rows]
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, ids)
        assert "Macros · 3 tickets" in screen_text(pilot.app)
        await pilot.press("b")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "follow-up-nudge")
        assert "Preview for one of 3 tickets" in preview(picker)
        first = rows[0][1].split()[0]
        assert f"Hi {first}," in preview(picker) and f"preview for #{ids[0]} (1 of 3)" in screen_text(pilot.app)
        picker.query_one("#macro-search").focus()  # where an agent types: it would take ctrl+arrows as word jumps
        await pilot.press("ctrl+right")  # each ticket's own text, one after another
        second = rows[1][1].split()[0]
        await wait_for(pilot, lambda: f"Hi {second}," in preview(picker), what="the second ticket's preview")
        assert f"preview for #{ids[1]} (2 of 3)" in screen_text(pilot.app)
        await pilot.press("ctrl+left", "ctrl+left")  # and round to the last
        last = rows[2][1].split()[0]
        await wait_for(pilot, lambda: f"Hi {last}," in preview(picker), what="the last ticket's preview")
        await pilot.press("e")  # editing is for one ticket
        assert not picker.query_one("#macro-editor").display
        await pilot.press("enter")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, ConfirmBulk) and pilot.app.screen)
        assert "Apply “Follow-up nudge” to 3 tickets?" in screen_text(pilot.app)
        await pilot.press("y")
        await wait_for(pilot, lambda: picker.results, what="bulk applied")
        assert not confirm.is_attached
    queued = outbox(ready)
    assert len({r["batch"] for r in queued}) == 1
    replies = {r["ticket_id"]: json.loads(r["payload"])["body"] for r in queued if r["kind"] == "reply"}
    for ticket_id, name in rows:
        assert replies[ticket_id].startswith(f"Hi {name.split()[0]},")


async def test_bulk_with_a_ticket_the_macro_does_not_fit_applies_nothing(ready):
    with ready.open_cache() as conn:
        pending = conn.execute("SELECT id FROM ticket WHERE status = 'pending' ORDER BY id LIMIT 1").fetchone()[0]
        solved = conn.execute("SELECT id FROM ticket WHERE status = 'solved' ORDER BY id LIMIT 1").fetchone()[0]
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [pending, solved])
        await pilot.press("b")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "follow-up-nudge")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "1 of 2 tickets cannot take this macro" in preview(picker))
        assert f"#{solved}: does not fit this ticket" in preview(picker)
        assert not isinstance(pilot.app.screen, ConfirmBulk) and outbox(ready) == []


async def test_customer_text_in_the_preview_is_plain_text(ready, user_dir):
    from tests.test_hostile_text import MARKUP, add_hostile_ticket

    tid = add_hostile_ticket(ready)
    write_macro(user_dir, "echo", 'name = "Echo"\nkey = "x"\nreply = "Re: {{ ticket.subject }} / {{ requester.name }}"\n')
    async with app_for(ready).run_test(size=(200, 50)) as pilot:
        picker = await open_picker(pilot, [tid])
        await pilot.press("x")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "echo")
        await wait_for(pilot, lambda: "Re: " in preview(picker))
        text = preview(picker)
        assert MARKUP in text and "\x1b" not in text
        assert "[@click=app.quit]click[/]" in screen_text(pilot.app)
        assert pilot.app.is_running


async def test_a_new_user_macro_appears_while_the_picker_is_open(ready, user_dir):
    write_macro(user_dir, "broken", 'name = "Broken"\nreply = "{{ order.nubmer }}"\n')
    async with app_for(ready).run_test(size=(160, 50)) as pilot:
        picker = await open_picker(pilot, [in_transit(ready)])
        problem = str(picker.query_one("#macro-list").get_option("-problem-0").prompt)
        assert problem == f"⚠ {user_dir / 'broken.toml'}:2:19: reply: order has no placeholder 'nubmer' (did you mean" \
                          " 'number'?)"
        write_macro(user_dir, "thanks", 'name = "Thanks a lot"\nkey = "k"\nreply = "Thanks, {{ requester.first_name }}!"\n')
        await wait_for(pilot, lambda: any(m.slug == "thanks" for m in picker.shown), timeout=5, what="new macro")
        assert "Thanks a lot" in screen_text(pilot.app) and "yours" in screen_text(pilot.app)
        await pilot.press("k")
        await wait_for(pilot, lambda: picker.plan and picker.plan.macro.slug == "thanks")
        await pilot.press("enter")
        await wait_for(pilot, lambda: picker.results)
        assert picker.results[0].slug == "thanks"
