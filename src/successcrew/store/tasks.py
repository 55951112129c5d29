"""Tasks for people: written set-based beside the outbox rows that copy them to a CRM, read
for My work, and moved between open, snoozed and done."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select, update
from sqlalchemy.orm import Session

from successcrew.store.dialect import insert_ignore
from successcrew.store.models import Account, Task

CHUNK = 500


def add_tasks(session: Session, tasks: Iterable[Mapping[str, Any]], *, now: datetime) -> int:
    """Store tasks (``key``, ``account_id``, ``title``, ``reason``, ``source``, ``due_on``,
    optionally ``crm_outbox_key``), each assigned to its account's owner; a key already stored
    is left as it is (the same trigger event or step never makes two tasks). Returns how many
    were new. One owner query and one insert per 500 tasks."""
    rows = list(tasks)
    if not rows:
        return 0
    ids = {r["account_id"] for r in rows if r.get("account_id") is not None}
    # Keyed by int | None: a task without an account looks up None and finds no owner.
    owners: dict[int | None, str | None] = dict(
        session.execute(select(Account.id, Account.owner_email).where(Account.id.in_(ids))).all()
    )
    values = [
        {
            "key": r["key"],
            "account_id": r.get("account_id"),
            "owner_email": (owners.get(r.get("account_id")) or "").strip().lower() or None,
            "title": str(r["title"])[:300],
            "reason": r.get("reason"),
            "source": r["source"],
            "due_on": r["due_on"],
            "status": "open",
            "snoozed_until": None,
            "crm_outbox_key": r.get("crm_outbox_key"),
            "created_at": now,
            "updated_at": now,
            "done_at": None,
            "done_by": None,
        }
        for r in rows
    ]
    conn = session.connection()
    added = 0
    for start in range(0, len(values), CHUNK):
        result = session.execute(
            insert_ignore(conn, Task.__table__).returning(Task.__table__.c.id),
            values[start : start + CHUNK],
        )
        added += len(result.all())
    return added


@dataclass(frozen=True)
class TaskRow:
    """A task as My work lists it."""

    id: int
    account_id: int | None
    account_name: str | None
    #: What the account's page is addressed by (``/accounts/<external id>``).
    account_external_id: str | None
    owner_email: str | None
    title: str
    reason: str | None
    source: str
    due_on: date
    status: str
    snoozed_until: date | None
    crm_outbox_key: str | None
    done_at: datetime | None
    done_by: str | None


def _task_rows() -> Select:
    """A task's columns in TaskRow's order, with its account's name."""
    return select(
        Task.id,
        Task.account_id,
        Account.name,
        Account.external_id,
        Task.owner_email,
        Task.title,
        Task.reason,
        Task.source,
        Task.due_on,
        Task.status,
        Task.snoozed_until,
        Task.crm_outbox_key,
        Task.done_at,
        Task.done_by,
    ).outerjoin(Account, Account.id == Task.account_id)


def list_tasks(
    session: Session,
    *,
    today: date,
    owner: str | None,
    include_done: bool = False,
    limit: int = 500,
) -> list[TaskRow]:
    """Open tasks (and snoozed ones whose snooze has ended), overdue first then by due date;
    ``owner`` limits them to that person's (None: everyone's). Snoozed-until-later tasks are
    left out; with ``include_done`` done ones follow."""
    active = or_(
        Task.status == "open",
        and_(Task.status == "snoozed", Task.snoozed_until <= today),
    )
    shown = or_(active, Task.status == "done") if include_done else active
    query = (
        _task_rows()
        .where(shown)
        .order_by((Task.status == "done").asc(), Task.due_on, Task.id)
        .limit(limit)
    )
    if owner is not None:
        query = query.where(Task.owner_email == owner.strip().lower())
    return [TaskRow(*row) for row in session.execute(query).all()]


def snoozed_later(session: Session, *, today: date, owner: str | None) -> list[TaskRow]:
    """Tasks snoozed until after ``today`` (shown apart, with their date)."""
    query = (
        _task_rows()
        .where(Task.status == "snoozed", Task.snoozed_until > today)
        .order_by(Task.snoozed_until, Task.id)
    )
    if owner is not None:
        query = query.where(Task.owner_email == owner.strip().lower())
    return [TaskRow(*row) for row in session.execute(query).all()]


def task_for_update(session: Session, task_id: int) -> tuple[Task, str | None] | None:
    """The task (locked) and its account's owner now, or None."""
    task = session.get(Task, task_id, with_for_update=True)
    if task is None:
        return None
    owner = (
        session.execute(
            select(Account.owner_email).where(Account.id == task.account_id)
        ).scalar_one_or_none()
        if task.account_id is not None
        else task.owner_email
    )
    return task, owner


def set_status(
    session: Session,
    task_id: int,
    *,
    status: str,
    snoozed_until: date | None,
    by: str,
    now: datetime,
) -> None:
    """Move a task to ``status`` (done: who and when)."""
    values: dict[str, Any] = {"status": status, "snoozed_until": snoozed_until, "updated_at": now}
    if status == "done":
        values.update(done_at=now, done_by=by)
    else:
        values.update(done_at=None, done_by=None)
    session.execute(update(Task).where(Task.id == task_id).values(**values))
