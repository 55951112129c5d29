"""CustomerSuccessCrew: the durable 30-day setup flow and the operations cadence.

One ``tick`` (what ``successcrew run`` does):

1. take the run lock (exit 75 when another run has it);
2. record the crew run (and, on the very first run, the crew's start date in the audit log);
3. run the setup steps that are due, one by one in definition order: each step's work, its
   ``setup_progress`` row and its ``task_runs`` row commit in one transaction, so a step either
   happened (and never runs again) or did not (and runs on the next tick);
4. run the operations that are due, wave by wave in a bounded thread pool, each in its own
   session and transaction; a failure is recorded and never stops the others;
5. record the summary on the crew run.

Planning is pure (``successcrew.domain.crewplan``) and reads only the database and ``now``, so
a simulated sequence of ``--now`` values is reproducible.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.orm import Session

from successcrew.agents.base import Agent, TaskContext
from successcrew.crew.agent_registry import load_agents
from successcrew.crew.run_summary import RunSummary, TaskOutcome, jsonable
from successcrew.definitions.crew_definition import (
    CrewDefinition,
    OperationSpec,
    StepSpec,
    crew_path,
    load_crew,
)
from successcrew.definitions.escalation_policy import EscalationPolicy, load_policy
from successcrew.definitions.thresholds import Thresholds
from successcrew.domain.crewplan import (
    StepState,
    next_due_step,
    nothing_to_do,
    operation_due,
    retry_delay,
    step_blocker,
    waves,
)
from successcrew.errors import ConfigError
from successcrew.redaction import sanitise
from successcrew.services.platform.setup import sync_setup_progress
from successcrew.settings import Settings
from successcrew.store import audit
from successcrew.store.db import rolled_back
from successcrew.store.dialect import rowcount
from successcrew.store.models import (
    AuditLog,
    CrewRun,
    OutboxMessage,
    SetupProgress,
    TaskRun,
    TriggerEvent,
)
from successcrew.store.runlock import run_lock

START_ACTION = "crew.start"


def _error_text(exc: BaseException) -> str:
    # Sanitised before it is cut: an exception may quote a provider's answer.
    return sanitise(f"{type(exc).__name__}: {exc}", limit=2000)


def check_references(definition: CrewDefinition, agents: dict[str, Agent]) -> None:
    """Every step and operation names a known agent and a tool that agent lists; else
    ConfigError naming the crew file and each bad key."""
    problems = []
    entries = [("setup.steps", s.id, s.agent, s.tool) for s in definition.setup.steps]
    entries += [("operations.tasks", o.id, o.agent, o.tool) for o in definition.operations.tasks]
    for where, task, agent_name, tool_name in entries:
        agent = agents.get(agent_name)
        if agent is None:
            known = ", ".join(sorted(agents)) or "none"
            problems.append(f"key {where}[{task}].agent: no agent {agent_name!r} ({known})")
        elif agent.tool_definition(tool_name) is None:
            problems.append(
                f"key {where}[{task}].tool: agent {agent_name} lists no tool {tool_name!r}"
            )
    if problems:
        raise ConfigError("\n".join(f"{crew_path()}: {p}" for p in problems))


class CustomerSuccessCrew:
    """The four agents working a crew definition against one database."""

    def __init__(
        self,
        engine: Engine,
        *,
        settings: Settings,
        thresholds: Thresholds,
        policy: EscalationPolicy | None = None,
        definition: CrewDefinition | None = None,
        agents: dict[str, Agent] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.thresholds = thresholds
        self.policy = policy or load_policy()
        self.definition = definition or load_crew()
        self.agents = agents if agents is not None else load_agents()
        self._check_references()
        self.steps = self.definition.step_specs()
        self.operations = self.definition.operation_specs()
        self._work_engine: Engine | None = None

    @classmethod
    def from_runtime(cls, runtime: Any) -> CustomerSuccessCrew:
        """The crew for a command's runtime (settings, definitions, ready engine)."""
        loaded = getattr(runtime, "definitions", None)
        return cls(
            runtime.ready_engine(),
            settings=runtime.settings,
            thresholds=runtime.thresholds,
            policy=loaded.policy if loaded else None,
            definition=loaded.crew if loaded else None,
            agents=loaded.agents if loaded else None,
        )

    def _check_references(self) -> None:
        check_references(self.definition, self.agents)

    # -- engines and transactions ------------------------------------------------------------

    @property
    def work_engine(self) -> Engine:
        """The engine tasks write through (immediate transactions on SQLite, see make_engine)."""
        if self.engine.dialect.name != "sqlite":
            return self.engine
        if self._work_engine is None:
            from successcrew.store.db import make_engine

            url = self.engine.url.render_as_string(hide_password=False)
            self._work_engine = make_engine(url, immediate=True)
        return self._work_engine

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        with Session(self.work_engine, expire_on_commit=False) as session, session.begin():
            yield session

    def close(self) -> None:
        """Release the extra SQLite engine, if one was made."""
        if self._work_engine is not None:
            self._work_engine.dispose()
            self._work_engine = None

    # -- state ---------------------------------------------------------------------------------

    def availability(self) -> dict[str, str | None]:
        """Per task id (steps and operations): None when its tool can run, else the reason."""
        out: dict[str, str | None] = {}
        for spec in [*self.steps, *self.operations]:
            out[spec.id] = self.agents[spec.agent].unavailable_reason(spec.tool)
        return out

    @staticmethod
    def step_states(conn: Connection | Session) -> dict[str, StepState]:
        """Every setup step's durable state."""
        rows = conn.execute(
            select(
                SetupProgress.step_id,
                SetupProgress.status,
                SetupProgress.attempts,
                SetupProgress.next_attempt_at,
            )
        ).all()
        return {r[0]: StepState(r[1], r[2], r[3]) for r in rows}

    @staticmethod
    def start_date(conn: Connection | Session) -> date | None:
        """The crew's start date (day 1), recorded in the audit log at the first run."""
        detail = conn.execute(
            select(AuditLog.detail)
            .where(AuditLog.action == START_ACTION)
            .order_by(AuditLog.id)
            .limit(1)
        ).scalar_one_or_none()
        return date.fromisoformat(detail["start_date"]) if detail else None

    def last_successes(self, conn: Connection | Session) -> dict[str, datetime]:
        """The clock of each operation's newest successful run (one grouped query)."""
        ids = [op.id for op in self.operations]
        rows = conn.execute(
            select(TaskRun.task, func.max(TaskRun.started_at))
            .where(TaskRun.task.in_(ids), TaskRun.status == "succeeded")
            .group_by(TaskRun.task)
        ).all()
        return dict(rows)

    def sync_steps(self, session: Session) -> int:
        """Make sure every defined step has a ``setup_progress`` row; returns rows added."""
        return sync_setup_progress(session, self.steps)

    # -- one tick ------------------------------------------------------------------------------

    def run(self, now: datetime, *, dry_run: bool = False) -> RunSummary:
        """One tick at ``now``. ``dry_run`` decides and writes nothing (see ``plan``)."""
        if dry_run:
            return self.plan(now)
        with run_lock(self.engine):
            return self._tick(now)

    def _tick(self, now: datetime) -> RunSummary:
        summary = RunSummary(now=now, dry_run=False)
        with self._transaction() as session:
            # A run that died (SIGKILL, OOM, reboot) left its row "running"; we hold the lock,
            # so nobody else is running: close those rows for the record.
            session.execute(
                update(CrewRun).where(CrewRun.status == "running").values(status="abandoned")
            )
            start = self.start_date(session)
            if start is None:
                start = now.date()
                audit.record(
                    session,
                    at=now,
                    actor="crew",
                    action=START_ACTION,
                    subject=self.definition.name,
                    detail={"start_date": start.isoformat()},
                )
            self.sync_steps(session)
            run = CrewRun(started_at=now, simulated_now=now, status="running", dry_run=False)
            session.add(run)
            session.flush()
            summary.crew_run_id = run.id
            outbox_mark = session.execute(select(func.max(OutboxMessage.id))).scalar() or 0
            trigger_mark = session.execute(select(func.max(TriggerEvent.id))).scalar() or 0
        summary.start_date = start

        self._run_setup(summary, start, now)
        self._run_operations(summary, now)
        self._run_model_pass(summary, now)

        with self._transaction() as session:
            summary.messages_queued = session.execute(
                select(func.count()).where(OutboxMessage.id > outbox_mark)
            ).scalar_one()
            summary.triggers_fired = session.execute(
                select(func.count()).where(TriggerEvent.id > trigger_mark)
            ).scalar_one()
            summary.messages_sent = sum(
                int((t.result or {}).get("delivered", 0))
                for t in summary.tasks
                if t.task == "dispatch" and t.status == "succeeded"
            )
            summary.setup = self._setup_counts(session)
            session.execute(
                update(CrewRun)
                .where(CrewRun.id == summary.crew_run_id)
                .values(
                    status="failed" if summary.exit_code else "succeeded",
                    finished_at=now,
                    summary=jsonable({k: v for k, v in summary.as_dict().items() if k != "tasks"}),
                )
            )
        return summary

    def _setup_counts(self, session: Session | Connection) -> dict[str, int]:
        rows = session.execute(
            select(SetupProgress.status, func.count()).group_by(SetupProgress.status)
        ).all()
        return {status: int(n) for status, n in sorted(rows)}

    def _run_setup(self, summary: RunSummary, start: date, now: datetime) -> None:
        attempted: set[str] = set()
        reasons = self.availability()
        by_id = {s.id: s for s in self.steps}
        while True:
            with self.engine.connect() as conn:
                states = self.step_states(conn)
            step = next_due_step(
                self.steps,
                states,
                start=start,
                now=now,
                availability={k: v is None for k, v in reasons.items()},
                exclude=attempted,
            )
            if step is None:
                break
            attempted.add(step.id)
            reason = reasons[step.id]
            if reason is not None:
                self._skip_step(step, reason, now)
                summary.tasks.append(
                    TaskOutcome(step.id, "setup", step.agent, step.tool, "skipped", reason)
                )
                continue
            outcome = self._execute(step, "setup", summary.crew_run_id, now)
            if not outcome.quiet:
                summary.tasks.append(outcome)
        with self.engine.connect() as conn:
            states = self.step_states(conn)
        for step_id, step in by_id.items():
            if step_id in attempted:
                continue
            blocker = step_blocker(
                step, states, start=start, now=now, available=reasons[step_id] is None
            )
            if blocker not in (None, "done"):
                summary.not_due[step_id] = blocker

    def _skip_step(self, step: StepSpec, reason: str, now: datetime) -> None:
        with self._transaction() as session:
            session.execute(
                update(SetupProgress)
                .where(SetupProgress.step_id == step.id, SetupProgress.status != "done")
                .values(status="skipped", last_error=reason, next_attempt_at=None)
            )
            audit.record(
                session,
                at=now,
                actor="crew",
                action="setup.skip",
                subject=step.id,
                detail={"reason": reason},
            )

    def due_operations(
        self, now: datetime, conn: Connection | Session
    ) -> tuple[list[OperationSpec], dict[str, str]]:
        """Operations due at ``now`` and, for the others, why not."""
        states = self.step_states(conn)
        last = self.last_successes(conn)
        reasons = self.availability()
        due, not_due = [], {}
        for op in self.operations:
            why = operation_due(op, now=now, last_success=last.get(op.id), steps=states)
            if why is None and reasons[op.id] is not None:
                why = reasons[op.id]
            if why is None:
                due.append(op)
            else:
                not_due[op.id] = why
        return due, not_due

    def _run_operations(self, summary: RunSummary, now: datetime) -> None:
        with self.engine.connect() as conn:
            due, not_due = self.due_operations(now, conn)
        summary.not_due.update(not_due)
        if not due:
            return
        workers = self.definition.operations.max_workers
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="crew-op") as pool:
            for wave in waves(due):
                outcomes = pool.map(
                    lambda op: self._execute(op, "operation", summary.crew_run_id, now), wave
                )
                summary.tasks.extend(outcomes)

    def _run_model_pass(self, summary: RunSummary, now: datetime) -> None:
        """With a model configured (``services.model.assistant``): its drafts, comment readings and,
        in crew mode, the agents' review, after the operations and outside their transactions.
        The deterministic results above stand whatever happens here."""
        from successcrew.services.model.assistant import current, model_pass

        assistant = current()
        if assistant is None:
            return
        started = time.perf_counter()
        try:
            result = model_pass(
                self.work_engine, assistant, now=now, crew_run_id=summary.crew_run_id
            )
            outcome = TaskOutcome(
                "model_pass",
                "model",
                "model",
                assistant.model,
                "succeeded",
                result=jsonable(result.as_dict()),
            )
        except Exception as exc:
            outcome = TaskOutcome(
                "model_pass", "model", "model", assistant.model, "failed", error=_error_text(exc)
            )
        outcome.seconds = time.perf_counter() - started
        summary.tasks.append(outcome)

    def _execute(
        self, spec: StepSpec | OperationSpec, kind: str, crew_run_id: int | None, now: datetime
    ) -> TaskOutcome:
        """Run one task in its own transaction, with its record; a failure is recorded apart."""
        agent = self.agents[spec.agent]
        params = self._params(spec, kind)
        started = time.perf_counter()
        try:
            with self._transaction() as session:
                ctx = TaskContext(
                    session=session,
                    engine=self.work_engine,
                    now=now,
                    settings=self.settings,
                    thresholds=self.thresholds,
                    policy=self.policy,
                    params=params,
                    crew_run_id=crew_run_id,
                )
                result = jsonable(agent.run_tool(spec.tool, ctx))
                seconds = time.perf_counter() - started
                why = nothing_to_do(result) if kind == "setup" else None
                quiet = kind == "setup" and self._settle_step(session, spec, why, now)
                status = "succeeded" if why is None else "skipped"
                if not quiet:
                    session.add(
                        TaskRun(
                            crew_run_id=crew_run_id,
                            task=spec.id,
                            agent=spec.agent,
                            status=status,
                            started_at=now,
                            finished_at=now + timedelta(seconds=seconds),
                            result=result,
                        )
                    )
            return TaskOutcome(
                spec.id,
                kind,
                spec.agent,
                spec.tool,
                status,
                result=result,
                seconds=seconds,
                reason=why,
                quiet=quiet,
            )
        except Exception as exc:
            seconds = time.perf_counter() - started
            error = _error_text(exc)
            self._record_failure(spec, kind, crew_run_id, now, error, seconds)
            return TaskOutcome(
                spec.id, kind, spec.agent, spec.tool, "failed", error=error, seconds=seconds
            )

    def _settle_step(
        self, session: Session, spec: StepSpec | OperationSpec, why: str | None, now: datetime
    ) -> bool:
        """Record a setup step whose tool returned: done, or skipped with ``why`` when the tool
        found nothing to work on (no CRM configured). A skipped step settles its successors and
        looks again once the setup's retry cap has passed, so a CRM configured later is picked
        up; True when that look found the same nothing to do (the run then says nothing new).
        """
        row = session.execute(
            select(SetupProgress.status, SetupProgress.last_error).where(
                SetupProgress.step_id == spec.id
            )
        ).one()
        if why is None:
            values: dict[str, Any] = {"status": "done", "last_error": None, "completed_at": now}
            values |= {"next_attempt_at": None, "attempts": SetupProgress.attempts + 1}
        else:
            recheck = now + timedelta(hours=self.definition.setup.retry_max_hours)
            values = {"status": "skipped", "last_error": why, "next_attempt_at": recheck}
        unchanged = why is not None and (row.status, row.last_error) == ("skipped", why)
        if why is not None and not unchanged:
            values["attempts"] = SetupProgress.attempts + 1
            audit.record(
                session,
                at=now,
                actor="crew",
                action="setup.skip",
                subject=spec.id,
                detail={"reason": why},
            )
        settled = session.execute(
            update(SetupProgress)
            .where(SetupProgress.step_id == spec.id, SetupProgress.status != "done")
            .values(**values)
        )
        if rowcount(settled) != 1:
            # Only possible if the run lock were bypassed: refuse to run it twice.
            raise RuntimeError(f"setup step {spec.id} is already done")
        return unchanged

    def _record_failure(
        self,
        spec: StepSpec | OperationSpec,
        kind: str,
        crew_run_id: int | None,
        now: datetime,
        error: str,
        seconds: float,
    ) -> None:
        with self._transaction() as session:
            if kind == "setup":
                attempts = (
                    session.execute(
                        select(SetupProgress.attempts).where(SetupProgress.step_id == spec.id)
                    ).scalar_one()
                    + 1
                )
                delay = retry_delay(
                    attempts,
                    initial=timedelta(minutes=self.definition.setup.retry_initial_minutes),
                    maximum=timedelta(hours=self.definition.setup.retry_max_hours),
                )
                session.execute(
                    update(SetupProgress)
                    .where(SetupProgress.step_id == spec.id)
                    .values(
                        status="failed",
                        attempts=attempts,
                        last_error=error,
                        next_attempt_at=now + delay,
                    )
                )
            session.add(
                TaskRun(
                    crew_run_id=crew_run_id,
                    task=spec.id,
                    agent=spec.agent,
                    status="failed",
                    started_at=now,
                    finished_at=now + timedelta(seconds=seconds),
                    error=error,
                )
            )

    def _params(self, spec: StepSpec | OperationSpec, kind: str) -> dict[str, Any]:
        defs = self.definition.setup.steps if kind == "setup" else self.definition.operations.tasks
        return dict(next(d.params for d in defs if d.id == spec.id))

    # -- dry run -------------------------------------------------------------------------------

    def plan(self, now: datetime) -> RunSummary:
        """What a tick at ``now`` would do, writing nothing and sending nothing.

        Setup steps are planned as if each due step succeeded (so a step that would follow one
        done in the same tick shows too); operations are those due on the current state. No lock
        is taken and no crew_run row is written: a dry run may be started while a real run works.

        A planned task whose tool previews (``@tool(preview=True)``: the retention programs, the
        survey wave) runs for real in a transaction that is rolled back, and its outcome carries
        what it would queue. It sees the data as stored now: a real tick scores and evaluates
        triggers first, so its figures can differ.
        """
        summary = RunSummary(now=now, dry_run=True)
        reasons = self.availability()
        with self.engine.connect() as conn:
            start = self.start_date(conn) or now.date()
            states = self.step_states(conn)
            summary.setup = self._setup_counts(conn)
            due_ops, not_due = self.due_operations(now, conn)
        summary.start_date = start
        planned: set[str] = set()
        while True:
            step = next_due_step(
                self.steps,
                states,
                start=start,
                now=now,
                availability={k: v is None for k, v in reasons.items()},
                exclude=planned,
            )
            if step is None:
                break
            planned.add(step.id)
            reason = reasons[step.id]
            status = "skipped" if reason else "planned"
            states = {**states, step.id: StepState(status="skipped" if reason else "done")}
            summary.tasks.append(
                TaskOutcome(step.id, "setup", step.agent, step.tool, status, reason)
            )
        for op in due_ops:
            summary.tasks.append(TaskOutcome(op.id, "operation", op.agent, op.tool, "planned"))
        summary.not_due.update(not_due)
        for outcome in summary.tasks:
            if outcome.status == "planned" and self.agents[outcome.agent].previews(outcome.tool):
                self._preview(outcome, now)
        return summary

    def _preview(self, outcome: TaskOutcome, now: datetime) -> None:
        """Run a planned task's tool in a rolled-back transaction; keep what it would queue."""
        spec = next(s for s in [*self.steps, *self.operations] if s.id == outcome.task)
        try:
            with rolled_back(self.engine) as session:
                ctx = TaskContext(
                    session=session,
                    engine=self.engine,
                    now=now,
                    settings=self.settings,
                    thresholds=self.thresholds,
                    policy=self.policy,
                    params=self._params(spec, outcome.kind),
                    dry_run=True,
                )
                outcome.result = jsonable(self.agents[outcome.agent].run_tool(outcome.tool, ctx))
        except Exception as exc:
            # The preview is advice: a tool that would fail says so, the plan stands.
            outcome.error = f"would fail: {_error_text(exc)}"


# -- hooks for init and status -----------------------------------------------------------------
