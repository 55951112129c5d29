"""The Operations page: setup progress, recent runs and their tasks, component health with
30-day uptime against the SLO, pause holds, the outbox by state and its dead letters, and what
the optional model cost (recent runs and commands, and the last 30 days)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import Thresholds
from successcrew.services.model.records import UsageSummary, usage_summary
from successcrew.services.platform.system_health import ComponentHealth, component_report
from successcrew.store import pauses
from successcrew.store.models import CrewRun, SetupProgress, TaskRun
from successcrew.store.outbox import OutboxSummary, outbox_summary


@dataclass(frozen=True)
class OperationsView:
    """What the Operations page shows (see ``operations_view``)."""

    setup: list[SetupProgress]
    #: The newest runs, each with its tasks in the order they started.
    runs: list[tuple[CrewRun, list[TaskRun]]]
    components: list[ComponentHealth]
    paused: list[pauses.Pause]
    outbox: OutboxSummary
    model_usage: UsageSummary


def operations_view(
    session: Session, thresholds: Thresholds, now: datetime, *, runs: int = 10
) -> OperationsView:
    """Everything on the Operations page (a fixed number of statements)."""
    recent = list(session.scalars(select(CrewRun).order_by(CrewRun.started_at.desc()).limit(runs)))
    tasks: dict[int, list[TaskRun]] = {r.id: [] for r in recent}
    if recent:
        for t in session.scalars(
            select(TaskRun)
            .where(TaskRun.crew_run_id.in_(list(tasks)))
            .order_by(TaskRun.started_at, TaskRun.id)
        ):
            tasks[t.crew_run_id].append(t)
    return OperationsView(
        setup=list(
            session.scalars(
                select(SetupProgress).order_by(SetupProgress.day_offset, SetupProgress.step_id)
            )
        ),
        runs=[(r, tasks[r.id]) for r in recent],
        components=component_report(session, thresholds, now),
        paused=list(pauses.paused_scopes(session).values()),
        outbox=outbox_summary(session, dead_limit=50),
        model_usage=usage_summary(session.connection(), now=now, last=runs),
    )
