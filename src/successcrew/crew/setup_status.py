"""The crew's part of ``successcrew status``: the installed extensions, setup progress (with
failures and skips) and the last runs."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypedDict

from sqlalchemy import Connection, select

from successcrew.crew.customer_success import CustomerSuccessCrew
from successcrew.store.models import (
    CrewRun,
    SetupProgress,
)


class SetupStep(TypedDict):
    """A setup step's state: its day, tries, last error (or why it was skipped), ISO times."""

    step: str
    substage: str
    day: int
    status: str
    attempts: int
    last_error: str | None
    next_attempt_at: str | None
    completed_at: str | None


class SetupProgressLines(TypedDict):
    """The setup's first day (ISO; None before the first run), the day it is on, its steps."""

    start_date: str | None
    day: int | None
    steps: list[SetupStep]


class RunLine(TypedDict):
    """A crew run in brief: its clock (ISO), state, and tasks run and failed (from its summary)."""

    id: int
    now: str
    status: str
    dry_run: bool
    tasks_run: int | None
    failed: int | None


class CrewStatusSection(TypedDict):
    """``status``'s crew part: installed extensions per entry-point group, setup, last runs."""

    extensions: dict[str, list[dict[str, str]]]
    setup: SetupProgressLines
    last_runs: list[RunLine]


def status_section(conn: Connection, runtime: Any, now: datetime) -> CrewStatusSection:
    """``status`` section: setup progress (with failures and skips) and the last runs."""
    p = SetupProgress.__table__.c
    steps: list[SetupStep] = [
        {
            "step": r.step_id,
            "substage": r.substage,
            "day": r.day_offset,
            "status": r.status,
            "attempts": r.attempts,
            "last_error": r.last_error,
            "next_attempt_at": r.next_attempt_at.isoformat() if r.next_attempt_at else None,
            "completed_at": r.completed_at.isoformat() if r.completed_at else None,
        }
        for r in conn.execute(select(SetupProgress.__table__).order_by(p.day_offset, p.step_id))
    ]
    c = CrewRun.__table__.c
    runs: list[RunLine] = [
        {
            "id": r.id,
            "now": r.simulated_now.isoformat(),
            "status": r.status,
            "dry_run": r.dry_run,
            "tasks_run": (r.summary or {}).get("tasks_run"),
            "failed": (r.summary or {}).get("failed"),
        }
        for r in conn.execute(select(CrewRun.__table__).order_by(c.id.desc()).limit(5))
    ]
    start = CustomerSuccessCrew.start_date(conn)
    from successcrew.crew.plugins import GROUPS, installed

    return {
        "extensions": {group: installed(group) for group in GROUPS},
        "setup": {
            "start_date": start.isoformat() if start else None,
            "day": (now.date() - start).days + 1 if start else None,
            "steps": steps,
        },
        "last_runs": runs,
    }


def render_status_section(document: dict[str, Any], echo: Callable[[str], None]) -> None:
    """Print the setup and last-run lines for a person."""
    setup = document.get("setup") or {}
    steps = setup.get("steps") or []
    if setup.get("start_date"):
        done = sum(1 for s in steps if s["status"] == "done")
        echo(f"setup     day {setup['day']} since {setup['start_date']}: {done}/{len(steps)} done")
    else:
        echo(f"setup     not started ({len(steps)} steps planned; the first run starts it)")
    for s in steps:
        if s["status"] == "failed":
            extra = f", retry after {s['next_attempt_at']}" if s["next_attempt_at"] else ""
            echo(
                f"  {s['status']:<8} {s['step']} (day {s['day']}, "
                f"{s['attempts']} attempt(s){extra}): {s['last_error']}"
            )
        elif s["status"] == "skipped":
            # Nothing to do (or a tool this build lacks): the why, and when it looks again.
            extra = f", looks again after {s['next_attempt_at']}" if s["next_attempt_at"] else ""
            echo(f"  skipped  {s['step']} (day {s['day']}{extra}): {s['last_error']}")
    for run in document.get("last_runs") or []:
        echo(
            f"run {run['id']:<5} {run['now']} {run['status']}"
            + (
                f", {run['tasks_run']} task(s), {run['failed']} failed"
                if run["tasks_run"] is not None
                else ""
            )
        )
