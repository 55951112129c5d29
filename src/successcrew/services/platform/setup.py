"""Setting the crew up: ``successcrew init`` (schema to head, definitions synced into the
database, one ``setup_progress`` row per setup step) and the setup review. Running init twice
changes nothing."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, func, select, update
from sqlalchemy.orm import Session

from successcrew.definitions.crew_definition import StepSpec, crew_path, load_crew
from successcrew.settings import (
    Settings,
    create_secret_file,
    session_secret_file,
    survey_secret_file,
)
from successcrew.store.db import redacted_url, transaction
from successcrew.store.dialect import insert_ignore, rowcount
from successcrew.store.migrate import upgrade
from successcrew.store.models import SetupProgress
from successcrew.store.outbox import enqueue


def sync_setup_progress(session: Session, steps: Sequence[StepSpec]) -> int:
    """Make sure every defined step has a ``setup_progress`` row; returns rows added.

    Existing rows keep their status (a success is never undone by a definition change);
    their day and substage follow the definition.
    """
    table = SetupProgress.__table__
    added = 0
    for step in steps:
        result = session.execute(
            insert_ignore(session.connection(), table).values(
                step_id=step.id,
                substage=step.substage,
                day_offset=step.day,
                status="pending",
                attempts=0,
            )
        )
        added += rowcount(result)
        session.execute(
            update(SetupProgress)
            .where(
                SetupProgress.step_id == step.id,
                (SetupProgress.day_offset != step.day) | (SetupProgress.substage != step.substage),
            )
            .values(day_offset=step.day, substage=step.substage)
        )
    return added


def sync_setup_steps(session: Session, now: datetime) -> str:
    """``init`` sync step: a ``setup_progress`` row per defined step (existing ones kept)."""
    steps = load_crew().step_specs()
    added = sync_setup_progress(session, steps)
    return f"setup plan: {len(steps)} steps ({added} new) from {crew_path()}"


def initialise(engine: Engine, *, now: datetime) -> dict[str, Any]:
    """Upgrade the schema and sync every definition; returns what was done."""
    from successcrew.services.triggers.evaluation import sync_trigger_definitions

    before, after = upgrade(engine)
    with transaction(engine) as session:
        lines = [sync_trigger_definitions(session, now), sync_setup_steps(session, now)]
    return {
        "database": redacted_url(engine),
        "schema_before": before,
        "schema_after": after,
        "definitions": lines,
    }


def ensure_survey_secret(settings: Settings) -> dict[str, Any]:
    """``init`` step: a survey-link secret exists. When ``SUCCESSCREW_SURVEY_SECRET`` is not set
    and there is no secret file yet, create one in the data directory (mode 0600), so the
    crew's survey waves and ``serve`` sign and check links with it. The secret is never shown.
    """
    if settings.survey_secret is not None:
        return {"origin": settings.survey_secret_origin, "created": False}
    path = survey_secret_file()
    created = create_secret_file(path)
    return {"origin": str(path), "created": created}


def ensure_session_secret(settings: Settings) -> dict[str, Any]:
    """``init`` step: the dashboard's session-signing secret exists (a file in the data
    directory, mode 0600, unless ``SUCCESSCREW_SESSION_SECRET`` is set). Never shown."""
    if settings.session_secret is not None:
        return {"origin": "SUCCESSCREW_SESSION_SECRET", "created": False}
    path = session_secret_file()
    return {"origin": str(path), "created": create_secret_file(path)}


def review_setup(session: Session, settings: Settings, *, now: datetime) -> dict[str, Any]:
    """Summarise the setup flow (done, skipped with reason, failing) and post it to Slack."""
    rows = session.execute(
        select(SetupProgress.status, func.count()).group_by(SetupProgress.status)
    ).all()
    counts = {status: int(n) for status, n in rows}
    skipped = session.execute(
        select(SetupProgress.step_id, SetupProgress.last_error)
        .where(SetupProgress.status == "skipped")
        .order_by(SetupProgress.step_id)
    ).all()
    done = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    title = f"successcrew setup review: {done}"
    text = title
    if skipped:
        # Skipped: nothing to do (no CRM configured) or a tool this build lacks; each says why.
        text += ". Skipped: " + "; ".join(f"{s} ({e})" for s, e in skipped)
    enqueue(
        session,
        key="setup:review",
        channel="slack",
        payload={"channel": settings.slack_channel, "title": title, "summary": text},
        now=now,
    )
    return {"steps": counts, "skipped": {s: e for s, e in skipped}}
