"""The Shopify store adapter (Admin GraphQL API), registered as ``shopify``.

documents.py holds the GraphQL it sends, transport.py the endpoint (cost-based throttling,
errors), mapping.py Shopify's shapes as our records, refunds.py a refund priced by Shopify
before it is sent, store.py the adapter itself.
"""

from csconsole.adapters.shopify.store import ShopifyStore

__all__ = ["ShopifyStore"]
