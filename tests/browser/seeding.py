"""Test data written straight to a running dashboard's database."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, insert, select

from successcrew.clock import utcnow
from successcrew.store.db import transaction
from successcrew.store.models import Account, Escalation
from successcrew.store.tasks import add_tasks
from successcrew.store.trigger_events import add_escalation


def account(engine: Engine, name: str, owner: str | None) -> int:
    """A new account; returns its id."""
    now = utcnow()
    with transaction(engine) as session:
        return int(
            session.execute(
                insert(Account)
                .values(
                    external_id=f"t-{uuid.uuid4().hex[:10]}",
                    name=name,
                    owner_email=owner,
                    arr=48000,
                    segment="mid-market",
                    created_at=now,
                    updated_at=now,
                )
                .returning(Account.id)
            ).scalar_one()
        )


def task(engine: Engine, account_id: int, title: str, *, due_in_days: int = 1) -> int:
    """An open task on ``account_id`` (assigned to its owner); returns its id."""
    from successcrew.store.models import Task

    key = f"test:{uuid.uuid4().hex}"
    now = utcnow()
    with transaction(engine) as session:
        add_tasks(
            session,
            [
                {
                    "key": key,
                    "account_id": account_id,
                    "title": title,
                    "reason": "Health dropped 18 points in 14 days",
                    "source": "trigger",
                    "due_on": (now + timedelta(days=due_in_days)).date(),
                }
            ],
            now=now,
        )
        return int(session.execute(select(Task.id).where(Task.key == key)).scalar_one())


def escalation(engine: Engine, account_id: int, name: str, title: str) -> int:
    """An open escalation about ``account_id``; returns its id."""
    with transaction(engine) as session:
        return add_escalation(
            session,
            kind="trigger",
            title=title,
            context={
                "account": name,
                "arr": 48000.0,
                "owner": "csm@example.com",
                "summary": f"{name}: health 38 (at risk), down 18 in 14 days",
            },
            now=utcnow(),
            account_id=account_id,
        )


def escalation_row(engine: Engine, escalation_id: int) -> Escalation:
    """The escalation as stored now."""
    with transaction(engine) as session:
        row = session.get(Escalation, escalation_id)
        assert row is not None
        session.expunge(row)
        return row


def proposal(engine: Engine, account_id: int, reason: str) -> int:
    """A pending model proposal (a CRM task, nothing queued yet) about ``account_id``."""
    from successcrew.store.models import ActionProposal

    with transaction(engine) as session:
        row = ActionProposal(
            key=f"test:{uuid.uuid4().hex}",
            source="crew",
            action="crm_task",
            account_id=account_id,
            status="pending",
            model="stand-in",
            proposal={"task": "Call the champion", "reason": reason},
            messages=[],
            reason=reason,
            created_at=utcnow(),
        )
        session.add(row)
        session.flush()
        return int(row.id)


def proposal_status(engine: Engine, proposal_id: int) -> tuple[str, str | None]:
    """(status, decided_by) of a proposal now."""
    from successcrew.store.models import ActionProposal

    with transaction(engine) as session:
        row = session.get(ActionProposal, proposal_id)
        assert row is not None
        return row.status, row.decided_by
