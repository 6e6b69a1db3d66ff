"""ShopifyStore: orders, refunds, returns and cancels through the Admin GraphQL API.

Configuration (an [accounts.NAME] table with adapter = "shopify"): ``url`` is
https://SHOP.myshopify.com (or give ``options.shop``); the secret is the Admin API access
token, sent as X-Shopify-Access-Token. Options: ``location`` (a Location gid to restock into;
otherwise the location Shopify suggests), ``timeout`` (seconds, default 30).

Exactly once: every write first reads the order, and a refund or return that carries this
outbox row's key in its note is the row's own effect, already done. Refunds also carry the
key as Shopify's ``@idempotent`` key, so even a resend that slipped past that read cannot move
money twice. After a write is sent, a failure to read the outcome never turns into 'not
applied': it is reported as maybe-applied so that the next attempt looks first.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, ClassVar

from csconsole.adapters import base
from csconsole.adapters.base import (
    CANCEL_REASONS, DECLINE_REASONS, RETURN_REASONS, Action, ActionResult, AdapterError, CommerceAdapter, Identity,
    NotFound, OrderRecord, RateLimited, RejectedError, TransientError,
)
from csconsole.adapters.http import HttpClient
from csconsole.adapters.shopify import documents as gql
from csconsole.adapters.shopify.mapping import ACTIVE_RETURNS, nodes, order_record, tag_of, tagged
from csconsole.adapters.shopify.refunds import refund_input
from csconsole.adapters.shopify.transport import GraphQL, checked
from csconsole.money import format_minor

ORDERS_PER_CUSTOMER = 10
"""The newest orders shown for an email; orders named in the thread come on top of these."""
JOB_POLL_DELAYS = (0.5, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 3.0)
"""Seconds between looks at an orderCancel job (about 15 s in all) before handing it back to the outbox."""
_SHOP = re.compile(r"[a-z0-9][a-z0-9-]*")


def search_value(value: str) -> str:
    """A value for Shopify's search syntax; quoted so customer text cannot add search terms."""
    if re.fullmatch(r"[\w.@+#-]+", value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def order_name(number: str) -> str | None:
    """'#1001', '1001' or 'NW-1001' from a thread as Shopify's order name, or None."""
    match = re.fullmatch(r"#?\s*([A-Za-z0-9-]{1,30})", number.strip())
    return f"#{match.group(1)}" if match else None


class ShopifyStore(CommerceAdapter):
    name: ClassVar[str] = "shopify"
    capabilities: ClassVar[frozenset[str]] = frozenset({base.ORDERS, base.REFUND, base.RETURNS, base.CANCEL})

    def __init__(self, account: base.AccountSpec, secret: str | None = None, driver: base.Driver | None = None) -> None:
        super().__init__(account, secret, driver)
        options = account.options
        url = account.url
        if not url and options.get("shop"):
            if not _SHOP.fullmatch(str(options["shop"])):
                raise AdapterError(f"shopify: {options['shop']!r} is not a shop name (the SHOP in SHOP.myshopify.com)")
            url = f"https://{options['shop']}.myshopify.com"
        self.http = HttpClient(url or "", what="shopify", headers={"X-Shopify-Access-Token": secret or ""},
                               timeout=float(options.get("timeout", 30.0)))
        self.graphql = GraphQL(self.http, gql.API_VERSION, secret)
        self.location: str | None = options.get("location")

    async def aclose(self) -> None:
        await self.http.aclose()

    # ------------------------------------------------------------------ reads

    async def verify(self) -> Identity:
        data = await self.graphql.run(gql.SHOP)
        shop = data.get("shop") or {}
        scopes = {s.get("handle") for s in (data.get("currentAppInstallation") or {}).get("accessScopes") or []}
        served = self.graphql.served_version or gql.API_VERSION
        mode = [f"Admin GraphQL {served}" + ("" if served == gql.API_VERSION else f" (asked for {gql.API_VERSION})")]
        mode.append("all orders" if "read_all_orders" in scopes else "orders of the last 60 days (no read_all_orders)")
        missing = [s for s in ("write_orders", "write_returns") if s not in scopes]
        if missing:
            mode.append("missing " + ", ".join(missing))
        return Identity(remote_id=shop.get("id", ""), name=shop.get("name") or shop.get("myshopifyDomain") or "",
                        email=shop.get("email"), role="store", mode="; ".join(mode))

    async def orders_for_customer(self, email: str, numbers: tuple[str, ...] = ()) -> list[OrderRecord]:
        """The customer's newest orders and any named by number.

        Without read_all_orders Shopify shows only the last 60 days: an older order is simply
        not found, which is not an error.
        """
        ids: list[str] = []
        if email.strip():
            ids += await self._search(f"email:{search_value(email.strip())}", ORDERS_PER_CUSTOMER)
        names = list(dict.fromkeys(n for n in map(order_name, numbers) if n))[:ORDERS_PER_CUSTOMER]
        if names:
            ids += await self._search(" OR ".join(f"name:{search_value(n)}" for n in names), len(names))
        orders = []
        for order_id in dict.fromkeys(ids):
            node = await self._order_node(order_id)
            if node is not None:  # gone between the search and the read (search lags behind)
                orders.append(order_record(node))
        return sorted(orders, key=lambda o: o.created_at, reverse=True)

    async def get_order(self, order_remote_id: str) -> OrderRecord:
        return order_record(await self._require_order(order_remote_id))

    async def _search(self, query: str, first: int) -> list[str]:
        data = await self.graphql.run(gql.ORDER_SEARCH, {"q": query, "first": first})
        return [node["id"] for node in nodes(data.get("orders"))]

    async def _order_node(self, order_id: str) -> dict | None:
        return (await self.graphql.run(gql.ORDER, {"id": order_id})).get("order")

    async def _require_order(self, order_id: str | None) -> dict:
        node = await self._order_node(order_id) if order_id else None
        if node is None:
            raise NotFound(f"Shopify has no order {order_id} (or it is older than 60 days and the app"
                           " lacks read_all_orders)")
        return node

    async def _after(self, order_id: str) -> OrderRecord | None:
        """The order after a write went through; unknown (None) if it cannot be read now."""
        try:
            return await self.get_order(order_id)
        except AdapterError:
            return None

    # ------------------------------------------------------------------ actions

    async def apply(self, action: Action) -> ActionResult:
        handler = {"refund": self._refund, "return_create": self._return_create, "return_approve": self._return_approve,
                   "return_decline": self._return_decline, "return_receive": self._return_receive,
                   "cancel": self._cancel}.get(action.kind)
        if handler is None:
            raise RejectedError(f"shopify cannot {action.kind}")
        return await handler(action)

    async def find_applied(self, action: Action) -> ActionResult | None:
        """Did a lost attempt of ``action`` land? Read the order and recognise its effect."""
        node = await self._require_order(action.order_remote_id)
        order = order_record(node)
        found: str | None = None
        if action.kind == "refund":
            found = next((r.remote_id for r in order.refunds if r.idempotency_key == action.idempotency_key), None)
        elif action.kind == "return_create":
            found = _return_by_key(node, action.idempotency_key)
        elif action.kind == "cancel":
            found = order.remote_id if order.cancelled_at else None
        elif action.kind in ("return_approve", "return_decline", "return_receive"):
            ret = _return(node, action.payload["return"])
            wanted = {"return_approve": ("OPEN", "CLOSED"), "return_decline": ("DECLINED",),
                      "return_receive": ("CLOSED",)}[action.kind]
            if ret and (ret["status"] in wanted or (action.kind == "return_receive" and _all_processed(ret))):
                found = ret["id"]
        return ActionResult(remote_id=found, order=order, detail="already applied") if found else None

    async def _refund(self, action: Action) -> ActionResult:
        node = await self._require_order(action.order_remote_id)
        order = order_record(node)
        earlier = next((r for r in order.refunds if r.idempotency_key == action.idempotency_key), None)
        if earlier is not None:
            return ActionResult(remote_id=earlier.remote_id, order=order, detail="already refunded")
        refund = await refund_input(self.graphql, order, action, self.location)
        data = await self.graphql.run(gql.refund_create(action.idempotency_key), {"input": refund.input}, write=True)
        created = checked(data, "refundCreate", "refund")["refund"] or {}
        pending = any(t.get("status") == "PENDING" for t in nodes(created.get("transactions")))
        detail = f"refunded {format_minor(refund.amount, order.currency)}"
        return ActionResult(remote_id=created.get("id"), order=await self._after(order.remote_id),
                            detail=detail + (" (pending at the payment gateway)" if pending else ""))

    async def _return_create(self, action: Action) -> ActionResult:
        node = await self._require_order(action.order_remote_id)
        if (earlier := _return_by_key(node, action.idempotency_key)) is not None:
            return ActionResult(remote_id=earlier, order=order_record(node), detail="already created")
        p = action.payload
        reason, note = p.get("reason", "UNKNOWN"), str(p.get("note") or "")
        if reason not in RETURN_REASONS:
            raise RejectedError(f"unknown return reason {reason!r} (one of {', '.join(RETURN_REASONS)})")
        if reason == "OTHER" and not note.strip():
            raise RejectedError("a return for reason OTHER needs a note saying why")
        items = [{**item, "returnReason": reason, "returnReasonNote": tagged(note, action.idempotency_key)}
                 for item in _fulfillment_lines(node, p.get("lines") or [])]
        data = await self.graphql.run(gql.RETURN_CREATE, {"returnInput": {"orderId": node["id"],
                                                                           "returnLineItems": items}}, write=True)
        ret = checked(data, "returnCreate", "create the return")["return"] or {}
        return ActionResult(remote_id=ret.get("id"), order=await self._after(node["id"]),
                            detail=f"return {ret.get('name', '')} {str(ret.get('status', '')).lower()}".strip())

    async def _return_approve(self, action: Action) -> ActionResult:
        data = await self.graphql.run(gql.RETURN_APPROVE, {"input": {"id": action.payload["return"]}}, write=True)
        return await self._return_result(action, checked(data, "returnApproveRequest", "approve the return"))

    async def _return_decline(self, action: Action) -> ActionResult:
        p = action.payload
        if p.get("reason") not in DECLINE_REASONS:
            raise RejectedError(f"unknown decline reason {p.get('reason')!r} (one of {', '.join(DECLINE_REASONS)})")
        request: dict[str, Any] = {"id": p["return"], "declineReason": p["reason"]}
        if str(p.get("note") or "").strip():
            request["declineNote"] = str(p["note"])[:500]
        data = await self.graphql.run(gql.RETURN_DECLINE, {"input": request}, write=True)
        return await self._return_result(action, checked(data, "returnDeclineRequest", "decline the return"))

    async def _return_receive(self, action: Action) -> ActionResult:
        """The parcel is back: ``returnProcess`` for every line's unprocessed quantity.

        Why returnProcess and not a reverse-fulfillment disposition: since 2025-07 it is
        Shopify's documented way to confirm returned items (a return counts in the
        merchant's reports only once processed, and a fully processed return closes), and
        it needs only the return's own line ids. Without ``financialTransfer`` it moves no
        money, which keeps every refund a separate outbox action with its own idempotency
        key. Dispositions are left out because their input shape is not confirmed
        (api-contracts.md §5.5); restocking is chosen on the refund (restockType RETURN).
        """
        node = await self._require_order(action.order_remote_id)
        ret = _return(node, action.payload["return"])
        if ret is None:
            raise NotFound(f"order {node.get('name')} has no return {action.payload['return']}")
        lines = [{"id": item["id"], "quantity": int(item.get("unprocessedQuantity") or 0)}
                 for item in nodes(ret.get("returnLineItems")) if int(item.get("unprocessedQuantity") or 0) > 0]
        if not lines:
            raise RejectedError(f"return {ret.get('name')} has nothing left to receive")
        data = await self.graphql.run(gql.RETURN_PROCESS, {"input": {"returnId": ret["id"], "returnLineItems": lines,
                                                                      "notifyCustomer": False}}, write=True)
        return await self._return_result(action, checked(data, "returnProcess", "mark the return received"))

    async def _return_result(self, action: Action, payload: dict) -> ActionResult:
        ret = payload.get("return") or {}
        return ActionResult(remote_id=ret.get("id"), order=await self._after(action.order_remote_id or ""),
                            detail=f"return {ret.get('name', '')} {str(ret.get('status', '')).lower()}".strip())

    async def _cancel(self, action: Action) -> ActionResult:
        """orderCancel, then wait for its job: the cancel (and refund) happens asynchronously."""
        p = action.payload
        if p.get("reason") not in CANCEL_REASONS:
            raise RejectedError(f"unknown cancel reason {p.get('reason')!r} (one of {', '.join(CANCEL_REASONS)})")
        order_id = action.order_remote_id or ""
        variables = {"orderId": order_id, "reason": p["reason"], "restock": bool(p.get("restock", False)),
                     "refundMethod": {"originalPaymentMethodsRefund": True} if p.get("refund") else None,
                     "notifyCustomer": bool(p.get("notify", False)), "staffNote": str(p.get("note") or "") or None}
        data = await self.graphql.run(gql.ORDER_CANCEL, variables, write=True)
        job = checked(data, "orderCancel", "cancel the order", errors_key="orderCancelUserErrors").get("job") or {}
        try:
            await self._wait_for(job)
            order = await self.get_order(order_id)
        except (TransientError, RateLimited) as exc:  # sent and accepted: only the outcome is unknown
            raise TransientError(f"{exc} (after the cancel was accepted)", maybe_applied=True,
                                 retry_after=exc.retry_after) from None
        if order.cancelled_at is None:
            raise RejectedError(f"Shopify finished cancelling {order.number} but it is not cancelled;"
                                " see the order's timeline in Shopify")
        return ActionResult(remote_id=order.remote_id, order=order,
                            detail="cancelled" + (" and refunded" if p.get("refund") else ""))

    async def _wait_for(self, job: dict) -> None:
        if not job.get("id") or job.get("done"):
            return
        for delay in JOB_POLL_DELAYS:
            await self.graphql.sleep(delay)
            if ((await self.graphql.run(gql.JOB, {"id": job["id"]})).get("job") or {}).get("done"):
                return
        raise TransientError("Shopify is still cancelling the order; it will be checked again", maybe_applied=True,
                             retry_after=10.0)


# --------------------------------------------------------------------- the order's returns


def _return(node: dict, return_id: str) -> dict | None:
    return next((r for r in nodes(node.get("returns")) if r.get("id") == return_id), None)


def _return_by_key(node: dict, key: str) -> str | None:
    for ret in nodes(node.get("returns")):
        if any(tag_of(item.get("returnReasonNote")) == key for item in nodes(ret.get("returnLineItems"))):
            return ret["id"]
    return None


def _all_processed(ret: dict) -> bool:
    items = nodes(ret.get("returnLineItems"))
    return bool(items) and all(int(item.get("unprocessedQuantity") or 0) == 0 for item in items)


def _fulfillment_lines(node: dict, lines: list[dict]) -> list[dict]:
    """Order lines and quantities as the fulfillment line items a return is made of.

    A line may have shipped in several parcels: the quantity is taken from its fulfillment
    line items in order, less what earlier returns (requested, open or done) already hold.
    """
    held: Counter[str] = Counter()
    for ret in nodes(node.get("returns")):
        if ret.get("status") in ACTIVE_RETURNS:
            for item in nodes(ret.get("returnLineItems")):
                held[(item.get("fulfillmentLineItem") or {}).get("id", "")] += int(item.get("quantity") or 0)
    shipped: dict[str, list[tuple[str, int]]] = {}
    for f in node.get("fulfillments") or []:
        if f.get("status") == "SUCCESS":
            for item in nodes(f.get("fulfillmentLineItems")):
                free = int(item["quantity"]) - held[item["id"]]
                if free > 0:
                    shipped.setdefault(item["lineItem"]["id"], []).append((item["id"], free))
    out = []
    for line in lines:
        wanted = int(line.get("quantity") or 0)
        if wanted <= 0:
            raise RejectedError("a return needs a positive quantity for every line")
        for fli_id, free in shipped.get(line["line"], []):
            take = min(free, wanted)
            out.append({"fulfillmentLineItemId": fli_id, "quantity": take})
            wanted -= take
            if not wanted:
                break
        if wanted:
            raise RejectedError(f"line {line['line']}: {wanted} more than has shipped and is not already being"
                                " returned; only shipped items can be returned")
    if not out:
        raise RejectedError("a return needs at least one line")
    return out
