"""Running a program's due steps: e-mails, call scripts, CRM tasks and Slack notes for the
enrolments whose next step is due, throttled, each an outbox message with an idempotency key."""

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
    pause_scope,
    throttle,
)
from successcrew.services.links import unsubscribe_url
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
    paused_programs: list[str] = field(default_factory=list)


def _run_step(
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
    out: StepOutcome,
) -> None:
    """Run step ``step_index`` for a batch of enrolments of one arm; records everything."""
    arm_steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
    step = arm_steps[step_index]
    render_variant = variant if variant != HOLDOUT else book.arms()[0][0]
    account_ids = [e.account_id for e in enrolments]
    ctx = account_context(session, account_ids, now.date())
    messages: list[dict[str, Any]] = []
    step_rows: list[dict[str, Any]] = []
    email_rows: list[dict[str, Any]] = []

    def base(e: Any) -> dict[str, Any]:
        account, health = ctx[e.account_id]
        return template_context(account=account, health=health, program=book.spec, variant=variant)

    def render(field_name: str, context: dict[str, Any]) -> str:
        return book.render(render_variant, step_index, field_name, context)

    if variant == HOLDOUT:
        # The holdout keeps the same clock as the treated arms, but nothing is sent.
        for e in enrolments:
            step_rows.append(_step_row(e, step_index, step, "holdout", {"sent": 0}, now))
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
            out.emails_queued += tally["queued"]
            out.emails_throttled += tally["throttled"]
            out.emails_opted_out += tally["opted_out"]
            status = "done" if tally["queued"] else "skipped"
            if status == "skipped":
                out.skipped += 1
            step_rows.append(_step_row(e, step_index, step, status, dict(tally), now))
    elif step.kind == "call_script":
        for e in enrolments:
            account, _health = ctx[e.account_id]
            owner = account["owner_email"]
            if not owner:
                out.skipped += 1
                step_rows.append(
                    _step_row(e, step_index, step, "skipped", {"reason": "no owner"}, now)
                )
                continue
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            messages.append(
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
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))
    elif step.kind == "crm_task":
        crm_ids = crm_source_ids(session, step.provider, account_ids)
        for e in enrolments:
            account, _health = ctx[e.account_id]
            if e.account_id not in crm_ids:
                out.skipped += 1
                step_rows.append(
                    _step_row(
                        e, step_index, step, "skipped", {"reason": f"no {step.provider} id"}, now
                    )
                )
                continue
            context = base(e)
            key = f"program:{book.id}:{e.id}:{step_index}"
            messages.append(
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
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))
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
            messages.append(
                {"key": key, "channel": "slack", "account_id": e.account_id, "payload": payload}
            )
            step_rows.append(_step_row(e, step_index, step, "done", {"outbox_key": key}, now))

    out.messages += enqueue_many(session, messages, now=now)
    conn = session.connection()
    for chunk in chunks(email_rows):
        session.execute(insert_ignore(conn, ProgramEmail.__table__), list(chunk))
    for chunk in chunks(step_rows):
        session.execute(insert_ignore(conn, ProgramStepRun.__table__), list(chunk))
    out.steps += len(step_rows)

    ids = [e.id for e in enrolments]
    last = step_index + 1 >= len(arm_steps)
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
    link_secret: str | None = None,
) -> StepOutcome:
    """Run every step that is due (``delay_days`` after enrolment), program by program.

    A paused program (``campaigns``, ``automation`` or its own ``campaign:<id>``) runs nothing
    and keeps its place: the steps run when it is resumed. Throttling is shared by all programs
    in the run, in playbook order. ``link_secret`` signs each e-mail's unsubscribe link (an
    e-mail step without one stops with ConfigError: no e-mail goes out without a working link).
    """
    out = StepOutcome()
    sent_in_run: set[int] = set()
    E = ProgramEnrolment
    for book in books:
        if not book.spec.enabled:
            continue
        if is_paused(session, "campaigns", pause_scope(book.id)) is not None:
            out.paused_programs.append(book.id)
            continue
        arms = [name for name, _ in book.arms()] + [HOLDOUT]
        for variant in arms:
            steps = book.steps_for(variant if variant != HOLDOUT else book.arms()[0][0])
            for index, step in enumerate(steps):
                due = session.execute(
                    select(E.id, E.account_id)
                    .where(
                        E.program == book.id,
                        E.variant == variant,
                        E.status == "active",
                        E.next_step == index,
                        E.enrolled_at <= now - timedelta(days=step.delay_days),
                    )
                    .order_by(E.id)
                ).all()
                if due:
                    _run_step(
                        session,
                        book,
                        variant,
                        index,
                        due,
                        settings=settings,
                        base_url=base_url,
                        link_secret=link_secret,
                        now=now,
                        sent_in_run=sent_in_run,
                        out=out,
                    )
    return out
