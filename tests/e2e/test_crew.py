"""The crew over 45 simulated days on SQLite and PostgreSQL: setup order, run-once, retries,
operations that keep going when one fails, escalations from raise to carried out, dry runs.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from successcrew.store.models import (
    Account,
    AuditLog,
    CrewRun,
    Escalation,
    OutboxMessage,
    SetupProgress,
    Task,
    TaskRun,
)
from tests.clirunner import run_cli
from tests.crewhelpers import DAY1, day, make_crew, plant_snapshot, seed_accounts


def _task_runs(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return conn.execute(
            select(TaskRun.task, TaskRun.status, TaskRun.started_at).order_by(TaskRun.id)
        ).all()


def test_forty_five_days_setup_in_order_once_each_then_operations(engine: Engine) -> None:
    seed_accounts(engine)
    crew = make_crew(engine)
    available = {k for k, v in crew.availability().items() if v is None}
    for n in range(1, 46):
        summary = crew.run(day(n))
        assert summary.exit_code == 0, summary.as_dict()
    crew.close()

    runs = _task_runs(engine)
    step_ids = [s.id for s in crew.steps]
    setup_runs = [r for r in runs if r.task in step_ids]
    # With no provider configured these have nothing to do: skipped (once; the daily second
    # look finds the same and says nothing), the others succeed.
    idle = {"check_connections", "map_health_field", "initial_customer_sync"}
    # Each available step ran exactly once, in definition order, never before its day.
    assert Counter(r.task for r in setup_runs if r.status == "succeeded") == Counter(
        {s for s in step_ids if s in available} - idle
    )
    assert {r.task for r in setup_runs if r.status == "skipped"} == idle
    assert [r.task for r in setup_runs] == [s for s in step_ids if s in available]
    by_id = {s.id: s for s in crew.steps}
    for r in setup_runs:
        assert r.started_at.date() >= DAY1 + timedelta(days=by_id[r.task].day - 1)
    with engine.connect() as conn:
        progress = dict(conn.execute(select(SetupProgress.step_id, SetupProgress.status)).all())
        runs_recorded = conn.execute(select(func.count()).select_from(CrewRun)).scalar_one()
        starts = conn.execute(
            select(func.count()).where(AuditLog.action == "crew.start")
        ).scalar_one()
    assert all(
        progress[s] == ("done" if s in available and s not in idle else "skipped") for s in step_ids
    )
    assert runs_recorded == 45 and starts == 1
    # Operations start after setup and then run on their cadence: daily ones once a day.
    daily = [op.id for op in crew.operations if op.cadence == "daily" and op.id in available]
    assert daily, "some daily operation should be available in every build"
    per_day = Counter((r.task, r.started_at.date()) for r in runs if r.task in daily)
    assert max(per_day.values()) == 1
    first_run = {}
    for r in runs:
        first_run.setdefault(r.task, r.started_at)
    for op in crew.operations:
        if op.requires_step and op.id in first_run:
            assert first_run[op.id] >= first_run[op.requires_step], op.id
    assert day(45).date() in {d for (_, d) in per_day}


def test_a_step_that_fails_twice_then_succeeds_ends_done_and_shows_in_status(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    crew = make_crew(engine)
    agent = crew.agents["success_infrastructure_architect"]
    real = agent.select_providers
    calls = {"n": 0}

    def flaky(ctx: Any) -> dict[str, Any]:
        calls["n"] += 1
        if calls["n"] <= 2:
            raise ConnectionError(f"provider config store unreachable (attempt {calls['n']})")
        return real(ctx)

    agent.select_providers = flaky  # type: ignore[method-assign]
    first = crew.run(day(1))
    assert first.exit_code == 1 and first.count("failed") == 1
    # Backoff: an hour later it is not retried yet, the next day it is.
    assert crew.run(day(1, 6) + timedelta(minutes=30)).count("failed") == 0
    status = run_cli(capsys, "status", "--now", day(1, 7).isoformat())
    assert status.code == 0
    assert "failed   select_providers" in status.out and "unreachable" in status.out
    assert crew.run(day(2)).exit_code == 1
    third = crew.run(day(3))
    assert third.exit_code == 0
    assert next(t.task for t in third.tasks if t.status == "succeeded") == "select_providers"
    crew.run(day(4))
    crew.close()
    with Session(engine) as session:
        row = session.get(SetupProgress, "select_providers")
        assert row is not None
        assert (row.status, row.attempts, row.last_error) == ("done", 3, None)
    results = Counter((r.task, r.status) for r in _task_runs(engine))
    assert results[("select_providers", "failed")] == 2
    assert results[("select_providers", "succeeded")] == 1
    document = run_cli(capsys, "status", "--json").json()
    steps = {s["step"]: s for s in document["setup"]["steps"]}
    assert steps["select_providers"]["status"] == "done"


def test_operations_keep_going_when_one_of_them_raises(engine: Engine) -> None:
    seed_accounts(engine)
    crew = make_crew(engine)
    for n in range(1, 22):
        crew.run(day(n))
    specialist = crew.agents["health_monitoring_specialist"]

    def broken(ctx: Any) -> dict[str, Any]:
        raise RuntimeError("alert renderer crashed")

    specialist.generate_alerts = broken  # type: ignore[method-assign]
    summary = crew.run(day(22))
    crew.close()
    outcome = {t.task: t.status for t in summary.tasks if t.kind == "operation"}
    assert outcome["alerts"] == "failed"
    others = [t for t, s in outcome.items() if t != "alerts"]
    assert others and all(outcome[t] == "succeeded" for t in others)
    assert summary.exit_code == 1
    assert "alert renderer crashed" in summary.as_dict()["tasks"][0].get("error", "") or any(
        "alert renderer crashed" in (t.error or "") for t in summary.tasks
    )


def test_dry_run_decides_and_writes_nothing(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    result = run_cli(capsys, "run", "--now", day(1).isoformat(), "--dry-run", "--json")
    assert result.code == 0, result.err
    document = result.json()
    assert document["dry_run"] is True and document["tasks_run"] == 0
    assert next(t["task"] for t in document["tasks"] if t["status"] == "planned") == (
        "select_providers"
    )
    with engine.connect() as conn:
        for table in (CrewRun, TaskRun, OutboxMessage, AuditLog):
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 0
        assert (
            conn.execute(select(func.count()).where(SetupProgress.status != "pending")).scalar_one()
            == 0
        )
    real = run_cli(capsys, "run", "--now", day(1).isoformat(), "--json")
    assert real.code == 0 and real.json()["succeeded"] >= 1


def test_escalation_raised_reminded_decided_and_carried_out(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accounts(engine)  # T-020 has ARR 200,000: high-value
    plant_snapshot(engine, "T-020", DAY1, 28.0)
    plant_snapshot(engine, "T-003", DAY1, 20.0)  # critical but small: not for the chairman
    from successcrew.agents.base import TaskContext
    from successcrew.store.db import transaction

    crew = make_crew(engine)
    agent = crew.agents["retention_program_designer"]

    def call(tool: str, now: Any) -> dict[str, Any]:
        with transaction(engine) as session:
            ctx = TaskContext(
                session=session,
                engine=engine,
                now=now,
                settings=crew.settings,
                thresholds=crew.thresholds,
                policy=crew.policy,
            )
            return agent.run_tool(tool, ctx)

    raised = call("escalate_to_chairman", day(2))
    assert raised["raised"] == {"adopted": 0, "trigger_events": 0, "critical_high_value": 1}
    assert call("escalate_to_chairman", day(3))["raised"]["critical_high_value"] == 0
    listing = run_cli(capsys, "escalations", "--json").json()["escalations"]
    assert len(listing) == 1 and listing[0]["status"] == "open"
    esc_id = listing[0]["id"]
    with Session(engine) as session:
        message = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.idempotency_key == f"escalation:{esc_id}:notice"
            )
        ).one()
    assert message.channel == "slack" and message.status == "pending"
    assert next(b["type"] for b in message.payload["blocks"]) == "header"
    assert "Test Co 20" in message.payload["text"]
    assert "Usage 12 in 30 days" in str(message.payload["blocks"])
    assert "28.0 (critical); first snapshot" in str(message.payload["blocks"])

    # No answer within 24 h: one reminder.
    assert call("follow_up_escalations", day(2) + timedelta(hours=25)) == {
        "reminded": 1,
        "expired": 0,
    }
    assert call("follow_up_escalations", day(2) + timedelta(hours=26))["reminded"] == 0

    bad = run_cli(capsys, "decide", "999", "approve", "--by", "Chair")
    assert bad.code == 2 and "escalation 999 does not exist" in bad.err
    ok = run_cli(
        capsys,
        "decide",
        str(esc_id),
        "approve",
        "--by",
        "Chair",
        "--note",
        "go",
        "--now",
        (day(3)).isoformat(),
    )
    assert ok.code == 0, ok.err
    again = run_cli(capsys, "decide", str(esc_id), "decline", "--by", "Chair")
    assert again.code == 2 and "already approved by Chair" in again.err

    assert call("carry_out_decisions", day(3) + timedelta(hours=1)) == {"carried_out": 1}
    assert call("carry_out_decisions", day(3) + timedelta(hours=2)) == {"carried_out": 0}
    with Session(engine) as session:
        keys = set(session.scalars(select(OutboxMessage.idempotency_key)))
        actions = [
            a
            for a in session.scalars(select(AuditLog.action).order_by(AuditLog.id))
            if a.startswith("escalation.")
        ]
        esc = session.scalars(select(Escalation)).one()
    assert {f"escalation:{esc_id}:owner-email", f"escalation:{esc_id}:carried-out"} <= keys
    assert actions == [
        "escalation.raise",
        "escalation.remind",
        "escalation.approved",
        "escalation.carry_out",
    ]
    assert esc.carried_out_at is not None and esc.decision_note == "go"
    # The owner's task to carry it out waits in My work too (no CRM here: no CRM copy).
    with Session(engine) as session:
        task = session.scalars(select(Task).where(Task.key == f"escalation:{esc_id}:task")).one()
        account = session.get(Account, esc.account_id)
    assert account is not None and account.owner_email
    assert (task.status, task.source, task.crm_outbox_key) == ("open", "escalation", None)
    assert task.owner_email == account.owner_email.lower()
    assert task.title.startswith("Carry out approved")


def test_an_unanswered_escalation_expires_and_can_no_longer_be_decided(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    seed_accounts(engine)
    plant_snapshot(engine, "T-020", DAY1, 10.0)
    crew = make_crew(engine)
    for n in range(1, 22):
        crew.run(day(n))
    summary = crew.run(day(22))
    assert any(t.task == "escalations" and t.status == "succeeded" for t in summary.tasks)
    for n in range(23, 27):
        crew.run(day(n))
    crew.close()
    rows = run_cli(capsys, "escalations", "--json").json()["escalations"]
    assert rows and rows[-1]["status"] == "expired" and rows[-1]["reminded_at"]
    late = run_cli(capsys, "decide", str(rows[-1]["id"]), "approve", "--by", "Chair")
    assert late.code == 2 and "expired" in late.err


def test_demo_runs_the_crew_through_45_days_in_outbox_only_mode(
    env: dict[str, str], engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # 300 accounts: with 80 the book is small enough that its own churners pull the 30-day NPS
    # down by more than chance in September, and nps_drop holds campaigns before any e-mail.
    args = ("demo", "--accounts", "300", "--days", "120", "--data-dir", str(tmp_path / "d"))
    first = run_cli(capsys, *args, "--json")
    assert first.code == 0, first.err
    crew = first.json()["demo"]["crew"]
    assert crew["days"] == 45
    # The demo links a HubSpot stand-in on loopback: the CRM and connection steps run too.
    assert crew["totals"]["setup"] == {"done": 13}
    # Day 30; day 1 is 45 days before the synthetic history ends (2026-11-01).
    assert crew["setup_completed_on"] == "2026-10-16"
    setup_days = [d["day"] for d in crew["daily"] if d["setup"]]
    assert setup_days[0] == 1 and setup_days[-1] == 30
    assert crew["totals"]["outbox"], "the crew queued messages"
    # No message left the machine: e-mail and Slack are held (e-mail to those who unsubscribed
    # is dead); owner tasks went to the stand-in CRM on loopback.
    statuses = {(row["channel"], row["status"]) for row in crew["totals"]["outbox"]}
    assert statuses <= {("email", "held"), ("slack", "held"), ("email", "dead")} | {
        ("crm_task", "delivered")
    }
    # What failed is what the incidents broke: the sync while the CRM was down, scoring
    # while the usage feed was stale; each for a few days, then it worked again.
    with Session(engine) as session:
        failed = Counter(session.scalars(select(TaskRun.task).where(TaskRun.status == "failed")))
    assert set(failed) == {"customer_sync", "scoring"}, failed
    assert failed["customer_sync"] == 3 and 1 <= failed["scoring"] <= 3
    # The simulated customers and chairman came back through the web app's real endpoints.
    came = crew["totals"]["came_back"]
    assert came["survey_answers"] > 0 and came["unsubscribed_contacts"] > 0
    assert came["slack_decisions"] == 1
    assert crew["totals"]["escalations"]["carried_out"] == 1
    # The incidents in the synthetic history reach the crew: the cohort that left in
    # September, the NPS that fell after the broken release, the accounts that slid.
    happened = first.json()["demo"]["what_happened"]
    assert set(happened["triggers"]) == {
        "RETENTION-001",
        "RETENTION-002",
        "RETENTION-003",
        "RETENTION-004",
    }
    assert "Logo retention for 2026-09 fell to" in happened["triggers"]["RETENTION-002"][0]
    # The CRM outage: RETENTION-004 for the sync, which worked again after it; the CRM rule
    # paused automation until the CS lead had checked the CRM data.
    (crm_line,) = [x for x in happened["triggers"]["RETENTION-004"] if "for crm_sync" in x]
    assert crm_line.startswith("The CRM sync failed") and "working again on Oct 2" in crm_line
    (crm_hold,) = happened["rollback_rules"]["crm_sync_error_rate"]
    # Paused on the outage's first day, from the sync's own check (the hourly probe checks at
    # the same moment), in words that say what went wrong.
    assert "all outbound messages paused on Sep 29 " in crm_hold
    assert "(the sync could not reach the CRM (hubspot))" in crm_hold
    assert "resumed on Oct 3 by cs-lead (demo)" in crm_hold
    # The stopped usage feed: no scores could be computed, so scores went manual until the
    # backlog arrived and scoring worked again.
    (scoring_hold,) = happened["rollback_rules"]["health_calculation_failure"]
    assert "data not fresh" in scoring_hold and "lifted by itself on Oct 8" in scoring_hold
    # The broken release (Oct 14): a fall the number of answers cannot explain pauses every
    # campaign the next morning; the earlier months' chance moves of 10 points paused nothing.
    (nps_hold,) = happened["rollback_rules"]["nps_drop"]
    assert "every campaign paused on Oct 15 " in nps_hold and "where chance explains" in nps_hold
    # The win-back e-mail of Oct 14 reached the cohort that had just left: they unsubscribed
    # and reported it as spam (through the Mailchimp webhook), and the program paused itself.
    (win_back,) = [x for x in happened["rollback_rules"]["auto-pause"] if "win_back" in x]
    assert "campaign win_back paused on Oct 15 " in win_back
    assert "is above 10 %" in win_back
    assert came["spam_reports"] > 0
    with Session(engine) as session:
        runs = session.scalar(select(func.count()).select_from(CrewRun))
    assert runs == 45
    # A second demo finds the crew's days done, says so, adds no crew run, tells the same story.
    second = run_cli(capsys, *args)
    assert second.code == 0, second.err
    assert "the crew had already run these days (45 run(s)): nothing was added" in second.out
    for line in happened["triggers"]["RETENTION-003"] + happened["rollback_rules"]["nps_drop"]:
        assert line in second.out.replace("\n", "")
    with Session(engine) as session:
        assert session.scalar(select(func.count()).select_from(CrewRun)) == 45
    again = run_cli(capsys, *args, "--json").json()["demo"]
    assert again["crew_already_ran"] == 45 and again["crew"]["tasks_run"] == 0
    assert again["crew"]["totals"]["came_back"] == came
    assert again["what_happened"] == happened
    with Session(engine) as session:
        succeeded = Counter(
            session.scalars(select(TaskRun.task).where(TaskRun.status == "succeeded"))
        )
    assert all(succeeded[step] == 1 for step in ("select_providers", "setup_review"))
