"""One pydantic model per import kind: the columns of ARCHITECTURE.md "Import formats".

Empty strings count as absent. Unknown columns are ignored (exports often carry more).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, model_validator

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


class ImportRow(BaseModel):
    """Base: blank values become None, text is trimmed, unknown columns are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)
    kind: ClassVar[str]
    required: ClassVar[tuple[str, ...]]
    #: Column whose value identifies the row for upserts (None: a natural key is derived).
    key: ClassVar[str | None] = "external_id"

    @model_validator(mode="before")
    @classmethod
    def _blank_is_absent(cls, data: Any) -> Any:
        if isinstance(data, dict):
            return {
                k: (None if (isinstance(v, str) and not v.strip()) else v)
                for k, v in data.items()
                if k is not None
            }
        return data


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

    @model_validator(mode="after")
    def _dates_in_order(self) -> AccountRow:
        if self.arr is not None and self.arr < 0:
            raise _field_error("arr", f"{self.arr} is negative")
        if self.started_at and self.churned_at and self.churned_at < self.started_at:
            raise _field_error(
                "churned_at", f"{self.churned_at} is before started_at {self.started_at}"
            )
        return self


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
    account_external_id: Id
    metric: Annotated[str, Field(min_length=1, max_length=100)]
    value: Number
    day: Date | None = None
    occurred_at: Timestamp | None = None
    contact_external_id: Id | None = None

    @model_validator(mode="after")
    def _day_or_event(self) -> UsageRow:
        if (self.day is None) == (self.occurred_at is None):
            raise _field_error(
                "day",
                "give either day (a daily total) or occurred_at (one event), not "
                + ("both" if self.day else "neither"),
            )
        if self.value < 0:
            raise _field_error("value", f"{self.value:g} is negative")
        return self


class TicketRow(ImportRow):
    kind: ClassVar[str] = "tickets"
    required: ClassVar[tuple[str, ...]] = ("external_id", "account_external_id", "opened_at")
    external_id: Id
    account_external_id: Id
    opened_at: Timestamp
    closed_at: Timestamp | None = None
    priority: Annotated[str | None, choice("low", "normal", "high", "urgent")] = None
    csat: Annotated[int | None, ranged_whole(1, 5)] = None

    @model_validator(mode="after")
    def _closed_after_opened(self) -> TicketRow:
        if self.closed_at and self.closed_at < self.opened_at:
            raise _field_error("closed_at", f"{self.closed_at.isoformat()} is before opened_at")
        return self


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

    @model_validator(mode="after")
    def _status_consistent(self) -> InvoiceRow:
        if self.status == "paid" and self.paid_at is None:
            raise _field_error("paid_at", "is empty but status is paid")
        return self

    @property
    def effective_status(self) -> str:
        """The given status, else paid when a payment date is known, else open."""
        return self.status or ("paid" if self.paid_at else "open")


class NpsRow(ImportRow):
    kind: ClassVar[str] = "nps"
    required: ClassVar[tuple[str, ...]] = ("account_external_id", "score", "responded_at")
    key: ClassVar[str | None] = None
    account_external_id: Id
    score: Annotated[int, ranged_whole(0, 10)]
    responded_at: Timestamp
    external_id: Id | None = None
    contact_email: Email | None = None
    comment: Annotated[str | None, Field(max_length=10000)] = None
    channel: Annotated[str | None, Field(max_length=50)] = None


class _FieldError(ValueError):
    """A cross-field problem attributed to one field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _field_error(field: str, message: str) -> _FieldError:
    return _FieldError(field, message)


ROW_MODELS: dict[str, type[ImportRow]] = {
    m.kind: m for m in (AccountRow, ContactRow, UsageRow, TicketRow, InvoiceRow, NpsRow)
}
