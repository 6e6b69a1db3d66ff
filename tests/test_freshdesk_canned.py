"""Freshdesk's canned responses: listed into the cache, filled in by the console, sent as replies.

Freshdesk fills its placeholders only in its own web page; through the API a reply goes out
as written. So the console translates the placeholders it knows and refuses the rest.
"""

import asyncio

import pytest

from csconsole.macros import plan as planning
from csconsole.macros.canned import PLACEHOLDERS, translate
from csconsole.macros.context import Settings
from csconsole.macros.remote import macros as helpdesk_macros
from csconsole.macros.templates import render
from csconsole.store import outbox
from tests.test_freshdesk import adapter, engine_pass, fd, seed, workspace_for  # noqa: F401 (fixture)

SHIPPING = ("Hi {{ticket.requester.firstname}},\n\nYour order on ticket #{{ ticket.id }} is on its way."
            " Use {braces} freely.\n\n{{ticket.agent.name}} at {{helpdesk_name}}")


def test_known_placeholders_become_macro_placeholders_and_the_rest_stays_text():
    template = translate(SHIPPING).template
    assert template is not None
    values = {"requester": {"first_name": "Jane"}, "ticket": {"number": "101"}, "agent": {"name": "Fran Agent"},
              "store": {"name": "Acme"}}
    assert render(template, values) == ("Hi Jane,\n\nYour order on ticket #101 is on its way. Use {braces} freely."
                                        "\n\nFran Agent at Acme")
    assert set(PLACEHOLDERS) >= {"ticket.requester.firstname", "ticket.id", "ticket.agent.name"}


@pytest.mark.parametrize("text, named", [
    ("See {{ticket.url}}", "{{ticket.url}}"),
    ("{% if ticket.priority == 'Urgent' %}Right away{% endif %}", "{% if"),
    ("Hi {{ ticket.requester.firstname | upcase }}", "{{ ticket.requester.firstname"),
    ("{{ ''.__class__ }}", "{{ ''.__class__"),
    ("   ", "no text"),
])
def test_anything_else_that_looks_like_a_template_is_refused_and_named(text, named):
    result = translate(text)
    assert result.template is None and named in result.problem


def test_text_is_never_template_source():
    """What the administrator typed is data: braces and Jinja-like words print as they are."""
    text = "Code {SAVE10} · {#not a comment#} · {x} · }"
    assert render(translate(text).template, {}) == text


async def test_listed_with_their_text_folder_by_folder(fd):  # noqa: F811
    fd.add_canned("Shipping", "Parcel on its way", SHIPPING)
    fd.add_canned("Returns", "Return label", "Hi {{ticket.requester.name}}, the label is attached.")
    listed = await adapter(fd).list_macros()
    assert [(m.title, m.description, m.reply) for m in listed] == [
        ("Parcel on its way", "Freshdesk canned response · Shipping", SHIPPING),
        ("Return label", "Freshdesk canned response · Returns", "Hi {{ticket.requester.name}}, the label is attached.")]
    fd.lean_canned_listing = True  # the listing without text: each is read on its own
    assert [m.reply for m in await adapter(fd).list_macros()] == [m.reply for m in listed]
    assert sum("/canned_responses/" in r.path for r in fd.server.requests) == 2


def canned_workspace(fd, isolated, monkeypatch):
    """One canned response the console can fill in, one it cannot, and a ticket to use them on."""
    fd.add_canned("Shipping", "Parcel on its way", SHIPPING)
    fd.add_canned("Shipping", "Portal link", "Track it at {{ticket.portal_url}}")
    [tid] = seed(fd, 1)
    return workspace_for(fd, isolated, monkeypatch), tid


def test_offered_filled_in_and_sent_as_a_reply(fd, isolated, monkeypatch):  # noqa: F811
    workspace, tid = canned_workspace(fd, isolated, monkeypatch)
    engine_pass(workspace)
    conn = workspace.open_cache()
    held = helpdesk_macros(conn, "fd")
    assert [m.name for m in held.macros] == ["Parcel on its way"] and held.macros[0].remote_id is None
    [problem] = held.problems
    assert "Portal link" in str(problem) and "{{ticket.portal_url}}" in str(problem)
    plan = planning.plan(conn, held.macros[0], tid, Settings.for_workspace(workspace))
    [step] = plan.steps
    expected = f"Hi Jane,\n\nYour order on ticket #{tid} is on its way. Use {{braces}} freely.\n\nFran Agent at "
    assert step.kind == "reply" and step.payload["body"].startswith(expected)
    outbox.enqueue(conn, plan.intents(), actor=str(fd.me))
    engine_pass(workspace, push=True)
    assert [c["body_text"] for c in fd.conversations[tid]] == [step.payload["body"]]
    assert conn.execute("SELECT state FROM outbox").fetchall()[0][0] == "sent"
    conn.close()


async def test_the_picker_previews_the_filled_in_text_and_lists_what_it_cannot_fill(fd, isolated, monkeypatch):  # noqa: F811
    from csconsole.app import CSConsole
    from csconsole.screens.macro_picker import MacroPicker
    from tests.pilot import screen_text, wait_for

    workspace, tid = canned_workspace(fd, isolated, monkeypatch)
    await asyncio.to_thread(engine_pass, workspace)
    async with CSConsole(workspace, sync=False).run_test(size=(170, 45)) as pilot:
        pilot.app.push_screen(MacroPicker([tid]))
        picker = await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker) and pilot.app.screen)
        await pilot.press(*"parcel")
        await wait_for(pilot, lambda: picker.highlighted is not None and picker.highlighted.name == "Parcel on its way"
                       and picker.plan is not None)
        preview = str(picker.query_one("#macro-preview").render())
        assert "Hi Jane," in preview and f"ticket #{tid}" in preview and "{{" not in preview, preview
        assert "Portal link" in screen_text(pilot.app) and "ticket.portal_url" in screen_text(pilot.app)
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, MacroPicker))
    conn = workspace.open_cache()
    kind, body = conn.execute("SELECT kind, json_extract(payload, '$.body') FROM outbox").fetchone()
    assert kind == "reply" and body.startswith("Hi Jane,")
    conn.close()


def test_scripts_list_show_and_dry_run_them(fd, isolated, monkeypatch):  # noqa: F811
    import json
    from tests.test_macros_cli import run

    workspace, tid = canned_workspace(fd, isolated, monkeypatch)
    engine_pass(workspace)

    listed = run("list", "--json")
    assert listed.returncode == 0, listed.stderr
    data = json.loads(listed.stdout)
    [canned] = [m for m in data["macros"] if m["origin"] == "helpdesk"]
    assert canned["name"] == "Parcel on its way" and canned["offered"] and canned["helpdesk_macro"] is None
    assert any("ticket.portal_url" in p["message"] for p in data["problems"])
    assert "Parcel on its way" in run("list").stdout and "helpdesk" in run("list").stdout
    shown = run("show", "parcel on its way")
    assert shown.returncode == 0 and "requester.first_name" in shown.stdout, shown.stderr
    dry = run("apply", "Parcel on its way", "--ticket", str(tid), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "Hi Jane," in dry.stdout and f"ticket #{tid} is on its way" in dry.stdout and "{{" not in dry.stdout
    conn = workspace.open_cache()
    assert conn.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0  # a dry run writes nothing
    conn.close()
