"""RETENTION-001..004 evaluated from the database on SQLite and PostgreSQL: boundaries,
deduplication, re-firing, definitions disabled or tuned in the database, and the sync from YAML."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select, update

from successcrew.definitions.thresholds import load_thresholds
from successcrew.services.triggers.evaluation import (
    TriggerSummary,
    evaluate_triggers,
    sync_trigger_definitions,
)
from successcrew.settings import Settings
from successcrew.store.component_checks import record_check
from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    AccountSource,
    AuditLog,
    Escalation,
    HealthSnapshot,
    NpsResponse,
    OutboxMessage,
    PauseHold,
    TriggerDefinition,
    TriggerEvent,
)
from successcrew.store.pauses import open_holds

THRESHOLDS = load_thresholds()
NOW = datetime(2026, 11, 20, 7, tzinfo=UTC)
TODAY = NOW.date()
REPO = Path(__file__).resolve().parents[2]


# --- helpers -----------------------------------------------------------------------------------


def sync(engine: Engine, now: datetime = NOW) -> str:
    with transaction(engine) as session:
        return sync_trigger_definitions(session, now)


def evaluate(engine: Engine, now: datetime = NOW) -> TriggerSummary:
    return evaluate_triggers(engine, THRESHOLDS, now, settings=Settings(slack_token=None))


def result(summary: TriggerSummary, code: str) -> Any:
    return next(t for t in summary.triggers if t.code == code)


def add_accounts(engine: Engine, rows: list[dict[str, Any]]) -> list[int]:
    base = {"created_at": NOW, "updated_at": NOW}
    with transaction(engine) as session:
        start = session.scalar(select(func.coalesce(func.max(Account.id), 0)))
        session.execute(
            insert(Account),
            [
                {"external_id": f"acct-{start + i}", "name": f"Account {start + i}", **base, **r}
                for i, r in enumerate(rows, 1)
            ],
        )
        return list(
            session.scalars(select(Account.id).where(Account.id > start).order_by(Account.id))
        )


def link_crm(engine: Engine, account_id: int) -> None:
    with transaction(engine) as session:
        session.execute(
            insert(AccountSource).values(
                account_id=account_id, source="hubspot", source_id=f"hs-{account_id}"
            )
        )


def snapshot(engine: Engine, account_id: int, as_of: date, score: float) -> None:
    band = THRESHOLDS.health_bands.band_of(score)
    with transaction(engine) as session:
        session.execute(
            insert(HealthSnapshot).values(
                account_id=account_id,
                as_of=as_of,
                score=score,
                computed_score=score,
                band=band,
                components={
                    "logins": {"label": "logins", "kind": "x", "raw": score, "contribution": score}
                },
                missing_components=[],
                model_version="test-1",
                created_at=NOW,
            )
        )


def events(engine: Engine, code: str) -> list[TriggerEvent]:
    with transaction(engine) as session:
        return list(
            session.scalars(
                select(TriggerEvent).where(TriggerEvent.code == code).order_by(TriggerEvent.id)
            )
        )


def outbox(engine: Engine) -> list[OutboxMessage]:
    with transaction(engine) as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))


def edit_definition(engine: Engine, code: str, **values: Any) -> None:
    with transaction(engine) as session:
        session.execute(
            update(TriggerDefinition).where(TriggerDefinition.code == code).values(**values)
        )


# --- sync --------------------------------------------------------------------------------------


def test_sync_versions_by_content_and_keeps_operator_edits(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(REPO / "triggers", tmp_path / "triggers")
    shutil.copytree(REPO / "config", tmp_path / "config")
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(tmp_path))
    assert "RETENTION-001 v1 created" in sync(engine)
    assert "RETENTION-001 v1 unchanged" in sync(engine)

    # An operator disables the trigger and re-tunes it during an incident: init leaves that alone.
    edit_definition(engine, "RETENTION-001", enabled=False, threshold="35")
    (tmp_path / "triggers" / "retention-004.yaml").write_text(
        (tmp_path / "triggers" / "retention-004.yaml").read_text() + "# a comment only\n"
    )
    line = sync(engine)
    assert "RETENTION-001 v1 unchanged" in line and "RETENTION-004 v1 unchanged" in line
    with transaction(engine) as session:
        row = session.get(TriggerDefinition, "RETENTION-001")
        assert row is not None and row.enabled is False and row.threshold == "35"

    # A change of the YAML itself wins and bumps the version.
    path = tmp_path / "triggers" / "retention-001.yaml"
    path.write_text(path.read_text().replace("drop_points: 20", "drop_points: 25"))
    assert "RETENTION-001 v2 updated" in sync(engine)
    with transaction(engine) as session:
        row = session.get(TriggerDefinition, "RETENTION-001")
        assert row is not None
        assert (row.enabled, row.threshold, row.version) == (True, "health_bands.critical.max", 2)
        assert row.definition["params"]["drop_points"] == 25
        audited = session.scalars(
            select(AuditLog.detail).where(AuditLog.action == "trigger_definition_synced")
        ).all()
    assert audited == [
        {"result": "updated", "version": 2, "replaced": {"enabled": False, "threshold": "35"}}
    ]


# --- RETENTION-001 -----------------------------------------------------------------------------


def test_r001_fires_below_40_not_at_40_once_per_episode(engine: Engine) -> None:
    sync(engine)
    at_40, below = add_accounts(engine, [{"arr": 5000}, {"arr": 5000}])
    link_crm(engine, below)
    for acct, score in ((at_40, 40.0), (below, 39.99)):
        snapshot(engine, acct, TODAY - timedelta(days=7), 45.0)
        snapshot(engine, acct, TODAY, score)

    summary = evaluate(engine)
    fired = events(engine, "RETENTION-001")
    assert [(e.account_id, e.value, e.threshold, e.status) for e in fired] == [
        (below, 39.99, 40.0, "open")
    ]
    event = fired[0]
    assert event.definition_version == 1
    assert event.evidence["explanation"]["summary"].startswith("40.0 (critical), -5.0 points")
    assert event.evidence["requests"] == [{"action": "playbook_enrolment", "playbook": "critical"}]
    messages = outbox(engine)
    # Not high-value: a CRM task for the owner, no chairman notice.
    assert [(m.idempotency_key, m.channel, m.trigger_event_id) for m in messages] == [
        (f"RETENTION-001:acct:{below}:event:{event.id}:crm_task", "crm_task", event.id)
    ]
    assert messages[0].payload["account_source_id"] == f"hs-{below}"
    assert result(summary, "RETENTION-001").fired == 1

    # The same now again, and an hour later: no new event, no new outbox row.
    for later in (NOW, NOW + timedelta(hours=1)):
        again = evaluate(engine, later)
        assert result(again, "RETENTION-001").fired == 0
        assert len(events(engine, "RETENTION-001")) == 1
        assert len(outbox(engine)) == 1


def test_r001_resolves_when_cleared_and_fires_again(engine: Engine) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    snapshot(engine, acct, TODAY, 30.0)
    evaluate(engine)
    snapshot(engine, acct, TODAY + timedelta(days=1), 55.0)
    cleared = evaluate(engine, NOW + timedelta(days=1))
    assert result(cleared, "RETENTION-001").resolved == 1
    snapshot(engine, acct, TODAY + timedelta(days=2), 35.0)
    evaluate(engine, NOW + timedelta(days=2))
    got = [(e.status, e.value) for e in events(engine, "RETENTION-001")]
    assert got == [("resolved", 30.0), ("open", 35.0)]


def test_r001_drop_more_than_n_points_within_m_days(engine: Engine) -> None:
    sync(engine)
    fell_21, fell_20 = add_accounts(engine, [{}, {}])
    for acct, now_score in ((fell_21, 59.0), (fell_20, 60.0)):
        snapshot(engine, acct, TODAY - timedelta(days=10), 80.0)
        snapshot(engine, acct, TODAY, now_score)
    evaluate(engine)
    (event,) = events(engine, "RETENTION-001")
    assert event.account_id == fell_21
    assert event.evidence["reasons"] == ["dropped 21.00 points within 14 days"]
    assert event.evidence["skipped"] == ["crm_task: the account is not linked to a CRM"]
    assert outbox(engine) == []


def test_r001_chairman_notice_for_high_value_accounts_only(engine: Engine) -> None:
    sync(engine)
    big, small = add_accounts(engine, [{"arr": 100000}, {"arr": 99999.99}])
    for acct in (big, small):
        snapshot(engine, acct, TODAY, 20.0)
    evaluate(engine)
    notices = [m for m in outbox(engine) if m.idempotency_key.endswith(":chairman_notice")]
    assert [m.account_id for m in notices] == [big]
    assert notices[0].payload["channel"] == "#chairman"


def test_r001_disabled_or_tuned_in_the_database_is_honoured(engine: Engine) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    snapshot(engine, acct, TODAY, 35.0)
    edit_definition(engine, "RETENTION-001", enabled=False)
    summary = evaluate(engine)
    assert result(summary, "RETENTION-001").status == "disabled"
    assert events(engine, "RETENTION-001") == []

    edit_definition(engine, "RETENTION-001", enabled=True, threshold="30")
    summary = evaluate(engine)
    assert result(summary, "RETENTION-001").threshold == 30
    assert events(engine, "RETENTION-001") == []

    edit_definition(engine, "RETENTION-001", threshold="health_bands.nope")
    summary = evaluate(engine)
    assert result(summary, "RETENTION-001").status == "error"
    assert "health_bands.nope" in (result(summary, "RETENTION-001").detail or "")
    assert summary.failed and result(summary, "RETENTION-004").status == "evaluated"


# --- RETENTION-002 -----------------------------------------------------------------------------


def _portfolio(engine: Engine, total: int, churned_in_october: int) -> None:
    rows = [{"churned_at": date(2026, 10, 15)} for _ in range(churned_in_october)]
    rows += [{} for _ in range(total - churned_in_october)]
    add_accounts(engine, rows)


def test_r002_85_percent_does_not_fire(engine: Engine) -> None:
    sync(engine)
    _portfolio(engine, 1000, 150)
    summary = evaluate(engine)
    assert result(summary, "RETENTION-002").value == pytest.approx(85.0)
    assert events(engine, "RETENTION-002") == []


def test_r002_84_9_percent_fires_once_resolves_and_fires_again(engine: Engine) -> None:
    sync(engine)
    _portfolio(engine, 1000, 151)
    evaluate(engine)
    evaluate(engine)
    (event,) = events(engine, "RETENTION-002")
    assert event.subject == "portfolio" and event.value == pytest.approx(84.9)
    assert event.evidence["requests"] == [{"action": "retarget_cohort", "cohort": "at_risk"}]
    keys = [m.idempotency_key for m in outbox(engine)]
    assert keys == [f"RETENTION-002:portfolio:event:{event.id}:team_notice"]

    # November keeps everyone (100 %): the episode resolves.
    cleared = evaluate(engine, datetime(2026, 12, 5, 7, tzinfo=UTC))
    assert result(cleared, "RETENTION-002").resolved == 1
    # December loses 200 of the 849 left (76.4 %): a new episode.
    with transaction(engine) as session:
        ids = session.scalars(
            select(Account.id).where(Account.churned_at.is_(None)).order_by(Account.id).limit(200)
        ).all()
        session.execute(
            update(Account).where(Account.id.in_(ids)).values(churned_at=date(2026, 12, 10))
        )
    evaluate(engine, datetime(2027, 1, 5, 7, tzinfo=UTC))
    assert [e.status for e in events(engine, "RETENTION-002")] == ["resolved", "open"]
    assert len(outbox(engine)) == 2


def test_r002_decline_alone_fires_and_disabled_fires_nothing(engine: Engine) -> None:
    sync(engine)
    _portfolio(engine, 1000, 151)
    edit_definition(engine, "RETENTION-002", enabled=False)
    assert result(evaluate(engine), "RETENTION-002").status == "disabled"
    assert events(engine, "RETENTION-002") == []

    # Tuned in the database below the value: the month-over-month decline (100 % -> 84.9 %,
    # a 15.1 % relative fall, more than 15 %) fires on its own.
    edit_definition(engine, "RETENTION-002", enabled=True, threshold="50")
    evaluate(engine)
    (event,) = events(engine, "RETENTION-002")
    assert event.threshold == 50
    assert event.evidence["reasons"] == [
        "month-over-month change -15.10 % is a decline of more than 15 %"
    ]


# --- RETENTION-003 -----------------------------------------------------------------------------


def _answers(engine: Engine, account_id: int, scores: list[int], day: date) -> None:
    with transaction(engine) as session:
        start = session.scalar(select(func.count()).select_from(NpsResponse))
        session.execute(
            insert(NpsResponse),
            [
                {
                    "natural_key": f"k{start + i}",
                    "account_id": account_id,
                    "score": s,
                    "responded_at": datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
                }
                for i, s in enumerate(scores)
            ],
        )


def test_r003_nps_zero_does_not_fire_below_zero_escalates_once(engine: Engine) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    _answers(engine, acct, [10] * 5 + [3] * 5, TODAY - timedelta(days=5))
    summary = evaluate(engine)
    assert result(summary, "RETENTION-003").value == 0
    assert events(engine, "RETENTION-003") == []

    _answers(engine, acct, [8], TODAY - timedelta(days=1))  # a passive: NPS stays 0
    _answers(engine, acct, [2], TODAY)  # one more detractor: NPS below zero
    evaluate(engine)
    evaluate(engine)
    (event,) = events(engine, "RETENTION-003")
    assert event.value < 0
    with transaction(engine) as session:
        escalations = session.scalars(select(Escalation)).all()
    assert [(e.kind, e.trigger_event_id) for e in escalations] == [("trigger", event.id)]
    # The escalation is the only thing raised: its flow sends the chairman one Block Kit card,
    # so the trigger queues no plain message of its own.
    assert [m for m in outbox(engine) if m.idempotency_key.startswith("RETENTION-003")] == []

    # The negative answers leave the 90-day window: the episode resolves.
    summary = evaluate(engine, NOW + timedelta(days=100))
    assert result(summary, "RETENTION-003").status == "metric not available"
    assert events(engine, "RETENTION-003")[0].status == "open"  # no data is not "all clear"
    _answers(engine, acct, [10] * 10, TODAY + timedelta(days=100))
    evaluate(engine, NOW + timedelta(days=100))
    assert events(engine, "RETENTION-003")[0].status == "resolved"

    # Detractors again: a new episode and a new escalation.
    _answers(engine, acct, [0] * 11, TODAY + timedelta(days=101))
    evaluate(engine, NOW + timedelta(days=101))
    assert [e.status for e in events(engine, "RETENTION-003")] == ["resolved", "open"]
    with transaction(engine) as session:
        assert len(session.scalars(select(Escalation)).all()) == 2


def test_r003_disabled_in_the_database_fires_nothing(engine: Engine) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    _answers(engine, acct, [0] * 10, TODAY)
    edit_definition(engine, "RETENTION-003", enabled=False)
    evaluate(engine)
    assert events(engine, "RETENTION-003") == []


# --- RETENTION-004 -----------------------------------------------------------------------------


def _checks(engine: Engine, component: str, oks: list[bool], start: datetime) -> datetime:
    at = start
    with transaction(engine) as session:
        for ok in oks:
            record_check(session, component, now=at, ok=ok, error=None if ok else "boom")
            at += timedelta(hours=1)
    return at


def test_r004_three_failures_in_a_row_alert_and_pause_until_recovered(engine: Engine) -> None:
    sync(engine)
    t = _checks(engine, "campaign_dispatch", [True, False, True, False, False], NOW)
    assert result(evaluate(engine, t), "RETENTION-004").fired == 0
    t = _checks(engine, "campaign_dispatch", [False], t)
    evaluate(engine, t)
    evaluate(engine, t)
    (event,) = events(engine, "RETENTION-004")
    assert (event.subject, event.value, event.threshold) == ("component:campaign_dispatch", 3, 3)
    assert [m.idempotency_key for m in outbox(engine)] == [
        f"RETENTION-004:component:campaign_dispatch:event:{event.id}:ops_alert"
    ]
    with transaction(engine) as session:
        (hold,) = open_holds(session, "campaigns")
        assert (hold.held_by, hold.kind) == ("RETENTION-004", "rule")

    t = _checks(engine, "campaign_dispatch", [True], t)
    evaluate(engine, t)
    assert events(engine, "RETENTION-004")[0].status == "resolved"
    with transaction(engine) as session:
        assert open_holds(session, "campaigns") == []

    t = _checks(engine, "campaign_dispatch", [False, False, False], t)
    evaluate(engine, t)
    assert [e.status for e in events(engine, "RETENTION-004")] == ["resolved", "open"]


def test_r001_still_critical_after_the_cooldown_is_raised_again(engine: Engine) -> None:
    sync(engine)
    (acct,) = add_accounts(engine, [{}])
    snapshot(engine, acct, TODAY, 30.0)
    evaluate(engine)
    snapshot(engine, acct, TODAY + timedelta(days=6), 31.0)
    assert result(evaluate(engine, NOW + timedelta(days=6)), "RETENTION-001").fired == 0
    snapshot(engine, acct, TODAY + timedelta(days=7), 32.0)
    summary = evaluate(engine, NOW + timedelta(days=7))  # cooldown_hours: 168
    assert (result(summary, "RETENTION-001").expired, result(summary, "RETENTION-001").fired) == (
        1,
        1,
    )
    assert [e.status for e in events(engine, "RETENTION-001")] == ["expired", "open"]


def test_repeated_evaluation_at_the_same_now_adds_nothing(engine: Engine) -> None:
    sync(engine)
    _portfolio(engine, 100, 30)
    big = add_accounts(engine, [{"arr": 500000}])[0]
    link_crm(engine, big)
    snapshot(engine, big, TODAY, 10.0)
    _answers(engine, big, [0] * 12, TODAY)
    t = _checks(engine, "nps_surveys", [False] * 3, NOW - timedelta(hours=3))
    assert t == NOW

    def counts() -> tuple[int, ...]:
        with transaction(engine) as session:
            return tuple(
                session.scalar(select(func.count()).select_from(model))
                for model in (TriggerEvent, OutboxMessage, Escalation, AuditLog, PauseHold)
            )

    first = evaluate(engine)
    assert {t.code for t in first.triggers if t.fired} == {
        "RETENTION-001",
        "RETENTION-002",
        "RETENTION-003",
        "RETENTION-004",
    }
    before = counts()
    assert before[0] == 4 and before[1] >= 4
    second = evaluate(engine)
    assert second.fired == 0 and second.rollbacks == []
    assert counts() == before


def test_r004_disabled_in_the_database_fires_nothing(engine: Engine) -> None:
    sync(engine)
    t = _checks(engine, "nps_surveys", [False] * 4, NOW)
    edit_definition(engine, "RETENTION-004", enabled=False)
    evaluate(engine, t)
    assert events(engine, "RETENTION-004") == []


def test_r001_gives_the_owner_a_task_with_or_without_a_crm(engine: Engine) -> None:
    from successcrew.store.models import Task

    sync(engine)
    linked, unlinked = add_accounts(
        engine,
        [{"owner_email": "Ana@Example.com"}, {"owner_email": "lee@example.com"}],
    )
    link_crm(engine, linked)
    for acct in (linked, unlinked):
        snapshot(engine, acct, TODAY, 30.0)
    evaluate(engine)
    evaluate(engine, NOW + timedelta(hours=1))  # again: no second task
    by_event = {e.account_id: e.id for e in events(engine, "RETENTION-001")}
    with transaction(engine) as session:
        tasks = session.scalars(select(Task).order_by(Task.account_id)).all()
        got = [
            (t.account_id, t.owner_email, t.key, t.status, t.due_on, t.crm_outbox_key)
            for t in tasks
        ]
    crm_key = f"RETENTION-001:acct:{linked}:event:{by_event[linked]}:crm_task"
    due = (NOW + timedelta(days=1)).date()
    assert got == [
        (linked, "ana@example.com", f"trigger:{by_event[linked]}", "open", due, crm_key),
        (unlinked, "lee@example.com", f"trigger:{by_event[unlinked]}", "open", due, None),
    ]
    assert [m.idempotency_key for m in outbox(engine)] == [crm_key]
    assert tasks[0].reason and "30.0" in tasks[0].reason
