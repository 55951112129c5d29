"""Setup steps with nothing to do, on SQLite and PostgreSQL: skipped with the why (not done),
settled for the steps after them, looked at again daily without repeating themselves, and run
for real once there is something to do (a CRM configured later)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from successcrew.store.models import AuditLog, SetupProgress, TaskRun
from tests.crewhelpers import day, make_crew


def _progress(engine: Engine) -> dict[str, tuple[str, str | None]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(SetupProgress.step_id, SetupProgress.status, SetupProgress.last_error)
        ).all()
    return {r.step_id: (r.status, r.last_error) for r in rows}


def _count(engine: Engine, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).where(*where)).scalar_one()


def test_no_crm_skips_with_the_reason_then_a_crm_configured_later_is_picked_up(
    engine: Engine,
) -> None:
    crew = make_crew(engine)
    for n in (1, 2, 4):
        summary = crew.run(day(n))
        assert summary.exit_code == 0
    skipped = [t for t in summary.tasks if t.status == "skipped"]
    assert [(t.task, t.reason) for t in skipped] == [("map_health_field", "no CRM configured")]
    assert _progress(engine)["map_health_field"] == ("skipped", "no CRM configured")
    assert "map_health_field" not in summary.not_due  # settled: the plan goes on
    # Day 7 is the next step's day: it is not held back by the skipped one.
    week = crew.run(day(7))
    assert [(t.task, t.status) for t in week.tasks if t.kind == "setup"] == [
        ("initial_customer_sync", "skipped")
    ]
    # Each later day the skipped steps look again; finding the same, they say nothing new.
    quiet = crew.run(day(8))
    assert not [t for t in quiet.tasks if t.kind == "setup"]
    assert _count(engine, TaskRun.task == "map_health_field") == 1
    assert (
        _count(engine, AuditLog.action == "setup.skip", AuditLog.subject == "map_health_field") == 1
    )

    # A CRM is configured: the next look does the work and the step is done.
    agent = crew.agents["success_infrastructure_architect"]
    agent.map_health_field = lambda ctx: {"crm": "hubspot", "mapped": True}  # type: ignore[method-assign]
    picked_up = crew.run(day(9))
    crew.close()
    assert [(t.task, t.status) for t in picked_up.tasks if t.kind == "setup"] == [
        ("map_health_field", "succeeded")
    ]
    assert _progress(engine)["map_health_field"] == ("done", None)
    assert _progress(engine)["initial_customer_sync"] == ("skipped", "no CRM configured")
