"""Running a program's due steps: e-mails, call scripts, CRM tasks and Slack notes for the
enrolments whose next step is due, throttled, each an outbox message with an idempotency key.

A step more than ``max_lateness_days`` past its time is skipped (``skipped: overdue``), never sent
late; the messages of one run are capped per channel (``send_caps``), and what does not fit stays
due for the next run, oldest enrolment first, still subject to the lateness rule."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from successcrew.definitions.playbooks import (
    Playbook,
    ProgramSettings,
    template_context,
)
from successcrew.domain.program_rules import (
    HOLDOUT,
    EmailCandidate,
    SendBudget,
    is_overdue,
    pause_scope,
    throttle,
)
from successcrew.services.messaging.links import unsubscribe_url
from successcrew.services.model_pass.proposals import drafts_held, hold_email_drafts
from successcrew.store.dialect import insert_ignore
from successcrew.store.models import (
    ProgramEmail,
    ProgramEnrolment,
    ProgramStepRun,
)
from successcrew.store.outbox import enqueue_many
from successcrew.store.pauses import is_paused
from successcrew.store.portfolio_queries import crm_source_ids
from successcrew.store.program_queries import (
    account_context,
    chunks,
    contacts_by_account,
)
from successcrew.store.tasks import add_tasks


@dataclass
class StepOutcome:
    """What one run of steps did."""

    steps: int = 0
    emails_queued: int = 0
    emails_throttled: int = 0
    emails_opted_out: int = 0
    messages: int = 0
    skipped: int = 0
    completed: int = 0
    drafts_held: int = 0
    paused_programs: list[str] = field(default_factory=list)
    #: steps skipped because they were more than ``max_lateness_days`` late
    overdue: int = 0
    #: messages by channel that did not fit this run's cap, and the enrolment steps they belong
    #: to (still due: a later run sends them, or skips them once they are overdue)
    deferred: dict[str, int] = field(default_factory=dict)
    steps_deferred: int = 0
    #: messages queued by program -> step -> channel
    queued: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    #: a few of the queued messages (recipient and subject) per program and step, when asked for
    samples: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Planned:
    """One enrolment's step, decided and rendered but not written yet (the cap may defer it)."""

    enrolment_id: int
    step_index: int
    step_id: str
    variant: str
    last: bool
    step_row: dict[str, Any]
    messages: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)
    email_rows: list[dict[str, Any]] = field(default_factory=list)
    tally: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    overdue: bool = False

    def costs(self) -> dict[str, int]:
        counts: dict[str, int] = defaultdict(int)
        for m in self.messages:
            counts[m["channel"]] += 1
        return counts

    def queued_contacts(self) -> list[int]:
        return [r["contact_id"] for r in self.email_rows if r["status"] == "queued"]


def _plan_step(
    session: Session,
    book: Playbook,
    variant: str,
    step_index: int,
    enrolments: Sequence[Any],
    *,
    settings: ProgramSettings,
    base_url: str,
    link_secret: str | None,
    now: datetime,
    sent_in_run: set[int],
) -> list[_Planned]:
    """Decide and render step ``step_index`` for a batch of enrolments of one arm (one query per
    batch); nothing is written here."""
    arm_steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
    step = arm_steps[step_index]
    render_variant = variant if variant != HOLDOUT else book.arms()[0][0]
    account_ids = [e.account_id for e in enrolments]
    ctx = account_context(session, account_ids, now.date())
    last = step_index + 1 >= len(arm_steps)
    planned: list[_Planned] = []

    def plan(e: Any, status: str, detail: dict[str, Any]) -> _Planned:
        p = _Planned(
            e.id,
            step_index,
            step.id,
            variant,
            last,
            _step_row(e, step_index, step, status, detail, now),
            skipped=status == "skipped",
        )
        planned.append(p)
        return p

    def base(e: Any) -> dict[str, Any]:
        account, health = ctx[e.account_id]
        return template_context(account=account, health=health, program=book.spec, variant=variant)

    def render(field_name: str, context: dict[str, Any]) -> str:
        return book.render(render_variant, step_index, field_name, context)

    if variant == HOLDOUT:
        # The holdout keeps the same clock as the treated arms, but nothing is sent.
        for e in enrolments:
            plan(e, "holdout", {"sent": 0})
    elif step.kind == "email":
        contacts = contacts_by_account(session, account_ids)
        candidates = [
            EmailCandidate(
                key=(e.id, step_index, c.id),
                contact_id=c.id,
                opted_out=bool(c.opted_out),
                last_program_email_at=c.last_at,
            )
            for e in enrolments
            for c in contacts.get(e.account_id, [])
        ]
        decisions = throttle(
            candidates, now=now, min_gap_days=settings.throttle_days, sent_in_run=sent_in_run
        )
        for e in enrolments:
            tally: dict[str, int] = defaultdict(int)
            messages: list[dict[str, Any]] = []
            email_rows: list[dict[str, Any]] = []
            for c in contacts.get(e.account_id, []):
                status = decisions[(e.id, step_index, c.id)]
                tally[status] += 1
                key = f"program:{book.id}:{e.id}:{step_index}:{c.id}"
                email_rows.append(
                    {
                        "program": book.id,
                        "enrolment_id": e.id,
                        "step_index": step_index,
                        "contact_id": c.id,
                        "status": status,
                        "outbox_key": key if status == "queued" else None,
                        "created_at": now,
                    }
                )
                if status != "queued":
                    continue
                context = base(e) | {}
                context["contact"] = {"name": c.name, "email": c.email, "role": c.role}
                link = unsubscribe_url(base_url, link_secret, c.id, f"program:{book.id}")
                context["unsubscribe_url"] = link
                messages.append(
                    {
                        "key": key,
                        "channel": "email",
                        "account_id": e.account_id,
                        "payload": {
                            "kind": "campaign",
                            "program": book.id,
                            "variant": variant,
                            "step": step.id,
                            "contact_id": c.id,
                            "to": c.email,
                            "to_name": c.name,
                            "subject": render("subject", context).strip(),
                            "text": render("body", context),
                            "unsubscribe_url": link,
                            "categories": [f"program:{book.id}", f"variant:{variant}"],
                        },
                    }
                )
            p = plan(e, "done" if tally["queued"] else "skipped", dict(tally))
            p.messages, p.email_rows, p.tally = messages, email_rows, dict(tally)
    elif step.kind == "call_script":
        for e in enrolments:
            account, _health = ctx[e.account_id]
            owner = account["owner_email"]
            if not owner:
                plan(e, "skipped", {"reason": "no owner"})
                continue
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            plan(e, "done", {"outbox_key": key}).messages.append(
                {
                    "key": key,
                    "channel": "email",
                    "account_id": e.account_id,
                    "payload": {
                        # Internal mail to our own owner: not a campaign, not throttled.
                        "kind": "internal",
                        "program": book.id,
                        "step": step.id,
                        "to": owner,
                        "subject": render("subject", context).strip(),
                        "text": render("body", context),
                    },
                }
            )
    elif step.kind == "crm_task":
        crm_ids = crm_source_ids(session, step.provider, account_ids)
        for e in enrolments:
            account, _health = ctx[e.account_id]
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            # The owner's task is stored for My work whether or not the account is in the CRM.
            task = {
                "key": key,
                "account_id": e.account_id,
                "title": render("subject", context).strip(),
                "reason": render("body", context),
                "source": f"program:{book.id}",
                "due_on": now.date() + timedelta(days=step.due_in_days),
                "crm_outbox_key": key if e.account_id in crm_ids else None,
            }
            if e.account_id not in crm_ids:
                skipped = {"reason": f"no {step.provider} id", "task": key}
                plan(e, "skipped", skipped).tasks.append(task)
                continue
            planned_step = plan(e, "done", {"outbox_key": key, "task": key})
            planned_step.tasks.append(task)
            planned_step.messages.append(
                {
                    "key": key,
                    "channel": "crm_task",
                    "account_id": e.account_id,
                    "payload": {
                        "provider": step.provider,
                        "account_source_id": crm_ids[e.account_id],
                        "subject": render("subject", context).strip(),
                        "body": render("body", context),
                        "due_date": (now.date() + timedelta(days=step.due_in_days)).isoformat(),
                        "owner_email": account["owner_email"],
                        "pause_scope": pause_scope(book.id),
                    },
                }
            )
    else:  # slack
        for e in enrolments:
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            payload: dict[str, Any] = {
                "title": render("title", context).strip(),
                "summary": render("body", context).strip() or None,
                "pause_scope": pause_scope(book.id),
            }
            if step.channel:
                payload["channel"] = step.channel
            plan(e, "done", {"outbox_key": key}).messages.append(
                {"key": key, "channel": "slack", "account_id": e.account_id, "payload": payload}
            )
    return planned


def _plan_overdue(
    book: Playbook, variant: str, step_index: int, late: Sequence[Any], *, now: datetime
) -> list[_Planned]:
    """``skipped: overdue`` for each enrolment whose step is too late to send."""
    arm_steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
    step = arm_steps[step_index]
    planned = []
    for e in late:
        due_at = e.enrolled_at + timedelta(days=step.delay_days)
        detail = {
            "reason": "overdue",
            "due_at": due_at.isoformat(),
            "days_late": round((now - due_at).total_seconds() / 86400, 1),
        }
        planned.append(
            _Planned(
                e.id,
                step_index,
                step.id,
                variant,
                step_index + 1 >= len(arm_steps),
                _step_row(e, step_index, step, "skipped", detail, now),
                skipped=True,
                overdue=True,
            )
        )
    return planned


def _hold_drafts(
    session: Session,
    book: Playbook,
    planned: Sequence[_Planned],
    messages: list[dict[str, Any]],
    *,
    now: datetime,
    out: StepOutcome,
) -> list[dict[str, Any]]:
    """With a model configured, an at-risk or critical playbook's e-mails wait as drafts for
    the model and then the owner; returns the messages still to queue now."""
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = defaultdict(list)
    for p in planned:
        for m in p.messages:
            # Only customer e-mails are drafts; a call script mailed to the owner is not.
            if m["channel"] == "email" and m["payload"].get("kind") == "campaign":
                groups[(p.variant, p.step_index, p.step_id)].append(m)
    held: set[str] = set()
    for (variant, step_index, step_id), group in groups.items():
        out.drafts_held += hold_email_drafts(
            session,
            book,
            variant=variant,
            step_index=step_index,
            step_id=step_id,
            messages=group,
            unsubscribe={
                m["payload"]["contact_id"]: m["payload"]["unsubscribe_url"] for m in group
            },
            now=now,
        )
        held.update(m["key"] for m in group)
    return [m for m in messages if m["key"] not in held]


def _write(
    session: Session,
    book: Playbook,
    planned: Sequence[_Planned],
    *,
    now: datetime,
    out: StepOutcome,
    sample: int,
) -> None:
    """Write the planned steps that fit: outbox messages, email and step rows, and move each
    enrolment on to its next step (completed after its last)."""
    messages = [m for p in planned for m in p.messages]
    if drafts_held(book):
        messages = _hold_drafts(session, book, planned, messages, now=now, out=out)
    out.messages += enqueue_many(session, messages, now=now)
    add_tasks(session, [t for p in planned for t in p.tasks], now=now)
    conn = session.connection()
    email_rows = [r for p in planned for r in p.email_rows]
    for chunk in chunks(email_rows):
        session.execute(insert_ignore(conn, ProgramEmail.__table__), list(chunk))
    step_rows = [p.step_row for p in planned]
    for chunk in chunks(step_rows):
        session.execute(insert_ignore(conn, ProgramStepRun.__table__), list(chunk))
    out.steps += len(step_rows)

    by_step = out.queued.setdefault(book.id, {})
    shown: dict[str, int] = defaultdict(int)
    for s in out.samples:
        if s["program"] == book.id:
            shown[s["step"]] += 1
    for p in planned:
        out.emails_queued += p.tally.get("queued", 0)
        out.emails_throttled += p.tally.get("throttled", 0)
        out.emails_opted_out += p.tally.get("opted_out", 0)
        out.skipped += int(p.skipped and not p.overdue)
        out.overdue += int(p.overdue)
        for m in p.messages:
            channels = by_step.setdefault(p.step_id, {})
            channels[m["channel"]] = channels.get(m["channel"], 0) + 1
            if shown[p.step_id] < sample:
                shown[p.step_id] += 1
                payload = m["payload"]
                out.samples.append(
                    {
                        "program": book.id,
                        "step": p.step_id,
                        "variant": p.variant,
                        "channel": m["channel"],
                        "to": payload.get("to")
                        or payload.get("channel")
                        or payload.get("account_source_id"),
                        "subject": payload.get("subject") or payload.get("title"),
                    }
                )
    if not by_step:
        del out.queued[book.id]

    moves: dict[tuple[int, bool], list[int]] = defaultdict(list)
    for p in planned:
        moves[(p.step_index, p.last)].append(p.enrolment_id)
    for (step_index, last), ids in moves.items():
        values: dict[str, Any] = {"next_step": step_index + 1}
        if last:
            values |= {"status": "completed", "ended_at": now}
            out.completed += len(ids)
        for chunk in chunks(ids):
            session.execute(
                update(ProgramEnrolment)
                .where(ProgramEnrolment.id.in_(chunk), ProgramEnrolment.next_step == step_index)
                .values(**values)
                .execution_options(synchronize_session=False)
            )


def _step_row(
    e: Any, index: int, step: Any, status: str, detail: dict[str, Any], now: datetime
) -> dict[str, Any]:
    return {
        "enrolment_id": e.id,
        "step_index": index,
        "step_id": step.id,
        "kind": step.kind,
        "status": status,
        "ran_at": now,
        "detail": detail,
    }


def run_due_steps(
    session: Session,
    books: Sequence[Playbook],
    *,
    settings: ProgramSettings,
    base_url: str,
    now: datetime,
    sample: int = 0,
    link_secret: str | None = None,
) -> StepOutcome:
    """Run every step that is due (``delay_days`` after enrolment), program by program.

    A paused program (``campaigns``, ``automation`` or its own ``campaign:<id>``) runs nothing
    and keeps its place: its steps are looked at again when no hold remains, and those by then
    more than ``max_lateness_days`` late are skipped. Throttling and the per-channel caps are
    shared by all programs in the run, in playbook order; within a program and step the cap
    takes enrolments oldest first across all arms, so it favours no variant. ``sample`` keeps
    that many queued messages per program and step in the outcome (for a dry run).
    ``link_secret`` signs each e-mail's unsubscribe link (an e-mail step without one stops with
    ConfigError: no e-mail goes out without a working link).
    """
    out = StepOutcome()
    sent_in_run: set[int] = set()
    budget = SendBudget(settings.send_caps.as_dict())
    E = ProgramEnrolment
    for book in books:
        if not book.spec.enabled:
            continue
        if is_paused(session, "campaigns", pause_scope(book.id)) is not None:
            out.paused_programs.append(book.id)
            continue
        arms = [name for name, _ in book.arms()] + [HOLDOUT]
        arm_steps = {v: book.steps_for(v if v != HOLDOUT else book.arms()[0][0]) for v in arms}
        # Step by step across the arms: a step done now moves its enrolment to the next index,
        # which this same run then looks at (and skips if that one is overdue too).
        for index in range(max(len(steps) for steps in arm_steps.values())):
            planned: list[_Planned] = []
            for variant in arms:
                if index >= len(arm_steps[variant]):
                    continue
                step = arm_steps[variant][index]
                due = session.execute(
                    select(E.id, E.account_id, E.enrolled_at)
                    .where(
                        E.program == book.id,
                        E.variant == variant,
                        E.status == "active",
                        E.next_step == index,
                        E.enrolled_at <= now - timedelta(days=step.delay_days),
                    )
                    .order_by(E.id)
                ).all()
                late_ids = {
                    e.id
                    for e in due
                    if is_overdue(
                        e.enrolled_at + timedelta(days=step.delay_days),
                        now,
                        max_lateness_days=settings.max_lateness_days,
                    )
                }
                late = [e for e in due if e.id in late_ids]
                on_time = [e for e in due if e.id not in late_ids]
                planned += _plan_overdue(book, variant, index, late, now=now)
                if on_time:
                    planned += _plan_step(
                        session,
                        book,
                        variant,
                        index,
                        on_time,
                        settings=settings,
                        base_url=base_url,
                        link_secret=link_secret,
                        now=now,
                        sent_in_run=sent_in_run,
                    )
            accepted = []
            for p in sorted(planned, key=lambda p: p.enrolment_id):
                if budget.take(p.costs()):
                    accepted.append(p)
                    continue
                # Deferred: nothing written, the enrolment stays at this step; its contacts
                # were not emailed after all.
                sent_in_run.difference_update(p.queued_contacts())
                out.steps_deferred += 1
                for channel, n in p.costs().items():
                    out.deferred[channel] = out.deferred.get(channel, 0) + n
            if accepted:
                _write(session, book, accepted, now=now, out=out, sample=sample)
    return out
