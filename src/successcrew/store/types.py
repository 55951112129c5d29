"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Text
from sqlalchemy.dialects.postgresql import ARRAY, DOUBLE_PRECISION, JSONB
from sqlalchemy.types import TypeDecorator

from successcrew.redaction import redact_secrets, sanitise

# JSONB on PostgreSQL (indexable, compact), plain JSON text on SQLite.
JsonType = JSON().with_variant(JSONB(), "postgresql")

# A list of floats (NULLs allowed): float8[] on PostgreSQL, a JSON array on SQLite. Building an
# array in SQL costs a twentieth of building the same numbers into JSONB (no per-value type
# lookups, no float-to-numeric conversion), which is why health snapshots keep their component
# values in one.
FloatList = JSON().with_variant(ARRAY(DOUBLE_PRECISION()), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware.

    SQLite keeps no offset, so a naive value read back is UTC by construction.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ErrorText(TypeDecorator[str]):
    """Text describing a failure (an outbox ``last_error``, a check's ``error``): sanitised on
    the way in and on the way out (``successcrew.redaction.sanitise``).

    Whoever writes the row, and however the text was put together, no credential is stored; a
    row written before the sanitiser existed is cleaned when read.
    """

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return sanitise(value) if value else value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return sanitise(value) if value else value


class SecretFreeText(TypeDecorator[str]):
    """Free text we write that may quote an error (a pause reason): configured secrets removed
    on the way in and out (``redact_secrets``), nothing else touched."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return redact_secrets(value) if value else value

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return redact_secrets(value) if value else value
