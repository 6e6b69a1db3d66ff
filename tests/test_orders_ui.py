"""Issue 6 in the pilot: the orders panel, refund, return and cancel dialogs, the follow-up
reply, and what reaches the outbox."""

import json

from csconsole.adapters.demo.backend import DemoBackend
from csconsole.money import format_minor
from csconsole.screens.macro_picker import MacroPicker
from csconsole.screens.order_dialogs import CancelDialog, RefundDialog, ReturnDialog
from csconsole.screens.pickers import Confirm, KeyChoice
from csconsole.screens.ticket import TicketScreen
from csconsole.widgets.orders_panel import OrdersPanel
from tests.pilot import screen_text, wait_for
from tests.test_triage import app_for, outbox_rows, ready


def ticket_with(workspace, sql: str) -> int:
    backend = DemoBackend(workspace.demo_backend)
    return backend.conn.execute(sql).fetchone()[0]


async def open_with_orders(pilot, ticket_id: int) -> TicketScreen:
    await ready(pilot)
    pilot.app.open_ticket(ticket_id)
    screen = await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen) and pilot.app.screen)
    panel = await wait_for(pilot, lambda: screen.query_one(OrdersPanel))
    await wait_for(pilot, lambda: panel.order is not None, timeout=15, what="orders from the store")
    return screen


DAMAGED = """SELECT t.id FROM ticket t JOIN fulfillment f ON f.order_id = t.order_id JOIN orders o ON o.id = t.order_id
             WHERE t.intent IN ('damaged', 'wrong_item', 'size_exchange', 'return_request') AND f.status = 'delivered'
             AND t.status IN ('open', 'new') AND (t.subject || t.description) LIKE '%#' || o.number || '%'
             AND o.cancelled_at IS NULL ORDER BY t.id LIMIT 1"""
CANCEL = """SELECT t.id FROM ticket t JOIN orders o ON o.id = t.order_id WHERE t.intent = 'cancel'
            AND t.status IN ('new', 'open') AND o.cancelled_at IS NULL
            AND NOT EXISTS (SELECT 1 FROM fulfillment f WHERE f.order_id = o.id) ORDER BY t.id LIMIT 1"""


async def test_orders_panel_preselects_the_order_in_the_thread(workspace):
    tid = ticket_with(workspace, DAMAGED)
    async with app_for(workspace, sync=True).run_test(size=(170, 50)) as pilot:
        screen = await open_with_orders(pilot, tid)
        panel = screen.query_one(OrdersPanel)
        assert panel.order.number in screen.detail.order_refs
        text = screen_text(pilot.app)
        assert f"▶ #{panel.order.number}" in text and "refundable" in text and "lifetime" in text
        await pilot.press("o")
        assert panel.has_focus
        if len(screen.detail.orders) > 1:
            first = panel.order.id
            await pilot.press("j")
            await wait_for(pilot, lambda: panel.order.id != first)


async def test_refund_one_line_then_the_confirmation_macro_is_offered(workspace):
    tid = ticket_with(workspace, DAMAGED)
    async with app_for(workspace, sync=True).run_test(size=(170, 50)) as pilot:
        screen = await open_with_orders(pilot, tid)
        order = screen.query_one(OrdersPanel).order
        line = order.money.lines[0]
        await pilot.press("R")
        dialog = await wait_for(pilot, lambda: isinstance(pilot.app.screen, RefundDialog) and pilot.app.screen)
        await pilot.press("9")  # more than refundable: refused before anything is queued
        await pilot.pause(0.1)
        assert "can still be refunded" in str(dialog.query_one("#summary").render())
        await pilot.press("backspace", "1")
        dialog.query_one("#reason").value = "damaged"  # a reason that needs a photo (policy default)
        await pilot.pause(0.1)
        summary = str(dialog.query_one("#summary").render())
        assert f"Refund {format_minor(line.amount_for(1), order.currency)}" in summary and "needs a photo" in summary
        dialog.query_one("#photo").value = True
        await pilot.press("ctrl+s")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen)
        assert f"{format_minor(line.amount_for(1), order.currency)} {order.currency}" in confirm.question
        await pilot.press("y")
        picker = await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker) and pilot.app.screen, timeout=20)
        assert picker.initial_query == "refund confirmation"
        rows = outbox_rows(workspace, ("pending", "approval"))
        assert [(r["kind"], r["order_id"], r["payload"]["amount"]) for r in rows] == [
            ("refund", order.id, line.amount_for(1))]
        assert rows[0]["payload"]["lines"] == [{"line": line.line_id, "quantity": 1, "amount": line.amount_for(1)}]
        cents = f"{line.amount_for(1) % 100:02d}"
        whole = str(line.amount_for(1) // 100)  # babel writes 74.00 or 74,00 depending on the customer's locale
        await wait_for(pilot, lambda: "Refund confirmation" in str(picker.query_one("#macro-preview").render()),
                       timeout=20, what="the confirmation macro in the preview")
        preview = str(picker.query_one("#macro-preview").render())
        assert f"{whole}.{cents}" in preview or f"{whole},{cents}" in preview, preview


async def test_over_the_limit_refund_waits_for_approval(make_workspace):
    workspace = make_workspace('[policy]\nrefund_limit = "1.00"\n')
    tid = ticket_with(workspace, DAMAGED)
    async with app_for(workspace, sync=True).run_test(size=(170, 50)) as pilot:
        await open_with_orders(pilot, tid)
        await pilot.press("R")
        dialog = await wait_for(pilot, lambda: isinstance(pilot.app.screen, RefundDialog) and pilot.app.screen)
        await pilot.press("1")
        dialog.query_one("#reason").value = "goodwill"
        await pilot.pause(0.1)
        assert "wait for a lead's approval" in str(dialog.query_one("#summary").render())
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: outbox_rows(workspace, ("approval",)))
        await pilot.press("escape")  # no reply yet: the refund is not approved
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, TicketScreen))
        await wait_for(pilot, lambda: "awaiting approval" in screen_text(pilot.app))


async def test_create_a_return(workspace):
    tid = ticket_with(workspace, DAMAGED)
    async with app_for(workspace, sync=True).run_test(size=(170, 50)) as pilot:
        screen = await open_with_orders(pilot, tid)
        order = screen.query_one(OrdersPanel).order
        await pilot.press("E")
        choice = await wait_for(pilot, lambda: isinstance(pilot.app.screen, (KeyChoice, ReturnDialog)) and pilot.app.screen)
        if isinstance(choice, KeyChoice):
            await pilot.press("c")
        dialog = await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReturnDialog) and pilot.app.screen)
        await pilot.press("1", "ctrl+s")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm))
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker), timeout=20)
        rows = outbox_rows(workspace)
        assert rows[0]["kind"] == "return_create" and rows[0]["order_id"] == order.id
        assert rows[0]["payload"]["lines"] == [{"line": order.lines[0].remote_id, "quantity": 1}]
        assert dialog.order.number == order.number


async def test_cancel_an_unshipped_order(workspace):
    tid = ticket_with(workspace, CANCEL)
    async with app_for(workspace, sync=True).run_test(size=(170, 50)) as pilot:
        screen = await open_with_orders(pilot, tid)
        order = screen.query_one(OrdersPanel).order
        assert order.fulfillment_status == "unfulfilled"
        await pilot.press("C")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, CancelDialog))
        await pilot.press("ctrl+s")
        confirm = await wait_for(pilot, lambda: isinstance(pilot.app.screen, Confirm) and pilot.app.screen)
        assert f"Cancel order #{order.number} and refund" in confirm.question
        await pilot.press("y")
        await wait_for(pilot, lambda: isinstance(pilot.app.screen, MacroPicker), timeout=20)
        rows = outbox_rows(workspace, ("pending", "approval"))
        assert rows[0]["kind"] == "cancel" and rows[0]["payload"]["refund"] is True
        assert json.loads(json.dumps(rows[0]["payload"]))["amount"] == order.money.refundable
