"""The Programs page: each playbook's enrolments, its step funnel (queued, sent, delivered,
opened, replied, unsubscribed), A/B against holdout, and the holds that pause it with why.

The funnel is three grouped statements over all programs together; the A/B figures are
``program_results.evaluate``, the same as ``successcrew programs`` and the weekly report.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from successcrew.definitions.playbooks import Playbook
from successcrew.domain.program_rules import pause_scope
from successcrew.services.programs.results import ProgramEvaluation, enrolment_summary, evaluate
from successcrew.store import pauses
from successcrew.store.models import EmailEvent, OutboxMessage, ProgramEmail
from successcrew.store.pauses import Hold

FUNNEL = ("queued", "sent", "delivered", "opened", "replied", "unsubscribed")
#: Provider event kinds counted at each funnel stage after "sent".
EVENT_STAGES = {
    "delivered": ("delivered",),
    "opened": ("open",),
    "replied": ("reply", "negative_reply"),
    "unsubscribed": ("unsubscribe", "spam_complaint"),
}
#: Scopes besides the program's own whose holds stop its e-mail too.
SHARED_SCOPES = ("automation", "campaigns")


@dataclass
class ProgramView:
    """One playbook on the page."""

    id: str
    name: str
    scope: str
    enrolments: dict[str, Any]
    funnel: dict[str, int]
    evaluation: ProgramEvaluation
    holds: list[Hold] = field(default_factory=list)


def funnels(session: Session) -> dict[str, dict[str, int]]:
    """Per program: recipients queued, messages handed to the provider, and the distinct
    messages the provider reported delivered, opened, replied to or unsubscribed from."""
    out: dict[str, dict[str, int]] = {}

    def stage(program: str) -> dict[str, int]:
        return out.setdefault(program, dict.fromkeys(FUNNEL, 0))

    for program, n in session.execute(
        select(ProgramEmail.program, func.count())
        .where(ProgramEmail.status == "queued")
        .group_by(ProgramEmail.program)
    ):
        stage(program)["queued"] = n
    for program, n in session.execute(
        select(ProgramEmail.program, func.count())
        .join(OutboxMessage, OutboxMessage.idempotency_key == ProgramEmail.outbox_key)
        .where(OutboxMessage.status == "delivered")
        .group_by(ProgramEmail.program)
    ):
        stage(program)["sent"] = n
    kinds = {k: name for name, ks in EVENT_STAGES.items() for k in ks}
    for program, kind, n in session.execute(
        select(
            EmailEvent.program, EmailEvent.kind, func.count(func.distinct(EmailEvent.outbox_key))
        )
        .where(EmailEvent.program.is_not(None), EmailEvent.kind.in_(list(kinds)))
        .group_by(EmailEvent.program, EmailEvent.kind)
    ):
        assert program is not None  # the query keeps only events of a program
        stage(program)[kinds[kind]] += n
    return out


def program_views(session: Session, books: list[Playbook], *, now: datetime) -> list[ProgramView]:
    """Every playbook's figures and holds (a handful of statements per playbook, none per
    account)."""
    enrolled = enrolment_summary(session)
    funnel = funnels(session)
    paused = pauses.paused_scopes(session)  # every open hold, one query

    def holds_on(scope: str) -> list[pauses.Hold]:
        return list(paused[scope].holds) if scope in paused else []

    shared = [h for s in SHARED_SCOPES for h in holds_on(s)]
    views = []
    for book in books:
        scope = pause_scope(book.id)
        views.append(
            ProgramView(
                id=book.id,
                name=book.spec.name,
                scope=scope,
                enrolments=enrolled.get(
                    book.id, {"total": 0, "by_status": {}, "by_variant": {}, "exit_reasons": {}}
                ),
                funnel=funnel.get(book.id, dict.fromkeys(FUNNEL, 0)),
                evaluation=evaluate(session, book, now=now),
                holds=holds_on(scope) + shared,
            )
        )
    return views
