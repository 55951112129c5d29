"""Retention programs on SQLite and PostgreSQL: enrolment, exits, throttling, opt-out, arms,
auto-pause."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from successcrew.definitions.playbooks import ProgramSettings, load_playbooks, parse_playbook
from successcrew.domain.program_rules import HOLDOUT
from successcrew.domain.unsubscribe_tokens import verify_unsubscribe_token
from successcrew.errors import ConfigError
from successcrew.services.programs import results as program_results
from successcrew.services.programs import runs as store
from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    AuditLog,
    Contact,
    HealthSnapshot,
    OutboxMessage,
    PauseHold,
    ProgramAssignment,
    ProgramEmail,
    ProgramEnrolment,
    ProgramStepRun,
    TriggerDefinition,
    TriggerEvent,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
SETTINGS = ProgramSettings()


def book(**overrides: Any) -> Any:
    data: dict[str, Any] = {
        "id": "at_risk",
        "name": "At-risk recovery",
        "entry": [{"rule": "band_entered", "band": "at_risk"}],
        "holdout_pct": 0,
        "steps": [
            {
                "id": "hello",
                "kind": "email",
                "subject": "Hi {{ contact.name }}",
                "body": "{{ account.name }} is at {{ health.score }}. {{ unsubscribe_url }}",
            },
            {"id": "later", "kind": "email", "delay_days": 3, "subject": "Again", "body": "x"},
        ],
    }
    data.update(overrides)
    return parse_playbook(data, "config/playbooks/test.yaml")


def add_accounts(engine: Engine, n: int, contacts_each: int = 1, **kw: Any) -> None:
    with transaction(engine) as s:
        for i in range(1, n + 1):
            s.add(
                Account(
                    id=i,
                    external_id=f"A{i}",
                    name=f"Account {i}",
                    owner_email="owner@vendor.example",
                    started_at=date(2025, 1, 1),
                    churned_at=kw.get("churned_at"),
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        s.flush()
        for i in range(1, n + 1):
            for c in range(contacts_each):
                s.add(
                    Contact(
                        id=i * 100 + c,
                        external_id=f"A{i}-C{c}",
                        account_id=i,
                        email=f"c{c}@a{i}.example",
                        name=f"Person {c}",
                        email_opt_out=False,
                        created_at=NOW,
                        updated_at=NOW,
                    )
                )


def snapshot(engine: Engine, account_id: int, as_of: date, band: str) -> None:
    score = {"healthy": 80.0, "at_risk": 55.0, "critical": 20.0}[band]
    with transaction(engine) as s:
        s.execute(
            insert(HealthSnapshot).values(
                account_id=account_id,
                as_of=as_of,
                score=score,
                computed_score=score,
                band=band,
                components={},
                missing_components=[],
                model_version="test",
                stale=False,
                created_at=NOW,
            )
        )


def run(engine: Engine, books: list[Any], now: datetime, **kw: Any) -> store.ProgramRun:
    with transaction(engine) as s:
        return store.run_programs(
            s,
            books,
            settings=kw.get("settings", SETTINGS),
            threshold_pct=10,
            base_url="https://cs.example",
            now=now,
            link_secret="test-link-secret",
        )


def count(engine: Engine, model: Any, *where: Any) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_enrols_on_band_entry_and_exits_on_recovery(engine: Engine) -> None:
    add_accounts(engine, 2)
    day = NOW.date()
    snapshot(engine, 1, day - timedelta(days=1), "healthy")
    snapshot(engine, 1, day, "at_risk")
    snapshot(engine, 2, day, "healthy")
    playbook = book()

    first = run(engine, [playbook], NOW)
    assert first.enrolled == {"at_risk": {"default": 1}}
    with engine.connect() as conn:
        enrolment = conn.execute(select(ProgramEnrolment)).one()
        assert (enrolment.account_id, enrolment.status, enrolment.next_step) == (1, "active", 1)
        assert enrolment.entry_key == f"band:at_risk:{day - timedelta(days=1)}"
        message = conn.execute(select(OutboxMessage)).one()
    assert message.channel == "email"
    assert message.payload["kind"] == "campaign" and message.payload["to"] == "c0@a1.example"
    assert message.payload["subject"] == "Hi Person 0"
    assert message.payload["text"].startswith("Account 1 is at 55.0.")
    # The unsubscribe link is signed per contact (no guessable ids) and rides in the headers too.
    link = message.payload["unsubscribe_url"]
    assert link.startswith("https://cs.example/unsubscribe/") and "contact=" not in link
    assert link in message.payload["text"]
    claims = verify_unsubscribe_token(link.rsplit("/", 1)[1], "test-link-secret")
    assert (claims.contact_id, claims.source) == (100, "program:at_risk")

    # A second run at the same moment does nothing new.
    again = run(engine, [playbook], NOW)
    assert again.enrolled == {} and again.steps.steps == 0
    assert count(engine, OutboxMessage) == 1

    # Recovered: the next snapshot is Healthy; the enrolment exits before its second email.
    snapshot(engine, 1, day + timedelta(days=2), "healthy")
    later = run(engine, [playbook], NOW + timedelta(days=4))
    assert later.exits == {"at_risk": {"recovered": 1}}
    with engine.connect() as conn:
        row = conn.execute(select(ProgramEnrolment)).one()
    assert (row.status, row.exit_reason) == ("exited", "recovered")
    assert count(engine, OutboxMessage) == 1
    assert count(engine, ProgramStepRun) == 1
    assert count(engine, AuditLog, AuditLog.action == "programs.run") == 2


def test_same_episode_never_re_enrols_but_a_new_one_does(engine: Engine) -> None:
    add_accounts(engine, 1)
    day = NOW.date()
    snapshot(engine, 1, day, "at_risk")
    playbook = book(steps=[{"id": "s", "kind": "slack", "title": "{{ account.name }}"}])
    run(engine, [playbook], NOW)  # enrols and completes (one immediate step)
    run(engine, [playbook], NOW + timedelta(days=1))
    assert count(engine, ProgramEnrolment) == 1
    snapshot(engine, 1, day + timedelta(days=2), "healthy")
    snapshot(engine, 1, day + timedelta(days=3), "at_risk")
    run(engine, [playbook], NOW + timedelta(days=3))
    assert count(engine, ProgramEnrolment) == 2


def test_throttling_and_opt_out_hold_across_runs_and_programs(engine: Engine) -> None:
    add_accounts(engine, 2, contacts_each=2)
    with transaction(engine) as s:
        s.get(Contact, 101).email_opt_out = True  # account 1's second contact
    day = NOW.date()
    for a in (1, 2):
        snapshot(engine, a, day, "at_risk")
    other = book(
        id="nudge",
        steps=[
            {"id": "a", "kind": "email", "subject": "A", "body": "a"},
            {"id": "b", "kind": "email", "delay_days": 1, "subject": "B", "body": "b"},
        ],
    )
    playbook = book()
    settings = ProgramSettings(throttle_days=7, max_lateness_days=7)
    result = run(engine, [playbook, other], NOW, settings=settings)
    # 4 contacts; 1 opted out; 3 emails from the first program; the second program's first
    # email to the same people the same day is throttled.
    assert result.steps.emails_queued == 3
    assert result.steps.emails_opted_out == 2  # once per program
    assert result.steps.emails_throttled == 3
    # Next day: "nudge" step b is due, still within 7 days of the last email: throttled again.
    result = run(engine, [playbook, other], NOW + timedelta(days=1), settings=settings)
    assert result.steps.emails_queued == 0 and result.steps.emails_throttled == 3
    # Day 8: the at-risk second email was due on day 3 and no run happened since; 5 days late
    # is within max_lateness_days (7) here, and 8 days after the last email: allowed.
    result = run(engine, [playbook, other], NOW + timedelta(days=8), settings=settings)
    assert result.steps.emails_queued == 3
    with engine.connect() as conn:
        sent_to = conn.execute(
            select(OutboxMessage.payload).where(OutboxMessage.channel == "email")
        ).scalars()
        recipients = [p["to"] for p in sent_to]
    assert "c1@a1.example" not in recipients
    assert count(engine, ProgramEmail, ProgramEmail.status == "queued") == 6


def test_assignment_is_stable_and_holdout_gets_nothing(engine: Engine) -> None:
    add_accounts(engine, 60)
    day = NOW.date()
    for a in range(1, 61):
        snapshot(engine, a, day, "at_risk")
    playbook = book(
        holdout_pct=20,
        variants=[{"id": "a"}, {"id": "b", "weight": 2}],
        steps=[{"id": "s", "kind": "slack", "title": "{{ account.name }} {{ variant }}"}],
    )
    run(engine, [playbook], NOW)
    with engine.connect() as conn:
        first = dict(
            conn.execute(select(ProgramAssignment.account_id, ProgramAssignment.variant)).all()
        )
        holdout_ids = {
            e.id
            for e in conn.execute(
                select(ProgramEnrolment.id).where(ProgramEnrolment.variant == HOLDOUT)
            )
        }
        held_steps = (
            conn.execute(
                select(ProgramStepRun.status).where(ProgramStepRun.enrolment_id.in_(holdout_ids))
            )
            .scalars()
            .all()
        )
    assert set(first.values()) == {"a", "b", HOLDOUT}
    assert held_steps and set(held_steps) == {"holdout"}
    assert count(engine, OutboxMessage) == 60 - len(holdout_ids)

    # Changing the holdout share later does not move anyone already assigned.
    changed = book(
        holdout_pct=50,
        variants=[{"id": "a"}, {"id": "b", "weight": 2}],
        steps=[{"id": "s", "kind": "slack", "title": "x"}],
    )
    snapshot(engine, 1, day + timedelta(days=1), "healthy")
    snapshot(engine, 1, day + timedelta(days=2), "at_risk")
    run(engine, [changed], NOW + timedelta(days=2))
    with engine.connect() as conn:
        again = dict(
            conn.execute(select(ProgramAssignment.account_id, ProgramAssignment.variant)).all()
        )
        variants = (
            conn.execute(select(ProgramEnrolment.variant).where(ProgramEnrolment.account_id == 1))
            .scalars()
            .all()
        )
    assert again == first
    assert len(variants) == 2 and len(set(variants)) == 1


def test_trigger_and_churn_entries(engine: Engine) -> None:
    add_accounts(engine, 2)
    with transaction(engine) as s:
        s.get(Account, 2).churned_at = NOW.date() - timedelta(days=5)
        s.add(
            TriggerDefinition(
                code="RETENTION-001",
                version=1,
                checksum="x",
                title="t",
                scope="account",
                metric="health",
                comparator="<",
                threshold="40",
                cooldown_hours=0,
                severity="critical",
                enabled=True,
                actions=[],
                definition={},
                updated_at=NOW,
            )
        )
        s.flush()
        s.add(
            TriggerEvent(
                id=7,
                code="RETENTION-001",
                account_id=1,
                subject="account:1",
                status="open",
                definition_version=1,
                evidence={},
                fired_at=NOW - timedelta(hours=1),
            )
        )
    books = [b for b in load_playbooks() if b.id in ("critical", "win_back")]
    result = run(engine, books, NOW)
    assert result.enrolled["critical"] and result.enrolled["win_back"]
    with engine.connect() as conn:
        keys = dict(
            conn.execute(select(ProgramEnrolment.program, ProgramEnrolment.entry_key)).all()
        )
    assert keys == {
        "critical": "trigger:7",
        "win_back": f"churned:{NOW.date() - timedelta(days=5)}",
    }


def test_auto_pause_fires_above_ten_percent_not_at_ten(engine: Engine) -> None:
    add_accounts(engine, 1, contacts_each=10)
    playbook = book()
    with transaction(engine) as s:
        s.add(
            ProgramEnrolment(
                id=1,
                program="at_risk",
                account_id=1,
                variant="default",
                entry_rule="band_entered",
                entry_key="k",
                status="active",
                next_step=99,
                enrolled_at=NOW - timedelta(days=3),
            )
        )
        s.flush()
        s.execute(
            insert(ProgramEmail),
            [
                {
                    "program": "at_risk",
                    "enrolment_id": 1,
                    "step_index": step,
                    "contact_id": 100 + c,
                    "status": "queued",
                    "created_at": NOW - timedelta(days=2),
                }
                for step in range(100)
                for c in range(10)
            ],
        )
        for _ in range(100):
            s.execute(
                insert(store.CampaignFeedback).values(
                    program="at_risk",
                    account_id=1,
                    contact_id=100,
                    kind="negative_reply",
                    occurred_at=NOW - timedelta(days=1),
                )
            )
    assert run(engine, [playbook], NOW).auto_paused == []  # 100 of 1000: exactly 10 %
    assert count(engine, PauseHold) == 0

    with transaction(engine) as s:
        program_results.record_campaign_feedback(
            s, program="at_risk", contact_id=101, kind="unsubscribe", now=NOW
        )
    paused = run(engine, [playbook], NOW).auto_paused  # 101 of 1000: 10.1 %
    assert [p["scope"] for p in paused] == ["campaign:at_risk"]
    assert "10.1 %" in paused[0]["reason"]
    with engine.connect() as conn:
        audit_row = conn.execute(
            select(AuditLog).where(AuditLog.action == "pause", AuditLog.actor == "auto-pause")
        ).one()
        slack = conn.execute(select(OutboxMessage).where(OutboxMessage.channel == "slack")).one()
        unsubscribed = conn.execute(
            select(Contact.unsubscribed_at).where(Contact.id == 101)
        ).scalar_one()
    assert audit_row.subject == "campaign:at_risk" and "101 of 1,000" in audit_row.detail["reason"]
    assert slack.payload["title"] == "Campaign paused: At-risk recovery, negative feedback 10.1 %"
    assert unsubscribed == NOW
    # Paused: a new at-risk account is enrolled but nothing is sent; once only on re-runs.
    snapshot(engine, 1, NOW.date(), "at_risk")
    again = run(engine, [playbook], NOW)
    assert again.auto_paused == [] and again.steps.paused_programs == ["at_risk"]


def test_unknown_template_variable_is_a_config_error_naming_the_file() -> None:
    with pytest.raises(ConfigError) as err:
        book(steps=[{"id": "s", "kind": "email", "subject": "{{ acount.name }}", "body": "x"}])
    message = str(err.value)
    assert message.startswith("config/playbooks/test.yaml: key steps[0].subject:")
    assert "'acount' is undefined" in message
    with pytest.raises(ConfigError, match=r"key steps\[0\].title: .*'contact' is undefined"):
        book(steps=[{"id": "s", "kind": "slack", "title": "{{ contact.name }}"}])
    with pytest.raises(ConfigError, match=r"key steps\[0\].body: template not allowed"):
        book(
            steps=[
                {
                    "id": "s",
                    "kind": "email",
                    "subject": "x",
                    "body": "{{ account.__class__.__mro__ }}",
                }
            ]
        )


def test_a_playbook_without_steps_is_a_config_error() -> None:
    # Neither steps nor variants: before, the validator itself crashed (AttributeError).
    with pytest.raises(ConfigError, match=r"test.yaml: .*at least one step is needed"):
        book(steps=[])
    with pytest.raises(ConfigError, match=r"test.yaml: .*at least one step is needed"):
        book(steps=[], variants=[{"id": "a", "weight": 1}, {"id": "b", "weight": 1}])


def test_shipped_playbooks_load(tmp_path: Path) -> None:
    ids = [b.id for b in load_playbooks()]
    assert ids == ["at_risk", "critical", "win_back"]
    broken = tmp_path / "bad.yaml"
    broken.write_text("id: bad\nname: x\nentry: [{rule: band_entered, band: sad}]\nsteps: []\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: key entry\[0\]"):
        load_playbooks(tmp_path)


def test_evaluation_counts_matured_enrolments_and_matches_hand_computed_interval(
    engine: Engine,
) -> None:
    # 100 accounts in the variant, 100 in holdout, enrolled 70 days ago; "retained 60 days".
    # Variant: 30 churned within 60 days (70 % retained); holdout: 40 churned (60 % retained).
    add_accounts(engine, 210)
    enrolled = NOW - timedelta(days=70)
    with transaction(engine) as s:
        for i in range(1, 201):
            variant = "default" if i <= 100 else HOLDOUT
            churned = (i <= 30) or (100 < i <= 140)
            if churned:
                s.get(Account, i).churned_at = enrolled.date() + timedelta(days=20)
            s.add(
                ProgramEnrolment(
                    id=i,
                    program="critical",
                    account_id=i,
                    variant=variant,
                    entry_rule="trigger_fired",
                    entry_key=f"trigger:{i}",
                    status="completed",
                    next_step=4,
                    enrolled_at=enrolled,
                )
            )
            if variant != HOLDOUT:
                # The treated accounts were reached: the owner's call script was delivered.
                key = f"program:critical:{i}:0"
                s.flush()
                s.add(
                    ProgramStepRun(
                        enrolment_id=i,
                        step_index=0,
                        step_id="owner-call",
                        kind="call_script",
                        status="done",
                        ran_at=enrolled,
                        detail={"outbox_key": key},
                    )
                )
                s.add(
                    OutboxMessage(
                        idempotency_key=key,
                        channel="email",
                        payload={"kind": "internal"},
                        status="delivered",
                        next_attempt_at=enrolled,
                        delivered_at=enrolled + timedelta(hours=1),
                        created_at=enrolled,
                    )
                )
        # Young enrolments (not matured) do not count.
        for i in range(201, 211):
            s.add(
                ProgramEnrolment(
                    id=i,
                    program="critical",
                    account_id=i,
                    variant="default",
                    entry_rule="trigger_fired",
                    entry_key=f"trigger:{i}",
                    status="active",
                    next_step=1,
                    enrolled_at=NOW - timedelta(days=5),
                )
            )
    critical = next(b for b in load_playbooks() if b.id == "critical")
    with transaction(engine) as s:
        result = program_results.evaluate(s, critical, now=NOW)
    (comparison,) = result.comparisons
    assert (comparison.variant.n, comparison.variant.successes) == (100, 70)
    assert (comparison.holdout.n, comparison.holdout.successes) == (100, 60)
    # diff 0.1; se = sqrt(.7*.3/100 + .6*.4/100) = sqrt(.0045) = 0.0670820; 1.959964*se = 0.1314784
    assert comparison.uplift == pytest.approx(0.1)
    assert comparison.ci_low == pytest.approx(-0.0314784, abs=1e-6)
    assert comparison.ci_high == pytest.approx(0.2314784, abs=1e-6)
    assert comparison.verdict == "no significant difference from holdout"
