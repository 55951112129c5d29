"""The optional model's seat at the table: a protocol, a registry, and the facts it is shown.

successcrew works without a model. When one is configured (the ``llm`` extra and
``SUCCESSCREW_LLM_MODEL``), the command line builds an ``Assistant`` (``successcrew.llm``) and
``install``s it here; the deterministic code asks ``current()`` and, when there is one, uses its
brief, draft or reading in place of (or beside) the deterministic text. Core modules never import
``successcrew.llm``: they see only this protocol, so the lean install stays lean and a missing or
failing model changes nothing but the words.

An assistant never raises for a model's failure (timeout, malformed answer, budget spent): it
returns no result for that item, records the fallback, and the caller keeps its own text.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy import select

from successcrew.store.models import Account, HealthSnapshot, NpsResponse
from successcrew.store.trigger_events import explanations

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

#: Customer comments shown with an account's facts: how many, how recent, how long each.
COMMENTS_PER_ACCOUNT = 3
COMMENT_WINDOW_DAYS = 90
COMMENT_MAX_CHARS = 500


@dataclass(frozen=True)
class AccountFacts:
    """What a model may know about one account: figures and the health engine's own words.

    ``comments`` are customer-written (untrusted) and travel apart from the figures so the
    prompt can fence them as data. No e-mail addresses, no phone numbers, no owner.
    """

    account_id: int
    figures: dict[str, Any]
    comments: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (the cache key is built from this)."""
        return {"account_id": self.account_id, **self.figures, "comments": list(self.comments)}


@dataclass(frozen=True)
class Brief:
    """An account brief: why at risk, what changed, the next step, and the evidence used."""

    why: str
    changed: str
    next_step: str
    evidence: tuple[str, ...]
    model: str

    def text(self) -> str:
        """The brief as a few lines for a CRM task or a Slack card."""
        lines = [f"Why: {self.why}", f"What changed: {self.changed}", f"Next: {self.next_step}"]
        if self.evidence:
            lines.append("Evidence: " + "; ".join(self.evidence))
        return "\n".join(lines)


@dataclass(frozen=True)
class DraftRequest:
    """One e-mail to personalise: the playbook's own text and the account's facts."""

    key: str
    account: AccountFacts
    subject: str
    body: str


@dataclass(frozen=True)
class Draft:
    """A model's e-mail draft (subject and body; greeting and unsubscribe line stay ours)."""

    subject: str
    body: str
    model: str


@dataclass(frozen=True)
class CommentText:
    """A customer comment to read (untrusted text) with its score."""

    response_id: int
    text: str
    score: int


@dataclass(frozen=True)
class CommentReading:
    """A model's reading of one comment."""

    categories: tuple[str, ...]
    sentiment: float
    confidence: float
    model: str


class Assistant(Protocol):
    """What the deterministic code may ask a model for. Missing keys in a result = fall back."""

    model: str

    def account_briefs(self, accounts: Sequence[AccountFacts], *, purpose: str) -> dict[int, Brief]:
        """Briefs by account id for the accounts it could brief."""
        ...

    def email_drafts(self, requests: Sequence[DraftRequest]) -> dict[str, Draft]:
        """Drafts by request key."""
        ...

    def read_comments(
        self, comments: Sequence[CommentText], categories: Sequence[str]
    ) -> dict[int, CommentReading]:
        """Readings by response id; categories only from ``categories``."""
        ...

    def report_summary(self, figures: Mapping[str, Any]) -> str | None:
        """A few sentences over the weekly report's figures, or None."""
        ...

    def review(self, engine: Engine, *, now: datetime, crew_run_id: int | None) -> dict[str, Any]:
        """Crew mode: let the agents review the day's risks and store their proposals."""
        ...

    def finish(
        self, engine: Engine, *, now: datetime, crew_run_id: int | None, command: str
    ) -> dict[str, Any]:
        """Write what was spent (and the new cache entries); returns the usage record."""
        ...


# --- the registry ------------------------------------------------------------------------------

_lock = threading.Lock()
_current: Assistant | None = None


def install(assistant: Assistant) -> None:
    """Make ``assistant`` the one the deterministic code asks (the CLI does this)."""
    global _current
    with _lock:
        _current = assistant


def uninstall() -> None:
    """Back to no model."""
    global _current
    with _lock:
        _current = None


def current() -> Assistant | None:
    """The installed assistant, or None: then every caller uses its deterministic text."""
    return _current


# --- facts -------------------------------------------------------------------------------------


def account_facts(
    session: Session, account_ids: Sequence[int], as_of: date
) -> dict[int, AccountFacts]:
    """Facts for each account as of a scoring date, in three set-based reads.

    The same accounts and date always give the same facts, so a brief asked for twice in a run
    (the CRM task, then the chairman's card) is one model call.
    """
    ids = sorted({int(i) for i in account_ids})
    if not ids:
        return {}
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids))).all()}
    snapshots = {
        s.account_id: s
        for s in session.scalars(
            select(HealthSnapshot).where(
                HealthSnapshot.account_id.in_(ids), HealthSnapshot.as_of == as_of
            )
        ).all()
    }
    explained = explanations(session, ids, as_of)
    since = datetime.combine(as_of, time(), tzinfo=UTC) - timedelta(days=COMMENT_WINDOW_DAYS)
    comments: dict[int, list[str]] = {}
    rows = session.execute(
        select(NpsResponse.account_id, NpsResponse.score, NpsResponse.comment)
        .where(
            NpsResponse.account_id.in_(ids),
            NpsResponse.comment.is_not(None),
            NpsResponse.responded_at >= since,
        )
        .order_by(NpsResponse.account_id, NpsResponse.responded_at.desc())
    )
    for account_id, score, comment in rows:
        shown = comments.setdefault(account_id, [])
        text = (comment or "").strip()  # the query keeps only rows with a comment
        if len(shown) < COMMENTS_PER_ACCOUNT and text:
            shown.append(f"(NPS {score}) {text[:COMMENT_MAX_CHARS]}")
    out: dict[int, AccountFacts] = {}
    for account_id in ids:
        account = accounts.get(account_id)
        if account is None:
            continue
        snap = snapshots.get(account_id)
        why = explained.get(account_id) or {}
        figures = {
            "name": account.name,
            "segment": account.segment,
            "plan": account.plan,
            "arr": float(account.arr) if account.arr is not None else None,
            "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
            "as_of": as_of.isoformat(),
            "score": round(snap.score, 1) if snap is not None else None,
            "band": snap.band if snap is not None else None,
            "change_points": why.get("delta_points"),
            "compared_with": why.get("previous_as_of"),
            "explanation": why.get("summary"),
            "movers": [m["text"] for m in why.get("movers") or []],
            "notes": list(why.get("notes") or []),
        }
        out[account_id] = AccountFacts(account_id, figures, tuple(comments.get(account_id, [])))
    return out


def brief_texts(
    session: Session, account_ids: Sequence[int], as_of: date, *, purpose: str
) -> dict[int, str]:
    """The installed assistant's briefs as text, by account id; {} without a model."""
    assistant = current()
    if assistant is None or not account_ids:
        return {}
    facts = account_facts(session, account_ids, as_of)
    briefs = assistant.account_briefs(list(facts.values()), purpose=purpose)
    return {account_id: brief.text() for account_id, brief in briefs.items()}


# --- the model's pass in a run -----------------------------------------------------------------


@dataclass
class ModelPass:
    """What the model did after the run's operations (for the run summary)."""

    drafts: dict[str, int] = field(default_factory=dict)
    comments: dict[str, int] = field(default_factory=dict)
    review: dict[str, Any] = field(default_factory=dict)
    usage: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "drafts": self.drafts,
            "comments": self.comments,
            "review": self.review,
            "usage": self.usage,
        }


def model_pass(
    engine: Engine, assistant: Assistant, *, now: datetime, crew_run_id: int | None
) -> ModelPass:
    """The work that talks to the model outside any task's transaction: e-mail drafts, comment
    readings and (in crew mode) the agents' review; then the run's usage is recorded.

    Each part reads in a short transaction, asks the model with no transaction open, and writes
    in another, so a slow model never holds a lock other writers wait on.
    """
    from successcrew.definitions.feedback_categories import load_taxonomy
    from successcrew.services.model_pass.proposals import draft_emails
    from successcrew.services.voice.feedback import read_comments_with_model

    result = ModelPass()
    try:
        result.drafts = draft_emails(engine, assistant, now=now)
        result.comments = read_comments_with_model(
            engine, assistant, load_taxonomy().categoriser().names
        )
        result.review = assistant.review(engine, now=now, crew_run_id=crew_run_id)
    finally:
        # Spent is spent: the usage is recorded even when a part above failed.
        result.usage = assistant.finish(engine, now=now, crew_run_id=crew_run_id, command="run")
    return result
