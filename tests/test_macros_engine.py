"""The headless macro engine: loading, the sandbox, the context, plans and one-call apply."""

import subprocess
import sys
from pathlib import Path

import pytest

from csconsole.adapters.base import MessageRecord, PersonRecord, TicketRecord
from csconsole.macros import context, library, loader, plan, templates
from csconsole.macros.model import Macro, StoreStep
from csconsole.store import ingest, outbox
from tests.conftest import ANCHOR
from tests.test_macros_support import LEAD, LEAD_CONFIG, first_ticket, load_orders, settings, write_macro

ME = "alex@northwind-outfitters.example"


def parsed(text: str, tmp_path: Path):
    return loader.parse(tmp_path / "m.toml", text)


def one(text: str, tmp_path: Path) -> Macro:
    macro, problems = parsed(text, tmp_path)
    assert not problems, problems
    return macro


# ----------------------------------------------------------------------------- loading


def test_engine_never_imports_textual():
    modules = ", ".join(f"csconsole.macros.{m}" for m in
                        ("model", "loader", "library", "templates", "context", "commerce", "plan", "locate"))
    code = f"import sys, {modules}; print(sorted(m for m in ('textual', 'rich') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout


def test_shipped_set_loads_clean_with_a_key_each():
    lib = library.Library([library.Folder(library.shipped_dir(), False)])
    lib.refresh()
    assert lib.problems == []
    assert len(lib.macros) >= 12
    assert all(m.key and m.description and (m.reply or m.note or m.actions.status) for m in lib.macros)
    assert len({m.key for m in lib.macros}) == len(lib.macros)
    assert {"wismo-shipped", "wismo-not-shipped", "damaged-item", "wrong-item", "size-exchange", "return-instructions",
            "refund-confirmation", "cancel-before-shipping", "address-change", "shipping-delay", "product-question",
            "escalate-to-lead", "close-duplicate", "close-spam", "follow-up-nudge"} <= {m.slug for m in lib.macros}


def test_problems_name_file_line_and_column(tmp_path):
    text = '''name = "Broken"
key = "ww"
stauts = "open"
reply = """
Hi {{ requester.frist_name }},
{% for line in order.lines %}
- {{ line.titel }} {{ ordr }}
{% endfor %}
"""

[actions]
status = "snoozed"
priority = 3
add_tags = ["ok", "!!"]
remove_tags = ["ok"]
colour = "red"

[[commerce]]
action = "refund"
reason = "because"
'''
    macro, problems = parsed(text, tmp_path)
    assert macro is None
    path = tmp_path / "m.toml"
    assert [str(p) for p in problems] == [
        f"{path}:2:1: key: a quick key is one character, got 'ww'",
        f"{path}:3:1: unknown key 'stauts' (did you mean 'status' under [actions]?)",
        f"{path}:5:17: reply: requester has no placeholder 'frist_name' (did you mean 'first_name'?)",
        f"{path}:7:11: reply: an order line has no placeholder 'titel' (did you mean 'title'?)",
        f"{path}:7:23: reply: unknown placeholder 'ordr' (known: agent, locale, order, policy, requester, store, ticket, today)",
        f"{path}:12:1: status: unknown value 'snoozed' (did you mean 'solved'?)",
        f"{path}:13:1: priority: expected text in quotes, got 3",
        f"{path}:14:1: add_tags: '!!' is not a tag (letters, digits, '-', '_' and ':')",
        f"{path}:15:1: remove_tags: ok is also in add_tags",
        f"{path}:16:1: [actions] unknown key 'colour' (known: add_tags, assignee, fields, priority, remove_tags, status)",
        f"{path}:18:1: a refund step refunds nothing: set lines = \"all\" or shipping = true",
        f"{path}:20:1: reason: unknown value 'because' (one of damaged, defective, wrong_item, not_as_described, size,"
        " unwanted, late_delivery, lost_in_transit, cancelled, goodwill, other)",
    ]


def test_toml_and_template_syntax_errors(tmp_path):
    _, problems = parsed('name = "x\nreply = "hi"\n', tmp_path)
    assert [(p.line, p.column) for p in problems] == [(1, 10)] and "not valid TOML" in problems[0].message
    _, problems = parsed('name = "x"\nwhen = "order and"\nnote = """\nok\n{% if order %}\n"""\n', tmp_path)
    assert [(p.line, p.column, p.message.split(":")[0]) for p in problems] == [(2, 1, "when"), (5, 1, "note")]
    _, problems = parsed('name = "x"\n', tmp_path)
    assert problems[0].message.startswith("the macro does nothing")


def test_unreadable_file_is_a_problem_not_a_crash(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_bytes(b'name = "\xff"\n')
    macro, problems = loader.load_file(path)
    assert macro is None and problems[0].line == 1 and "UTF-8" in problems[0].message


# ----------------------------------------------------------------------------- templates


def test_money_and_dates_in_the_customers_locale():
    from csconsole.money import Money

    def r(source, locale):
        return templates.render(source, {"locale": locale, "m": Money(123456, "EUR"), "d": ANCHOR})

    assert r("{{ m | money }} · {{ d | date }}", "de_DE") == "1.234,56\xa0€ · 18. November 2026"
    assert r("{{ m | money }} · {{ d | date }}", "en_GB") == "€1,234.56 · 18 November 2026"
    assert r("{{ 2495 | money('usd') }} · {{ d | date('medium') }}", "en_US") == "$24.95 · Nov 18, 2026"
    assert r("{{ 1200 | money('JPY') }}", "ja_JP") == "￥1,200"
    with pytest.raises(templates.RenderError, match="money needs a currency"):
        r("{{ 2495 | money }}", "en_US")
    assert templates.resolve_locale("xx-NOPE", "de-DE") == "de_DE"
    assert templates.resolve_locale(None, "junk") == "en_US"


@pytest.mark.parametrize("name, first", [("Ava Nielsen", "Ava"), ("Nielsen, Ava", "Ava"), ("Dr. Priya Shah", "Priya"),
                                         ("ava@example.com", ""), ("", ""), ("  Zoë   Müller ", "Zoë")])
def test_first_name(name, first):
    assert templates.first_name(name) == first


def test_missing_values_are_false_in_conditions_and_errors_when_printed():
    gone = templates.missing("order.tracking_number", "the order has not shipped yet")
    values = {"x": gone}
    assert templates.render("{% if x %}yes{% else %}no{% endif %} {{ x or 'none' }} {{ x | default('d') }}", values) == \
        "no none d"
    with pytest.raises(templates.RenderError) as err:
        templates.render("Tracking:\n{{ x }}", values)
    assert str(err.value) == "line 2: order.tracking_number has no value for this ticket (the order has not shipped yet)"
    with pytest.raises(templates.RenderError, match=r"order.tracking_number.url has no value"):
        templates.render("{{ x.url }}", values)
    with pytest.raises(templates.RenderError, match="has no value"):
        templates.render("{% for c in x %}{{ c }}{% endfor %}", values)
    with pytest.raises(templates.RenderError, match="printed nothing"):
        templates.render("a {{ y }}", {"y": None})
    with pytest.raises(templates.RenderError, match="'nope' is undefined"):
        templates.render("{% if nope %}x{% endif %}", {})


def test_tidy_leaves_no_holes():
    assert templates.render("Hi\n\n{% if False %}\ngone\n{% endif %}\n\n\nBye   \n\n", {}) == "Hi\n\nBye"


@pytest.mark.parametrize("source", [
    "{{ ticket.__class__ }}",
    "{{ ticket.__class__.__mro__ }}",
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ order.total.__class__.__init__.__globals__ }}",
    "{{ cycler.__init__.__globals__.os }}",
    "{{ lipsum.__globals__['os'].popen('id').read() }}",
    "{{ ticket.fields.__class__.__base__ }}",
    "{% for x in range.__self__.__dict__ %}{{ x }}{% endfor %}",
    "{{ ticket.subject.format.__globals__ }}",
])
def test_sandbox_denies_internals(cache, workspace, source):
    ctx = context.build(cache, cache.execute("SELECT min(id) FROM ticket").fetchone()[0], settings(workspace))
    with pytest.raises(templates.RenderError) as err:
        templates.render(source, ctx.values)
    assert any(word in str(err.value) for word in ("unsafe", "not allowed", "undefined", "has no attribute"))


def add_ticket(workspace, *, subject: str, name: str, body: str, number: int = 99001) -> int:
    conn = workspace.open_cache()
    person = PersonRecord("tmpl@example.com", name, "tmpl@example.com", locale="en_US")
    record = TicketRecord(remote_id=str(number), number=number, subject=subject, status="open", priority=2,
                          created_at=ANCHOR - 60, updated_at=ANCHOR, requester=person, description=body,
                          message_count=1, messages=(MessageRecord("m1", person, "customer", True, body, ANCHOR - 60),))
    ingest.store_page(conn, "demo", [record], None, ingest.People())
    conn.close()
    return number


def test_customer_text_is_data_never_template_source(workspace, cache, tmp_path):
    hostile = "{{ 7*7 }} {% for i in range(3) %}loop{% endfor %} {{ ''.__class__ }} \x1b[31mred"
    tid = add_ticket(workspace, subject=hostile, name="{{ agent.email }} Smith", body=hostile)
    macro = one('name = "Echo"\nreply = """\nHi {{ requester.first_name }},\nRe: {{ ticket.subject }}\n"""\n', tmp_path)
    p = plan.plan(cache, macro, tid, settings(workspace))
    assert p.reply == "Hi {{,\nRe: {{ 7*7 }} {% for i in range(3) %}loop{% endfor %} {{ ''.__class__ }} red"
    plan.apply(cache, [p])
    sent = cache.execute("SELECT body FROM message WHERE ticket_id = ? AND outbox_id IS NOT NULL", (tid,)).fetchone()[0]
    assert "{{ 7*7 }}" in sent and "49" not in sent and "looploop" not in sent and "\x1b" not in sent


def test_an_edited_reply_is_sent_as_written(workspace, cache, tmp_path):
    tid = add_ticket(workspace, subject="Hello", name="Ava Stone", body="hi")
    macro = one('name = "Echo"\nreply = "Hi {{ requester.first_name }}"\n[actions]\nstatus = "pending"\n', tmp_path)
    edited = plan.plan(cache, macro, tid, settings(workspace)).with_reply("Hi Ava, {{ 7*7 }} as you wrote")
    plan.apply(cache, [edited])
    assert cache.execute("SELECT body FROM message WHERE outbox_id IS NOT NULL").fetchone()[0] == \
        "Hi Ava, {{ 7*7 }} as you wrote"
    with pytest.raises(plan.PlanError, match="empty"):
        edited.with_reply("  \n")


# ----------------------------------------------------------------------------- context


def test_the_order_is_one_the_thread_names_else_the_latest(workspace, cache):
    load_orders(workspace)
    named = cache.execute(
        """SELECT x.ticket_id, x.order_ref FROM ticket_order x JOIN ticket t ON t.id = x.ticket_id
           JOIN orders o ON o.number = x.order_ref AND o.customer_id = t.requester_id
           WHERE o.id != (SELECT o2.id FROM orders o2 WHERE o2.customer_id = t.requester_id
                          ORDER BY o2.created_at DESC, o2.id DESC LIMIT 1)
           ORDER BY x.ticket_id LIMIT 1""").fetchone()
    ctx = context.build(cache, named["ticket_id"], settings(workspace))
    assert ctx.values["order"].number == named["order_ref"] and ctx.values["order"].referenced
    unnamed = cache.execute(
        """SELECT t.id, (SELECT number FROM orders o WHERE o.customer_id = t.requester_id
                         ORDER BY created_at DESC, id DESC LIMIT 1) AS latest FROM ticket t
           WHERE NOT EXISTS (SELECT 1 FROM ticket_order x WHERE x.ticket_id = t.id) AND latest IS NOT NULL
           ORDER BY t.id LIMIT 1""").fetchone()
    ctx = context.build(cache, unnamed["id"], settings(workspace))
    assert ctx.values["order"].number == unnamed["latest"] and not ctx.values["order"].referenced


def test_someone_elses_order_is_never_used(workspace, cache, tmp_path):
    load_orders(workspace)
    other = cache.execute("SELECT number FROM orders ORDER BY id LIMIT 1").fetchone()[0]
    tid = add_ticket(workspace, subject=f"Where is order #{other}?", name="Mallory Doe", body=f"order #{other} please")
    cache.execute("UPDATE person SET orders_synced_at = ? WHERE email = 'tmpl@example.com'", (ANCHOR,))
    ctx = context.build(cache, tid, settings(workspace))
    assert ctx.order_id is None and not ctx.values["order"]
    macro = one('name = "W"\nreply = "{{ order.tracking_url }}"\n', tmp_path)
    with pytest.raises(plan.PlanError, match="the order the thread names is not one of this customer's"):
        plan.plan(cache, macro, tid, settings(workspace))


def test_orders_not_loaded_yet_is_said_plainly(workspace, cache, tmp_path):
    tid = cache.execute("SELECT id FROM ticket WHERE tags LIKE '%wismo%' ORDER BY id LIMIT 1").fetchone()[0]
    macro = one('name = "W"\nreply = "Order #{{ order.number }}"\n', tmp_path)
    with pytest.raises(plan.PlanError, match=r"order.number has no value .*orders have not been loaded yet"):
        plan.plan(cache, macro, tid, settings(workspace))


# ----------------------------------------------------------------------------- plans and apply


def test_plan_orders_steps_and_skips_what_changes_nothing(workspace, cache, tmp_path):
    tid = cache.execute("SELECT id FROM ticket WHERE status = 'open' AND tags = 'wismo' ORDER BY id LIMIT 1").fetchone()[0]
    macro = one('''name = "All of it"
note = "n"
reply = "r"
[actions]
status = "pending"
priority = "urgent"
assignee = "me"
add_tags = ["wismo", "chased"]
remove_tags = ["absent"]
fields = { reason = "wismo" }
''', tmp_path)
    p = plan.plan(cache, macro, tid, settings(workspace))
    kinds = [s.kind for s in p.steps]
    assert kinds[:2] == ["note", "reply"] and kinds[-1] == "status"
    tags = next(s for s in p.steps if s.kind == "tags")
    assert tags.payload == {"add": ["chased"], "remove": []}
    plan.apply(cache, [p])
    again = plan.plan(cache, macro, tid, settings(workspace))
    assert [s.kind for s in again.steps] == ["note", "reply"]  # fields, tags, priority, me, status already so


def test_apply_is_one_transaction(workspace, cache, tmp_path):
    tid = cache.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
    macro = one('name = "x"\nreply = "Hello"\n[actions]\nstatus = "pending"\n', tmp_path)
    good = plan.plan(cache, macro, tid, settings(workspace))
    broken = plan.Plan(macro, tid, "", good.steps + (plan.Step("status", {"status": "snoozed"}, "bad"),))
    before = cache.execute("SELECT count(*) FROM message").fetchone()[0]
    with pytest.raises(outbox.ActionError):
        plan.apply(cache, [broken])
    assert cache.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0
    assert cache.execute("SELECT count(*) FROM message").fetchone()[0] == before
    assert cache.execute("SELECT status FROM ticket WHERE id = ?", (tid,)).fetchone()[0] == "open"
    ids = plan.apply(cache, [good], grace=30)
    assert len(ids) == 2 and len({r[0] for r in cache.execute("SELECT batch FROM outbox")}) == 1
    assert [r.kind for r in outbox.undo_last(cache, ME)] == ["reply", "status"]


def test_bulk_renders_each_ticket_with_its_own_values_and_undoes_whole(workspace, cache, tmp_path):
    ids = [r[0] for r in cache.execute("SELECT t.id FROM ticket t JOIN person p ON p.id = t.requester_id"
                                       " WHERE t.status = 'open' GROUP BY p.id ORDER BY t.id LIMIT 3")]
    macro = one('name = "x"\nreply = "Hi {{ requester.name }} re #{{ ticket.id }}"\n', tmp_path)
    plans, queued = plan.apply_macro(cache, macro, ids, settings(workspace), grace=30)
    names = {r[0]: r[1] for r in cache.execute("SELECT t.id, p.name FROM ticket t JOIN person p ON p.id = t.requester_id")}
    assert [p.reply for p in plans] == [f"Hi {names[t]} re #{t}" for t in ids]
    assert len(queued) == 3 and len(outbox.undo_last(cache, ME)) == 3
    with pytest.raises(plan.PlanError, match="one ticket"):
        plan.apply_macro(cache, macro, ids, settings(workspace), reply="same text for all")


def test_a_ticket_the_macro_cannot_fit_stops_the_whole_bulk(workspace, cache, tmp_path):
    ids = [r[0] for r in cache.execute("SELECT id FROM ticket WHERE status IN ('open', 'pending') ORDER BY status, id")]
    macro = one('name = "x"\nwhen = \'ticket.status == "open"\'\nnote = "checked"\n', tmp_path)
    with pytest.raises(plan.PlanError, match="does not fit"):
        plan.apply_macro(cache, macro, ids, settings(workspace))
    assert cache.execute("SELECT count(*) FROM outbox").fetchone()[0] == 0


def test_assignees(make_workspace, tmp_path):
    workspace = make_workspace(LEAD_CONFIG)
    conn = workspace.open_cache()
    tid = conn.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
    for who, expected in (("lead", LEAD), ("me", ME), ("Sam Okoye", "sam@northwind-outfitters.example"), ("none", None)):
        macro = one(f'name = "x"\n[actions]\nassignee = "{who}"\n', tmp_path)
        steps = plan.plan(conn, macro, tid, settings(workspace)).steps
        assert [s.payload for s in steps] in ([{"assignee": expected}], [])
    macro = one('name = "x"\n[actions]\nassignee = "nobody-here"\n', tmp_path)
    with pytest.raises(plan.PlanError, match="no agent 'nobody-here'"):
        plan.plan(conn, macro, tid, settings(workspace))
    conn.close()


def test_escalation_without_a_configured_lead_says_how_to_fix_it(workspace, cache):
    macro = library.for_workspace(workspace).find("escalate-to-lead")
    tid = cache.execute("SELECT id FROM ticket WHERE status = 'open' ORDER BY id LIMIT 1").fetchone()[0]
    with pytest.raises(plan.PlanError, match=r"add leads = \[\"their email\"\] under \[policy\]"):
        plan.plan(cache, macro, tid, settings(workspace))


# ----------------------------------------------------------------------------- store steps


@pytest.fixture
def store_accepts(monkeypatch):
    """The store actions' own validation belongs to the refunds work (issue 6); these tests
    check what macros queue, so they let every well-formed store payload through."""
    from csconsole.commerce import actions

    monkeypatch.setattr(actions, "validate", lambda conn, intent: dict(intent.payload))


def test_refund_shipping_step_takes_the_amount_from_the_order(workspace, cache, store_accepts):
    load_orders(workspace)
    macro = library.for_workspace(workspace).find("refund-shipping")
    tid = first_ticket(cache, workspace, "wismo", lambda v: bool(v["order"]) and v["order"].shipped)
    p = plan.plan(cache, macro, tid, settings(workspace))
    refund = p.steps[0]
    order = cache.execute("SELECT * FROM orders WHERE id = ?", (refund.order_id,)).fetchone()
    left = order["shipping"] - order["shipping_refunded"]
    assert refund.kind == "refund" and refund.payload == {
        "currency": order["currency"], "lines": [], "shipping": left, "restock": False, "reason": "late_delivery",
        "note": "Shipping refunded for a late delivery", "notify": False, "amount": left}
    assert [s.kind for s in p.steps] == ["refund", "reply", "tags"]
    ids = plan.apply(cache, [p])
    rows = cache.execute(f"SELECT kind, ticket_id, order_id FROM outbox WHERE id IN ({','.join('?' * len(ids))})"
                         " ORDER BY id", ids).fetchall()
    assert [tuple(r) for r in rows] == [("refund", tid, order["id"]), ("reply", tid, None), ("tags", tid, None)]


def test_store_steps_refuse_what_the_order_cannot_do(workspace, cache):
    load_orders(workspace)
    lib = library.for_workspace(workspace)
    shipped = first_ticket(cache, workspace, None, lambda v: bool(v["order"]) and v["order"].shipped)
    macro = lib.find("cancel-before-shipping")
    cancel_only = Macro(slug="c", path=macro.path, name="c", store_steps=macro.store_steps)
    with pytest.raises(plan.PlanError, match="has shipped and can no longer be cancelled"):
        plan.plan(cache, cancel_only, shipped, settings(workspace))
    refunded = first_ticket(cache, workspace, None, lambda v: bool(v["order"]) and v["order"].cancelled)
    refund_all = Macro(slug="r", path=macro.path, name="r",
                       store_steps=(StoreStep("refund", "other", lines="all", shipping=True),))
    with pytest.raises(plan.PlanError, match="nothing is left to refund"):
        plan.plan(cache, refund_all, refunded, settings(workspace))


def test_store_macros_need_a_store(workspace, cache):
    from csconsole.macros.context import Settings

    lib = library.for_workspace(workspace)
    no_store = Settings(workspace.config.store, workspace.config.policy, has_store=False)
    assert "cancel-before-shipping" not in {m.slug for m in lib.offered(False)}
    assert "cancel-before-shipping" in {m.slug for m in lib.offered(True)}
    with pytest.raises(plan.PlanError, match="no store"):
        plan.plan(cache, lib.find("cancel-before-shipping"), 40001, no_store)


def test_macro_folders_come_from_the_config(make_workspace, isolated):
    workspace = make_workspace(f'[macros]\ndir = "{isolated / "team-macros"}"\n')
    write_macro(isolated / "team-macros", "mine", 'name = "Mine"\nnote = "x"\n')
    assert library.user_dir(workspace) == isolated / "team-macros"
    assert library.for_workspace(workspace).find("mine").user
