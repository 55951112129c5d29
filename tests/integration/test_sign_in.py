"""The dashboard's sign-in state in the database, on both engines: sessions a cookie names end
when the person signs out, is disabled or gets a new password (every copy of the cookie with
them); failed sign-ins are counted per e-mail over a sliding minute, with the wait exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, func, select

from successcrew.services.platform.sign_in import (
    begin_attempt,
    close_session,
    end_attempt,
    open_session,
    session_user,
)
from successcrew.services.platform.users import add_user, disable_user
from successcrew.store.db import transaction
from successcrew.store.models import DashboardSession, LoginFailure

T0 = datetime(2026, 12, 8, 9, 0, tzinfo=UTC)
PASSWORD = "a password long enough"


def _user(engine: Engine, email: str) -> None:
    with transaction(engine) as s:
        add_user(s, email, role="csm", name=None, password=PASSWORD, by="t", now=T0, cost="low")


def _who(engine: Engine, sid: str, at: datetime) -> str | None:
    with transaction(engine) as s:
        user = session_user(s, sid, now=at)
    return user.email if user else None


def test_sessions_end_on_sign_out_disable_and_new_password(engine: Engine) -> None:
    _user(engine, "ana@example.com")
    with transaction(engine) as s:
        for sid in ("sid-one", "sid-two", "sid-three"):
            assert open_session(s, "ana@example.com", sid, method="password", now=T0, hours=12)
    assert _who(engine, "sid-one", T0) == "ana@example.com"
    assert _who(engine, "sid-unknown", T0) is None
    # Expired after its hours, whatever the cookie says.
    assert _who(engine, "sid-one", T0 + timedelta(hours=12, seconds=1)) is None
    with transaction(engine) as s:
        close_session(s, "sid-one", now=T0)
    assert _who(engine, "sid-one", T0) is None
    assert _who(engine, "sid-two", T0) == "ana@example.com"  # other devices stay signed in
    with transaction(engine) as s:
        add_user(s, "ana@example.com", role="lead", name=None, password=None, by="t", now=T0)
    assert _who(engine, "sid-two", T0) == "ana@example.com"  # a role change keeps sessions
    with transaction(engine) as s:
        add_user(
            s,
            "ana@example.com",
            role="lead",
            name=None,
            password="a brand new password",
            by="t",
            now=T0,
            cost="low",
        )
    assert _who(engine, "sid-two", T0) is None and _who(engine, "sid-three", T0) is None
    with transaction(engine) as s:
        assert open_session(s, "ana@example.com", "sid-four", method="oidc", now=T0, hours=12)
        disable_user(s, "ana@example.com", by="t", now=T0)
        assert not open_session(s, "ana@example.com", "sid-five", method="oidc", now=T0, hours=12)
    assert _who(engine, "sid-four", T0) is None
    with engine.connect() as conn:
        whys = conn.execute(
            select(DashboardSession.revoked_why, func.count())
            .group_by(DashboardSession.revoked_why)
            .order_by(DashboardSession.revoked_why)
        ).all()
    assert [tuple(w) for w in whys] == [
        ("disabled", 1),
        ("password_changed", 2),
        ("signed_out", 1),
    ]


def test_five_failures_in_any_minute_then_the_wait_is_what_is_left(engine: Engine) -> None:
    def attempt(at: datetime, *, ok: bool = False, email: str = "bo@example.com") -> float | None:
        result = begin_attempt(engine, email, "203.0.113.9", now=at, per_minute=5)
        if not result.allowed:
            return result.wait_seconds
        end_attempt(engine, result, succeeded=ok)
        return None

    for i in range(5):
        assert attempt(T0 + timedelta(seconds=i)) is None
    assert attempt(T0 + timedelta(seconds=30)) == 30.0  # until the first failure is a minute old
    assert attempt(T0 + timedelta(seconds=30), ok=True) == 30.0  # the right password too
    assert attempt(T0 + timedelta(seconds=59.5)) == 0.5
    # The first failure left the window: one more guess, then wait for the second to leave.
    assert attempt(T0 + timedelta(seconds=60.5)) is None
    assert attempt(T0 + timedelta(seconds=60.6)) == 0.4
    # A success spends nothing; another e-mail is counted on its own.
    assert attempt(T0 + timedelta(seconds=61.5), ok=True) is None
    assert attempt(T0 + timedelta(seconds=61.5), email="cy@example.com") is None
    with engine.connect() as conn:
        # Refused attempts and successes are not kept, nor failures out of the window: four of
        # bo's and cy's one, each counted for the e-mail and for the client address.
        counts = dict(
            conn.execute(
                select(LoginFailure.scope, func.count()).group_by(LoginFailure.scope)
            ).all()
        )
    assert counts == {"email": 5, "client": 5}
