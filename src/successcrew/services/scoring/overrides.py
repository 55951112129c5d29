"""Setting a manual score: one use case behind ``successcrew health override`` and the account
page's override form, so both check the same things and write the same audited row."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy.orm import Session

from successcrew.clock import start_of_day
from successcrew.errors import InputError
from successcrew.store.models import ScoreOverride
from successcrew.store.snapshots import account_by_external_id, set_override


def override_score(
    session: Session,
    external_id: str,
    *,
    score: float,
    reason: str,
    by: str,
    expires: date | None,
    now: datetime,
) -> ScoreOverride:
    """Record ``by``'s manual score for the account until the start of ``expires`` (None: until
    cleared); it applies from the next scoring run on. Bad input is an InputError saying which."""
    if not 0 <= score <= 100:
        raise InputError(f"score {score:g}: must be between 0 and 100")
    if not reason.strip() or not by.strip():
        raise InputError("the reason and who sets it must not be empty")
    expires_at = None if expires is None else start_of_day(expires)
    if expires_at is not None and expires_at <= now:
        raise InputError(f"expiry {expires}: is not in the future")
    account = account_by_external_id(session, external_id)
    if account is None:
        raise InputError(f"account {external_id!r}: no account with that external id")
    return set_override(
        session,
        account,
        score=score,
        reason=reason.strip(),
        author=by,
        expires_at=expires_at,
        now=now,
    )
