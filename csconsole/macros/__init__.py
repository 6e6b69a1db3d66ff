"""Macros: canned replies and actions that fill themselves in from the ticket.

A macro is one TOML file (the format: FORMAT.md in this folder). The engine is headless and
never imports Textual, so the picker, the CLI and scripts share one code path:

- ``model``    what a macro is once loaded, and how a problem in a file is named
- ``loader``   one TOML file → a Macro or a list of problems (file:line:column)
- ``library``  the shipped folder plus the user's folder (which overrides it), reloaded on change
- ``templates`` the Jinja2 sandbox, its filters, and the static check of placeholders
- ``context``  what a template can see, read from the cache for one ticket
- ``commerce`` a macro's store steps turned into outbox payloads of the store action kinds
- ``plan``     render + build the outbox intents (dry-run); ``apply`` queues them in one call

Jinja2 is imported by ``templates`` only, so importing the model or the library is cheap.
"""
