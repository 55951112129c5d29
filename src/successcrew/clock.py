"""The one place that reads the wall clock; everything else takes ``now`` as an argument."""

from __future__ import annotations

from datetime import UTC, date, datetime


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def to_utc(moment: datetime) -> datetime:
    """``moment`` in UTC; a naive value is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def parse_timestamp(text: str) -> datetime:
    """An ISO 8601 date or timestamp (``Z`` or an offset allowed) as aware UTC; else ValueError."""
    return to_utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))


def parse_now(value: str | None) -> datetime:
    """``--now``: an ISO date or timestamp (UTC when no offset), else the wall clock."""
    if not value:
        return utcnow()
    try:
        return parse_timestamp(value)
    except ValueError:
        from successcrew.errors import InputError

        raise InputError(
            f"--now {value!r} is not an ISO date or timestamp (e.g. 2026-11-25T09:00:00Z)"
        ) from None


def start_of_day(day: date) -> datetime:
    """Midnight UTC at the start of ``day``."""
    return datetime(day.year, day.month, day.day, tzinfo=UTC)
