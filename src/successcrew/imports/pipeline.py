"""``successcrew import KIND PATH``: read, validate, stage and merge one file, all or nothing."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine

from successcrew.errors import ImportRejected, InputError
from successcrew.imports.reader import detect_format, open_text, read_csv, read_jsonl
from successcrew.imports.rows import ROW_MODELS, ImportRow, InvoiceRow, NpsRow, UsageRow
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
        )  # type: ignore[attr-defined]
    if kind == "contacts":
        return (
            line,
            row.external_id,
            row.account_external_id,
            row.email,
            row.name,  # type: ignore[attr-defined]
            row.role,
            row.email_opt_out,
        )  # type: ignore[attr-defined]
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
        return (
            line,
            row.external_id,
            row.account_external_id,
            row.opened_at,  # type: ignore[attr-defined]
            row.closed_at,
            row.priority,
            row.csat,
        )  # type: ignore[attr-defined]
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


def _describe(err: ValidationError) -> list[tuple[str, str]]:
    """(field, problem) pairs in words a person can act on."""
    out = []
    for problem in err.errors():
        loc = problem["loc"]
        name = str(loc[0]) if loc else ""
        cause = (problem.get("ctx") or {}).get("error")
        if cause is not None and hasattr(cause, "field"):
            name = cause.field
        kind = problem["type"]
        if kind == "missing" or problem.get("input", "") is None:
            message = "is required but missing"
        elif kind == "string_too_long":
            message = f"is longer than {problem['ctx']['max_length']} characters"
        elif kind == "string_too_short":
            message = "is required but empty"
        elif kind in {"string_type", "int_type", "float_type"}:
            message = f"{problem['input']!r} has the wrong type"
        else:
            message = problem["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        out.append((name, message))
    return out


class _Errors:
    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.shown: list[tuple[int, str, str]] = []
        self.total = 0

    def add(self, line: int, field_name: str, message: str) -> None:
        self.total += 1
        if len(self.shown) < self.cap:
            self.shown.append((line, field_name, message))

    def lines(self) -> list[str]:
        return [
            f"line {line}, field {name}: {message}" if name else f"line {line}: {message}"
            for line, name, message in sorted(self.shown)
        ]


def import_file(
    engine: Engine,
    kind: str,
    path: Path,
    *,
    now: datetime,
    on_bytes: Callable[[int], None] | None = None,
    max_errors: int = MAX_ERRORS_SHOWN,
    actor: str = "import",
) -> ImportResult:
    """Import one CSV or JSON Lines file of ``kind``; raises ImportRejected (nothing written)."""
    if kind not in ROW_MODELS:
        raise InputError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    model = ROW_MODELS[kind]
    fmt = detect_format(path)
    errors = _Errors(max_errors)
    present: set[str] = set()

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
            present.update(columns)
        else:
            records = read_jsonl(stream, path)

        def validated() -> Iterator[tuple[Any, ...]]:
            for line, record in records:
                shape = record.get("__shape__")
                if shape:
                    errors.add(line, "", shape)
                    continue
                if fmt == "jsonl":
                    present.update(record)
                try:
                    row = model.model_validate(record)
                except ValidationError as err:
                    for name, message in _describe(err):
                        errors.add(line, name, message)
                    continue
                # Valid rows are staged even after an error, so that unknown references and
                # duplicates are reported in the same pass; nothing is merged unless all are valid.
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
