"""The few statements that differ between SQLite and PostgreSQL, behind one interface."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def upsert(conn: Connection, table: Table) -> Any:
    """``INSERT ... ON CONFLICT`` for the connection's dialect (same API on both)."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


def bulk_load(
    conn: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> int:
    """Append rows to ``table``: COPY on PostgreSQL, executemany on SQLite. Returns the count."""
    if conn.dialect.name == "postgresql":
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        count = 0
        column_list = ", ".join(f'"{c}"' for c in columns)
        with (
            dbapi.cursor() as cursor,
            cursor.copy(f'COPY "{table.name}" ({column_list}) FROM STDIN') as copy,
        ):
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch = [dict(zip(columns, row, strict=True)) for row in rows]
    if batch:
        conn.execute(table.insert(), batch)
    return len(batch)


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on any conflicting unique key."""
    return upsert(conn, table).on_conflict_do_nothing()
