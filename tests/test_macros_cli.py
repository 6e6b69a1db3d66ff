"""`csconsole macros` as a subprocess: exit codes, JSON, dry-run, validate errors."""

import json
import os
import sqlite3
import subprocess
import sys

import pytest

from csconsole.macros import library
from tests.test_macros_support import write_macro


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "csconsole", "macros", *args], capture_output=True, text=True,
                          timeout=120, env=dict(os.environ))


@pytest.fixture
def user_dir(isolated):
    return isolated / "config" / "macros"


def outbox_rows(workspace) -> list[sqlite3.Row]:
    conn = workspace.open_cache()
    try:
        return conn.execute("SELECT * FROM outbox ORDER BY id").fetchall()
    finally:
        conn.close()


def shipped_ticket(workspace) -> int:
    """A wismo ticket whose order is on its way (orders are loaded here to find one; the CLI
    loads them itself for the tickets it is given)."""
    from tests.test_macros_support import first_ticket, load_orders

    load_orders(workspace)
    conn = workspace.open_cache()
    try:
        return first_ticket(conn, workspace, "wismo", lambda v: bool(v["order"]) and v["order"].shipped
                            and not v["order"].delivered)
    finally:
        conn.close()


def test_list_text_and_json(workspace, user_dir):
    write_macro(user_dir, "thanks", 'name = "Thanks!"\nkey = "t"\nreply = "Thank you {{ requester.first_name }}"\n')
    out = run("list")
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    shipped = library.Library([library.Folder(library.shipped_dir(), False)])
    shipped.refresh()
    assert len(lines) == len(shipped.macros) + 1
    assert any(line.startswith("w  Where is my order: shipped") and line.endswith("shipped") for line in lines)
    assert any(line.startswith("t  Thanks!") and line.endswith("yours") for line in lines)
    data = json.loads(run("list", "--json").stdout)
    slugs = {m["slug"]: m for m in data["macros"]}
    assert slugs["thanks"]["user"] and slugs["wismo-shipped"]["key"] == "w" and data["problems"] == []
    assert slugs["cancel-before-shipping"]["needs_store"] and slugs["cancel-before-shipping"]["offered"]


def test_list_names_broken_files_without_failing(workspace, user_dir):
    write_macro(user_dir, "oops", 'name = "Oops"\nreply = "{{ order.numbr }}"\n')
    out = run("list")
    assert out.returncode == 0
    assert f"{user_dir / 'oops.toml'}:2:19: reply: order has no placeholder 'numbr' (did you mean 'number'?)" in out.stderr


def test_show(workspace):
    out = run("show", "wismo-shipped")
    assert out.returncode == 0 and "quick key: w" in out.stdout and "{{ order.tracking_url }}" in out.stdout
    data = json.loads(run("show", "Close as spam", "--json").stdout)
    assert data["actions"] == {"status": "solved", "priority": None, "assignee": "none", "add_tags": ["spam"],
                               "remove_tags": [], "fields": {}}
    missing = run("show", "no-such-macro")
    assert missing.returncode == 2 and "no macro named 'no-such-macro'" in missing.stderr


def test_validate_is_a_pre_commit_hook(workspace, user_dir, tmp_path):
    ok = run("validate")
    assert ok.returncode == 0 and ok.stdout == "" and "macros OK" in ok.stderr
    bad = write_macro(user_dir, "bad", 'name = "Bad"\nkey = "w"\nreply = """\nHi {{ requester.name }\n"""\n'
                                       '[actions]\nstatus = "done"\n')
    out = run("validate")
    assert out.returncode == 1
    assert out.stdout.splitlines() == [f"{bad}:4:4: reply: unexpected '}}'",
                                       f"{bad}:7:1: status: unknown value 'done' (one of new, open, pending, hold,"
                                       " solved, closed)"]
    assert "2 problems in 1 file" in out.stderr
    lone = write_macro(tmp_path / "elsewhere", "fine", 'name = "Fine"\nnote = "ok"\n')
    assert run("validate", str(lone)).returncode == 0
    data = json.loads(run("validate", str(bad), str(lone), "--json").stdout)
    assert data["ok"] is False and data["macros"] == 1
    assert [(p["line"], p["column"]) for p in data["problems"]] == [(4, 4), (7, 1)]
    assert run("validate", str(tmp_path / "absent.toml")).returncode == 1


def test_dry_run_prints_exactly_what_would_be_sent_and_writes_nothing(workspace):
    ticket = shipped_ticket(workspace)
    out = run("apply", "wismo-shipped", "--ticket", str(ticket), "--dry-run")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"Macro: Where is my order: shipped (wismo-shipped)\nTicket #{ticket}: ")
    assert "── public reply ──\nHi " in out.stdout and "https://" in out.stdout and "• status → pending" in out.stdout
    data = json.loads(run("apply", "wismo-shipped", "--ticket", str(ticket), "--dry-run", "--json").stdout)
    [plan] = data["tickets"]
    assert data["dry_run"] is True and plan["ticket"] == ticket
    assert [a["kind"] for a in plan["actions"]] == ["reply", "status"]
    assert plan["actions"][0]["payload"]["body"] in out.stdout
    assert outbox_rows(workspace) == []


def test_apply_queues_one_batch_that_sync_sends(workspace):
    ticket = workspace.open_cache().execute(
        "SELECT id FROM ticket WHERE tags = 'wismo' AND status IN ('open', 'new') ORDER BY id LIMIT 1").fetchone()[0]
    out = run("apply", "shipping-delay", "--ticket", str(ticket), "--json")  # its orders are loaded by the CLI
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    rows = outbox_rows(workspace)
    assert data["queued"] == [r["id"] for r in rows] and len({r["batch"] for r in rows}) == 1
    assert [r["kind"] for r in rows] == ["reply", "tags", "status"] and {r["state"] for r in rows} == {"pending"}
    assert "SORRY15" in json.loads(rows[0]["payload"])["body"]
    sync = subprocess.run([sys.executable, "-m", "csconsole", "sync", "--json"], capture_output=True, text=True,
                          timeout=120)
    assert json.loads(sync.stdout)["sent"] == 3
    assert {r["state"] for r in outbox_rows(workspace)} == {"sent"}


def test_apply_to_several_tickets_is_all_or_nothing(workspace):
    conn = workspace.open_cache()
    pending = conn.execute("SELECT id FROM ticket WHERE status = 'pending' ORDER BY id LIMIT 2").fetchall()
    solved = conn.execute("SELECT id FROM ticket WHERE status = 'solved' ORDER BY id LIMIT 1").fetchone()[0]
    conn.close()
    ids = [str(r[0]) for r in pending] + [str(solved)]
    out = run("apply", "follow-up-nudge", *[a for t in ids for a in ("--ticket", t)], "--json")
    assert out.returncode == 1
    assert json.loads(out.stdout)["errors"] == [{"ticket": solved, "message":
                                                 "does not fit this ticket: `ticket.status == \"pending\"` is false"}]
    assert f"follow-up-nudge: #{solved}: does not fit" in out.stderr
    assert outbox_rows(workspace) == []
    both = run("apply", "follow-up-nudge", "--ticket", ids[0], "--ticket", ids[1])
    assert both.returncode == 0 and len(outbox_rows(workspace)) == 4  # a reply and a tag each


def test_apply_usage_errors(workspace, user_dir):
    assert run("apply", "nope", "--ticket", "40001").returncode == 2
    out = run("apply", "close-spam", "--ticket", "12")
    assert out.returncode == 2 and "no ticket #12" in out.stderr
    write_macro(user_dir, "broken", 'name = "Broken"\nnote = "{{ x }}"\n')
    out = run("apply", "broken", "--ticket", "40001")
    assert out.returncode == 1 and "is broken" in out.stderr and "broken.toml:2:" in out.stderr
    assert run("apply", "close-spam").returncode == 2  # --ticket is required
    assert outbox_rows(workspace) == []


def test_store_macros_are_refused_without_a_store(make_workspace):
    workspace = make_workspace('workspace = "nostore"\n[workspaces.nostore]\nstore = ""\n')
    out = run("list")
    assert "cancel-before-shipping" not in out.stdout and "with store steps hidden" in out.stdout
    out = run("apply", "cancel-before-shipping", "--ticket", "40001", "--dry-run")
    assert out.returncode == 2 and "has no store" in out.stderr
    assert workspace.spec.store == ""
