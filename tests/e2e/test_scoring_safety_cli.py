"""Scoring that is safe to act on, as an operator meets it on the command line: a usage feed that
stops, a health-model version bump, a two-account segment, a future --as-of and deleting a date.

Each test runs on SQLite and PostgreSQL and asserts what a person sees: exit codes, the warning
and error text, and what the crew did not do (no event, no enrolment, no escalation, no e-mail).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from sqlalchemy import Engine, func, insert, select

from successcrew.definitions.escalation_policy import load_policy
from successcrew.definitions.health_model import load_health_model, parse_health_model
from successcrew.definitions.thresholds import load_thresholds
from successcrew.paths import project_dir
from successcrew.services.escalations.lifecycle import raise_escalations
from successcrew.services.triggers.alerts import generate_alerts
from successcrew.settings import Settings
from successcrew.store import score_writes
from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    AuditLog,
    ComponentCheck,
    Contact,
    Escalation,
    HealthSnapshot,
    Invoice,
    NpsResponse,
    OutboxMessage,
    ProgramEnrolment,
    Ticket,
    TriggerEvent,
    UsageDaily,
)
from successcrew.store.usage import mark_pending
from tests.clirunner import run_cli

D0 = date(2026, 10, 1)
BANDS = load_thresholds().health_bands


def at(day: date, hour: int = 6) -> str:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC).isoformat()


def seed_book(engine: Engine) -> None:
    """Nine smb customers with 90 days of usage up to D0, NPS answers and paid invoices.

    T-1..T-7 are steady (Healthy); FADING (ARR 500,000) went quiet 40 days ago, answered NPS 2
    and has an overdue invoice (Critical); WOBBLY halved its usage a month ago (At-Risk) and has
    a contact who may be surveyed. One ticket, opened 30 days before D0, is the ticket feed's
    newest: older than the 21 days allowed.
    """
    now = datetime(2026, 9, 1, tzinfo=UTC)
    names = [f"T-{i}" for i in range(1, 8)] + ["FADING", "WOBBLY"]
    with transaction(engine) as s:
        for i, ext in enumerate(names, start=1):
            s.add(
                Account(
                    id=i,
                    external_id=ext,
                    name=f"{ext.title()} Ltd",
                    segment="smb",
                    arr=500_000 if ext == "FADING" else 10_000,
                    owner_email=f"owner{i}@example.com",
                    started_at=date(2025, 1, 1),
                    created_at=now,
                    updated_at=now,
                )
            )
        s.flush()
        rows = []
        for back in range(90):
            day = D0 - timedelta(days=back)
            for i in range(1, 10):
                if i == 8 and back < 40:
                    continue  # FADING: nothing for 40 days
                scale = 0.5 if i == 9 and back < 30 else 1.0  # WOBBLY: halved
                for metric, base in (
                    ("logins", 10 + i),
                    ("active_users", 3 + i),
                    ("api_calls", 50),
                ):
                    rows.append(
                        {
                            "account_id": i,
                            "metric": metric,
                            "day": day,
                            "value": base * scale,
                            "event_count": 1,
                        }
                    )
        s.execute(insert(UsageDaily), rows)
        mark_pending(s.connection(), days=[D0 - timedelta(days=b) for b in range(90)])
        answered = datetime(D0.year, D0.month, D0.day, tzinfo=UTC) - timedelta(days=5)
        for i in range(1, 10):
            score = {8: 2, 9: 6}.get(i, 10)
            s.add(
                NpsResponse(natural_key=f"n{i}", account_id=i, score=score, responded_at=answered)
            )
            overdue = i == 8
            s.add(
                Invoice(
                    external_id=f"I{i}",
                    account_id=i,
                    amount=1000,
                    issued_at=D0 - timedelta(days=10),
                    due_at=D0 - timedelta(days=5),
                    paid_at=None if overdue else D0 - timedelta(days=6),
                    status="open" if overdue else "paid",
                )
            )
        s.add(
            Ticket(
                external_id="TK1",
                account_id=1,
                opened_at=answered - timedelta(days=25),
                priority="normal",
            )
        )
        s.add(
            Contact(
                external_id="C9",
                account_id=9,
                email="wobbly@example.com",
                name="Wes",
                created_at=now,
                updated_at=now,
            )
        )


def health(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, Any]:
    result = run_cli(capsys, "health", "--json", *args)
    assert result.code == 0, result.err
    return result.json()


def bands_of(doc: dict[str, Any]) -> dict[str, str]:
    return {a["account"]: a["band"] for a in doc["accounts"]}


def count(engine: Engine, model: Any, *where: Any) -> int:
    with transaction(engine) as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_a_usage_feed_that_stops_for_20_days_holds_scores_and_every_action(
    env: dict[str, str],
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUCCESSCREW_SURVEY_SECRET", "test-survey-secret")
    assert run_cli(capsys, "init").code == 0
    seed_book(engine)

    # Day 0: usage is fresh; the ticket feed is 30 days old, so open tickets are left out.
    first = run_cli(capsys, "score", "--now", at(D0))
    assert first.code == 0, first.err
    assert "scored 9 of 9 customers as of 2026-10-01" in first.out
    assert (
        "warning: data not fresh (tickets: last 2026-09-01, 30 days old (expected within 21)); "
        "left out of every score: support (10 % of the weight)"
    ) in first.out
    day0 = health(capsys)
    assert sorted(bands_of(day0).values()).count("healthy") == 7
    assert bands_of(day0)["FADING"] == "critical" and bands_of(day0)["WOBBLY"] == "at_risk"
    assert {a["account"]: a["stale_components"] for a in day0["accounts"]}["T-1"] == ["support"]
    explained = run_cli(capsys, "health", "--account", "T-1")
    assert "note: left out, input not fresh: support" in explained.out

    # The usage feed stops. Twenty days later the crew scores again.
    d20 = D0 + timedelta(days=20)
    held = run_cli(capsys, "score", "--now", at(d20))
    assert held.code == 1
    message = " ".join(held.err.split())
    assert "no new scores for 2026-10-21: data not fresh" in message
    assert "usage of logins: last 2026-10-01, 20 days old (expected within 3)" in message
    assert "the stale inputs carry 75 % of the weight (more than 50 %)" in message
    assert "The last good scores of 9 account(s) were carried forward, flagged stale" in message

    # What the old code would have stored: a book read as "no logins for 20 days".
    with transaction(engine) as s:
        unchecked = score_writes.score_in_memory(
            s, load_health_model(), BANDS, d20, now=datetime.now(UTC)
        )
    assert sum(band != "healthy" for _, _, band in unchecked) >= 8

    # What is stored instead: the last good scores, flagged stale, bands as on day 0.
    latest = health(capsys)
    assert latest["as_of"] == "2026-10-21"
    assert bands_of(latest) == bands_of(day0)
    assert all(a["stale"] for a in latest["accounts"])

    # Nothing acts on them: no RETENTION-001 event, no enrolment, no escalation, no prompt.
    evaluated = run_cli(capsys, "triggers", "evaluate", "--now", at(d20), "--json")
    assert evaluated.code == 0, evaluated.err
    r001 = {t["code"]: t for t in evaluated.json()["triggers"]}["RETENTION-001"]
    assert (r001["status"], r001["fired"]) == ("metric not available", 0)
    assert "carried forward" in r001["detail"]
    programs = run_cli(capsys, "programs", "run", "--now", at(d20), "--json")
    assert programs.code == 0, programs.err
    assert programs.json()["enrolled"] == {}
    settings = Settings(database_url=env["SUCCESSCREW_DATABASE_URL"])
    with transaction(engine) as s:
        raised = raise_escalations(
            s, policy=load_policy(), settings=settings, now=datetime.fromisoformat(at(d20))
        )
        alerts = generate_alerts(s, settings, now=datetime.fromisoformat(at(d20)))
    assert raised["raised"]["critical_high_value"] == 0  # FADING (ARR 500,000) is not raised
    assert alerts["alerts"] == 0  # nor posted as newly Critical
    wave = run_cli(capsys, "surveys", "wave", "--now", at(d20), "--json")
    assert wave.code == 0, wave.err
    assert "feedback" not in wave.json()["invited"]  # WOBBLY's at-risk prompt waits
    assert count(engine, TriggerEvent) == 0
    assert count(engine, ProgramEnrolment) == 0
    assert count(engine, Escalation) == 0
    with transaction(engine) as s:
        queued = [m.payload.get("survey") for m in s.scalars(select(OutboxMessage))]
    assert queued == ["nps"]  # the routine NPS survey is not driven by scores

    # The team hears of it: three held runs in a row are three failed data_freshness checks.
    for hour in (7, 8):
        assert run_cli(capsys, "score", "--now", at(d20, hour)).code == 1
    assert count(engine, ComponentCheck, ComponentCheck.component == "data_freshness") == 4
    alerted = run_cli(capsys, "triggers", "evaluate", "--now", at(d20, 8), "--json")
    r004 = {t["code"]: t for t in alerted.json()["triggers"]}["RETENTION-004"]
    assert r004["fired"] == 1
    with transaction(engine) as s:
        (event,) = s.scalars(select(TriggerEvent).where(TriggerEvent.code == "RETENTION-004"))
    assert event.subject == "component:data_freshness"
    assert "usage of logins: last 2026-10-01" in event.evidence["last_error"]

    # status shows each input's newest day and age.
    status = run_cli(capsys, "status", "--now", at(d20, 9))
    lines = [" ".join(line.split()) for line in status.out.splitlines()]
    assert "STALE usage of logins: last 2026-10-01, 20 days old (expected within 3)" in lines
    assert "fresh NPS answers: last 2026-09-26, 25 days old (expected within 90)" in lines
    assert "input CRM sync: no account synced from a CRM yet" in lines
    feeds = {
        f["feed"]: f
        for f in run_cli(capsys, "status", "--now", at(d20, 9), "--json").json()["data_freshness"][
            "feeds"
        ]
    }
    assert feeds["usage:api_calls"]["last_day"] == "2026-10-01"


def _project_with_model(tmp_path: Path, change: dict[str, Any]) -> Path:
    """A project directory whose config/health.yaml is the shipped one with ``change`` applied
    (every other definition falls back to the shipped defaults)."""
    shipped = yaml.safe_load((project_dir() / "config" / "health.yaml").read_text())
    shipped.update(change)
    (tmp_path / "project" / "config").mkdir(parents=True)
    (tmp_path / "project" / "config" / "health.yaml").write_text(yaml.safe_dump(shipped))
    return tmp_path / "project"


def test_a_model_version_bump_is_not_read_as_customers_dropping(
    env: dict[str, str],
    engine: Engine,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    assert run_cli(capsys, "init").code == 0
    seed_book(engine)
    with transaction(engine) as s:  # a fresh ticket feed: this test is about the model
        s.add(Ticket(external_id="TK2", account_id=2, opened_at=datetime.fromisoformat(at(D0))))
    for back in (2, 1, 0):
        day = D0 - timedelta(days=back)
        assert run_cli(capsys, "score", "--now", at(day)).code == 0
    before = health(capsys)

    # 2026.2 weighs logins against a target nobody reaches: every account loses points, and
    # nobody did anything.
    logins = yaml.safe_load((project_dir() / "config" / "health.yaml").read_text())["components"]
    components = dict(logins)
    components["logins_30d"] = {
        **components["logins_30d"],
        "weight": 60,
        "normalise": {"method": "target", "target": 5000, "worst": 0},
    }
    project = _project_with_model(tmp_path, {"version": "2026.2", "components": components})
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    day1 = D0 + timedelta(days=1)
    # Usage keeps arriving: one more day like the others.
    with transaction(engine) as s:
        rows = [
            {"account_id": a, "metric": m, "day": day1, "value": v, "event_count": 1}
            for a, m, v in (
                *((i, "logins", 10.0 + i) for i in range(1, 8)),
                *((i, "active_users", 3.0 + i) for i in range(1, 8)),
                *((i, "api_calls", 50.0) for i in range(1, 8)),
                (9, "logins", 9.5),
                (9, "active_users", 6.0),
                (9, "api_calls", 25.0),
            )
        ]
        s.execute(insert(UsageDaily), rows)
        mark_pending(s.connection(), days=[day1])
    scored = run_cli(capsys, "score", "--now", at(day1))
    assert scored.code == 0, scored.err
    said = " ".join(scored.out.split())
    assert (
        "health model changed 2026.1 -> 2026.2: re-scored with 2026.2, 2026-10-01's data puts"
        in said
    )
    assert "Drop alerts compare only scores of the same model" in said
    after = health(capsys)
    drops = {
        a["account"]: b["score"] - a["score"]
        for a, b in zip(after["accounts"], before["accounts"], strict=False)
    }
    assert max(drops.values()) > 20  # the model alone moved scores by more than drop_points
    moved = sum(1 for k, v in bands_of(after).items() if bands_of(before)[k] != v)
    assert f"puts {moved} of 9 accounts in another band" in said
    with transaction(engine) as s:
        (audited,) = s.scalars(select(AuditLog).where(AuditLog.action == "health_model_changed"))
    assert audited.subject == "2026.1 -> 2026.2" and audited.detail["changed_band"] == moved

    evaluated = run_cli(capsys, "triggers", "evaluate", "--now", at(day1), "--json")
    r001 = {t["code"]: t for t in evaluated.json()["triggers"]}["RETENTION-001"]
    assert "health model changed 2026.1 -> 2026.2 on 2026-10-02" in r001["detail"]
    with transaction(engine) as s:
        events = list(s.scalars(select(TriggerEvent).where(TriggerEvent.code == "RETENTION-001")))
    reasons = [r for e in events for r in e.evidence["reasons"]]
    assert not any("dropped" in r for r in reasons), reasons
    # Only accounts the new model puts under 40 fire, and their explanation names the change.
    assert {e.account_id for e in events} <= {
        i for i, a in enumerate(after["accounts"], start=1) if a["score"] < 40
    } | {8, 9}
    for e in events:
        assert "health model changed 2026.1 -> 2026.2" in e.evidence["explanation"]["summary"]
    explained = run_cli(capsys, "health", "--account", "T-3")
    assert "health model changed 2026.1 -> 2026.2 since 2026-10-01 (then" in " ".join(
        explained.out.split()
    )
    assert "the difference is the model's, not a change in the account" in " ".join(
        explained.out.split()
    )


def test_a_two_account_segment_ranks_within_the_book_and_silence_ranks_last(
    engine: Engine,
) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    as_of = date(2026, 6, 1)
    # Two "tiny" accounts, both active; twelve smb accounts, one of them silent for the window.
    segments = ["tiny", "tiny"] + ["smb"] * 12
    logins = [3.0, 100.0] + [5.0 * i for i in range(1, 12)] + [0.0]
    with transaction(engine) as s:
        for i, seg in enumerate(segments, start=1):
            s.add(
                Account(
                    id=i,
                    external_id=f"A{i}",
                    name=f"A{i}",
                    segment=seg,
                    created_at=now,
                    updated_at=now,
                )
            )
        s.flush()
        rows = [
            {"account_id": i, "metric": "logins", "day": as_of, "value": v, "event_count": 1}
            for i, v in enumerate(logins, start=1)
            if v
        ] + [
            {
                "account_id": i,
                "metric": "logins",
                "day": date(2026, 1, 1),
                "value": 1.0,
                "event_count": 1,
            }
            for i in range(1, 15)
        ]
        s.execute(insert(UsageDaily), rows)
        mark_pending(s.connection(), days=[as_of, date(2026, 1, 1)])

    def scored(rule: dict[str, Any]) -> dict[int, float]:
        model = parse_health_model(
            {
                "version": "t",
                "components": {
                    "logins": {
                        "kind": "usage_total",
                        "metric": "logins",
                        "window_days": 10,
                        "weight": 1,
                        "normalise": rule,
                    }
                },
            },
            "test.yaml",
        )
        with transaction(engine) as s:
            score_writes.score_accounts(s, model, BANDS, as_of, now=now)
            return {
                snap.account_id: snap.score
                for snap in s.scalars(select(HealthSnapshot).where(HealthSnapshot.as_of == as_of))
            }

    book = scored({"method": "percentile"})
    # Ranked among all 14 customers: 3 logins has one below it ((1 + 2) / 28), 100 is the top.
    assert book[1] == pytest.approx(100 * 3 / 28, abs=0.01)
    assert book[2] == pytest.approx(100 * 27 / 28, abs=0.01)
    # Silent in the window: 0, below every active account whatever its segment.
    assert book[14] == 0.0
    assert min(v for k, v in book.items() if k != 14) > 0
    # Ranked within the pair (min_segment_size 2): the least active of two gets 25.
    pair = scored({"method": "percentile", "min_segment_size": 2})
    assert (pair[1], pair[2]) == (25.0, 75.0)


def test_a_future_as_of_is_refused_and_a_date_scored_by_mistake_can_be_deleted(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed_book(engine)
    today = at(D0, 9)
    assert run_cli(capsys, "score", "--now", today).code == 0
    future = run_cli(capsys, "score", "--as-of", "2026-12-31", "--now", today)
    assert future.code == 2
    assert "--as-of 2026-12-31 is after today (2026-10-01)" in future.err
    assert "Pass --allow-future if you mean it" in " ".join(future.err.split())
    assert health(capsys)["as_of"] == "2026-10-01"  # nothing stored

    allowed = run_cli(
        capsys, "score", "--as-of", "2026-12-31", "--allow-future", "--now", today, "--json"
    )
    assert allowed.code == 1  # by then every input is months old: held, carried forward
    assert health(capsys)["as_of"] == "2026-12-31"

    deleted = run_cli(capsys, "score", "--delete", "2026-12-31", "--by", "kim", "--now", today)
    assert deleted.code == 0, deleted.err
    assert "deleted 9 health snapshot(s) of 2026-12-31 (audited)" in deleted.out
    assert health(capsys)["as_of"] == "2026-10-01"
    with transaction(engine) as s:
        (entry,) = s.scalars(select(AuditLog).where(AuditLog.action == "health_snapshots_deleted"))
    assert (entry.actor, entry.subject, entry.detail["deleted"]) == ("kim", "2026-12-31", 9)
    again = run_cli(capsys, "score", "--delete", "2026-12-31", "--now", today)
    assert "no health snapshots stored for 2026-12-31; nothing deleted" in again.out
    assert run_cli(capsys, "score", "--delete", "2026-12-31", "--as-of", "2026-10-01").code == 2
