"""The built-in demo helpdesk and store: a real backend in a local SQLite file."""
