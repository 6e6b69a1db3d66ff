"""Every shipped macro rendered against a fitting demo ticket, compared with a stored copy.

The stored outputs (tests/golden/macros/*.txt) are the dry-run text: exactly what would be
sent. After changing a macro on purpose, regenerate them and read the diff:

    CSCONSOLE_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_macros_golden.py
"""

import os
import shutil
from pathlib import Path

import pytest

from csconsole import clock, paths
from csconsole.macros import context, library, plan
from tests.conftest import ANCHOR
from tests.test_macros_support import LEAD_CONFIG, load_orders, settings

GOLDEN = Path(__file__).parent / "golden" / "macros"
UPDATE = os.environ.get("CSCONSOLE_UPDATE_GOLDEN") == "1"

CASES = {
    # case: (macro, tag of the demo tickets to pick from, what else the ticket must show)
    "wismo-shipped-in-transit": ("wismo-shipped", "wismo", lambda o: not o.delivered),
    "wismo-shipped-delivered": ("wismo-shipped", "wismo", lambda o: o.delivered),
    "wismo-not-shipped": ("wismo-not-shipped", "wismo", None),
    "damaged-item": ("damaged-item", "damaged", None),
    "wrong-item": ("wrong-item", "wrong-item", lambda o: len(o.lines) > 1),
    "size-exchange": ("size-exchange", "exchange", None),
    "return-instructions": ("return-instructions", "return", None),
    "refund-confirmation": ("refund-confirmation", "refund", None),
    "refund-confirmation-en-gb": ("refund-confirmation", None, lambda o: o.currency == "GBP"),
    "cancel-before-shipping": ("cancel-before-shipping", "cancel", None),
    "address-change": ("address-change", "address-change", None),
    "shipping-delay-in-transit": ("shipping-delay", "wismo", lambda o: o.shipped),
    "shipping-delay-not-shipped": ("shipping-delay", "wismo", lambda o: not o.shipped),
    "refund-shipping": ("refund-shipping", "wismo", lambda o: not o.delivered),
    "product-question": ("product-question", "pre-sale", None),
    "escalate-to-lead": ("escalate-to-lead", "refund", lambda o: o.refunded),
    "close-duplicate": ("close-duplicate", "repeat-contact", None),
    "close-spam": ("close-spam", "spam", None),
    "follow-up-nudge": ("follow-up-nudge", "exchange", None),
}


@pytest.fixture(scope="module")
def golden_workspace(demo_template, tmp_path_factory):
    """One demo workspace with every customer's orders loaded, shared read-only."""
    from csconsole.workspace import Workspace

    clock.freeze(ANCHOR)
    root = tmp_path_factory.mktemp("golden")
    shutil.copytree(demo_template, root / "data")
    (root / "config.toml").write_text(LEAD_CONFIG, encoding="utf-8")
    workspace = Workspace.load(paths.resolve(root / "config.toml", root / "data"))
    load_orders(workspace)
    clock.freeze(None)
    return workspace


def pick(conn, workspace, macro, tag, extra) -> int:
    """The lowest demo ticket id the macro fits (and, when given, whose order passes ``extra``)."""
    query = "SELECT t.id FROM ticket t" + (" JOIN ticket_tag g ON g.ticket_id = t.id AND g.tag = ?" if tag else "")
    for (ticket_id,) in conn.execute(query + " ORDER BY t.id", (tag,) if tag else ()).fetchall():
        ctx = context.build(conn, ticket_id, settings(workspace))
        order = ctx.values["order"]
        if plan.fits(ctx, macro) and (extra is None or (order and extra(order))):
            return ticket_id
    raise AssertionError(f"no demo ticket fits {macro.slug} (tag {tag!r})")


@pytest.mark.parametrize("case", sorted(CASES))
def test_shipped_macro_matches_its_golden_output(golden_workspace, case):
    slug, tag, extra = CASES[case]
    macro = library.for_workspace(golden_workspace).find(slug)
    assert macro is not None and not macro.user
    conn = golden_workspace.open_cache()
    try:
        ticket_id = pick(conn, golden_workspace, macro, tag, extra)
        text = plan.describe(plan.plan(conn, macro, ticket_id, settings(golden_workspace)))
    finally:
        conn.close()
    path = GOLDEN / f"{case}.txt"
    if UPDATE:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden output for {case}: run with CSCONSOLE_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8")


def test_every_shipped_macro_has_a_golden_case():
    lib = library.Library([library.Folder(library.shipped_dir(), False)])
    lib.refresh()
    assert {m.slug for m in lib.macros} <= {slug for slug, _, _ in CASES.values()}
    assert {p.stem for p in GOLDEN.glob("*.txt")} == set(CASES)
