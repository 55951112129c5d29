"""The dashboard's sign-in on the server side: sessions, and the limit on failed passwords.

**Sessions.** The cookie is signed and names a random session id; the session itself is a row
(``dashboard_sessions``), checked on every request. Signing out ends that session; disabling a
user or giving them a new password ends all of theirs. A cookie copied before any of these stops
working at the next request, however long it has left.

**Failed sign-ins.** At most ``per_minute`` failed password sign-ins per e-mail in any 60
seconds, and ten times that per client address (an office shares one). Once the limit is
reached, every sign-in for that e-mail (or from that address) is refused, the right password
included, until the oldest of those failures is 60 seconds old. The failures are rows every
``serve`` worker reads, so the limit is the same with one worker or eight.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from successcrew.services.platform.users import UserRecord, find_user_row, user_record
from successcrew.store import sign_in as rows
from successcrew.store.db import transaction

#: The window failed sign-ins are counted over.
WINDOW = timedelta(seconds=60)
#: A client address may fail this many times the per-e-mail allowance.
CLIENT_FACTOR = 10
#: How long an expired session's row is kept (then forgotten at the next sign-in).
EXPIRED_KEPT = timedelta(days=1)


def sid_hash(sid: str) -> str:
    """What is stored of a session id: its SHA-256 (hex)."""
    return hashlib.sha256(sid.encode("utf-8", "replace")).hexdigest()


def open_session(
    session: Session, email: str, sid: str, *, method: str, now: datetime, hours: int
) -> bool:
    """Record the sign-in ``sid`` of the active user ``email`` (False: no such active user)."""
    user = find_user_row(session, email)
    if user is None or not user.active:
        return False
    rows.purge_sessions(session, before=now - EXPIRED_KEPT)
    rows.add_session(
        session,
        sid_hash=sid_hash(sid),
        user_id=user.id,
        method=method,
        now=now,
        expires_at=now + timedelta(hours=hours),
    )
    return True


def session_user(session: Session, sid: str, *, now: datetime) -> UserRecord | None:
    """The user signed in as ``sid`` while the session is live and the user active; else None."""
    user = rows.live_session_user(session, sid_hash(sid), now=now)
    return user_record(user) if user is not None else None


def close_session(session: Session, sid: str, *, now: datetime) -> None:
    """Sign out: the session ``sid`` ends (every copy of its cookie with it)."""
    rows.revoke_sessions(session, now=now, why="signed_out", sid_hash=sid_hash(sid))


def close_user_sessions(session: Session, user_id: int, *, now: datetime, why: str) -> int:
    """End every live session of a user (disabled, new password); how many ended."""
    return rows.revoke_sessions(session, now=now, why=why, user_id=user_id)


@dataclass(frozen=True)
class LoginAttempt:
    """A password sign-in let through (its rows count as failures until it succeeds), or
    refused with the seconds until one would be let through."""

    allowed: bool
    wait_seconds: float = 0.0
    ids: tuple[int, ...] = ()


def _keys(email: str, client: str) -> list[tuple[str, str]]:
    return [
        ("email", hashlib.sha256(b"email:" + email.encode("utf-8", "replace")).hexdigest()),
        ("client", hashlib.sha256(b"client:" + client.encode("utf-8", "replace")).hexdigest()),
    ]


def begin_attempt(
    engine: Engine, email: str, client: str, *, now: datetime, per_minute: int
) -> LoginAttempt:
    """Count a password sign-in for ``email`` from ``client`` before the password is checked.

    The attempt is written (and committed) first and counted after: of two attempts racing in
    two workers, the one that counts last sees both, so the limit is never passed by racing.
    A refused attempt is removed again (waiting out the limit is not made longer by trying).
    """
    keys = _keys(email, client)
    with transaction(engine) as session:
        rows.purge_failures(session, before=now - WINDOW)
        ids = rows.add_failures(session, keys, now=now)
    refused = False
    wait = 0.0
    with transaction(engine) as session:
        for (scope, key), limit in zip(keys, (per_minute, per_minute * CLIENT_FACTOR), strict=True):
            earlier = rows.failures_since(session, scope, key, since=now - WINDOW, leave_out=ids)
            if len(earlier) >= limit:
                refused = True
                # Let through again once all but limit - 1 of them are out of the window.
                freed = earlier[len(earlier) - limit] + WINDOW
                wait = max(wait, (freed - now).total_seconds())
        if refused:
            rows.delete_failures(session, ids)
            return LoginAttempt(False, wait)
    return LoginAttempt(True, 0.0, tuple(ids))


def end_attempt(engine: Engine, attempt: LoginAttempt, *, succeeded: bool) -> None:
    """A successful sign-in spends nothing; a failed one stays counted for the window."""
    if succeeded and attempt.ids:
        with transaction(engine) as session:
            rows.delete_failures(session, attempt.ids)
