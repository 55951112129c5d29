"""NPS survey waves, exit surveys and feedback prompts; signed single-use links.

A wave picks, in one query per survey kind, the contacts who are due: consent given
(``survey_consent``), not opted out of email, not surveyed (asked or answered) within the
interval, at most ``max_per_account`` per account. Each gets an invitation row (its random nonce
is inside the signed token) and, for the email channel, an outbox email. In-app invitations are
shown by the web widget, which looks them up by contact.

``verify_survey_token`` and ``record_survey_response`` are what the survey web page calls.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, insert, or_, select, update
from sqlalchemy.orm import Session

from successcrew.definitions.playbooks import SendCaps, SurveySettings
from successcrew.domain.comment_analysis import sentiment
from successcrew.domain.survey_tokens import (
    SurveyClaims,
    SurveyTokenError,
    sign_survey_token,
    verify_survey_token,
)
from successcrew.errors import ConfigError, InputError
from successcrew.store import audit
from successcrew.store.models import (
    Account,
    Contact,
    NpsResponse,
    SurveyInvitation,
)
from successcrew.store.outbox import enqueue_many
from successcrew.store.pauses import is_paused
from successcrew.store.program_queries import latest_snapshots

__all__ = [
    "SurveyClaims",
    "SurveyTokenError",
    "WaveResult",
    "in_app_token",
    "record_survey_response",
    "run_wave",
    "survey_link",
    "verify_survey_token",
]

SUBJECTS = {
    "nps": "How likely are you to recommend {product} to a colleague?",
    "exit": "One question before you go",
    "feedback": "How are things going with {product}?",
}
INTROS = {
    "nps": "On a scale from 0 to 10, how likely are you to recommend us to a friend or colleague?",
    "exit": "We are sorry to see {account} leave. What is the main reason? One click, one line.",
    "feedback": "We would like to know how {account} is getting on. What would make us more "
    "useful to your team?",
}


@dataclass
class WaveResult:
    """What one wave did."""

    paused: str | None = None
    invited: dict[str, int] = field(default_factory=dict)
    emails: int = 0
    channel: str = "email"
    #: the wave's cap on its channel, and the due contacts by survey kind it left for a later wave
    cap: int | None = None
    deferred: dict[str, int] = field(default_factory=dict)
    #: a few invitations (recipient and subject) per survey kind, when asked for (dry run)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        out: dict[str, Any] = {
            "paused": self.paused,
            "invited": self.invited,
            "emails_queued": self.emails,
            "channel": self.channel,
            "cap": self.cap,
            "deferred": self.deferred,
        }
        if self.samples:
            out["samples"] = self.samples
        return out

    def preview(self) -> dict[str, Any]:
        """What the wave would queue, in the shape every dry run prints (see ProgramRun)."""
        queued = [
            {"program": "survey", "step": kind, "channel": self.channel, "count": n}
            for kind, n in self.invited.items()
        ]
        deferred = sum(self.deferred.values())
        return {
            "queued": queued,
            "total": sum(q["count"] for q in queued),
            "samples": self.samples,
            "skipped_overdue": 0,
            "deferred": {self.channel: deferred} if deferred else {},
            "caps": {self.channel: self.cap},
            "paused": [self.paused] if self.paused else [],
        }


def survey_link(base_url: str, token: str) -> str:
    """The link in the email: the survey page of the web app."""
    return f"{base_url.rstrip('/')}/survey/{token}"


def _require_secret(secret: str | None) -> str:
    if not secret:
        from successcrew.settings import survey_secret_file

        raise ConfigError(
            "SUCCESSCREW_SURVEY_SECRET is not set and there is no survey secret file "
            f"({survey_secret_file()}): survey links must be signed. Run `successcrew init`, "
            "which creates the file, or set SUCCESSCREW_SURVEY_SECRET to a long random string."
        )
    return secret


def _due_contacts(kind: str, settings: SurveySettings, now: datetime, taken: set[int]) -> Any:
    """The query of (contact, account, email, name, rank) due for ``kind``."""
    today = now.date()
    since = now - timedelta(days=settings.interval_days)
    recently_asked = select(SurveyInvitation.contact_id).where(SurveyInvitation.created_at > since)
    if kind == "exit":
        # Exit surveys go once per contact after the churn, whatever the NPS interval says.
        recently_asked = select(SurveyInvitation.contact_id).where(SurveyInvitation.kind == "exit")
    recently_answered = select(NpsResponse.contact_id).where(
        NpsResponse.contact_id.is_not(None), NpsResponse.responded_at > since
    )
    rank = func.row_number().over(partition_by=Contact.account_id, order_by=Contact.id)
    query = (
        select(
            Contact.id.label("contact_id"),
            Contact.account_id,
            Contact.email,
            Contact.name,
            Account.name.label("account_name"),
            rank.label("rank"),
        )
        .join(Account, Account.id == Contact.account_id)
        .where(
            Contact.survey_consent.is_(True),
            Contact.email_opt_out.is_(False),
            Contact.unsubscribed_at.is_(None),
            Contact.id.not_in(recently_asked),
        )
    )
    if kind != "exit":
        query = query.where(Contact.id.not_in(recently_answered))
    if kind == "exit":
        query = query.where(
            Account.churned_at.is_not(None),
            Account.churned_at <= today,
            Account.churned_at > today - timedelta(days=settings.exit_survey_within_days),
        )
    else:
        query = query.where(or_(Account.churned_at.is_(None), Account.churned_at > today))
    if kind == "feedback":
        cur = latest_snapshots(today)
        query = query.join(cur, cur.c.account_id == Account.id).where(cur.c.band == "at_risk")
    if taken:
        query = query.where(Contact.id.not_in(sorted(taken)))
    ranked = query.subquery()
    return (
        select(ranked)
        .where(ranked.c.rank <= settings.max_per_account)
        .order_by(ranked.c.account_id, ranked.c.contact_id)
    )


def run_wave(
    session: Session,
    *,
    settings: SurveySettings,
    secret: str | None,
    base_url: str,
    now: datetime,
    channel: str | None = None,
    product: str = "our product",
    caps: SendCaps | None = None,
    sample: int = 0,
) -> WaveResult:
    """Invite every due contact: exit surveys, then at-risk feedback prompts, then NPS.

    A contact gets one survey per wave. Running the wave twice at once invites nobody twice:
    the first run's invitations make the contacts "recently asked". At most ``caps`` (per
    channel) contacts are invited per wave, in that order of kinds and by account; the rest stay
    due and are invited by a later wave. ``sample`` keeps that many invitations per kind in the
    result (for a dry run).
    """
    channel = channel or settings.channel
    if channel not in ("email", "in_app"):
        raise InputError(f"--channel {channel!r}: expected email or in_app")
    cap = (caps or SendCaps()).as_dict()[channel]
    result = WaveResult(channel=channel, cap=cap)
    flag = is_paused(session, "surveys")
    if flag is not None:
        result.paused = f"{flag.scope} paused by {flag.set_by}: {flag.reason}"
        return result
    key = _require_secret(secret)
    expires = now + timedelta(days=settings.token_ttl_days)
    kinds = ["exit", *(["feedback"] if settings.feedback_prompt_at_risk else []), "nps"]
    taken: set[int] = set()
    left = cap
    for kind in kinds:
        rows = session.execute(_due_contacts(kind, settings, now, taken)).all()
        if len(rows) > left:
            # Left for a later wave, as this kind: no other survey for them in this one.
            result.deferred[kind] = len(rows) - left
            taken.update(row.contact_id for row in rows[left:])
            rows = rows[:left]
        left -= len(rows)
        if not rows:
            continue
        invitations, messages = [], []
        for position, row in enumerate(rows):
            nonce = secrets.token_urlsafe(18)
            token = sign_survey_token(
                SurveyClaims(nonce, row.contact_id, row.account_id, kind, expires), key
            )
            invitations.append(
                {
                    "nonce": nonce,
                    "kind": kind,
                    "channel": channel,
                    "account_id": row.account_id,
                    "contact_id": row.contact_id,
                    "created_at": now,
                    "expires_at": expires,
                }
            )
            taken.add(row.contact_id)
            if position < sample:
                result.samples.append(
                    {
                        "program": "survey",
                        "step": kind,
                        "channel": channel,
                        "to": row.email,
                        "subject": SUBJECTS[kind].format(product=product),
                    }
                )
            if channel != "email":
                continue
            link = survey_link(base_url, token)
            intro = INTROS[kind].format(account=row.account_name)
            messages.append(
                {
                    "key": f"survey:{nonce}",
                    "channel": "email",
                    "account_id": row.account_id,
                    "payload": {
                        "kind": "survey",
                        "survey": kind,
                        "contact_id": row.contact_id,
                        "to": row.email,
                        "to_name": row.name,
                        "subject": SUBJECTS[kind].format(product=product),
                        "text": (
                            f"Hi {row.name or 'there'},\n\n{intro}\n\n{link}\n\n"
                            f"The link works once and expires on {expires:%Y-%m-%d}."
                        ),
                    },
                }
            )
        session.execute(insert(SurveyInvitation), invitations)
        result.emails += enqueue_many(session, messages, now=now)
        result.invited[kind] = len(invitations)
    if result.invited:
        audit.record(
            session,
            at=now,
            actor="surveys",
            action="surveys.wave",
            detail=result.as_dict(),
        )
    return result


def record_survey_response(
    session: Session,
    token: str,
    score: int,
    comment: str | None,
    now: datetime,
    *,
    secret: str | None = None,
) -> int:
    """Check the link and store the answer as an NPS response; returns the response id.

    Refuses (SurveyTokenError, with ``reason``) an altered, expired, unknown or already-used
    link. Single use holds under concurrency: the invitation is claimed with a conditional
    UPDATE, so of two simultaneous submissions exactly one succeeds.
    """
    if secret is None:
        from successcrew.settings import load_settings

        configured = load_settings().survey_secret
        secret = configured.get_secret_value() if configured else None
    key = _require_secret(secret)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise InputError(f"score {score!r} is not a whole number between 0 and 10")
    claims = verify_survey_token(token, key, now)
    claimed = session.execute(
        update(SurveyInvitation)
        .where(SurveyInvitation.nonce == claims.nonce, SurveyInvitation.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    ).rowcount
    invitation = session.execute(
        select(SurveyInvitation).where(SurveyInvitation.nonce == claims.nonce)
    ).scalar_one_or_none()
    if invitation is None:
        raise SurveyTokenError("unknown", "this survey link is not known here")
    if not claimed:
        raise SurveyTokenError(
            "used",
            f"this survey was already answered on {invitation.used_at:%Y-%m-%d %H:%M} UTC; "
            "each link can be used once",
        )
    contact = session.get(Contact, invitation.contact_id)
    text = (comment or "").strip() or None
    response_id = session.execute(
        insert(NpsResponse)
        .values(
            external_id=f"survey:{claims.nonce}",
            natural_key=hashlib.sha1(f"survey|{claims.nonce}".encode()).hexdigest(),
            account_id=invitation.account_id,
            contact_id=invitation.contact_id,
            contact_email=contact.email if contact else None,
            score=score,
            comment=text,
            channel=invitation.channel,
            responded_at=now,
            sentiment=sentiment(text),
        )
        .returning(NpsResponse.id)
    ).scalar_one()
    session.execute(
        update(SurveyInvitation)
        .where(and_(SurveyInvitation.id == invitation.id))
        .values(response_id=response_id)
        .execution_options(synchronize_session=False)
    )
    return int(response_id)


def in_app_token(session: Session, contact_id: int, *, secret: str, now: datetime) -> str | None:
    """The token for the contact's newest open in-app invitation (unused, unexpired), for the
    in-app widget; None when there is nothing to ask. The token is re-derived from the stored
    invitation, so it is the same each time the widget asks."""
    row = session.execute(
        select(SurveyInvitation)
        .where(
            SurveyInvitation.contact_id == contact_id,
            SurveyInvitation.channel == "in_app",
            SurveyInvitation.used_at.is_(None),
            SurveyInvitation.expires_at > now,
        )
        .order_by(SurveyInvitation.created_at.desc(), SurveyInvitation.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if row is None:
        return None
    claims = SurveyClaims(row.nonce, row.contact_id, row.account_id, row.kind, row.expires_at)
    return sign_survey_token(claims, _require_secret(secret))
