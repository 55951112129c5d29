"""Everything that happened to one account, newest first: trigger events, program steps and
e-mails with their delivery and opens, NPS answers, tickets, invoices, escalations, overrides,
notes and audit entries. One bounded query per source, whatever the size of the book.

Each entry is plain data; the page escapes every text (customer comments, notes, reasons).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from successcrew.store.models import (
    Account,
    AccountNote,
    AuditLog,
    Contact,
    EmailEvent,
    EmailSuppression,
    Escalation,
    Invoice,
    NpsResponse,
    ProgramEmail,
    ProgramEnrolment,
    ProgramStepRun,
    ScoreOverride,
    Ticket,
    TriggerEvent,
)

#: Entries kept per source: enough for a page, bounded whatever an account's history.
PER_SOURCE = 50
#: Audit actions shown by a source of their own already.
SHOWN_ELSEWHERE = frozenset({"health_override_set", "account_note_added"})


@dataclass(frozen=True)
class TimelineEntry:
    """One thing that happened: when, what kind, a headline and an optional quoted text."""

    at: datetime
    kind: str
    title: str
    detail: str = ""
    text: str | None = None


def _on(day: date) -> datetime:
    return datetime.combine(day, time(), tzinfo=UTC)


def timeline(session: Session, account: Account, *, limit: int = 150) -> list[TimelineEntry]:
    """The account's history across every source, newest first, at most ``limit`` entries."""
    aid = account.id
    out: list[TimelineEntry] = []
    for t in session.scalars(
        select(TriggerEvent)
        .where(TriggerEvent.account_id == aid)
        .order_by(TriggerEvent.fired_at.desc())
        .limit(PER_SOURCE)
    ):
        value = "" if t.value is None else f"value {t.value:g}"
        limit_text = "" if t.threshold is None else f", threshold {t.threshold:g}"
        out.append(
            TimelineEntry(
                t.fired_at, "trigger", f"{t.code} fired", value + limit_text + f" ({t.status})"
            )
        )
    E, R = ProgramEnrolment, ProgramStepRun
    for r, program in session.execute(
        select(R, E.program)
        .join(E, E.id == R.enrolment_id)
        .where(E.account_id == aid)
        .order_by(R.ran_at.desc())
        .limit(PER_SOURCE)
    ):
        out.append(
            TimelineEntry(
                r.ran_at, "program", f"{program}: step {r.step_id}", f"{r.kind}, {r.status}"
            )
        )
    for e, program, email in session.execute(
        select(ProgramEmail, ProgramEmail.program, Contact.email)
        .join(E, E.id == ProgramEmail.enrolment_id)
        .join(Contact, Contact.id == ProgramEmail.contact_id)
        .where(E.account_id == aid)
        .order_by(ProgramEmail.created_at.desc())
        .limit(PER_SOURCE)
    ):
        out.append(TimelineEntry(e.created_at, "email", f"{program} e-mail to {email}", e.status))
    for ev in session.scalars(
        select(EmailEvent)
        .where(EmailEvent.account_id == aid)
        .order_by(EmailEvent.occurred_at.desc())
        .limit(PER_SOURCE)
    ):
        what = ev.program or "e-mail"
        out.append(TimelineEntry(ev.occurred_at, "email", f"{what} e-mail {ev.kind}", ev.email))
    for n in session.scalars(
        select(NpsResponse)
        .where(NpsResponse.account_id == aid)
        .order_by(NpsResponse.responded_at.desc())
        .limit(PER_SOURCE)
    ):
        who = n.contact_email or "a contact"
        out.append(
            TimelineEntry(
                n.responded_at, "nps", f"NPS {n.score} from {who}", n.channel or "", n.comment
            )
        )
    for tk in session.scalars(
        select(Ticket)
        .where(Ticket.account_id == aid)
        .order_by(Ticket.opened_at.desc())
        .limit(PER_SOURCE)
    ):
        state = "closed" if tk.closed_at else "open"
        csat = f", CSAT {tk.csat}" if tk.csat else ""
        out.append(
            TimelineEntry(
                tk.opened_at, "ticket", f"Ticket {tk.external_id} ({tk.priority})", state + csat
            )
        )
    for inv in session.scalars(
        select(Invoice)
        .where(Invoice.account_id == aid)
        .order_by(Invoice.due_at.desc())
        .limit(PER_SOURCE)
    ):
        out.append(
            TimelineEntry(
                _on(inv.issued_at or inv.due_at),
                "invoice",
                f"Invoice {inv.external_id}: {float(inv.amount):,.2f}",
                f"due {inv.due_at}, {inv.status}"
                + (f", paid {inv.paid_at}" if inv.paid_at else ""),
            )
        )
    for esc in session.scalars(
        select(Escalation)
        .where(Escalation.account_id == aid)
        .order_by(Escalation.created_at.desc())
        .limit(PER_SOURCE)
    ):
        decided = f", decided by {esc.decided_by}" if esc.decided_by else ""
        out.append(
            TimelineEntry(
                esc.created_at, "escalation", esc.title, f"{esc.status}{decided}", esc.decision_note
            )
        )
    for o in session.scalars(
        select(ScoreOverride)
        .where(ScoreOverride.account_id == aid)
        .order_by(ScoreOverride.created_at.desc())
        .limit(PER_SOURCE)
    ):
        until = f"until {o.expires_at.date()}" if o.expires_at else "until cleared"
        state = ", revoked" if o.revoked_at else ""
        out.append(
            TimelineEntry(
                o.created_at,
                "override",
                f"Score overridden to {o.score:g} by {o.author}",
                until + state,
                o.reason,
            )
        )
    for note in session.scalars(
        select(AccountNote)
        .where(AccountNote.account_id == aid)
        .order_by(AccountNote.created_at.desc())
        .limit(PER_SOURCE)
    ):
        out.append(TimelineEntry(note.created_at, "note", f"Note by {note.author}", "", note.body))
    for a in session.scalars(
        select(AuditLog)
        .where(AuditLog.subject == account.external_id, AuditLog.action.not_in(SHOWN_ELSEWHERE))
        .order_by(AuditLog.at.desc())
        .limit(PER_SOURCE)
    ):
        out.append(TimelineEntry(a.at, "audit", a.action.replace("_", " "), f"by {a.actor}"))
    out.sort(key=lambda e: e.at, reverse=True)
    return out[:limit]


def contacts(session: Session, account_id: int) -> list[dict[str, Any]]:
    """The account's contacts with opt-out, unsubscribe and bounce state (one query)."""
    rows = session.execute(
        select(Contact, EmailSuppression.reason)
        .outerjoin(EmailSuppression, EmailSuppression.email == func.lower(Contact.email))
        .where(Contact.account_id == account_id)
        .order_by(Contact.email)
        .limit(500)
    )
    return [
        {
            "name": c.name,
            "email": c.email,
            "role": c.role,
            "opted_out": bool(c.email_opt_out),
            "unsubscribed_at": c.unsubscribed_at,
            "bounced": reason,
        }
        for c, reason in rows
    ]


def add_note(
    session: Session, account: Account, *, author: str, body: str, now: datetime
) -> AccountNote:
    """Store a note on the account (and an audit entry saying who added it)."""
    from successcrew.store import audit

    note = AccountNote(account_id=account.id, author=author, body=body, created_at=now)
    session.add(note)
    session.flush()
    audit.record(
        session,
        at=now,
        actor=author,
        action="account_note_added",
        subject=account.external_id,
        detail={"note_id": note.id},
    )
    return note
