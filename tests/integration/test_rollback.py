"""Rollback rules end to end: crossing the threshold pauses, the real dispatcher holds the next send
(to a local Slack stand-in), and ``successcrew resume`` lets it go out. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select

from successcrew.integrations.dispatcher import dispatch
from successcrew.integrations.http import HttpPolicy
from successcrew.settings import Settings
from successcrew.store.component_checks import record_check
from successcrew.store.db import transaction
from successcrew.store.models import AuditLog, Escalation, OutboxMessage
from successcrew.store.outbox import enqueue
from successcrew.store.pauses import is_paused
from tests.clirunner import run_cli
from tests.integration.test_triggers import (
    NOW,
    THRESHOLDS,
    TODAY,
    _answers,
    add_accounts,
    evaluate,
    snapshot,
    sync,
)


@pytest.fixture
def slack(server: HTTPServer) -> HTTPServer:
    """A Slack Web API stand-in that accepts every post."""
    server.expect_request("/chat.postMessage", method="POST").respond_with_json(
        {"ok": True, "channel": "C0CS", "ts": "1700000000.000100"}
    )
    return server


def _send(engine: Engine, server: HTTPServer, policy: HttpPolicy, now: datetime) -> None:
    settings = Settings(slack_token="xoxb-test", slack_api_url=server.url_for("/").rstrip("/"))
    dispatch(engine, settings, THRESHOLDS, now, policy=policy)


def _message(engine: Engine, key: str) -> OutboxMessage:
    with transaction(engine) as session:
        row = session.scalar(select(OutboxMessage).where(OutboxMessage.idempotency_key == key))
        assert row is not None
        return row


def _posts(server: HTTPServer) -> int:
    return sum(1 for request, _ in server.log if request.path.endswith("chat.postMessage"))


def _team_message(engine: Engine, key: str, **payload: str) -> None:
    with transaction(engine) as session:
        enqueue(session, key=key, channel="slack", payload={"title": "hello", **payload}, now=NOW)


def _crm_check(engine: Engine, at: datetime, failed: int) -> None:
    with transaction(engine) as session:
        record_check(
            session,
            "crm_sync",
            now=at,
            ok=True,
            detail={"attempted": 1000, "failed": failed, "error_rate_pct": failed / 10},
        )


@pytest.mark.parametrize("probe", [{"hubspot": "token valid"}, None])
def test_a_crm_the_sync_could_not_reach_pauses_automation_whichever_check_landed_last(
    engine: Engine, probe: dict[str, str] | None
) -> None:
    sync(engine)
    with transaction(engine) as session:
        detail = {"attempted": 1, "failed": 1, "error_rate_pct": 100.0, "unreachable": ["hubspot"]}
        record_check(session, "crm_sync", now=NOW, ok=False, detail=detail)
        # The hourly probe checks the same component at the same moment, in parallel.
        record_check(session, "crm_sync", now=NOW, ok=probe is not None, detail=probe)
    (change,) = evaluate(engine).rollbacks
    assert (change["rule"], change["scope"]) == ("crm_sync_error_rate", "automation")
    assert change["reason"].startswith(
        "CRM sync error rate 100.0 % > 5 % (the sync could not reach the CRM (hubspot)): "
        "automation paused"
    )


def test_crm_sync_error_rate_above_5_percent_pauses_automation_until_resumed(
    engine: Engine,
    env: dict[str, str],
    slack: HTTPServer,
    fast_policy: HttpPolicy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sync(engine)
    _crm_check(engine, NOW - timedelta(hours=1), failed=50)  # exactly 5 %: no pause
    assert evaluate(engine).rollbacks == []
    _crm_check(engine, NOW + timedelta(minutes=30), failed=51)  # 5.1 %
    summary = evaluate(engine, NOW + timedelta(hours=1))
    assert [(r["rule"], r["scope"], r["change"]) for r in summary.rollbacks] == [
        ("crm_sync_error_rate", "automation", "set")
    ]
    with transaction(engine) as session:
        audit = session.scalars(select(AuditLog).where(AuditLog.action == "pause")).one()
    assert audit.actor == "crm_sync_error_rate" and audit.subject == "automation"
    assert "5.1 % > 5 %" in audit.detail["reason"] and "verify" in audit.detail["reason"]

    _team_message(engine, "team:1")
    _send(engine, slack, fast_policy, NOW + timedelta(hours=1))
    held = _message(engine, "team:1")
    assert held.status == "held" and held.last_error.startswith("paused: automation")
    assert _posts(slack) == 0

    resumed = run_cli(
        capsys,
        "resume",
        "automation",
        "--rule",
        "crm_sync_error_rate",
        "--reason",
        "CRM data checked",
        "--by",
        "al",
    )
    assert resumed.code == 0, resumed.err
    # The same evidence again does not undo the person's decision ...
    assert evaluate(engine, NOW + timedelta(hours=2)).rollbacks == []
    _send(engine, slack, fast_policy, NOW + timedelta(hours=2))
    assert _message(engine, "team:1").status == "delivered"
    assert _posts(slack) == 1


def test_health_calculation_failure_switches_to_manual_scores_and_holds_interventions(
    engine: Engine,
    env: dict[str, str],
    slack: HTTPServer,
    fast_policy: HttpPolicy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{"arr": 250000}])
    snapshot(engine, acct, TODAY, 20.0)
    with transaction(engine) as session:
        record_check(
            session,
            "health_scoring",
            now=NOW - timedelta(minutes=5),
            ok=False,
            error="division by zero",
        )
    summary = evaluate(engine)
    assert [(r["scope"], r["change"]) for r in summary.rollbacks] == [("scoring", "set")]
    with transaction(engine) as session:
        flag = is_paused(session, "scoring")
        assert flag is not None and "division by zero" in (flag.reason or "")

    # The high-value intervention waits while scores are manual.
    (notice,) = [m for m in _all(engine) if m.idempotency_key.endswith(":chairman_notice")]
    _send(engine, slack, fast_policy, NOW)
    assert _message(engine, notice.idempotency_key).last_error.startswith("paused: scoring")
    assert _posts(slack) == 0

    assert (
        run_cli(
            capsys,
            "resume",
            "scoring",
            "--rule",
            "health_calculation_failure",
            "--reason",
            "scores checked by hand",
        ).code
        == 0
    )
    _send(engine, slack, fast_policy, NOW + timedelta(hours=1))
    assert _message(engine, notice.idempotency_key).status == "delivered"

    # A failure after the resume (which the CLI stamps with the wall clock) pauses again; the
    # next run that scores lifts the pause by itself (a probe that merely loads the model does
    # not: it computed no score).
    after = datetime.now(UTC) + timedelta(days=1)
    with transaction(engine) as session:
        record_check(session, "health_scoring", now=after, ok=False, error="x")
    assert evaluate(engine, after).rollbacks[0]["change"] == "set"
    with transaction(engine) as session:
        record_check(session, "health_scoring", now=after + timedelta(minutes=30), ok=True)
    assert evaluate(engine, after + timedelta(minutes=30)).rollbacks == []
    with transaction(engine) as session:
        record_check(
            session,
            "health_scoring",
            now=after + timedelta(hours=1),
            ok=True,
            detail={"as_of": (after + timedelta(hours=1)).date().isoformat(), "scored": 1},
        )
    cleared = evaluate(engine, after + timedelta(hours=1)).rollbacks
    assert [(r["scope"], r["change"]) for r in cleared] == [("scoring", "clear")]


def _all(engine: Engine) -> list[OutboxMessage]:
    with transaction(engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def test_nps_drop_over_10_points_in_30_days_escalates_and_pauses_campaigns(
    engine: Engine,
    env: dict[str, str],
    slack: HTTPServer,
    fast_policy: HttpPolicy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    # 30-60 days ago: NPS +50; the last 30 days: +40 (a drop of exactly 10: nothing).
    _answers(engine, acct, [10] * 60 + [8] * 30 + [2] * 10, TODAY - timedelta(days=40))
    _answers(engine, acct, [10] * 50 + [8] * 40 + [2] * 10, TODAY - timedelta(days=5))
    assert evaluate(engine).rollbacks == []

    # Twenty more detractors: +16.7, a fall of 33.3 points that 100 and 120 answers cannot
    # explain by chance (up to about 19).
    _answers(engine, acct, [2] * 20, TODAY - timedelta(days=1))
    later = NOW + timedelta(hours=1)
    summary = evaluate(engine, later)
    (change,) = summary.rollbacks
    assert (change["rule"], change["scope"], change["change"]) == ("nps_drop", "campaigns", "set")
    with transaction(engine) as session:
        escalation = session.scalars(select(Escalation)).one()
    assert escalation.kind == "emergency_review" and escalation.id == change["escalation_id"]
    review_key = f"ROLLBACK:nps_drop:escalation:{escalation.id}:slack"

    _team_message(engine, "campaign:1", pause_scope="campaigns")
    _send(engine, slack, fast_policy, later)
    assert _message(engine, review_key).status == "delivered"  # the chairman hears at once
    assert _message(engine, "campaign:1").last_error.startswith("paused: campaigns")
    assert evaluate(engine, later).rollbacks == []  # no second escalation

    assert (
        run_cli(capsys, "resume", "campaigns", "--rule", "nps_drop", "--reason", "reviewed").code
        == 0
    )
    _send(engine, slack, fast_policy, later + timedelta(hours=1))
    assert _message(engine, "campaign:1").status == "delivered"


@pytest.mark.parametrize("answers", [10, 40])
def test_a_30_point_fall_that_chance_can_explain_pauses_nothing(
    engine: Engine, answers: int
) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    k = answers // 10
    _answers(engine, acct, [10] * 6 * k + [8] * 3 * k + [2] * k, TODAY - timedelta(days=40))
    _answers(engine, acct, [10] * 5 * k + [8] * 2 * k + [2] * 3 * k, TODAY - timedelta(days=1))
    # +50 -> +20: with 10 answers a window it is not judged (fewer than 30); with 40 a window a
    # fall of up to 34 points can be chance.
    assert evaluate(engine).rollbacks == []
    with transaction(engine) as session:
        assert not is_paused(session, "campaigns") and not session.scalars(select(Escalation)).all()


def test_a_person_resuming_their_own_pause_leaves_the_nps_emergency_review_hold(
    engine: Engine,
    env: dict[str, str],
    slack: HTTPServer,
    fast_policy: HttpPolicy,
    capsys: pytest.CaptureFixture[str],
) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    _answers(engine, acct, [10] * 60 + [8] * 30 + [2] * 10, TODAY - timedelta(days=40))  # +50
    _answers(engine, acct, [10] * 50 + [8] * 20 + [2] * 30, TODAY - timedelta(days=1))  # +20
    assert [r["rule"] for r in evaluate(engine).rollbacks] == ["nps_drop"]

    # Kim pauses campaigns for her own reason: a second hold beside the rule's.
    paused = run_cli(capsys, "pause", "campaigns", "--by", "kim", "--reason", "pricing review")
    assert paused.code == 0, paused.err
    assert "campaigns is paused by 2 hold(s):" in paused.out
    _team_message(engine, "campaign:1", pause_scope="campaigns")

    # Her resume lifts her hold only, and says what still holds the scope and how to lift it.
    mine = run_cli(capsys, "resume", "campaigns", "--by", "kim", "--reason", "prices fixed")
    assert mine.code == 0, mine.err
    lines = mine.out.splitlines()
    assert lines[0] == "campaigns: the hold of kim lifted by kim: prices fixed"
    assert lines[1] == "campaigns is paused by 1 hold(s):"
    assert lines[2].startswith("  held by rule nps_drop since ") and "NPS dropped 30.0" in lines[2]
    assert lines[2].endswith("(to lift: successcrew resume campaigns --rule nps_drop --reason ...)")
    _send(engine, slack, fast_policy, NOW + timedelta(hours=1))
    assert _message(engine, "campaign:1").status == "held"
    assert _posts(slack) == 1  # the chairman's emergency-review message only
    # The rule's evidence has not changed: it does not add a hold again, nor escalate again.
    assert evaluate(engine, NOW + timedelta(hours=1)).rollbacks == []

    typo = run_cli(capsys, "resume", "campaigns", "--rule", "nps_dorp", "--reason", "x")
    assert typo.code == 2 and "rules holding it now: nps_drop" in typo.err
    review = run_cli(
        capsys, "resume", "campaigns", "--rule", "nps_drop", "--by", "kim", "--reason", "reviewed"
    )
    assert review.code == 0, review.err
    assert review.out.splitlines() == [
        "campaigns: the hold of rule nps_drop lifted by kim: reviewed",
        "campaigns is not paused: held messages go out on the next dispatch",
    ]
    _send(engine, slack, fast_policy, NOW + timedelta(hours=2))
    assert _message(engine, "campaign:1").status == "delivered"
    with transaction(engine) as session:
        resumes = session.scalars(
            select(AuditLog).where(AuditLog.action == "resume").order_by(AuditLog.id)
        ).all()
    assert [(a.actor, a.detail["held_by"]) for a in resumes] == [
        ("kim", "kim"),
        ("kim", "nps_drop"),
    ]
