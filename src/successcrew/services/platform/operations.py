"""What ``/healthz`` and ``/metrics`` read: is the database there, how old is the last good run,
and the crew's figures (runs, trigger events, outbox depth, survey answers, component health).

Every figure is a grouped query over a bounded label (a status, a trigger code, a component):
no account ids or addresses ever become metric labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select, text

from successcrew.definitions.thresholds import COMPONENTS
from successcrew.store.component_checks import component_states
from successcrew.store.db import transaction
from successcrew.store.models import CrewRun, OutboxMessage, SurveyInvitation, TriggerEvent


@dataclass(frozen=True)
class Health:
    """The answer of ``/healthz``: ``ok`` decides 200 or 503; ``problem`` says why not."""

    ok: bool
    database: bool
    last_success_at: datetime | None
    problem: str | None = None

    def as_dict(self, now: datetime) -> dict[str, object]:
        """JSON-ready, with the age of the last successful run in minutes."""
        age = (now - self.last_success_at).total_seconds() / 60 if self.last_success_at else None
        return {
            "status": "ok" if self.ok else "failing",
            "database": "ok" if self.database else "unreachable",
            "last_successful_run_at": (
                self.last_success_at.isoformat() if self.last_success_at else None
            ),
            "last_successful_run_age_minutes": round(age, 1) if age is not None else None,
            "problem": self.problem,
        }


def check_health(engine: Engine, *, now: datetime, max_run_age: timedelta) -> Health:
    """Database reachable, and a successful run within ``max_run_age`` of ``now``."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            last = conn.execute(
                select(func.max(CrewRun.finished_at)).where(CrewRun.status == "succeeded")
            ).scalar_one()
    except Exception as exc:  # any driver error means "not reachable" to a probe
        return Health(False, False, None, f"database unreachable ({type(exc).__name__})")
    if last is None:
        return Health(False, True, None, "no successful `successcrew run` yet")
    if now - last > max_run_age:
        minutes = int(max_run_age.total_seconds() // 60)
        return Health(
            False,
            True,
            last,
            f"the last successful run finished more than {minutes} minutes ago; check the "
            "cron job / timer that runs `successcrew run`",
        )
    return Health(True, True, last)


@dataclass
class CrewFigures:
    """The database's part of ``/metrics``."""

    runs: dict[str, int] = field(default_factory=dict)
    last_success_at: datetime | None = None
    last_run_seconds: float | None = None
    trigger_events: dict[str, int] = field(default_factory=dict)
    outbox: dict[tuple[str, str], int] = field(default_factory=dict)
    survey_responses: dict[tuple[str, str], int] = field(default_factory=dict)
    components: dict[str, tuple[bool | None, int]] = field(default_factory=dict)


def crew_figures(engine: Engine, *, now: datetime) -> CrewFigures:
    """Runs by status, the last good run, trigger events by code, the outbox by channel and
    status, survey answers by kind and channel, and each component's last check and streak."""
    out = CrewFigures()
    with transaction(engine) as session:
        out.runs = dict(
            session.execute(select(CrewRun.status, func.count()).group_by(CrewRun.status)).all()
        )
        last = session.execute(
            select(CrewRun.started_at, CrewRun.finished_at)
            .where(CrewRun.status == "succeeded")
            .order_by(CrewRun.finished_at.desc())
            .limit(1)
        ).first()
        if last is not None:
            out.last_success_at = last.finished_at
            out.last_run_seconds = (last.finished_at - last.started_at).total_seconds()
        out.trigger_events = dict(
            session.execute(
                select(TriggerEvent.code, func.count()).group_by(TriggerEvent.code)
            ).all()
        )
        out.outbox = {
            (channel, status): n
            for channel, status, n in session.execute(
                select(OutboxMessage.channel, OutboxMessage.status, func.count()).group_by(
                    OutboxMessage.channel, OutboxMessage.status
                )
            )
        }
        s = SurveyInvitation
        out.survey_responses = {
            (kind, channel): n
            for kind, channel, n in session.execute(
                select(s.kind, s.channel, func.count())
                .where(s.used_at.is_not(None))
                .group_by(s.kind, s.channel)
            )
        }
        states = component_states(session, COMPONENTS, now, 30)
        out.components = {
            name: (state.last_ok, state.consecutive_failures) for name, state in states.items()
        }
    return out
