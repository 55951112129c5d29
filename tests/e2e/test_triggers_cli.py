"""The trigger, pause/resume and system-health parts of the command line, as an operator uses them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert

from successcrew.services.platform.system_health import run_system_health_checks
from successcrew.store.db import transaction
from successcrew.store.models import Account, HealthSnapshot
from tests.clirunner import run_cli

NOW = datetime(2026, 11, 20, 7, tzinfo=UTC)


def test_pause_and_resume_by_hand_with_usage_errors(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    unknown = run_cli(capsys, "pause", "everything", "--reason", "x")
    assert unknown.code == 2 and "unknown scope 'everything'" in unknown.err
    missing = run_cli(capsys, "pause", "campaigns")
    assert missing.code == 2 and "--reason is required" in missing.err
    assert run_cli(capsys, "resume", "scoring", "--reason", "x").code == 0  # rollback scope
    assert run_cli(capsys, "pause", "scoring", "--reason", "x").code == 2  # not by hand

    paused = run_cli(
        capsys, "pause", "surveys", "--reason", "survey copy under review", "--by", "kim"
    )
    assert paused.code == 0 and "surveys paused by kim" in paused.out
    status = run_cli(capsys, "status", "--json").json()
    assert [(p["scope"], p["by"], p["reason"]) for p in status["paused"]] == [
        ("surveys", "kim", "survey copy under review")
    ]
    again = run_cli(capsys, "pause", "surveys", "--reason", "again", "--by", "kim")
    assert "surveys: kim holds it already; nothing changed" in again.out
    # Someone else's resume does not lift kim's pause; it says who still holds the scope.
    other = run_cli(capsys, "resume", "surveys", "--reason", "copy approved")
    assert other.code == 0 and "operator holds no pause on it; nothing changed" in other.out
    assert "held by kim since" in other.out
    mine = run_cli(capsys, "resume", "surveys", "--reason", "copy approved", "--by", "kim")
    assert mine.code == 0 and "surveys is not paused" in mine.out
    assert run_cli(capsys, "status", "--json").json()["paused"] == []


def test_triggers_evaluate_and_list(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    init = run_cli(capsys, "init")
    assert "RETENTION-001 v1 created" in init.out.replace("\n", " ")
    assert "RETENTION-001 v1 unchanged" in run_cli(capsys, "init").out.replace("\n", " ")
    with transaction(engine) as session:
        session.execute(
            insert(Account).values(
                id=1, external_id="a1", name="Acme Ltd", created_at=NOW, updated_at=NOW
            )
        )
        session.execute(
            insert(HealthSnapshot).values(
                account_id=1,
                as_of=NOW.date(),
                score=12.5,
                band="critical",
                components={},
                missing_components=[],
                model_version="m1",
                created_at=NOW,
            )
        )
    evaluated = run_cli(capsys, "triggers", "evaluate", "--now", NOW.isoformat(), "--json")
    assert evaluated.code == 0, evaluated.err
    by_code = {t["code"]: t for t in evaluated.json()["triggers"]}
    assert by_code["RETENTION-001"]["fired"] == 1
    assert by_code["RETENTION-002"]["status"] == "evaluated"  # Acme was a customer all along
    assert by_code["RETENTION-003"]["status"] == "metric not available"

    listed = run_cli(capsys, "triggers", "--json")
    (event,) = listed.json()["events"]
    assert (
        event["code"],
        event["account"],
        event["value"],
        event["threshold"],
        event["status"],
    ) == (
        "RETENTION-001",
        "Acme Ltd",
        12.5,
        40.0,
        "open",
    )
    text = run_cli(capsys, "triggers", "--since", "2026-11-20")
    assert "RETENTION-001 v1 open" in text.out and "Acme Ltd: value 12.5 threshold 40.0" in text.out
    assert run_cli(capsys, "triggers", "--since", "2026-11-21", "--json").json()["events"] == []
    assert run_cli(capsys, "triggers", "--since", "yesterday").code == 2


def test_system_health_checks_show_in_status(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0

    def broken() -> None:
        raise ConnectionError("CRM answered 503")

    probes = {
        "crm_sync": broken,
        "health_scoring": lambda: {"accounts": 10},
        "campaign_dispatch": lambda: None,
        "nps_surveys": lambda: None,
    }
    start = NOW - timedelta(hours=5)
    for hour in range(4):
        results = run_system_health_checks(engine, start + timedelta(hours=hour), probes)
    assert results["crm_sync"] == {"ok": False, "error": "ConnectionError: CRM answered 503"}

    document = run_cli(capsys, "status", "--now", NOW.isoformat(), "--json").json()
    health = {row["component"]: row for row in document["system_health"]}
    crm = health["crm_sync"]
    assert (crm["consecutive_failures"], crm["alerting"], crm["uptime_pct"], crm["meets_slo"]) == (
        4,
        True,
        0.0,
        False,
    )
    assert crm["last_error"] == "ConnectionError: CRM answered 503"
    assert health["nps_surveys"]["uptime_pct"] == 100.0 and health["nps_surveys"]["meets_slo"]
    text = run_cli(capsys, "status", "--now", NOW.isoformat()).out
    assert "crm_sync: 4 failures in a row; uptime 30d 0.00 % (SLO 99.5 % BELOW)" in text
    assert "last error: ConnectionError: CRM answered 503" in text
