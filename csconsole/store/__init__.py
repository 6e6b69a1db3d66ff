"""The local cache: one SQLite file per workspace (WAL), its schema and its queries.

models.py declares the tables with SQLModel (the ORM view, used off the hot path);
migrations.py holds the frozen SQL that creates and upgrades them; db.py opens a file and
migrates it; the hot paths (queue paging, search, ingest) use the standard library's
sqlite3 directly because importing SQLModel alone costs about 0.4 s at start-up.
"""
