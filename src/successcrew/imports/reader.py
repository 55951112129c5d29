"""Streaming CSV and JSON Lines readers that keep the file line number of every record."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from successcrew.errors import InputError

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
    """Open ``path`` as UTF-8 text (a BOM is accepted) while counting bytes."""
    try:
        raw = open(path, "rb")  # noqa: SIM115 - closed by the caller through the wrapper
    except FileNotFoundError:
        raise InputError(f"{path}: file not found") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot be read: {exc.strerror}") from None
    buffered = io.BufferedReader(_CountingReader(raw, on_bytes), buffer_size=1 << 20)
    return io.TextIOWrapper(buffered, encoding="utf-8-sig", newline="")


def read_csv(
    stream: io.TextIOWrapper, path: Path
) -> tuple[list[str], Iterator[tuple[int, Record]]]:
    """The header and an iterator of (line, record); a record's line is where it starts."""
    reader = csv.reader(stream)
    try:
        header = next(reader)
    except StopIteration:
        raise InputError(f"{path}: the file is empty; expected a header row") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: line 1: not UTF-8 text ({exc.reason})") from None
    columns = [c.strip().lower() for c in header]
    if len(set(columns)) != len(columns):
        dupes = sorted({c for c in columns if columns.count(c) > 1})
        raise InputError(f"{path}: line 1: column {', '.join(dupes)} appears more than once")

    def records() -> Iterator[tuple[int, Record]]:
        line = reader.line_num + 1
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except UnicodeDecodeError as exc:
                raise InputError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from None
            except csv.Error as exc:
                raise InputError(f"{path}: line {line}: malformed CSV ({exc})") from None
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
        try:
            text = stream.readline()
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: line {line + 1}: not UTF-8 text ({exc.reason})") from None
        if not text:
            return
        line += 1
        if not text.strip():
            continue
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            yield line, {"__shape__": f"is not valid JSON ({exc.msg} at column {exc.colno})"}
            continue
        if not isinstance(value, dict):
            yield line, {"__shape__": "is not a JSON object"}
            continue
        yield line, {str(k).strip().lower(): v for k, v in value.items()}
