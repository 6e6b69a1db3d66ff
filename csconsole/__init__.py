"""csconsole: a keyboard-driven terminal console for ecommerce customer service.

Importing the package must stay cheap: the CLI and the headless core (store, sync,
adapters, macros, commerce) import their own modules; nothing here pulls in Textual.
"""

__version__ = "0.1.0"
