"""Customer text is hostile: markup stays literal, escapes vanish, huge bodies are cut."""

from hypothesis import given
from hypothesis import strategies as st

from csconsole.adapters.base import MessageRecord, PersonRecord, TicketRecord
from csconsole.app import CSConsole
from csconsole.store import ingest
from csconsole.text import clean, clean_line, for_display
from csconsole.widgets.ticket_list import TicketList
from tests.conftest import ANCHOR
from tests.pilot import screen_text, wait_for

MARKUP = "[bold red]FREE[/] [@click=app.quit]click[/] [link=http://evil]x[/link] [/b]"
ESCAPES = "Hi\x1b[2J\x1b[31mred\x1b[0m\x1b]0;pwned\x07 there\x07\x08\x9b31m"
RTL = "שלום עליכם \u202eevil\u202c مرحبا"
ZERO_WIDTH = "z\u200bero\u2060wid\ufeffth"


def test_clean_strips_control_sequences():
    assert clean(ESCAPES) == "Hired there"
    assert "\x1b" not in clean(ESCAPES) and "\x07" not in clean(ESCAPES)
    assert clean(ZERO_WIDTH) == "zerowidth"
    assert "\u202e" not in clean(RTL) and "שלום" in clean(RTL)
    assert clean_line("a\nb\r\nc\u2028d\te") == "a b c d e"
    assert clean(MARKUP) == MARKUP


@given(st.text())
def test_clean_never_leaves_controls(value):
    out = clean(value)
    assert not any(ord(ch) < 32 and ch not in "\n" for ch in out)
    assert "\x1b" not in out and "\x9b" not in out
    line = clean_line(value, 50)
    assert "\n" not in line and len(line) <= 50


def test_display_cut_for_huge_bodies():
    text, cut = for_display("x" * 1_000_000)
    assert cut and len(text) == 20_000


def add_hostile_ticket(workspace) -> int:
    conn = workspace.open_cache()
    evil = PersonRecord("evil@example.com", f"{MARKUP} {ESCAPES}", "evil@example.com")
    body = f"{MARKUP}\n{ESCAPES}\n{RTL}\n{ZERO_WIDTH}\n" + ("A very long line " * 50) + "\n" + ("spam " * 220_000)
    record = TicketRecord(
        remote_id="99999", number=99999, subject=f"{MARKUP} {ESCAPES} {RTL}", status="open", priority=4,
        created_at=ANCHOR - 60, updated_at=ANCHOR, requester=evil, tags=("[b]tag[/b]", "ok"),
        description=body, message_count=1,
        messages=(MessageRecord("m-evil", evil, "customer", True, body, ANCHOR - 60),))
    ingest.store_page(conn, "demo", [record], None, ingest.People())
    conn.execute("UPDATE person SET is_me = 0")
    conn.execute("UPDATE ticket SET assignee_id = (SELECT id FROM person WHERE kind = 'agent' AND remote_id = ?)"
                 " WHERE id = 99999", ("alex@northwind-outfitters.example",))
    conn.execute("UPDATE person SET is_me = 1 WHERE remote_id = 'alex@northwind-outfitters.example'")
    conn.close()
    return 99999


async def test_hostile_ticket_in_queue_and_thread(workspace):
    tid = add_hostile_ticket(workspace)
    async with CSConsole(workspace, sync=False).run_test(size=(160, 45)) as pilot:
        ticket_list = await wait_for(pilot, lambda: pilot.app.screen.query_one(TicketList))
        await wait_for(pilot, lambda: ticket_list.current is not None)
        text = screen_text(pilot.app)
        assert "[bold red]FREE[/]" in text  # literal, not styled
        assert "pwned" not in text and "\x1b" not in text
        assert pilot.app.is_running  # the [@click=app.quit] did nothing
        pilot.app.open_ticket(tid)
        screen = pilot.app.screen
        await wait_for(pilot, lambda: screen.detail is not None, what="hostile ticket")
        await wait_for(pilot, lambda: screen.query(".message"), what="messages")
        text = screen_text(pilot.app)
        assert "[@click=app.quit]click[/]" in text
        assert "\u202e" not in text and "\u200b" not in text
        body = str(screen.query(".message").first().render())
        assert "message cut here" in body and "[link=http://evil]x[/link]" in body
        with workspace.open_cache() as conn:
            assert conn.execute("SELECT tags FROM ticket WHERE id = ?", (tid,)).fetchone()[0] == "b_tag_b ok"
