"""The account page (Account 360): score history with its band lines, the components in points,
what moved the score at each change, the overrides in force, one timeline of everything that
happened, the contacts with their consent and bounce state, and the notes a CSM adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from itertools import pairwise
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from successcrew.domain.explanations import Explanation, explain_change
from successcrew.errors import InputError
from successcrew.store import account_timeline
from successcrew.store.account_timeline import TimelineEntry
from successcrew.store.models import Account, Escalation, HealthSnapshot, ScoreOverride
from successcrew.store.snapshots import account_by_external_id, snapshot_view

#: A change smaller than this (points) is not listed among the score's changes.
CHANGE_POINTS = 1.0
MAX_NOTE = 5000


@dataclass
class AccountView:
    """What the account page shows."""

    account: Account
    history: list[tuple[date, float, str]]
    components: list[dict[str, Any]]
    latest: Explanation | None
    changes: list[Explanation]
    overrides: list[ScoreOverride]
    timeline: list[TimelineEntry]
    contacts: list[dict[str, Any]] = field(default_factory=list)
    #: The model's brief on the newest escalation that carries one (text, when), if any.
    brief: tuple[str, datetime] | None = None


def _components(snap: HealthSnapshot) -> list[dict[str, Any]]:
    rows = []
    for name, c in snap.components.items():
        points = c.get("contribution")
        rows.append(
            {
                "name": name,
                "label": c.get("label") or name.replace("_", " "),
                "points": points,
                "weight": c.get("weight"),
                "left_out": c.get("normalised") is None,
                "stale": name in snap.stale_components,
            }
        )
    return sorted(rows, key=lambda r: -(r["points"] or 0))


def account_view(
    session: Session, account: Account, now: datetime, *, days: int = 365, changes: int = 12
) -> AccountView:
    """Everything on the account page as of ``now``, read in a fixed number of statements."""
    today = now.date()
    snaps = list(
        session.scalars(
            select(HealthSnapshot)
            .where(
                HealthSnapshot.account_id == account.id,
                HealthSnapshot.as_of <= today,
                HealthSnapshot.as_of > today - timedelta(days=days),
            )
            .order_by(HealthSnapshot.as_of)
        )
    )
    views = [snapshot_view(s) for s in snaps]
    moved: list[Explanation] = []
    for before, after in pairwise(views):
        if abs(after.score - before.score) >= CHANGE_POINTS or after.band != before.band:
            moved.append(explain_change(after, before))
    latest = None
    if views:
        # Against a week before, as the Portfolio's "what changed this week": yesterday's
        # score is usually today's, and a week says what a reader asks about.
        week_before = [v for v in views if v.as_of <= views[-1].as_of - timedelta(days=7)]
        earlier = week_before[-1] if week_before else (views[-2] if len(views) > 1 else None)
        latest = explain_change(views[-1], earlier)
    overrides = list(
        session.scalars(
            select(ScoreOverride)
            .where(
                ScoreOverride.account_id == account.id,
                ScoreOverride.revoked_at.is_(None),
                or_(ScoreOverride.expires_at.is_(None), ScoreOverride.expires_at > now),
            )
            .order_by(ScoreOverride.created_at.desc())
        )
    )
    brief = None
    for esc in session.scalars(
        select(Escalation)
        .where(Escalation.account_id == account.id)
        .order_by(Escalation.created_at.desc())
        .limit(20)
    ):
        text = (esc.context or {}).get("brief")
        if isinstance(text, str) and text.strip():
            brief = (text, esc.created_at)
            break
    return AccountView(
        brief=brief,
        account=account,
        history=[(s.as_of, s.score, s.band) for s in snaps],
        components=_components(snaps[-1]) if snaps else [],
        latest=latest,
        changes=list(reversed(moved))[:changes],
        overrides=overrides,
        timeline=account_timeline.timeline(session, account),
        contacts=account_timeline.contacts(session, account.id),
    )


def find_account(session: Session, external_id: str) -> Account | None:
    """The account with this external id (None: no such account)."""
    return account_by_external_id(session, external_id)


def add_note(session: Session, external_id: str, *, by: str, body: str, now: datetime) -> None:
    """Store ``by``'s note on the account (audited). Empty or oversized text is an InputError."""
    text = body.strip()
    if not text:
        raise InputError("the note is empty: write something to keep")
    if len(text) > MAX_NOTE:
        raise InputError(f"the note is {len(text)} characters long; at most {MAX_NOTE} fit")
    account = account_by_external_id(session, external_id)
    if account is None:
        raise InputError(f"account {external_id!r}: no account with that external id")
    account_timeline.add_note(session, account, author=by, body=text, now=now)
