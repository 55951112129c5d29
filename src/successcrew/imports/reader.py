"""Streaming CSV and JSON Lines readers that keep the file line number of every record."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from successcrew.errors import InputError
from successcrew.imports.fields import MAX_FIELD_CHARS, character_problem, text_problem

Record = dict[str, Any]


class _CountingReader(io.RawIOBase):
    """Counts bytes read so a progress bar can follow a file of any size without seeking."""

    def __init__(self, raw: io.BufferedReader, on_bytes: Callable[[int], None] | None) -> None:
        self._raw = raw
        self._on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer)
        if n and self._on_bytes:
            self._on_bytes(n)
        return n or 0

    def close(self) -> None:
        self._raw.close()
        super().close()


def detect_format(path: Path) -> str:
    """``csv`` or ``jsonl`` from the file name; unknown names are refused with a hint."""
    suffix = path.suffix.lower()
    if suffix in {".csv", ".txt"}:
        return "csv"
    if suffix in {".jsonl", ".ndjson", ".json"}:
        return "jsonl"
    raise InputError(
        f"{path}: unknown file type {suffix or '(none)'!r}; use .csv (with a header row) "
        "or .jsonl (one JSON object per line)"
    )


def open_text(path: Path, on_bytes: Callable[[int], None] | None = None) -> io.TextIOWrapper:
    """Open ``path`` as UTF-8 text (a BOM is accepted) while counting bytes.

    Bytes that are not UTF-8 decode to lone surrogates (``surrogateescape``) instead of raising:
    the decoder works ahead of the line being parsed, so an exception would name the wrong line.
    The importer refuses such a value on the line and field it is in (``fields.text_problem``).
    """
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    buffered = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 20)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", errors="surrogateescape", newline="")


def _oversized_field(text: str) -> int | None:
    """The index of the first field of the CSV record ``text`` longer than the field limit."""
    index = length = 0
    quoted = False
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if quoted:
            if char != '"':
                length += 1
            elif text.startswith('"', i + 1):
                length += 1  # a doubled quote is one quote character of the value
                i += 1
            else:
                quoted = False
        elif char == '"':
            quoted = True
        elif char == ",":
            index, length = index + 1, 0
        else:
            length += 1
        if length > MAX_FIELD_CHARS:
            return index
        i += 1
    return None


def read_csv(
    stream: io.TextIOWrapper, path: Path
) -> tuple[list[str], Iterator[tuple[int, Record]]]:
    """The header and an iterator of (line, record); a record's line is where it starts.

    A field longer than ``MAX_FIELD_CHARS`` stops the file with its line and column named (the
    csv module stops reading it at the limit, so an unclosed quote cannot swallow the file).
    """
    # The limit is process-wide in the csv module; the importer is its only user here.
    csv.field_size_limit(MAX_FIELD_CHARS)
    pending: list[str] = []  # the physical lines of the record being parsed

    def lines() -> Iterator[str]:
        for text in stream:
            pending.append(text)
            yield text

    reader = csv.reader(lines())
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: the file is empty; expected a header row") from None
    except csv.Error as exc:
        raise InputError(f"{path}: line 1: malformed CSV header ({exc})") from None
    pending.clear()
    columns = [c.strip().lower() for c in header]
    for number, name in enumerate(columns, start=1):
        problem = text_problem(name)
        if problem:
            raise InputError(f"{path}: line 1: the name of column {number} {problem}")
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"{path}: line 1: column {', '.join(dupes)} appears more than once")

    def too_long(line: int) -> InputError:
        text = "".join(pending)
        index = _oversized_field(text)
        field = columns[index] if index is not None and index < len(columns) else None
        where = f"field {field}" if field else f"column {index + 1}" if index is not None else ""
        quote = (
            " (a quote that opens a field and never closes makes the rest of the file one field)"
            if index is not None and text.count('"') % 2
            else ""
        )
        return InputError(
            f"{path}: line {line}, {where or 'a field'}: is longer than {MAX_FIELD_CHARS:,} "
            f"characters, the limit for one field{quote}; nothing was imported"
        )

    def records() -> Iterator[tuple[int, Record]]:
        line = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                if "field larger than field limit" in str(exc):
                    raise too_long(line) from None
                raise InputError(f"{path}: line {line}: malformed CSV ({exc})") from None
            pending.clear()
            start, line = line, reader.line_num + 1
            if not values or (len(values) == 1 and not values[0].strip()):
                continue
            if len(values) != len(columns):
                yield (
                    start,
                    {
                        "__shape__": f"has {len(values)} values but the header has {len(columns)} "
                        "columns"
                    },
                )
                continue
            yield start, dict(zip(columns, values, strict=True))

    return columns, records()


def read_jsonl(stream: io.TextIOWrapper, path: Path) -> Iterator[tuple[int, Record]]:
    """An iterator of (line, record) for a JSON Lines file; blank lines are skipped."""
    line = 0
    while True:
        text = stream.readline()
        if not text:
            return
        line += 1
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            # A bad byte or a raw control character is what broke the JSON: say that instead.
            problem = character_problem(text)
            if problem:
                yield line, {"__shape__": problem}
            else:
                yield line, {"__shape__": f"is not valid JSON ({exc.msg} at column {exc.colno})"}
            continue
        if not isinstance(value, dict):
            yield line, {"__shape__": "is not a JSON object"}
            continue
        yield line, {str(k).strip().lower(): v for k, v in value.items()}
