"""The few statements that differ between SQLite and PostgreSQL, behind one interface."""

from __future__ import annotations

import typing
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    Connection,
    CursorResult,
    Float,
    Integer,
    Result,
    Select,
    String,
    Table,
    cast,
    literal,
    select,
)
from sqlalchemy import column as column_of
from sqlalchemy import table as table_of
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import expression
from sqlalchemy.sql.base import Executable
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.functions import FunctionElement

from successcrew.store.types import FloatList

if TYPE_CHECKING:
    import psycopg


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
        # Imported here: only a PostgreSQL connection reaches this branch.
        from psycopg import sql

        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        # PostgreSQL is reached through psycopg 3 only (the URL says postgresql+psycopg).
        pg = typing.cast("psycopg.Connection[Any]", dbapi)
        count = 0
        statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
            sql.Identifier(table.name), sql.SQL(", ").join(map(sql.Identifier, columns))
        )
        with pg.cursor() as cursor, cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
                count += 1
        return count
    batch = [dict(zip(columns, row, strict=True)) for row in rows]
    if batch:
        conn.execute(table.insert(), batch)
    return len(batch)


def rowcount(result: Result) -> int:
    """How many rows an INSERT, UPDATE or DELETE run through ``Session.execute`` changed.

    The session returns the statement's CursorResult, but is typed to return a plain Result,
    which has no row count.
    """
    return int(typing.cast("CursorResult[Any]", result).rowcount or 0)


def tune_for_batch(conn: Connection) -> None:
    """PostgreSQL settings for one set-based batch statement, for this transaction only.

    JIT off: the scoring query is wide (a CASE per component and stage) but cheap per row, and
    PostgreSQL, judging it by its estimated cost, spends seconds compiling it. More work_mem:
    the per-(account, metric) aggregate and the window functions over 100,000 accounts would
    otherwise spill to temporary files and read them back many times. No-op on SQLite.
    """
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SET LOCAL jit = off")
        conn.exec_driver_sql("SET LOCAL work_mem = '64MB'")


@contextmanager
def sort_grouping(conn: Connection) -> Iterator[None]:
    """Within the block, PostgreSQL groups by sorting rather than hashing (no-op on SQLite).

    For a GROUP BY whose rows are wanted in key order anyway: the planner, costing the hash
    aggregate and the sort after it apart, misjudges the pair. The setting in force before is
    put back for the rest of the transaction.
    """
    if conn.dialect.name != "postgresql":
        yield
        return
    before = conn.exec_driver_sql("SELECT current_setting('enable_hashagg')").scalar_one()
    conn.exec_driver_sql("SET LOCAL enable_hashagg = off")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"SET LOCAL enable_hashagg = {'on' if before == 'on' else 'off'}")


class _CreateTempAs(Executable, ClauseElement):
    """``CREATE TEMP TABLE <name> AS <query>`` (PostgreSQL)."""

    inherit_cache = False

    def __init__(self, name: str, query: Select) -> None:
        self.name = name
        self.query = query


@compiles(_CreateTempAs)
def _create_temp_as(element: _CreateTempAs, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CREATE TEMP TABLE {element.name} AS {compiler.process(element.query, **kw)}"


def parallel_source(
    conn: Connection, query: Select, name: str, columns: Sequence[str]
) -> tuple[Select, str | None]:
    """``query`` as the source of an INSERT, computed by a parallel plan where there is one.

    PostgreSQL never plans INSERT .. SELECT in parallel, but does plan CREATE TABLE .. AS in
    parallel: on PostgreSQL the rows go into a temporary table first (its scans and aggregates
    shared with parallel workers) and the INSERT reads them from there. Returns the SELECT to
    insert from and the temporary table to drop afterwards, schema-qualified (None on SQLite,
    where the query is used as it is).
    """
    if conn.dialect.name != "postgresql":
        return query, None
    # Always named through pg_temp: a permanent table of the same name is never touched.
    conn.exec_driver_sql(f"DROP TABLE IF EXISTS pg_temp.{name}")
    conn.execute(_CreateTempAs(name, query))
    temp = table_of(name, *(column_of(c) for c in columns), schema="pg_temp")
    # (A WHERE for SQLite's INSERT .. SELECT .. ON CONFLICT parsing, harmless here.)
    return select(*(temp.c[c] for c in columns)).where(expression.true()), f"pg_temp.{name}"


def insert_ignore(conn: Connection, table: Table) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on any conflicting unique key."""
    return upsert(conn, table).on_conflict_do_nothing()


# --- expressions spelled differently per dialect (one query builder for both) ---


class days_between(FunctionElement[int]):
    """Whole days from the second date to the first (``later - earlier``)."""

    type = Integer()
    inherit_cache = True


@compiles(days_between)
def _days_sqlite(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"CAST(julianday({later}) - julianday({earlier}) AS INTEGER)"


@compiles(days_between, "postgresql")
def _days_pg(element: days_between, compiler: SQLCompiler, **kw: Any) -> str:
    later, earlier = (compiler.process(c, **kw) for c in element.clauses)
    return f"({later} - {earlier})"


class round2(FunctionElement[float]):
    """A float rounded to 2 decimals (PostgreSQL only rounds numerics to a number of places)."""

    type = Float()
    inherit_cache = True


@compiles(round2)
def _round_sqlite(element: round2, compiler: SQLCompiler, **kw: Any) -> str:
    return f"round({compiler.process(element.clauses, **kw)}, 2)"


@compiles(round2, "postgresql")
def _round_pg(element: round2, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(round(CAST({compiler.process(element.clauses, **kw)} AS numeric), 2) AS float8)"


def text_value(value: str) -> expression.ColumnElement[str]:
    """A string constant written into the SQL, with its type spelled out.

    Inline rather than a parameter: PostgreSQL folds an inline constant once at planning, a
    parameter inside an expression is cast again on every row (and psycopg sends str untyped,
    which ``jsonb_build_object`` and ``||`` cannot resolve).
    """
    return cast(literal(value, String(), literal_execute=True), String())


class float_array(FunctionElement[Any]):
    """A list of floats from expressions: ``ARRAY[...]::float8[]`` / SQLite ``json_array(...)``.

    Matches the ``FloatList`` column type; NULL elements stay NULL.
    """

    type = FloatList
    inherit_cache = True


@compiles(float_array)
def _float_array_sqlite(element: float_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_array({compiler.process(element.clauses, **kw)})"


@compiles(float_array, "postgresql")
def _float_array_pg(element: float_array, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(ARRAY[{compiler.process(element.clauses, **kw)}] AS float8[])"
