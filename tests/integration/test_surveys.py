"""Survey waves and single-use signed links on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from successcrew.definitions.playbooks import SurveySettings
from successcrew.domain.survey_tokens import (
    SurveyTokenError,
    sign_survey_token,
    verify_survey_token,
)
from successcrew.errors import ConfigError
from successcrew.services.voice import surveys
from successcrew.store import pauses
from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    Contact,
    NpsResponse,
    OutboxMessage,
    SurveyInvitation,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SECRET = "test-secret-that-is-long-enough"
BASE = "https://cs.example"


def seed(engine: Engine) -> None:
    with transaction(engine) as s:
        s.add_all(
            [
                Account(id=1, external_id="A1", name="Acme", created_at=NOW, updated_at=NOW),
                Account(
                    id=2,
                    external_id="A2",
                    name="Gone Ltd",
                    churned_at=date(2026, 5, 20),
                    created_at=NOW,
                    updated_at=NOW,
                ),
            ]
        )
        s.flush()
        people = [
            (10, 1, {}),
            (11, 1, {}),
            (12, 1, {}),  # over the cap of 2 per account
            (13, 1, {"survey_consent": False}),
            (14, 1, {"email_opt_out": True}),
            (20, 2, {}),
        ]
        for cid, aid, extra in people:
            s.add(
                Contact(
                    id=cid,
                    external_id=f"C{cid}",
                    account_id=aid,
                    email=f"p{cid}@x.example",
                    name=f"P{cid}",
                    created_at=NOW,
                    updated_at=NOW,
                    **extra,
                )
            )
        s.flush()
        # Contact 11 answered 30 days ago: not due for another 60 days.
        s.add(
            NpsResponse(
                natural_key="k11",
                account_id=1,
                contact_id=11,
                score=9,
                responded_at=NOW - timedelta(days=30),
            )
        )


def wave(engine: Engine, now: datetime = NOW, **kw: object) -> surveys.WaveResult:
    with transaction(engine) as s:
        return surveys.run_wave(
            s, settings=SurveySettings(), secret=SECRET, base_url=BASE, now=now, **kw
        )


def tokens(engine: Engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(select(OutboxMessage.payload)).scalars().all()
    return {
        p["contact_id"]: p["text"].split(f"{BASE}/survey/")[1].split()[0].split("?")[0]
        for p in rows
    }


def test_wave_respects_consent_interval_and_cap(engine: Engine) -> None:
    seed(engine)
    result = wave(engine)
    assert result.invited == {"exit": 1, "nps": 2}
    with engine.connect() as conn:
        invited = dict(
            conn.execute(select(SurveyInvitation.contact_id, SurveyInvitation.kind)).all()
        )
    assert invited == {20: "exit", 10: "nps", 12: "nps"}
    assert set(tokens(engine)) == {10, 12, 20}
    # Again the same day: nobody is due.
    assert wave(engine).invited == {}
    # 91 days later everyone consenting is due again (the exit survey is not repeated).
    later = wave(engine, NOW + timedelta(days=91))
    assert later.invited == {"nps": 2}


def test_in_app_wave_and_pause(engine: Engine) -> None:
    seed(engine)
    with transaction(engine) as s:
        pauses.hold(s, "surveys", by="lead", kind="person", reason="test", now=NOW)
    assert wave(engine).paused.startswith("surveys paused by lead")
    with transaction(engine) as s:
        pauses.lift(s, "surveys", held_by="lead", kind="person", by="lead", reason="ok", now=NOW)
    result = wave(engine, channel="in_app")
    assert result.emails == 0 and sum(result.invited.values()) == 3
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one() == 0
    # The widget asks for contact 10's token, the person answers, and nothing is left to ask.
    with transaction(engine) as s:
        token = surveys.in_app_token(s, 10, secret=SECRET, now=NOW)
        assert token is not None
        assert surveys.in_app_token(s, 10, secret=SECRET, now=NOW) == token
        assert surveys.in_app_token(s, 13, secret=SECRET, now=NOW) is None  # no consent
        surveys.record_survey_response(s, token, 10, "Great", NOW, secret=SECRET)
    with transaction(engine) as s:
        assert surveys.in_app_token(s, 10, secret=SECRET, now=NOW) is None


def test_wave_needs_a_secret(engine: Engine) -> None:
    seed(engine)
    with (
        pytest.raises(ConfigError, match="SUCCESSCREW_SURVEY_SECRET is not set"),
        transaction(engine) as s,
    ):
        surveys.run_wave(s, settings=SurveySettings(), secret=None, base_url=BASE, now=NOW)


def test_token_records_once_and_refuses_reuse_alteration_and_expiry(engine: Engine) -> None:
    seed(engine)
    wave(engine)
    token = tokens(engine)[10]
    claims = verify_survey_token(token, SECRET, NOW)
    assert (claims.contact_id, claims.account_id, claims.kind) == (10, 1, "nps")

    answered = NOW + timedelta(hours=2)
    with transaction(engine) as s:
        rid = surveys.record_survey_response(
            s, token, 3, "Too expensive for what we use", answered, secret=SECRET
        )
    with engine.connect() as conn:
        row = conn.execute(select(NpsResponse).where(NpsResponse.id == rid)).one()
        inv = conn.execute(select(SurveyInvitation).where(SurveyInvitation.contact_id == 10)).one()
    assert (row.score, row.contact_id, row.channel) == (3, 10, "email")
    assert row.sentiment is not None
    assert inv.used_at == answered and inv.response_id == rid

    with pytest.raises(SurveyTokenError) as used, transaction(engine) as s:
        surveys.record_survey_response(s, token, 9, None, answered, secret=SECRET)
    assert used.value.reason == "used"
    assert "already answered on 2026-06-01 11:00 UTC; each link can be used once" in str(used.value)

    body, _, sig = tokens(engine)[12].partition(".")
    tampered = f"{body[:-2]}{'A' if body[-2] != 'A' else 'B'}{body[-1]}.{sig}"
    with pytest.raises(SurveyTokenError, match="altered") as altered, transaction(engine) as s:
        surveys.record_survey_response(s, tampered, 9, None, answered, secret=SECRET)
    assert altered.value.reason == "altered"
    with pytest.raises(SurveyTokenError, match="expired on 2026-06-15") as expired:
        verify_survey_token(tokens(engine)[12], SECRET, NOW + timedelta(days=15))
    assert expired.value.reason == "expired"
    with pytest.raises(SurveyTokenError) as wrong_secret:
        verify_survey_token(tokens(engine)[12], "another-secret", NOW)
    assert wrong_secret.value.reason == "altered"
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(NpsResponse)).scalar_one() == 2


def test_token_round_trip_without_database() -> None:
    claims = surveys.SurveyClaims("n1", 1, 2, "exit", NOW + timedelta(days=1))
    token = sign_survey_token(claims, SECRET)
    assert verify_survey_token(token, SECRET, NOW) == claims
    with pytest.raises(SurveyTokenError) as err:
        verify_survey_token("garbage", SECRET, NOW)
    assert err.value.reason == "malformed"
