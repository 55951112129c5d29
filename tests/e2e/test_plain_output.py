"""What a person reads from the command line when the output goes to a file or a pipe: one record
per line, numbers as people write them, the version, one line for an unexpected error, and the
listings of the outbox, the NPS comments and the audit log."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from successcrew.paths import project_dir
from successcrew.store.db import transaction
from successcrew.store.models import Account, HealthSnapshot, NpsResponse
from tests.clirunner import run_cli

NOW = datetime(2026, 11, 20, 7, tzinfo=UTC)
LONG_NAME = "Northwind Traders International Holdings and Subsidiaries of the Greater Region"


def _critical_high_value_account(engine: Engine) -> None:
    with transaction(engine) as session:
        session.execute(
            insert(Account).values(
                id=1, external_id="a1", name=LONG_NAME, arr=250_000, created_at=NOW, updated_at=NOW
            )
        )
        session.execute(
            insert(HealthSnapshot).values(
                account_id=1,
                as_of=NOW.date(),
                score=39.96,
                band="critical",
                components={},
                missing_components=[],
                model_version="m1",
                created_at=NOW,
            )
        )


def test_the_outbox_lists_one_message_per_line_with_plain_titles(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    _critical_high_value_account(engine)
    assert run_cli(capsys, "triggers", "evaluate", "--now", NOW.isoformat()).code == 0

    listed = run_cli(capsys, "outbox", "--channel", "slack")
    assert listed.code == 0, listed.err
    (line,) = listed.out.splitlines()  # one record, one line, however long the name
    assert len(line) > 120
    assert f"#chairman: High-value account {LONG_NAME} at risk: health 39.9" in line
    assert "pending" in line and "RETENTION-001" not in line

    shown = run_cli(capsys, "outbox", "--channel", "slack", "--show").out.splitlines()
    assert "        | Value: 39.9" in shown and "        | ARR: 250,000" in shown
    assert shown[-1].startswith("        | RETENTION-001 · Account health critical")

    document = run_cli(capsys, "outbox", "--json").json()
    assert {m["channel"] for m in document["messages"]} == {"slack"}
    assert "payload" not in document["messages"][0]
    assert run_cli(capsys, "outbox", "--state", "dead").out == "no outbox messages\n"
    wrong = run_cli(capsys, "outbox", "--state", "lost")
    assert wrong.code == 2 and "--state: 'lost' is not a state" in wrong.err


def test_feedback_and_audit_list_what_was_read_and_done(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    _critical_high_value_account(engine)
    with transaction(engine) as session:
        session.execute(
            insert(NpsResponse).values(
                id=31,
                natural_key="n31",
                account_id=1,
                score=3,
                comment="Support takes days to answer a ticket, terrible.",
                responded_at=NOW,
            )
        )
    assert run_cli(capsys, "feedback", "categorise").code == 0
    feedback = run_cli(capsys, "feedback")
    assert feedback.code == 0, feedback.err
    (line,) = feedback.out.splitlines()
    assert line.startswith(f"#31     2026-11-20 {LONG_NAME} score 3 negative [support]: Support")
    (comment,) = run_cli(capsys, "feedback", "--json").json()["comments"]
    assert (comment["id"], comment["categories"], comment["sentiment_label"]) == (
        31,
        ["support"],
        "negative",
    )
    assert run_cli(capsys, "feedback", "correct", "31", "--categories", "praise").code == 0
    assert "[praise] (corrected)" in run_cli(capsys, "feedback").out

    assert (
        run_cli(capsys, "pause", "surveys", "--reason", "copy under review", "--by", "kim").code
        == 0
    )
    audit = run_cli(capsys, "audit", "--action", "pause")
    (line,) = audit.out.splitlines()
    assert " kim: pause surveys" in line and "copy under review" in line
    entries = run_cli(capsys, "audit", "--json").json()["entries"]
    assert [e["action"] for e in entries][:2] == ["pause", "feedback.correct"]


def test_version_prints_the_installed_version(capsys: pytest.CaptureFixture[str]) -> None:
    from importlib.metadata import version

    result = run_cli(capsys, "--version")
    assert (result.code, result.out) == (0, f"successcrew {version('successcrew')}\n")


def test_an_unexpected_error_is_one_line_naming_the_log_of_its_traceback(
    env: dict[str, str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # A developer's agent module with a bug in it: not a user error, a crash.
    project = tmp_path / "project"
    for part in ("config", "triggers", "agents", "crews"):
        shutil.copytree(project_dir() / part, project / part)
    agent = project / "agents" / "nps_tracker.yaml"
    agent.write_text(
        agent.read_text().replace("successcrew.agents.nps:NPSTracker", "buggy_agent:NPSTracker")
    )
    (tmp_path / "buggy_agent.py").write_text(
        "raise RuntimeError('agent module failed\\nwhile importing: token xoxb-123456789012')\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("SUCCESSCREW_SLACK_TOKEN", "xoxb-123456789012")

    result = run_cli(capsys, "status")
    log = tmp_path / "data" / "successcrew" / "errors.log"
    assert result.code == 1
    assert result.err == (
        "error: unexpected RuntimeError: agent module failed while importing: token [REDACTED]; "
        f"this is a bug: the details are in {log}\n"
    )
    logged = log.read_text()
    assert "Traceback (most recent call last)" in logged and "buggy_agent.py" in logged
    assert "successcrew status" in logged and "xoxb-123456789012" not in logged


def test_trigger_and_health_listings_write_numbers_as_people_do(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    _critical_high_value_account(engine)
    with transaction(engine) as session:
        session.execute(
            HealthSnapshot.__table__.update().values(
                components={
                    "usage": {
                        "label": "Usage",
                        "kind": "usage_total",
                        "raw": 7650.0,
                        "normalised": 0.123,
                        "weight": 30.0,
                        "contribution": 3.7,
                    }
                }
            )
        )
    evaluated = run_cli(capsys, "triggers", "evaluate", "--now", NOW.isoformat())
    assert evaluated.code == 0, evaluated.err
    assert "RETENTION-001 v1 evaluated threshold 40.0: 1 fired" in evaluated.out

    (event,) = run_cli(capsys, "triggers").out.splitlines()
    # 39.96 is Critical: it never reads as 40.0, the threshold it is under.
    assert f"{LONG_NAME}: value 39.9 threshold 40.0, fired" in event

    (header, row) = run_cli(capsys, "health").out.splitlines()
    assert header.endswith("(1 accounts)")
    assert row.startswith("a1") and "  39.9 Critical" in row and "usage 4" in row
    detail = run_cli(capsys, "health", "--account", "a1").out
    assert "raw    7,650  norm 0.12" in detail and "7650" not in detail
    # Machines read the raw figures.
    assert run_cli(capsys, "health", "--json").json()["accounts"][0]["score"] == 39.96
