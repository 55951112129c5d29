"""Sentiment and categories for NPS comments, and the manual corrections that outlive re-runs.

Automatic results go to ``nps_responses.sentiment`` and ``categories``; a person's correction
goes to ``categories_manual``, which no automatic run writes, and which wins wherever categories
are read (``domain.feedback.effective_categories``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import TypedDict

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.orm import Session

from successcrew.definitions.feedback_categories import Categoriser
from successcrew.domain.comment_analysis import effective_categories, sentiment, sentiment_label
from successcrew.errors import InputError
from successcrew.services.model.assistant import Assistant, CommentText
from successcrew.store import audit
from successcrew.store.db import transaction
from successcrew.store.models import Account, NpsResponse

BATCH = 1000


def categorise_responses(
    session: Session, categoriser: Categoriser, *, everything: bool = False
) -> dict[str, int]:
    """Score and categorise comments not read yet (or all with ``everything``, e.g. after the
    taxonomy changed). Reads and writes in batches by id; returns counts."""
    done = with_categories = 0
    last_id = 0
    while True:
        query = (
            select(NpsResponse.id, NpsResponse.comment)
            .where(NpsResponse.id > last_id, NpsResponse.comment.is_not(None))
            .order_by(NpsResponse.id)
            .limit(BATCH)
        )
        if not everything:
            query = query.where(
                or_(NpsResponse.categories.is_(None), NpsResponse.sentiment.is_(None))
            )
        rows = session.execute(query).all()
        if not rows:
            break
        changes = []
        for response_id, comment in rows:
            found = categoriser.categorise(comment)
            with_categories += bool(found)
            # read_by NULL: a configured model reads it next (read_comments_with_model).
            changes.append(
                {
                    "id": response_id,
                    "categories": found,
                    "sentiment": sentiment(comment),
                    "read_by": None,
                    "read_confidence": None,
                }
            )
        # Bulk UPDATE by primary key: one executemany per batch.
        session.execute(update(NpsResponse), changes)
        done += len(rows)
        last_id = rows[-1][0]
    return {"read": done, "categorised": with_categories}


#: Below this confidence a model's reading is recorded but the lexicon's stays in force.
MIN_CONFIDENCE = 0.6


def read_comments_with_model(
    engine: Engine, assistant: Assistant, categories: Sequence[str], *, batch: int = BATCH
) -> dict[str, int]:
    """Let a model read the comments it has not read yet: categories (from the taxonomy only)
    and sentiment with a confidence. Read, ask with no transaction open, write.

    A confident reading replaces the lexicon's; an unsure one is recorded (``read_by`` =
    ``lexicon``) and the lexicon's stays; a comment the model could not read (budget spent, bad
    answer) is left for the next run. A manual correction (``categories_manual``) always wins
    where categories are read, whatever is written here.
    """
    with engine.connect() as conn:
        rows = conn.execute(
            select(NpsResponse.id, NpsResponse.comment, NpsResponse.score)
            .where(
                NpsResponse.comment.is_not(None),
                NpsResponse.categories.is_not(None),
                NpsResponse.read_by.is_(None),
            )
            .order_by(NpsResponse.id)
            .limit(batch)
        ).all()
    texts = [CommentText(r.id, r.comment, r.score) for r in rows if r.comment.strip()]
    if not texts:
        return {}
    readings = assistant.read_comments(texts, categories)
    known = set(categories)
    confident, unsure = [], []
    for response_id, reading in readings.items():
        if reading.confidence >= MIN_CONFIDENCE:
            confident.append(
                {
                    "id": response_id,
                    "categories": [c for c in reading.categories if c in known],
                    "sentiment": max(-1.0, min(1.0, reading.sentiment)),
                    "read_by": reading.model[:200],
                    "read_confidence": reading.confidence,
                }
            )
        else:
            unsure.append(
                {"id": response_id, "read_by": "lexicon", "read_confidence": reading.confidence}
            )
    with transaction(engine) as session:
        # Bulk UPDATE by primary key, one executemany per shape of row.
        for changes in (confident, unsure):
            if changes:
                session.execute(update(NpsResponse), changes)
    return {
        "read": len(texts),
        "by_model": len(confident),
        "unsure": len(unsure),
        "left": len(texts) - len(readings),
    }


class CategoryCorrection(TypedDict):
    """A response after ``feedback correct``: the automatic categories and the person's."""

    id: int
    comment: str | None
    categories: list[str] | None
    categories_manual: list[str]


class CommentLine(TypedDict):
    """A comment as ``successcrew feedback`` lists it (``categories``: those in force)."""

    id: int
    account: str
    score: int
    responded_at: str
    sentiment: float | None
    sentiment_label: str | None
    categories: list[str]
    corrected: bool
    read_by: str | None
    comment: str | None


def correct_categories(
    session: Session,
    response_id: int,
    categories: Sequence[str],
    *,
    known: Collection[str],
    actor: str,
    now: datetime,
) -> CategoryCorrection:
    """Set a response's categories by hand; later automatic runs keep them."""
    unknown = [c for c in categories if c not in known]
    if unknown:
        raise InputError(
            f"--categories: unknown {', '.join(unknown)}; expected some of {', '.join(known)} "
            "(config/feedback_categories.yaml)"
        )
    response = session.get(NpsResponse, response_id)
    if response is None:
        raise InputError(f"no NPS response with id {response_id}")
    before = (
        response.categories_manual
        if response.categories_manual is not None
        else (response.categories)
    )
    manual = list(dict.fromkeys(categories))
    response.categories_manual = manual
    audit.record(
        session,
        at=now,
        actor=actor,
        action="feedback.correct",
        subject=f"nps_response:{response_id}",
        detail={"before": before, "after": manual},
    )
    session.flush()
    return CategoryCorrection(
        id=response_id,
        comment=response.comment,
        categories=response.categories,
        categories_manual=manual,
    )


def list_comments(
    session: Session, *, since: datetime | None = None, limit: int = 50
) -> list[CommentLine]:
    """NPS answers with a comment, newest first (for ``successcrew feedback``): the response id
    that ``feedback correct`` takes, the account, score, sentiment and the categories in force
    (a person's correction wins). One query, ``limit`` rows at most."""
    query = (
        select(NpsResponse, Account.name)
        .join(Account, Account.id == NpsResponse.account_id)
        .where(NpsResponse.comment.is_not(None), NpsResponse.comment != "")
        .order_by(NpsResponse.responded_at.desc(), NpsResponse.id.desc())
        .limit(limit)
    )
    if since is not None:
        query = query.where(NpsResponse.responded_at >= since)
    return [
        CommentLine(
            id=r.id,
            account=name,
            score=r.score,
            responded_at=r.responded_at.isoformat(),
            sentiment=r.sentiment,
            sentiment_label=sentiment_label(r.sentiment) if r.sentiment is not None else None,
            categories=effective_categories(r.categories, r.categories_manual),
            corrected=r.categories_manual is not None,
            read_by=r.read_by,
            comment=r.comment,
        )
        for r, name in session.execute(query)
    ]
