"""The GraphQL documents the Shopify adapter sends, pinned to one Admin API version.

Where the fields come from (../shared/reference/api-contracts.md §5 is the contract):

- Documented there: the order summary fields of §5.2 (id, name, email, createdAt, processedAt,
  cancelledAt, cancelReason, display statuses, currentTotalPriceSet, totalRefundedSet, customer,
  lineItems, fulfillments with trackingInfo and fulfillmentLineItems, transactions, returns),
  suggestedRefund (§5.3), refundCreate with @idempotent (§5.4), the return mutations (§5.5),
  orderCancel and its job (§5.6). Every MoneyBag there has shopMoney and presentmentMoney; we
  read presentmentMoney because refunds are made in the customer's (presentment) currency.
- Beyond it, each used by published Shopify integrations [S], none checked against Shopify's
  schema here: the order totals (subtotalPriceSet, totalShippingPriceSet, totalTaxSet,
  totalDiscountsSet, totalPriceSet), shippingAddress.formatted, lineItems.variantTitle,
  fulfillments.displayStatus/deliveredAt, transactions.createdAt, Order.refunds with
  refundLineItems and refundShippingLines, Return.returnLineItems with processedQuantity and
  unprocessedQuantity, Return.decline, RefundLineItem.location, shop and
  currentAppInstallation.accessScopes. Return.createdAt is [U].

No machine-readable Shopify schema can be fetched from here (the introspection proxy is not
reachable), so these documents are not validated against an SDL: writing one by hand would
only check the documents against our own guesses. Instead the contract fake
(tests/fakes/shopify.py) parses every document with graphql-core and answers only the
fields a document selects, so a field the fake does not know fails the tests.

Connection sizes keep each document's requested cost below Shopify's 1,000-point ceiling for
one query (objects 1, connections 2 + first × the node's cost): the order list fetches ids
only, and each order is then read on its own.
"""

from __future__ import annotations

import re

API_VERSION = "2026-10"
"""Quarterly version; 2026-04 or later because refundCreate needs @idempotent from then on."""

MONEY = "presentmentMoney { amount currencyCode }"

SHOP = """
query Shop {
  shop { id name email myshopifyDomain }
  currentAppInstallation { accessScopes { handle } }
}
"""

ORDER_SEARCH = """
query OrderSearch($q: String!, $first: Int!) {
  orders(first: $first, query: $q, sortKey: PROCESSED_AT, reverse: true) {
    pageInfo { hasNextPage endCursor }
    nodes { id }
  }
}
"""

ORDER = f"""
query Order($id: ID!) {{
  order(id: $id) {{
    id name email createdAt processedAt cancelledAt cancelReason
    displayFinancialStatus displayFulfillmentStatus
    customer {{ id displayName defaultEmailAddress {{ emailAddress }} }}
    shippingAddress {{ formatted(withName: true) }}
    subtotalPriceSet {{ {MONEY} }}
    totalShippingPriceSet {{ {MONEY} }}
    totalTaxSet {{ {MONEY} }}
    totalDiscountsSet {{ {MONEY} }}
    totalPriceSet {{ {MONEY} }}
    currentTotalPriceSet {{ shopMoney {{ amount currencyCode }} {MONEY} }}
    totalRefundedSet {{ {MONEY} }}
    lineItems(first: 25) {{
      pageInfo {{ hasNextPage }}
      nodes {{ id title sku variantTitle quantity currentQuantity refundableQuantity
               originalUnitPriceSet {{ {MONEY} }} }}
    }}
    fulfillments(first: 5) {{
      id status displayStatus createdAt deliveredAt
      trackingInfo {{ number url company }}
      fulfillmentLineItems(first: 10) {{ nodes {{ id quantity lineItem {{ id }} }} }}
    }}
    transactions(first: 10) {{
      id kind status gateway createdAt parentTransaction {{ id }}
      amountSet {{ {MONEY} }}
    }}
    refunds(first: 5) {{
      id createdAt note
      totalRefundedSet {{ {MONEY} }}
      refundLineItems(first: 10) {{
        nodes {{ lineItem {{ id }} quantity restockType subtotalSet {{ {MONEY} }} }}
      }}
      refundShippingLines(first: 2) {{
        nodes {{ subtotalAmountSet {{ {MONEY} }} taxAmountSet {{ {MONEY} }} }}
      }}
    }}
    returns(first: 5) {{
      nodes {{
        id name status createdAt
        decline {{ reason note }}
        returnLineItems(first: 5) {{
          nodes {{
            id quantity processedQuantity unprocessedQuantity returnReason returnReasonNote
            ... on ReturnLineItem {{ fulfillmentLineItem {{ id lineItem {{ id }} }} }}
          }}
        }}
      }}
    }}
  }}
}}
"""

SUGGEST_REFUND = f"""
query SuggestRefund($id: ID!, $items: [RefundLineItemInput!], $shipping: Money) {{
  order(id: $id) {{
    id
    suggestedRefund(refundLineItems: $items, shippingAmount: $shipping, suggestFullRefund: false) {{
      amountSet {{ {MONEY} }}
      subtotalSet {{ {MONEY} }}
      totalTaxSet {{ {MONEY} }}
      maximumRefundableSet {{ {MONEY} }}
      refundLineItems {{ lineItem {{ id }} quantity restockType location {{ id }} }}
      shipping {{ amountSet {{ {MONEY} }} maximumRefundableSet {{ {MONEY} }} }}
      suggestedTransactions {{
        gateway kind parentTransaction {{ id }}
        amountSet {{ {MONEY} }}
        maximumRefundableSet {{ {MONEY} }}
      }}
    }}
  }}
}}
"""

_REFUND_CREATE = f"""
mutation Refund($input: RefundInput!) {{
  refundCreate(input: $input) @idempotent(key: __IDEMPOTENCY_KEY__) {{
    refund {{
      id createdAt note
      totalRefundedSet {{ {MONEY} }}
      transactions(first: 5) {{ nodes {{ id kind status gateway amountSet {{ {MONEY} }} }} }}
    }}
    order {{ id displayFinancialStatus }}
    userErrors {{ field message }}
  }}
}}
"""

_KEY = re.compile(r"[A-Za-z0-9_-]{8,200}")


def refund_create(key: str) -> str:
    """refundCreate with the outbox row's idempotency key written in as a string literal.

    The directive is placed as in Shopify's changelog example, with a literal key; a
    literal is valid wherever a variable would be, so this is the safer of the two shapes.
    The key is our own (a uuid), checked here so nothing else can reach the document.
    """
    if not _KEY.fullmatch(key):
        raise ValueError("an idempotency key is 8 to 200 letters, digits, '-' or '_'")
    return _REFUND_CREATE.replace("__IDEMPOTENCY_KEY__", f'"{key}"')


_RETURN_PAYLOAD = "return { id name status } userErrors { field message code }"

RETURN_CREATE = f"""
mutation ReturnCreate($returnInput: ReturnInput!) {{
  returnCreate(returnInput: $returnInput) {{ {_RETURN_PAYLOAD} }}
}}
"""

RETURN_APPROVE = f"""
mutation ReturnApprove($input: ReturnApproveRequestInput!) {{
  returnApproveRequest(input: $input) {{ {_RETURN_PAYLOAD} }}
}}
"""

RETURN_DECLINE = f"""
mutation ReturnDecline($input: ReturnDeclineRequestInput!) {{
  returnDeclineRequest(input: $input) {{ {_RETURN_PAYLOAD} }}
}}
"""

RETURN_PROCESS = f"""
mutation ReturnProcess($input: ReturnProcessInput!) {{
  returnProcess(input: $input) {{ {_RETURN_PAYLOAD} }}
}}
"""

ORDER_CANCEL = """
mutation OrderCancel($orderId: ID!, $reason: OrderCancelReason!, $restock: Boolean!,
                     $refundMethod: OrderCancelRefundMethodInput, $notifyCustomer: Boolean, $staffNote: String) {
  orderCancel(orderId: $orderId, reason: $reason, restock: $restock, refundMethod: $refundMethod,
              notifyCustomer: $notifyCustomer, staffNote: $staffNote) {
    job { id done }
    orderCancelUserErrors { field message code }
  }
}
"""

JOB = """
query Job($id: ID!) {
  job(id: $id) { id done }
}
"""
