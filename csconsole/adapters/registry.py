"""Finding adapters through the ``csconsole.adapters`` entry-point group.

Listing names imports nothing; loading imports exactly one adapter module. The built-in
adapters are registered through the same group (pyproject.toml) as third-party ones.
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import entry_points

from csconsole.adapters.base import Adapter

GROUP = "csconsole.adapters"
_BUILTIN = {
    "demo": "csconsole.adapters.demo.helpdesk:DemoHelpdesk",
    "demo-store": "csconsole.adapters.demo.commerce:DemoStore",
    "rt": "csconsole.adapters.rt:RTHelpdesk",
    "zendesk": "csconsole.adapters.zendesk:ZendeskAdapter",
    "freshdesk": "csconsole.adapters.freshdesk:FreshdeskAdapter",
    "shopify": "csconsole.adapters.shopify:ShopifyStore",
    "medusa": "csconsole.adapters.medusa:MedusaStore",
}
"""Used only when the package metadata is missing (running from a bare checkout)."""


class UnknownAdapter(LookupError):
    pass


def adapter_names() -> list[str]:
    names = {ep.name for ep in entry_points(group=GROUP)}
    return sorted(names | set(_BUILTIN))


def load_adapter(name: str) -> type[Adapter]:
    for ep in entry_points(group=GROUP):
        if ep.name == name:
            adapter = ep.load()
            break
    else:
        target = _BUILTIN.get(name)
        if target is None:
            known = ", ".join(adapter_names())
            raise UnknownAdapter(f"no adapter named {name!r} (installed: {known})")
        module, _, attr = target.partition(":")
        adapter = getattr(import_module(module), attr)
    if not (isinstance(adapter, type) and issubclass(adapter, Adapter)):
        raise UnknownAdapter(f"entry point {name!r} does not name a csconsole adapter class")
    return adapter
