"""My work: the tasks triggers, playbook steps and decided escalations give account owners.

A task is stored whether or not a CRM is configured; where one is, the same work also goes to
the CRM through the outbox (``crm_outbox_key``). Completing or snoozing one is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.orm import Session

from successcrew.domain import roles
from successcrew.errors import InputError
from successcrew.store import audit
from successcrew.store import tasks as store
from successcrew.store.tasks import TaskRow

#: Longest snooze accepted.
MAX_SNOOZE_DAYS = 90


@dataclass(frozen=True)
class WorkList:
    """What My work shows one person."""

    due: list[TaskRow]
    snoozed: list[TaskRow]
    done: list[TaskRow]
    team: bool
    today: date

    def overdue(self, task: TaskRow) -> bool:
        """Past its due date and not done."""
        return task.status != "done" and task.due_on < self.today


def work_for(session: Session, user: roles.HasRole, *, today: date) -> WorkList:
    """The tasks ``user`` sees: their own (csm), everyone's (lead, chairman)."""
    team = roles.sees_whole_book(user)
    owner = None if team else user.email
    rows = store.list_tasks(session, today=today, owner=owner, include_done=True)
    return WorkList(
        due=[t for t in rows if t.status != "done"],
        snoozed=store.snoozed_later(session, today=today, owner=owner),
        done=[t for t in rows if t.status == "done"][:20],
        team=team,
        today=today,
    )


def update_task(
    session: Session,
    task_id: int,
    user: roles.HasRole,
    *,
    action: str,
    until: date | None,
    now: datetime,
) -> str:
    """Mark a task done, snooze it until a date, or reopen it; returns what was done, in words.

    PermissionError when ``user`` may not work on the account's tasks; InputError for an
    unknown task, action or a snooze date not in the future (and at most 90 days ahead).
    """
    found = store.task_for_update(session, task_id)
    if found is None:
        raise InputError(f"task {task_id} does not exist")
    task, owner = found
    answer = roles.check(user, roles.WORK_TASK, owner)
    if not answer:
        raise PermissionError(answer.reason)
    today = now.date()
    if action == "done":
        status, snooze, said = "done", None, f"Done: {task.title}"
    elif action == "reopen":
        status, snooze, said = "open", None, f"Reopened: {task.title}"
    elif action == "snooze":
        if until is None or until <= today:
            raise InputError("snooze: pick a date after today")
        if (until - today).days > MAX_SNOOZE_DAYS:
            raise InputError(f"snooze: at most {MAX_SNOOZE_DAYS} days ahead")
        status, snooze, said = "snoozed", until, f"Snoozed until {until.isoformat()}: {task.title}"
    else:
        raise InputError(f"task action {action!r}: expected done, snooze or reopen")
    store.set_status(session, task_id, status=status, snoozed_until=snooze, by=user.email, now=now)
    audit.record(
        session,
        at=now,
        actor=user.email,
        action=f"task.{action}",
        subject=f"task:{task_id}",
        detail={"account_id": task.account_id, "until": snooze.isoformat() if snooze else None},
    )
    return said
