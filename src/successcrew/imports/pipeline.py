"""``successcrew import KIND PATH``: read, validate, stage and merge one file, all or nothing."""

from __future__ import annotations

import hashlib
import shlex
from collections.abc import Callable, Collection, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from successcrew.errors import ImportRejected, InputError
from successcrew.imports.fields import text_problems
from successcrew.imports.reader import detect_format, open_text, read_csv, read_jsonl
from successcrew.imports.rows import (
    ROW_MODELS,
    AccountRow,
    ContactRow,
    ImportRow,
    InvoiceRow,
    NpsRow,
    TicketRow,
    UsageRow,
)
from successcrew.store import audit
from successcrew.store.importing import Staging

KINDS = tuple(ROW_MODELS)
BATCH_ROWS = 20_000
MAX_ERRORS_SHOWN = 50


@dataclass
class ImportResult:
    """What one import did."""

    kind: str
    path: str
    rows: int
    inserted: int
    updated: int
    unchanged: int
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready summary."""
        return asdict(self)


def _digest(*parts: str) -> str:
    return hashlib.sha1("\x1f".join(parts).encode()).hexdigest()


def usage_event_key(row: UsageRow) -> str:
    """Natural key of a raw usage event: account, contact, metric and the instant (UTC)."""
    assert row.occurred_at is not None
    return _digest(
        row.account_external_id,
        row.contact_external_id or "",
        row.metric,
        row.occurred_at.isoformat(),
    )


def nps_natural_key(row: NpsRow) -> str:
    """The external id where given, else account, contact e-mail and response time."""
    if row.external_id:
        return _digest("x", row.external_id)
    return _digest(
        "n", row.account_external_id, row.contact_email or "", row.responded_at.isoformat()
    )


def _stage_tuple(kind: str, line: int, row: ImportRow) -> tuple[Any, ...]:
    if kind == "accounts":
        assert isinstance(row, AccountRow)
        return (
            line,
            row.external_id,
            row.name,
            row.segment,
            row.plan,
            row.arr,
            row.owner_email,
            row.started_at,
            row.churned_at,
            row.renewal_date,
        )
    if kind == "contacts":
        assert isinstance(row, ContactRow)
        return (
            line,
            row.external_id,
            row.account_external_id,
            row.email,
            row.name,
            row.role,
            row.email_opt_out,
        )
    if kind == "usage":
        assert isinstance(row, UsageRow)
        if row.occurred_at is not None:
            return (
                line,
                usage_event_key(row),
                row.account_external_id,
                row.contact_external_id,
                row.metric,
                row.value,
                row.occurred_at.date(),
                row.occurred_at,
            )
        return (
            line,
            None,
            row.account_external_id,
            row.contact_external_id,
            row.metric,
            row.value,
            row.day,
            None,
        )
    if kind == "tickets":
        assert isinstance(row, TicketRow)
        return (
            line,
            row.external_id,
            row.account_external_id,
            row.opened_at,
            row.closed_at,
            row.priority,
            row.csat,
        )
    if kind == "invoices":
        assert isinstance(row, InvoiceRow)
        return (
            line,
            row.external_id,
            row.account_external_id,
            row.amount,
            row.due_at,
            row.issued_at,
            row.paid_at,
            row.effective_status,
        )
    assert isinstance(row, NpsRow)
    return (
        line,
        nps_natural_key(row),
        row.external_id,
        row.account_external_id,
        row.contact_email,
        row.score,
        row.comment,
        row.channel,
        row.responded_at,
    )


class _Errors:
    """Every problem counted; the ``cap`` with the lowest line numbers kept to show, wherever
    they were found (row checks first, the SQL checks after them)."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.shown: list[tuple[int, str, str]] = []
        self.total = 0

    def add(self, line: int, field_name: str, message: str) -> None:
        self.total += 1
        self.shown.append((line, field_name, message))
        if len(self.shown) > 2 * self.cap:
            self.shown = sorted(self.shown)[: self.cap]

    def lines(self) -> list[str]:
        return [
            f"line {line}, field {name}: {message}" if name else f"line {line}: {message}"
            for line, name, message in sorted(self.shown)[: self.cap]
        ]


def _names(columns: Iterable[str]) -> str:
    # repr: a column name may hold anything, including bytes that are not UTF-8.
    return ", ".join(repr(c) for c in sorted(columns))


def _unknown_columns(kind: str, columns: Iterable[str], known: Iterable[str]) -> str:
    names = sorted(columns)
    flags = " ".join(f"--ignore-column {shlex.quote(c)}" for c in names)
    return (
        f"unknown column(s) {_names(names)} (the columns of {kind} files are "
        f"{', '.join(sorted(known))}); check the spelling, or leave them out with {flags}"
    )


def import_file(
    engine: Engine,
    kind: str,
    path: Path,
    *,
    now: datetime,
    on_bytes: Callable[[int], None] | None = None,
    max_errors: int = MAX_ERRORS_SHOWN,
    actor: str = "import",
    ignore_columns: Collection[str] = (),
) -> ImportResult:
    """Import one CSV or JSON Lines file of ``kind``; raises ImportRejected (nothing written).

    A column the row model does not know is a problem (reported with the rows' problems, in one
    pass), unless ``ignore_columns`` names it: then it is left out unread.
    """
    if kind not in ROW_MODELS:
        raise InputError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    model = ROW_MODELS[kind]
    known = set(model.model_fields)
    ignored = {c.strip().lower() for c in ignore_columns}
    if ignored & known:
        raise InputError(
            f"--ignore-column {_names(ignored & known)}: a column of {kind} files; "
            "--ignore-column only leaves out columns successcrew does not read"
        )
    fmt = detect_format(path)
    errors = _Errors(max_errors)
    present: set[str] = set()
    unknown_seen: set[str] = set(ignored)

    with open_text(path, on_bytes) as stream:
        if fmt == "csv":
            columns, records = read_csv(stream, path)
            missing = [c for c in model.required if c not in columns]
            if kind == "usage" and "day" not in columns and "occurred_at" not in columns:
                missing.append("day or occurred_at")
            if missing:
                raise InputError(
                    f"{path}: line 1: missing required column(s) {', '.join(missing)}; "
                    f"a {kind} file needs {', '.join(model.required)}"
                    + (" and day or occurred_at" if kind == "usage" else "")
                )
            unknown = set(columns) - known - ignored
            if unknown:
                errors.add(1, "", _unknown_columns(kind, unknown, known))
            present.update(set(columns) & known)
            # Only the known columns are read: an unknown one is reported once, on line 1.
            extra = set(columns) - known
        else:
            records = read_jsonl(stream, path)
            extra = set()

        def validated() -> Iterator[tuple[Any, ...]]:
            for line, record in records:
                shape = record.get("__shape__")
                if shape:
                    errors.add(line, "", shape)
                    continue
                if fmt == "jsonl":
                    keys = record.keys() - known
                    if keys:
                        new = keys - unknown_seen
                        if new:
                            # Once per column, on the first line carrying it.
                            errors.add(line, "", _unknown_columns(kind, new, known))
                            unknown_seen.update(new)
                        record = {k: v for k, v in record.items() if k in known}
                    present.update(record)
                elif extra:
                    record = {k: v for k, v in record.items() if k in known}
                problems = text_problems(record)
                row, more = model.check(record, broken={name for name, _ in problems})
                problems += more
                for name, message in problems:
                    errors.add(line, name, message)
                # Valid rows are staged even after an error, and so is an invalid row whose
                # identity parsed, so that unknown references and duplicates are reported in
                # the same pass; nothing is merged unless every row is valid.
                if not problems or model.identity_parsed(row, problems):
                    yield _stage_tuple(kind, line, row)

        with engine.begin() as conn:
            staging = Staging(conn, kind)
            batch: list[tuple[Any, ...]] = []
            for item in validated():
                batch.append(item)
                if len(batch) >= BATCH_ROWS:
                    staging.load(batch)
                    batch = []
            staging.load(batch)
            staging.analyze()
            if staging.rows == 0 and not errors.total:
                staging.drop()
                return ImportResult(kind, str(path), 0, 0, 0, 0)
            for check in (staging.unknown_references, staging.duplicates):
                problems, total = check(max_errors)
                for p in problems:
                    errors.add(p.line, p.field, p.message)
                errors.total += total - len(problems)
            if errors.total:
                raise ImportRejected(str(path), errors.lines(), errors.total)
            merged = staging.merge(now=now, present=present)
            staging.drop()
            counts = merged.pop("counts")
            result = ImportResult(
                kind=kind,
                path=str(path),
                rows=staging.rows,
                inserted=counts.inserted,
                updated=counts.updated,
                unchanged=counts.unchanged,
                extra=merged,
            )
            if result.inserted or result.updated:
                audit.record(
                    conn,
                    at=now,
                    actor=actor,
                    action=f"import.{kind}",
                    subject=path.name,
                    detail=result.as_dict(),
                )
            return result
