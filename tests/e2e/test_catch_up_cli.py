"""Catch-up and caps from the command line, as an operator meets them: a two-week pause then
resume sends nothing overdue, a run over the cap defers the rest to the next run, and dry runs
list what would be queued and write nothing. SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    AuditLog,
    Base,
    Contact,
    HealthSnapshot,
    OutboxMessage,
    ProgramEnrolment,
    ProgramStepRun,
    SetupProgress,
)
from tests.clirunner import run_cli

D0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

PLAYBOOK = """\
id: followup
name: Follow-up
entry: [{rule: band_entered, band: at_risk}]
holdout_pct: 0
steps:
  - {id: hello, kind: email, delay_days: 0, subject: "Hello {{ account.name }}", body: hi}
  - {id: day3, kind: email, delay_days: 3, subject: "Day 3 {{ account.name }}", body: x}
  - {id: day7, kind: email, delay_days: 7, subject: "Day 7 {{ account.name }}", body: x}
  - {id: day14, kind: email, delay_days: 14, subject: "Day 14 {{ account.name }}", body: x}
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with one four-email program, no throttling, lateness 2 days, 3 emails a run."""
    root = tmp_path / "project"
    (root / "config" / "playbooks").mkdir(parents=True)
    (root / "config" / "playbooks" / "followup.yaml").write_text(PLAYBOOK)
    (root / "config" / "programs.yaml").write_text(
        "throttle_days: 0\nmax_lateness_days: 2\nsend_caps: {email: 3, in_app: 2}\n"
    )
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(root))
    monkeypatch.setenv("SUCCESSCREW_SURVEY_SECRET", "s" * 32)
    return root


def at_risk_accounts(engine: Engine, ids: range, on: date) -> None:
    """Accounts ``ids`` with one contact each, healthy the day before ``on`` and At-Risk on it."""
    with transaction(engine) as s:
        for i in ids:
            s.add(
                Account(id=i, external_id=f"A{i}", name=f"Acme {i}", created_at=D0, updated_at=D0)
            )
        s.flush()
        for i in ids:
            s.add(
                Contact(
                    id=i,
                    external_id=f"C{i}",
                    account_id=i,
                    email=f"p{i}@acme{i}.example",
                    created_at=D0,
                    updated_at=D0,
                )
            )
        for i in ids:
            for as_of, band, score in (
                (on - timedelta(days=1), "healthy", 80),
                (on, "at_risk", 55),
            ):
                s.execute(
                    insert(HealthSnapshot).values(
                        account_id=i,
                        as_of=as_of,
                        score=score,
                        computed_score=score,
                        band=band,
                        components={},
                        missing_components=[],
                        model_version="test",
                        stale=False,
                        created_at=D0,
                    )
                )


def emails(engine: Engine) -> list[tuple[str, str]]:
    """(recipient, subject) of every e-mail in the outbox, in order."""
    with engine.connect() as conn:
        payloads = conn.execute(
            select(OutboxMessage.payload)
            .where(OutboxMessage.channel == "email")
            .order_by(OutboxMessage.id)
        ).scalars()
        return [(p["to"], p["subject"]) for p in payloads]


def overdue_steps(engine: Engine) -> list[tuple[int, str]]:
    """(account, step) of every step recorded as skipped: overdue."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ProgramEnrolment.account_id, ProgramStepRun.step_id, ProgramStepRun.detail)
            .join(ProgramEnrolment, ProgramEnrolment.id == ProgramStepRun.enrolment_id)
            .where(ProgramStepRun.status == "skipped")
            .order_by(ProgramEnrolment.account_id, ProgramStepRun.step_index)
        ).all()
    return [(a, step) for a, step, detail in rows if detail["reason"] == "overdue"]


def row_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
            for t in Base.metadata.sorted_tables
        }


def at(day: float) -> str:
    return (D0 + timedelta(days=day)).isoformat()


def test_two_week_pause_then_resume_skips_what_is_overdue_and_caps_the_rest(
    env: dict[str, str], engine: Engine, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at_risk_accounts(engine, range(1, 4), D0.date())
    first = run_cli(capsys, "programs", "run", "--now", at(0))
    assert first.code == 0, first.err
    assert len(emails(engine)) == 3  # three hellos, the cap exactly

    paused = run_cli(capsys, "pause", "campaigns", "--by", "kim", "--reason", "pricing review")
    assert paused.code == 0, paused.err
    # Three more accounts turn At-Risk during the pause: enrolled, their steps wait.
    at_risk_accounts(engine, range(4, 7), (D0 + timedelta(days=12)).date())
    during = run_cli(capsys, "programs", "run", "--now", at(12))
    assert during.code == 0 and len(emails(engine)) == 3

    resumed = run_cli(capsys, "resume", "campaigns", "--by", "kim", "--reason", "prices fixed")
    assert resumed.code == 0 and "campaigns is not paused" in resumed.out
    after = run_cli(capsys, "programs", "run", "--now", at(15))
    assert after.code == 0, after.err
    # Accounts 1-3: day3 (12 days late) and day7 (8 days late) are skipped; day14 (1 day late)
    # is due. Accounts 4-6: hello (3 days late) is skipped; day3 (due today) is due. Six emails
    # are due, three fit the cap: none of them older than the lateness allows.
    assert overdue_steps(engine) == [
        (1, "day3"),
        (1, "day7"),
        (2, "day3"),
        (2, "day7"),
        (3, "day3"),
        (3, "day7"),
        (4, "hello"),
        (5, "hello"),
        (6, "hello"),
    ]
    assert emails(engine)[3:] == [(f"p{i}@acme{i}.example", f"Day 3 Acme {i}") for i in (4, 5, 6)]
    lines = after.out.splitlines()
    assert "skipped 9 step(s) as overdue: more than 2 day(s) late, never sent late" in lines
    assert "deferred 3 email message(s) to the next run: the cap is 3 per run" in lines

    # The next run sends what the cap held back, still within the lateness.
    later = run_cli(capsys, "programs", "run", "--now", at(15.5))
    assert later.code == 0 and "deferred" not in later.out
    assert emails(engine)[6:] == [(f"p{i}@acme{i}.example", f"Day 14 Acme {i}") for i in (1, 2, 3)]
    assert not any(subject.startswith(("Day 7", "Hello Acme 4")) for _, subject in emails(engine))


def test_a_run_over_the_cap_defers_the_rest_and_a_deferred_step_can_go_overdue(
    env: dict[str, str], engine: Engine, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at_risk_accounts(engine, range(1, 9), D0.date())
    first = run_cli(capsys, "programs", "run", "--now", at(0), "--json")
    assert first.code == 0, first.err
    steps = first.json()["steps"]
    assert (steps["emails_queued"], steps["deferred"], steps["steps_deferred"]) == (
        3,
        {"email": 5},
        5,
    )
    assert [to for to, _ in emails(engine)] == [f"p{i}@acme{i}.example" for i in (1, 2, 3)]
    # The next run picks up where this one stopped, oldest enrolment first.
    second = run_cli(capsys, "programs", "run", "--now", at(0.1), "--json")
    assert second.json()["steps"]["emails_queued"] == 3
    assert [to for to, _ in emails(engine)][3:] == [f"p{i}@acme{i}.example" for i in (4, 5, 6)]
    # The last two waited too long (no run for three days): skipped, not sent late.
    third = run_cli(capsys, "programs", "run", "--now", at(2.5), "--json")
    assert third.json()["steps"]["overdue"] == 2 and len(emails(engine)) == 6
    assert overdue_steps(engine) == [(7, "hello"), (8, "hello")]

    # A survey wave has the same cap on its channel (in_app: 2 here); the rest waits.
    wave = run_cli(capsys, "surveys", "wave", "--now", at(3), "--channel", "in_app")
    assert wave.code == 0, wave.err
    assert "invited: feedback 2" in wave.out
    assert "deferred 6 due contact(s) to the next wave: the in_app cap is 2 per wave" in wave.out
    again = run_cli(capsys, "surveys", "wave", "--now", at(3.1), "--channel", "in_app", "--json")
    assert again.json()["invited"] == {"feedback": 2} and again.json()["deferred"] == {
        "feedback": 4
    }


def test_dry_runs_list_what_would_be_queued_and_write_nothing(
    env: dict[str, str], engine: Engine, project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    at_risk_accounts(engine, range(1, 6), D0.date())
    before = row_counts(engine)

    programs = run_cli(capsys, "programs", "run", "--now", at(0), "--dry-run")
    assert programs.code == 0, programs.err
    lines = programs.out.splitlines()
    assert lines[0] == f"dry run at {D0.isoformat()}: nothing written"
    assert "would enrol: followup default 5" in lines
    assert "would queue 3 message(s):" in lines and "  followup hello email: 3" in lines
    assert "would defer 2 email message(s) to a later run (cap 3 per run)" in lines
    assert "  sample: followup hello email to p1@acme1.example: Hello Acme 1" in lines
    assert sum(1 for line in lines if line.startswith("  sample:")) == 3
    assert row_counts(engine) == before

    surveys = run_cli(capsys, "surveys", "wave", "--now", at(0), "--dry-run", "--json")
    assert surveys.code == 0, surveys.err
    document = surveys.json()
    assert document["dry_run"] is True and document["total"] == 3
    assert document["queued"] == [
        {"program": "survey", "step": "feedback", "channel": "email", "count": 3}
    ]
    assert [s["to"] for s in document["samples"]] == [f"p{i}@acme{i}.example" for i in (1, 2, 3)]
    assert document["deferred"] == {"email": 2}
    assert row_counts(engine) == before

    # The crew tick: past its setup, the programs and the survey wave are due; the plan says
    # what they would queue.
    with transaction(engine) as s:
        s.add(
            AuditLog(
                at=D0 - timedelta(days=40),
                actor="crew",
                action="crew.start",
                subject="customer_success",
                detail={"start_date": (D0 - timedelta(days=40)).date().isoformat()},
            )
        )
    with transaction(engine) as s:
        from successcrew.crew.customer_success import CustomerSuccessCrew
        from tests.crewhelpers import make_crew

        CustomerSuccessCrew.sync_steps(make_crew(engine), s)
        s.execute(update(SetupProgress).values(status="done", completed_at=D0))
    before = row_counts(engine)
    tick = run_cli(capsys, "run", "--now", at(0), "--dry-run")
    assert tick.code == 0, tick.err
    lines = tick.out.splitlines()
    assert "  planned   operation retention_programs" in lines
    assert "              would queue 3 message(s):" in lines
    assert "                followup hello email: 3" in lines
    assert "                survey feedback email: 3" in lines
    assert row_counts(engine) == before
