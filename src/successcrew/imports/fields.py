"""Field types for import rows, with messages a person can act on.

Each parser raises ``ValueError`` with the problem stated about the value itself
(``11 is not between 0 and 10``); the importer prefixes ``line N, field F:``.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator

from successcrew import clock
from successcrew.clock import to_utc

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

#: The longest value one field may hold, in characters (1 MiB of plain text). The longest column
#: a row model stores is far shorter; this bounds what an import reads into memory per field.
MAX_FIELD_CHARS = 1_048_576

#: Characters an import refuses in any field: NUL (PostgreSQL cannot store it, SQLite would keep
#: it and hand it to every e-mail and CRM push), the other C0 controls except tab, line feed and
#: carriage return (they come from binary data or a broken export, never from a person), and
#: lone surrogates: the reader decodes bytes that are not UTF-8 to U+DC80..U+DCFF
#: (``surrogateescape``), so that a bad byte is reported on its own line and field.
_UNSTORABLE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
_TRUE = {"true", "1", "yes", "y", "t"}
_FALSE = {"false", "0", "no", "n", "f"}


def text_problem(value: str) -> str | None:
    """What makes ``value`` unfit to store (too long, a NUL, a control character, bytes that
    are not UTF-8), or None."""
    if len(value) > MAX_FIELD_CHARS:
        return (
            f"is {len(value):,} characters long; the limit for one field is "
            f"{MAX_FIELD_CHARS:,} characters"
        )
    return character_problem(value)


def character_problem(value: str) -> str | None:
    """The first character of ``value`` the importer refuses, described, or None."""
    found = _UNSTORABLE.search(value)
    if found is None:
        return None
    char, where = found.group(), f"at character {found.start() + 1}"
    code = ord(char)
    if code == 0:
        return f"contains a NUL character (byte 0x00) {where}, which the database cannot store"
    if 0xDC80 <= code <= 0xDCFF:
        return f"is not UTF-8 text (byte 0x{code - 0xDC00:02x} {where}); save the file as UTF-8"
    if code >= 0xD800:
        return f"contains an unpaired surrogate \\u{code:04x} {where} (not valid Unicode text)"
    return f"contains the control character U+{code:04X} {where}, which is not text"


def text_problems(record: dict[str, Any]) -> list[tuple[str, str]]:
    """(field, problem) for each text value of ``record`` that ``text_problem`` refuses.

    One search over the joined values serves the common case of a clean record; only a record
    with a hit is looked at field by field.
    """
    texts = [v for v in record.values() if isinstance(v, str)]
    joined = ",".join(texts)
    if len(joined) <= MAX_FIELD_CHARS and _UNSTORABLE.search(joined) is None:
        return []
    return [
        (name, problem)
        for name, value in record.items()
        if isinstance(value, str) and (problem := text_problem(value)) is not None
    ]


def _text(value: Any) -> str:
    if value is None:
        # Only reached for required fields: optional ones accept None before any parser runs.
        raise ValueError("is required but missing")
    return value if isinstance(value, str) else str(value)


def parse_date(value: Any) -> date:
    """An ISO 8601 date ``YYYY-MM-DD``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = _text(value).strip()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date (expected YYYY-MM-DD)") from None


def parse_timestamp(value: Any) -> datetime:
    """An ISO 8601 timestamp, with or without offset (UTC when none); a bare date is midnight."""
    if isinstance(value, datetime):
        return to_utc(value)
    text = _text(value).strip()
    try:
        return clock.parse_timestamp(text)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a timestamp (expected ISO 8601, e.g. 2025-06-01T14:30:00Z)"
        ) from None


def parse_number(value: Any) -> float:
    """A finite decimal number."""
    if value is None:
        raise ValueError("is required but missing")
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a number")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = _text(value).strip()
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(number):
        raise ValueError(f"{value!r} is not a finite number")
    return number


def parse_money(value: Any) -> Decimal:
    """An amount with at most two decimals."""
    number = parse_number(value)
    try:
        amount = (
            Decimal(_text(value).strip()) if not isinstance(value, float) else Decimal(repr(value))
        )
    except InvalidOperation:
        amount = Decimal(str(number))
    if amount != amount.quantize(Decimal("0.01")):
        raise ValueError(f"{value!r} has more than two decimals")
    if abs(amount) >= Decimal("1e12"):
        raise ValueError(f"{value!r} is too large")
    return amount


def parse_whole(value: Any) -> int:
    """A whole number (``7`` or ``7.0``, not ``7.5``)."""
    number = parse_number(value)
    if number != int(number):
        raise ValueError(f"{value!r} is not a whole number")
    return int(number)


def ranged_whole(low: int, high: int) -> BeforeValidator:
    """A whole number between ``low`` and ``high`` inclusive."""

    def check(value: Any) -> int | None:
        if value is None:
            return None
        number = parse_whole(value)
        if not low <= number <= high:
            raise ValueError(f"{number} is not between {low} and {high}")
        return number

    return BeforeValidator(check)


def parse_bool(value: Any) -> bool:
    """true/false, yes/no, 1/0 (any case)."""
    if isinstance(value, bool):
        return value
    text = _text(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{value!r} is not true or false")


def parse_email(value: Any) -> str:
    """An e-mail address, stored lower-case."""
    text = _text(value).strip()
    if not _EMAIL.match(text) or len(text) > 320:
        raise ValueError(f"{text!r} is not an e-mail address")
    return text.lower()


def parse_id(value: Any) -> str:
    """A non-empty identifier of at most 200 characters."""
    text = _text(value).strip()
    if not text:
        raise ValueError("is empty")
    if len(text) > 200:
        raise ValueError("is longer than 200 characters")
    return text


def choice(*allowed: str) -> BeforeValidator:
    """One of ``allowed`` (case-insensitive, stored lower-case)."""

    def check(value: Any) -> str | None:
        if value is None:
            return None
        text = _text(value).strip().lower()
        if text not in allowed:
            raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
        return text

    return BeforeValidator(check)


Date = Annotated[date, BeforeValidator(parse_date)]
Timestamp = Annotated[datetime, BeforeValidator(parse_timestamp)]
Number = Annotated[float, BeforeValidator(parse_number)]
Money = Annotated[Decimal, BeforeValidator(parse_money)]
Bool = Annotated[bool, BeforeValidator(parse_bool)]
Email = Annotated[str, BeforeValidator(parse_email)]
Id = Annotated[str, BeforeValidator(parse_id)]
