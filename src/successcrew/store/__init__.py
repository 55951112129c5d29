"""Tables, sessions, dialect helpers (locks, upserts) and set-based queries for SQLite and
PostgreSQL. Nothing here decides what happens next: that is services/ and domain/."""
