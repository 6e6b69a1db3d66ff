"""The sync engine: pulls tickets into the cache and pushes the outbox, off the UI thread."""
