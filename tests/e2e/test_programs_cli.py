"""``programs``, ``surveys``, ``feedback`` and ``report`` from the command line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from successcrew.store.db import transaction
from successcrew.store.models import Account, Contact, NpsResponse
from tests.clirunner import run_cli

NOW = "2026-06-01T09:00:00Z"


def seed(engine: Engine) -> None:
    from datetime import UTC, datetime

    at = datetime(2026, 5, 1, tzinfo=UTC)
    with transaction(engine) as s:
        s.add(Account(id=1, external_id="A1", name="Acme", created_at=at, updated_at=at))
        s.flush()
        s.add(
            Contact(
                id=1,
                external_id="C1",
                account_id=1,
                email="a@acme.example",
                created_at=at,
                updated_at=at,
            )
        )
        s.execute(
            insert(NpsResponse).values(
                id=1,
                natural_key="k1",
                account_id=1,
                score=3,
                comment="Support takes days to answer",
                responded_at=at,
            )
        )


def test_commands_list_run_and_report(
    env: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(engine)
    listing = run_cli(capsys, "programs", "--json", "--now", NOW)
    assert listing.code == 0, listing.err
    ids = [p["id"] for p in listing.json()["programs"]]
    assert ids == ["at_risk", "critical", "win_back"]

    paused = run_cli(capsys, "programs", "pause", "at_risk", "--reason", "copy review", "--json")
    assert paused.code == 0 and paused.json()["scope"] == "campaign:at_risk"
    listed = run_cli(capsys, "programs", "--json", "--now", NOW).json()["programs"][0]
    assert listed["paused"]["reason"] == "copy review"
    resumed = run_cli(capsys, "programs", "resume", "at_risk", "--reason", "ok", "--json")
    assert resumed.code == 0 and resumed.json()["changed"] is True
    unknown = run_cli(capsys, "programs", "pause", "nope", "--reason", "x")
    assert unknown.code == 2 and "unknown program 'nope'" in unknown.err

    ran = run_cli(capsys, "programs", "run", "--json", "--now", NOW)
    assert ran.code == 0, ran.err
    assert ran.json()["auto_paused"] == []

    no_secret = run_cli(capsys, "surveys", "wave", "--now", NOW)
    assert no_secret.code == 2 and "SUCCESSCREW_SURVEY_SECRET is not set" in no_secret.err
    monkeypatch.setenv("SUCCESSCREW_SURVEY_SECRET", "s" * 32)
    wave = run_cli(capsys, "surveys", "wave", "--now", NOW, "--json")
    assert wave.code == 0, wave.err
    assert wave.json()["invited"] == {"nps": 1}

    categorised = run_cli(capsys, "feedback", "categorise", "--json")
    assert categorised.code == 0 and categorised.json() == {"read": 1, "categorised": 1}
    bad = run_cli(capsys, "feedback", "correct", "1", "--categories", "support,oops")
    assert bad.code == 2 and "unknown oops" in bad.err
    good = run_cli(capsys, "feedback", "correct", "1", "--categories", "support", "--json")
    assert good.code == 0 and good.json()["categories_manual"] == ["support"]

    report = run_cli(capsys, "report", "--out", str(tmp_path / "r"), "--now", NOW, "--json")
    assert report.code == 0, report.err
    assert Path(report.json()["html"]).is_file()
    assert "Support takes days to answer" in (tmp_path / "r" / "report.md").read_text()


def test_broken_playbook_is_exit_2_naming_file_and_key(
    env: dict[str, str],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    project = tmp_path / "project"
    (project / "config" / "playbooks").mkdir(parents=True)
    (project / "config" / "playbooks" / "x.yaml").write_text(
        "id: x\nname: X\nentry: [{rule: band_entered, band: at_risk}]\n"
        "steps:\n  - {id: s, kind: slack, title: '{{ acount.name }}'}\n"
    )
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    result = run_cli(capsys, "programs", "--json")
    assert result.code == 2
    assert "x.yaml: key steps[0].title: template names an unknown variable" in result.err
