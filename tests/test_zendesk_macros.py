"""Zendesk's own macros: listed into the cache, offered in the picker, applied by Zendesk."""

import asyncio
import json

from csconsole.app import CSConsole
from csconsole.macros import plan as planning
from csconsole.macros.context import Settings
from csconsole.macros.remote import macros as helpdesk_macros
from csconsole.screens.macro_picker import MacroPicker
from csconsole.store import outbox
from csconsole.store.outbox import Intent
from tests.pilot import wait_for
from tests.test_zendesk import ADMIN, engine_pass, seed, workspace_for, zd  # noqa: F401 (fixture)

ACTIONS = [{"field": "status", "value": "pending"},
           {"field": "comment_value", "value": "Hi {{ticket.requester.first_name}}, the label is on its way."},
           {"field": "current_tags", "value": "label_sent"}]


def cache_of(workspace):
    return workspace.open_cache()


def test_listed_planned_and_applied_by_zendesk(zd, isolated, monkeypatch):  # noqa: F811
    mid = zd.add_macro("Send return label", ACTIONS, description="Label + pending")
    [tid] = seed(zd, 1, assignee=None)
    workspace = workspace_for(zd, isolated, monkeypatch)
    engine_pass(workspace)
    conn = cache_of(workspace)
    held = helpdesk_macros(conn, "zd").macros
    assert [(m.name, m.remote_id) for m in held] == [("Send return label", str(mid))]
    plan = planning.plan(conn, held[0], tid, Settings.for_workspace(workspace))
    assert [s.kind for s in plan.steps] == ["macro"]
    assert "status → pending" in plan.steps[0].summary and "label_sent" in plan.steps[0].summary
    outbox.enqueue(conn, plan.intents(), actor=str(zd.admin))
    engine_pass(workspace, push=True)
    ticket = zd.tickets[tid]
    assert ticket["status"] == "pending" and "label_sent" in ticket["tags"]
    bodies = [c["body"] for c in zd.comments[tid]]
    assert "Hi Jane, the label is on its way." in bodies  # Zendesk filled its own placeholder
    assert conn.execute("SELECT state FROM outbox").fetchone()[0] == "sent"
    conn.close()


def test_lost_answer_for_a_macro_is_found_not_repeated(zd, isolated, monkeypatch):  # noqa: F811
    mid = zd.add_macro("Send return label", ACTIONS)
    [tid] = seed(zd, 1, assignee=None)
    workspace = workspace_for(zd, isolated, monkeypatch, timeout=0.5)
    engine_pass(workspace)
    conn = cache_of(workspace)
    outbox.enqueue(conn, [Intent("macro", tid, {"macro": str(mid), "title": "Send return label"})], actor=ADMIN)
    zd.lose_answers = 1
    engine_pass(workspace, push=True)
    assert conn.execute("SELECT state FROM outbox").fetchone()[0] == "sending"
    conn.execute("UPDATE outbox SET not_before = 0")
    engine_pass(workspace, push=True)
    assert conn.execute("SELECT state FROM outbox").fetchone()[0] == "sent"
    assert sum("label is on its way" in c["body"] for c in zd.comments[tid]) == 1
    conn.close()


async def test_the_picker_offers_and_applies_it(zd, isolated, monkeypatch):  # noqa: F811
    mid = zd.add_macro("Send return label", ACTIONS)
    [tid] = seed(zd, 1, assignee=None)
    workspace = workspace_for(zd, isolated, monkeypatch)
    await asyncio.to_thread(engine_pass, workspace)
    async with CSConsole(workspace, sync=False).run_test(size=(170, 45)) as pilot:
        pilot.app.push_screen(MacroPicker([tid]))
        picker = await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker) and pilot.app.screen)
        await wait_for(pilot, lambda: any(m.remote_id for m in picker.macros))
        await pilot.press(*"return label")
        await wait_for(pilot, lambda: picker.highlighted is not None and picker.highlighted.remote_id == str(mid)
                       and picker.plan is not None)
        preview = str(picker.query_one("#macro-preview").render())
        assert "status → pending" in preview and "fills in its placeholders" in preview, preview
        await pilot.press("enter")
        await wait_for(pilot, lambda: not isinstance(pilot.app.screen, MacroPicker))
    conn = cache_of(workspace)
    row = conn.execute("SELECT kind, payload FROM outbox").fetchone()
    assert row["kind"] == "macro" and json.loads(row["payload"])["macro"] == str(mid)
    conn.close()


def test_scripts_see_and_apply_it(zd, isolated, monkeypatch):  # noqa: F811
    from tests.test_macros_cli import run

    zd.add_macro("Send return label", ACTIONS)
    [tid] = seed(zd, 1, assignee=None)
    workspace = workspace_for(zd, isolated, monkeypatch)
    engine_pass(workspace)

    shown = run("show", "send return label")
    assert shown.returncode == 0 and "applied by the helpdesk" in shown.stdout and "status → pending" in shown.stdout
    applied = run("apply", "Send return label", "--ticket", str(tid), "--json")
    assert applied.returncode == 0, applied.stderr
    conn = cache_of(workspace)
    row = conn.execute("SELECT kind, payload FROM outbox").fetchone()
    assert row["kind"] == "macro" and json.loads(row["payload"])["title"] == "Send return label"
    conn.close()
