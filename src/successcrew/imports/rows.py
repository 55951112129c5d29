"""One pydantic model per import kind: the columns of ARCHITECTURE.md "Import formats".

Empty strings count as absent. A column no model knows is refused by the pipeline (unless the
operator leaves it out with ``--ignore-column``), so the models themselves ignore extras.

``ImportRow.check`` validates a record and, when it is invalid, says everything wrong with it at
once: each field on its own, then the cross-field checks among the fields that parsed.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, model_validator

from successcrew.imports.fields import (
    Bool,
    Date,
    Email,
    Id,
    Money,
    Number,
    Timestamp,
    choice,
    ranged_whole,
)

Problem = tuple[str, str]
"""(field, what is wrong with it), e.g. ``("score", "11 is not between 0 and 10")``."""


def blank_is_absent(data: Mapping[str, Any]) -> dict[str, Any]:
    """The record with blank strings (and nameless CSV overflow) removed."""
    return {
        k: (None if (isinstance(v, str) and not v.strip()) else v)
        for k, v in data.items()
        if k is not None
    }


def describe(err: ValidationError) -> list[str]:
    """The problems of a one-field validation, in words a person can act on."""
    out = []
    for problem in err.errors():
        kind = problem["type"]
        if kind == "missing" or problem.get("input", "") is None:
            message = "is required but missing"
        elif kind == "string_too_long":
            message = f"is longer than {problem.get('ctx', {}).get('max_length')} characters"
        elif kind == "string_too_short":
            message = "is required but empty"
        elif kind in {"string_type", "int_type", "float_type"}:
            message = f"{problem['input']!r} has the wrong type"
        else:
            message = problem["msg"]
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        out.append(message)
    return out


class ImportRow(BaseModel):
    """Base: blank values become None, text is trimmed, unknown columns are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    #: Column whose value identifies the row for upserts (None: a natural key is derived).
    key: ClassVar[str | None] = "external_id"
    #: The fields a row's identity is made of (the duplicate check compares these).
    identity: ClassVar[tuple[str, ...]] = ("external_id",)

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return blank_is_absent(data)
        return data

    @model_validator(mode="after")
    def _cross_fields(self) -> ImportRow:
        problems = self.cross_field_problems(dict(self))
        if problems:
            raise _FieldError(*problems[0])
        return self

    @classmethod
    def cross_field_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        """Checks across fields, over ``values`` holding the fields that parsed (a field that
        failed is left out, so no check reports on a value it never saw)."""
        return []

    @classmethod
    def check(
        cls, record: Mapping[str, Any], broken: Collection[str] = ()
    ) -> tuple[ImportRow, list[Problem]]:
        """Validate ``record``; ``broken`` names fields already reported (left out here).

        Returns the row and no problems, or a partial row (the fields that parsed, the others
        None) with every problem: field by field, then the cross-field checks. The partial row
        still carries the row's identity when that parsed, so duplicates are found in the same
        pass.
        """
        if not broken:
            try:
                return cls.model_validate(record), []
            except ValidationError:
                pass  # find every problem below, not only the ones pydantic reached
        values = blank_is_absent(record)
        parsed: dict[str, Any] = {}
        problems: list[Problem] = []
        for name, adapter in _adapters(cls).items():
            if name in broken:
                continue
            value = values.get(name)
            if value is None:
                if cls.model_fields[name].is_required():
                    problems.append((name, "is required but missing"))
                else:
                    parsed[name] = None
                continue
            try:
                parsed[name] = adapter.validate_python(value)
            except ValidationError as err:
                problems.extend((name, message) for message in describe(err))
        problems.extend(cls.cross_field_problems(parsed))
        partial = cls.model_construct(**{n: parsed.get(n) for n in cls.model_fields})
        return partial, problems

    @classmethod
    def identity_parsed(cls, row: ImportRow, problems: list[Problem]) -> bool:
        """Whether an invalid row's identity is whole, so it can take part in the duplicate
        check (a partial identity would make unrelated rows look alike)."""
        failed = {name for name, _ in problems}
        if failed & set(cls.identity):
            return False
        return cls.has_identity(row)

    @classmethod
    def has_identity(cls, row: ImportRow) -> bool:
        """The identity fields needed are present."""
        return getattr(row, "external_id", None) is not None


_ADAPTERS: dict[type[ImportRow], dict[str, TypeAdapter[Any]]] = {}
#: ``Annotated`` used as a value: each field's type is built at run time, which no checker can
#: read as a type expression.
_ANNOTATED: Any = Annotated


def _adapters(model: type[ImportRow]) -> dict[str, TypeAdapter[Any]]:
    """One validator per field of ``model`` (built once), for checking fields one by one."""
    if model not in _ADAPTERS:
        _ADAPTERS[model] = {
            name: TypeAdapter(_ANNOTATED[info.annotation, info])
            for name, info in model.model_fields.items()
        }
    return _ADAPTERS[model]


def _have(values: Mapping[str, Any], *names: str) -> bool:
    """Every one of ``names`` parsed and is not None."""
    return all(values.get(n) is not None for n in names)


class AccountRow(ImportRow):
    kind: ClassVar[str] = "accounts"
    required: ClassVar[tuple[str, ...]] = ("external_id", "name")
    external_id: Id
    name: Annotated[str, Field(min_length=1, max_length=300)]
    segment: Annotated[str | None, Field(max_length=100)] = None
    plan: Annotated[str | None, Field(max_length=100)] = None
    arr: Money | None = None
    owner_email: Email | None = None
    started_at: Date | None = None
    churned_at: Date | None = None
    renewal_date: Date | None = None

    @classmethod
    def cross_field_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        problems = []
        if _have(values, "arr") and values["arr"] < 0:
            problems.append(("arr", f"{values['arr']} is negative"))
        started, churned = values.get("started_at"), values.get("churned_at")
        if started is not None and churned is not None and churned < started:
            problems.append(("churned_at", f"{churned} is before started_at {started}"))
        return problems


class ContactRow(ImportRow):
    kind: ClassVar[str] = "contacts"
    required: ClassVar[tuple[str, ...]] = ("external_id", "account_external_id", "email")
    external_id: Id
    account_external_id: Id
    email: Email
    name: Annotated[str | None, Field(max_length=300)] = None
    role: Annotated[str | None, Field(max_length=100)] = None
    email_opt_out: Bool | None = None


class UsageRow(ImportRow):
    kind: ClassVar[str] = "usage"
    required: ClassVar[tuple[str, ...]] = ("account_external_id", "metric", "value")
    key: ClassVar[str | None] = None
    identity: ClassVar[tuple[str, ...]] = (
        "account_external_id",
        "contact_external_id",
        "metric",
        "day",
        "occurred_at",
    )
    account_external_id: Id
    metric: Annotated[str, Field(min_length=1, max_length=100)]
    value: Number
    day: Date | None = None
    occurred_at: Timestamp | None = None
    contact_external_id: Id | None = None

    @classmethod
    def cross_field_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        problems = []
        if "day" in values and "occurred_at" in values:
            day, event = values["day"], values["occurred_at"]
            if (day is None) == (event is None):
                problems.append(
                    (
                        "day",
                        "give either day (a daily total) or occurred_at (one event), not "
                        + ("both" if day else "neither"),
                    )
                )
        if _have(values, "value") and values["value"] < 0:
            problems.append(("value", f"{values['value']:g} is negative"))
        return problems

    @classmethod
    def has_identity(cls, row: ImportRow) -> bool:
        assert isinstance(row, UsageRow)
        return (
            row.account_external_id is not None
            and row.metric is not None
            and (row.day is None) != (row.occurred_at is None)
        )


class TicketRow(ImportRow):
    kind: ClassVar[str] = "tickets"
    required: ClassVar[tuple[str, ...]] = ("external_id", "account_external_id", "opened_at")
    external_id: Id
    account_external_id: Id
    opened_at: Timestamp
    closed_at: Timestamp | None = None
    priority: Annotated[str | None, choice("low", "normal", "high", "urgent")] = None
    csat: Annotated[int | None, ranged_whole(1, 5)] = None

    @classmethod
    def cross_field_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        if _have(values, "opened_at", "closed_at") and values["closed_at"] < values["opened_at"]:
            return [("closed_at", f"{values['closed_at'].isoformat()} is before opened_at")]
        return []


class InvoiceRow(ImportRow):
    kind: ClassVar[str] = "invoices"
    required: ClassVar[tuple[str, ...]] = ("external_id", "account_external_id", "amount", "due_at")
    external_id: Id
    account_external_id: Id
    amount: Money
    due_at: Date
    issued_at: Date | None = None
    paid_at: Date | None = None
    status: Annotated[str | None, choice("paid", "open", "overdue", "void")] = None

    @classmethod
    def cross_field_problems(cls, values: Mapping[str, Any]) -> list[Problem]:
        if "paid_at" in values and values.get("status") == "paid" and values["paid_at"] is None:
            return [("paid_at", "is empty but status is paid")]
        return []

    @property
    def effective_status(self) -> str:
        """The given status, else paid when a payment date is known, else open."""
        return self.status or ("paid" if self.paid_at else "open")


class NpsRow(ImportRow):
    kind: ClassVar[str] = "nps"
    required: ClassVar[tuple[str, ...]] = ("account_external_id", "score", "responded_at")
    key: ClassVar[str | None] = None
    identity: ClassVar[tuple[str, ...]] = (
        "external_id",
        "account_external_id",
        "contact_email",
        "responded_at",
    )
    account_external_id: Id
    score: Annotated[int, ranged_whole(0, 10)]
    responded_at: Timestamp
    external_id: Id | None = None
    contact_email: Email | None = None
    comment: Annotated[str | None, Field(max_length=10000)] = None
    channel: Annotated[str | None, Field(max_length=50)] = None

    @classmethod
    def has_identity(cls, row: ImportRow) -> bool:
        assert isinstance(row, NpsRow)
        return row.external_id is not None or (
            row.account_external_id is not None and row.responded_at is not None
        )


class _FieldError(ValueError):
    """A cross-field problem attributed to one field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


ROW_MODELS: dict[str, type[ImportRow]] = {
    m.kind: m for m in (AccountRow, ContactRow, UsageRow, TicketRow, InvoiceRow, NpsRow)
}
