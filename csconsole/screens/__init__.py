"""Screens of the console: queue, ticket, help and the dialogs they open."""
