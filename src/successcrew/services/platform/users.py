"""Dashboard users: adding them, changing their role, checking a password.

Passwords are hashed with Argon2 (pwdlib). Sign-in through a reverse proxy or OIDC needs a user
row too (that is where the role comes from), just without a password.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher
from sqlalchemy import select
from sqlalchemy.orm import Session

from successcrew.domain.roles import ROLES
from successcrew.errors import InputError
from successcrew.store import audit
from successcrew.store.models import User
from successcrew.store.sign_in import revoke_sessions

#: Shortest password accepted for local sign-in.
MIN_PASSWORD = 10
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


@dataclass(frozen=True)
class UserRecord:
    """A user as the rest of the app sees them (never the password hash)."""

    email: str
    name: str
    role: str
    active: bool
    has_password: bool


@lru_cache(maxsize=2)
def password_hash(cost: str = "standard") -> PasswordHash:
    """The hasher: pwdlib's recommended Argon2 parameters, or (``low``) cheap ones for tests.

    A hash made at either cost verifies under both: the parameters travel in the hash.
    """
    if cost == "low":
        return PasswordHash((Argon2Hasher(time_cost=1, memory_cost=1024, parallelism=1),))
    return PasswordHash((Argon2Hasher(),))


def normalise_email(email: str) -> str:
    """The stored form of an e-mail (trimmed, lower-case); InputError when it is not one."""
    cleaned = email.strip().lower()
    if not _EMAIL.match(cleaned) or len(cleaned) > 320:
        raise InputError(f"{email!r} is not an e-mail address")
    return cleaned


def user_record(user: User) -> UserRecord:
    """The user as the rest of the app sees them."""
    return UserRecord(user.email, user.name, user.role, user.active, user.password_hash is not None)


def add_user(
    session: Session,
    email: str,
    *,
    role: str,
    name: str | None,
    password: str | None,
    by: str,
    now: datetime,
    cost: str = "standard",
) -> UserRecord:
    """Add a user, or change an existing one's role, name and password (audited)."""
    if role not in ROLES:
        raise InputError(f"--role {role!r}: expected one of {', '.join(ROLES)}")
    address = normalise_email(email)
    if password is not None and len(password) < MIN_PASSWORD:
        raise InputError(f"the password is too short: at least {MIN_PASSWORD} characters")
    hashed = password_hash(cost).hash(password) if password is not None else None
    user = session.execute(select(User).where(User.email == address)).scalar_one_or_none()
    changed = "added" if user is None else "changed"
    if user is None:
        user = User(email=address, created_at=now, active=True)
        session.add(user)
    user.name = (name or "").strip() or user.name or address.split("@")[0]
    user.role = role
    user.active = True
    user.updated_at = now
    if hashed is not None:
        user.password_hash = hashed
    session.flush()
    if hashed is not None and changed == "changed":
        # A new password signs the user out everywhere (a stolen cookie included).
        revoke_sessions(session, now=now, why="password_changed", user_id=user.id)
    audit.record(
        session,
        at=now,
        actor=by,
        action=f"user.{changed}",
        subject=f"user:{address}",
        detail={"role": role, "password_set": hashed is not None},
    )
    return user_record(user)


def disable_user(session: Session, email: str, *, by: str, now: datetime) -> UserRecord:
    """Stop a user signing in: every session of theirs ends at once (the row stays)."""
    user = find_user_row(session, normalise_email(email))
    if user is None:
        raise InputError(f"no user {email!r} (see `successcrew users list`)")
    user.active = False
    user.updated_at = now
    revoke_sessions(session, now=now, why="disabled", user_id=user.id)
    audit.record(session, at=now, actor=by, action="user.disabled", subject=f"user:{user.email}")
    return user_record(user)


def find_user_row(session: Session, email: str) -> User | None:
    """The user row for ``email`` (any case), or None."""
    return session.execute(
        select(User).where(User.email == email.strip().lower())
    ).scalar_one_or_none()


def active_user(session: Session, email: str) -> UserRecord | None:
    """The active user ``email``, or None (unknown or disabled)."""
    user = find_user_row(session, email)
    return user_record(user) if user is not None and user.active else None


def check_password(
    session: Session, email: str, password: str, *, cost: str = "standard"
) -> UserRecord | None:
    """The user when ``password`` is theirs and they are active; None otherwise.

    An unknown e-mail costs one hash too, so the answer's timing does not tell which
    addresses have an account.
    """
    user = find_user_row(session, email)
    stored = user.password_hash if user is not None else None
    hasher = password_hash(cost)
    if stored is None:
        hasher.verify(password, _dummy_hash(cost))
        return None
    if not hasher.verify(password, stored):
        return None
    return user_record(user) if user is not None and user.active else None


def list_users(session: Session) -> list[UserRecord]:
    """Every user, by e-mail."""
    return [user_record(u) for u in session.execute(select(User).order_by(User.email)).scalars()]


@lru_cache(maxsize=2)
def _dummy_hash(cost: str) -> str:
    """A hash of a random password at ``cost``, made once (verified for unknown e-mails)."""
    import secrets

    return password_hash(cost).hash(secrets.token_hex(16))
