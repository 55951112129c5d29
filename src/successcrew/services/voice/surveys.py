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

import jinja2
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
from successcrew.errors import InputError
from successcrew.services.messaging.links import require_secret, unsubscribe_url
from successcrew.store import audit
from successcrew.store.dialect import rowcount
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
    "SurveyPage",
    "SurveyTokenError",
    "WaveResult",
    "in_app_survey",
    "in_app_token",
    "read_survey",
    "received_responses",
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


#: The survey e-mail's HTML part: the 0-10 scale as eleven links, each opening the survey page
#: with that score chosen (opening records nothing; the page's submit does).
_EMAIL_HTML = jinja2.Environment(autoescape=True).from_string(
    """<!doctype html><html><body style="font-family:sans-serif;line-height:1.5">
<p>Hi {{ name or "there" }},</p><p>{{ intro }}</p>
<table role="presentation" cellspacing="0" cellpadding="0"><tr>
{%- for score in range(11) %}
<td style="padding:2px"><a href="{{ link }}?score={{ score }}" style="display:inline-block;
min-width:28px;padding:8px 4px;text-align:center;border:1px solid #888;border-radius:4px;
text-decoration:none;color:#111">{{ score }}</a></td>
{%- endfor %}
</tr></table>
<p style="font-size:small">0 = not at all likely, 10 = extremely likely.
<a href="{{ link }}">Open the survey</a>. The link works once and expires on {{ expires }}.</p>
<p style="font-size:small;color:#666"><a href="{{ unsubscribe }}">Unsubscribe</a> from
e-mail from us.</p></body></html>"""
)


def survey_email(
    *, name: str | None, intro: str, link: str, unsubscribe: str, expires: datetime
) -> tuple[str, str]:
    """The survey e-mail as (text, html): the scale as eleven links, then the unsubscribe link."""
    scale = "\n".join(f"{score:>2}  {link}?score={score}" for score in range(11))
    day = f"{expires:%Y-%m-%d}"
    text = (
        f"Hi {name or 'there'},\n\n{intro}\n\n{scale}\n\n"
        f"(0 = not at all likely, 10 = extremely likely.) Or open the survey: {link}\n"
        f"The link works once and expires on {day}.\n\n"
        f"Unsubscribe from e-mail from us: {unsubscribe}"
    )
    html = _EMAIL_HTML.render(
        name=name, intro=intro, link=link, unsubscribe=unsubscribe, expires=day
    )
    return text, html


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
    key = require_secret(secret)
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
            unsubscribe = unsubscribe_url(base_url, key, row.contact_id, f"survey:{kind}")
            intro = INTROS[kind].format(account=row.account_name)
            text, html = survey_email(
                name=row.name, intro=intro, link=link, unsubscribe=unsubscribe, expires=expires
            )
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
                        "text": text,
                        "html": html,
                        "unsubscribe_url": unsubscribe,
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
    key = require_secret(secret)
    if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 10:
        raise InputError(f"score {score!r} is not a whole number between 0 and 10")
    claims = verify_survey_token(token, key, now)
    claimed = rowcount(
        session.execute(
            update(SurveyInvitation)
            .where(SurveyInvitation.nonce == claims.nonce, SurveyInvitation.used_at.is_(None))
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
    )
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
    return sign_survey_token(claims, require_secret(secret))


#: The question the survey page asks, per kind (the e-mail's intro, without the greeting).
QUESTIONS = {
    "nps": "How likely are you to recommend us to a friend or colleague?",
    "exit": "We are sorry to see you go. How likely would you be to recommend us anyway, and "
    "what is the main reason you are leaving?",
    "feedback": "How likely are you to recommend us to a colleague, and what would make us "
    "more useful to your team?",
}


@dataclass(frozen=True)
class SurveyPage:
    """What the survey page shows for a genuine, open link."""

    kind: str
    channel: str
    question: str
    account_name: str | None
    expires_at: datetime


def read_survey(session: Session, token: str, *, secret: str | None, now: datetime) -> SurveyPage:
    """The page for a survey link; changes nothing (mail scanners open every link).

    SurveyTokenError (``reason`` malformed, altered, expired, unknown or used) when the link
    cannot be answered, with a sentence that says why.
    """
    claims = verify_survey_token(token, require_secret(secret), now)
    row = session.execute(
        select(SurveyInvitation, Account.name)
        .join(Account, Account.id == SurveyInvitation.account_id)
        .where(SurveyInvitation.nonce == claims.nonce)
    ).first()
    if row is None:
        raise SurveyTokenError("unknown", "this survey link is not known here")
    invitation, account_name = row
    if invitation.used_at is not None:
        raise SurveyTokenError(
            "used",
            f"this survey was already answered on {invitation.used_at:%Y-%m-%d %H:%M} UTC; "
            "each link can be used once. Thank you!",
        )
    return SurveyPage(
        kind=invitation.kind,
        channel=invitation.channel,
        question=QUESTIONS.get(invitation.kind, QUESTIONS["nps"]),
        account_name=account_name,
        expires_at=invitation.expires_at,
    )


def in_app_survey(
    session: Session, contact_external_id: str, *, secret: str | None, now: datetime
) -> dict[str, Any] | None:
    """The open in-app survey of a contact (by the product's user id) for the widget: its token
    and question, or None when there is nothing to ask."""
    contact_id = session.execute(
        select(Contact.id).where(Contact.external_id == contact_external_id)
    ).scalar_one_or_none()
    if contact_id is None:
        return None
    token = in_app_token(session, contact_id, secret=require_secret(secret), now=now)
    if token is None:
        return None
    claims = verify_survey_token(token, require_secret(secret), now)
    return {"token": token, "kind": claims.kind, "question": QUESTIONS[claims.kind]}


def received_responses(session: Session, *, since: datetime, now: datetime) -> dict[str, Any]:
    """Answers that came in through the survey page and the in-app widget in ``(since, now]``,
    by kind and channel, and how many of their comments still wait to be categorised."""
    s = SurveyInvitation
    rows = session.execute(
        select(s.kind, s.channel, func.count())
        .where(s.used_at > since, s.used_at <= now, s.response_id.is_not(None))
        .group_by(s.kind, s.channel)
    ).all()
    uncategorised = session.scalar(
        select(func.count())
        .select_from(NpsResponse)
        .join(s, s.response_id == NpsResponse.id)
        .where(
            s.used_at > since,
            s.used_at <= now,
            NpsResponse.comment.is_not(None),
            NpsResponse.categories.is_(None),
        )
    )
    return {
        "since": since.isoformat(),
        "responses": sum(n for _, _, n in rows),
        "by_kind_channel": [{"kind": k, "channel": c, "responses": n} for k, c, n in rows],
        "comments_to_categorise": int(uncategorised or 0),
    }
