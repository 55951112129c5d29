"""The crew's plan as pure functions: which setup steps and which operations are due at ``now``.

Everything here takes the state it needs as plain values (progress rows, the last success of
each operation) and returns decisions, so the orchestration is deterministic given ``now`` and
unit-testable without a database.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from successcrew.definitions.crew_definition import Cadence, OperationSpec, StepSpec
from successcrew.domain.json_objects import json_object

#: Setup step statuses. ``skipped`` means the step had nothing to do: its tool is not available
#: in this build, or the tool ran and found nothing to work on (no CRM configured). It is settled
#: for ordering (successors go on) but is not a success: it runs once the tool lands, and a step
#: that found nothing to do looks again at its ``next_attempt_at`` (the setup's retry cap).
STEP_STATUSES = ("pending", "failed", "done", "skipped")

#: The key of a tool result that says the tool had nothing to do, and why.
NOTHING_TO_DO = "nothing_to_do"


def nothing_to_do(result: object) -> str | None:
    """Why a tool's result says there was nothing to do (None when it did its work)."""
    mapping = json_object(result)
    if mapping is not None and mapping.get(NOTHING_TO_DO):
        return str(mapping[NOTHING_TO_DO])
    return None


@dataclass(frozen=True)
class StepState:
    """The durable state of one step (a ``setup_progress`` row)."""

    status: str = "pending"
    attempts: int = 0
    next_attempt_at: datetime | None = None


def step_due_date(start: date, day: int) -> date:
    """The calendar date of setup day ``day`` (day 1 is the crew's start date)."""
    return start + timedelta(days=day - 1)


def retry_delay(attempts: int, *, initial: timedelta, maximum: timedelta) -> timedelta:
    """Backoff after the ``attempts``-th failure: doubling from ``initial``, capped at ``maximum``.

    No jitter: runs are serialised by the run lock, so there is no thundering herd to spread,
    and a deterministic delay keeps simulated runs reproducible.
    """
    return min(initial * (2 ** max(attempts - 1, 0)), maximum)


def settled(state: StepState) -> bool:
    """A step its successors may follow: done, or skipped because its tool is absent."""
    return state.status in ("done", "skipped")


def step_blocker(
    step: StepSpec,
    states: Mapping[str, StepState],
    *,
    start: date,
    now: datetime,
    available: bool,
) -> str | None:
    """Why ``step`` may not run at ``now`` (None when it may). Order of checks matters for the
    message: a success never re-runs, a skip waits for its tool or its next look, then the
    calendar, then predecessors, then backoff.
    """
    state = states.get(step.id, StepState())
    if state.status == "done":
        return "done"
    if state.status == "skipped" and not available:
        return "skipped"
    if state.status == "skipped" and state.next_attempt_at and now < state.next_attempt_at:
        return f"skipped, nothing to do; looks again after {state.next_attempt_at.isoformat()}"
    due = step_due_date(start, step.day)
    if now.date() < due:
        return f"scheduled for {due.isoformat()} (day {step.day})"
    waiting = [p for p in step.after if not settled(states.get(p, StepState()))]
    if waiting:
        return "waiting for " + ", ".join(waiting)
    if state.status == "failed" and state.next_attempt_at and now < state.next_attempt_at:
        return f"retry after {state.next_attempt_at.isoformat()}"
    return None


def next_due_step(
    steps: Sequence[StepSpec],
    states: Mapping[str, StepState],
    *,
    start: date,
    now: datetime,
    availability: Mapping[str, bool],
    exclude: Iterable[str] = (),
) -> StepSpec | None:
    """The first step in definition order that may run now, skipping ``exclude`` (steps already
    attempted in this tick, so a failure is not retried within the same run).
    """
    skip = set(exclude)
    for step in steps:
        if step.id in skip:
            continue
        if (
            step_blocker(
                step, states, start=start, now=now, available=availability.get(step.id, True)
            )
            is None
        ):
            return step
    return None


def period_start(cadence: Cadence, now: datetime) -> datetime:
    """The start of the period ``now`` falls in: the hour, the UTC day, or the ISO week (Monday)."""
    hour = now.replace(minute=0, second=0, microsecond=0)
    if cadence == "hourly":
        return hour
    day = hour.replace(hour=0)
    if cadence == "daily":
        return day
    return day - timedelta(days=day.weekday())


def operation_due(
    op: OperationSpec,
    *,
    now: datetime,
    last_success: datetime | None,
    steps: Mapping[str, StepState],
) -> str | None:
    """Why ``op`` is not due at ``now`` (None when it is): an operation runs once per period,
    counted from its last success, so a failed one is tried again on the next tick.
    """
    if op.requires_step is not None:
        state = steps.get(op.requires_step, StepState())
        if state.status != "done":
            return f"starts after setup step {op.requires_step} ({state.status})"
    if last_success is not None and last_success >= period_start(op.cadence, now):
        return f"already ran this {op.cadence[:-2] if op.cadence != 'daily' else 'day'}"
    return None


def waves(ops: Sequence[OperationSpec]) -> list[list[OperationSpec]]:
    """Due operations in dependency levels: each wave runs in parallel after the previous one.

    ``after`` names other operations that should go first when both are due in the same tick
    (sync before scoring before triggers before dispatch); a dependency that is not due this tick
    does not hold anything back. Definition order is kept inside a wave for determinism.
    """
    due = {op.id for op in ops}
    level: dict[str, int] = {}
    remaining = list(ops)
    while remaining:
        progressed = False
        for op in list(remaining):
            deps = [d for d in op.after if d in due]
            if all(d in level for d in deps):
                level[op.id] = 1 + max((level[d] for d in deps), default=-1)
                remaining.remove(op)
                progressed = True
        if not progressed:
            names = ", ".join(op.id for op in remaining)
            raise ValueError(f"operations have a dependency cycle: {names}")
    result: list[list[OperationSpec]] = [[] for _ in range(max(level.values(), default=-1) + 1)]
    for op in ops:
        result[level[op.id]].append(op)
    return result
