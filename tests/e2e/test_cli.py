"""The command line as a newcomer uses it: demo, status, init, exit codes, --json."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from successcrew.store.models import Account, UsageDaily
from tests.clirunner import run_cli


def test_demo_fills_the_database_and_a_second_run_changes_nothing(
    env: dict[str, str], engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("demo", "--accounts", "40", "--days", "90", "--data-dir", str(tmp_path / "demo"))
    first = run_cli(capsys, *args)
    assert first.code == 0, first.err
    assert "what the database holds now" in first.out
    assert "accounts " in first.out and "churned" in first.out
    with engine.connect() as conn:
        accounts = conn.execute(select(func.count()).select_from(Account)).scalar_one()
        usage = conn.execute(select(func.count()).select_from(UsageDaily)).scalar_one()
    assert accounts == 40 and usage > 1000
    assert (tmp_path / "demo" / "ground_truth.csv").is_file()

    second = run_cli(capsys, *args, "--json")
    assert second.code == 0
    document = second.json()
    assert all(i["inserted"] == 0 and i["updated"] == 0 for i in document["demo"]["imports"])
    assert document["status"]["data"]["accounts"]["total"] == 40


def test_demo_refuses_to_mix_into_real_data(
    env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "init").code == 0
    real = tmp_path / "accounts.csv"
    real.write_text("external_id,name\ncust-1,Real Customer\n")
    assert run_cli(capsys, "import", "accounts", str(real)).code == 0
    result = run_cli(capsys, "demo", "--accounts", "10", "--days", "60")
    assert result.code == 2
    assert "not demo accounts" in result.err


def test_status_json_is_one_document_and_init_is_needed_first(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    status = run_cli(capsys, "status", "--json")
    if status.code == 2:  # a fresh PostgreSQL database from the fixture is migrated already
        pytest.fail(status.err)
    document = status.json()
    assert document["data"]["accounts"]["total"] == 0
    assert document["paused"] == []


def test_uninitialised_database_says_run_init(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", f"sqlite:///{tmp_path / 'fresh.db'}")
    result = run_cli(capsys, "status")
    assert result.code == 2
    assert "the database is empty; run `successcrew init` first." in result.err
    assert run_cli(capsys, "init").code == 0
    assert run_cli(capsys, "status").code == 0


def test_bad_database_url_is_a_clear_configuration_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", "mysql://user:hunter2@db/x")
    result = run_cli(capsys, "status")
    assert result.code == 2
    assert "not supported" in result.err
    assert "hunter2" not in result.err + result.out


def test_bad_option_is_usage_error_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli(capsys, "status", "--now", "yesterday").code == 2
    assert run_cli(capsys, "import").code == 2


def test_installed_command_help_is_fast_and_lists_commands(tmp_path: Path) -> None:
    exe = Path(sys.executable).with_name("successcrew")
    env = {**os.environ, "SUCCESSCREW_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    proc = subprocess.run(
        [str(exe), "--help"], capture_output=True, text=True, env=env, timeout=30, check=False
    )
    assert proc.returncode == 0
    for command in ("init", "import", "status", "demo"):
        assert command in proc.stdout
    # --help must not import the database stack (keeps cron and shell completion snappy).
    probe = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from successcrew.cli.app import main; main(['--help']); "
            "print('sqlalchemy' in sys.modules)",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=30,
        check=False,
    )
    assert probe.stdout.strip().endswith("False")


def test_status_shows_held_and_dead_outbox_messages(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, datetime

    from sqlalchemy import update

    from successcrew.store.db import transaction
    from successcrew.store.models import OutboxMessage
    from successcrew.store.outbox import enqueue

    now = datetime(2026, 11, 25, tzinfo=UTC)
    with transaction(engine) as session:
        enqueue(session, key="k1", channel="slack", payload={"text": "hi"}, now=now)
        enqueue(session, key="k2", channel="slack", payload={"text": "hi"}, now=now)
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == "k2")
            .values(status="dead", attempts=5, last_error="channel_not_found")
        )
    result = run_cli(capsys, "status")
    assert result.code == 0, result.err
    assert "outbox    1 pending, 1 dead" in result.out
    assert "after 5 attempts: channel_not_found" in result.out
    document = run_cli(capsys, "status", "--json").json()
    assert document["outbox"]["counts"]["dead"] == 1


def test_status_shows_the_band_distribution_of_the_newest_scores(
    env: dict[str, str], engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from datetime import UTC, date, datetime

    from successcrew.store.db import transaction
    from successcrew.store.models import HealthSnapshot

    accounts = tmp_path / "accounts.csv"
    accounts.write_text("external_id,name\nA,a\nB,b\nC,c\n")
    assert run_cli(capsys, "import", "accounts", str(accounts)).code == 0
    assert "scores    none yet" in run_cli(capsys, "status").out
    now = datetime(2026, 11, 25, tzinfo=UTC)
    with transaction(engine) as session:
        ids = session.scalars(select(Account.id).order_by(Account.external_id)).all()
        for account_id, score, band, day in (
            (ids[0], 70.0, "healthy", date(2026, 11, 24)),
            (ids[1], 39.99, "critical", date(2026, 11, 24)),
            (ids[2], 10.0, "critical", date(2026, 11, 23)),  # older: not counted
        ):
            session.add(
                HealthSnapshot(
                    account_id=account_id,
                    as_of=day,
                    score=score,
                    computed_score=score,
                    band=band,
                    model_version="t",
                    stale=False,
                    created_at=now,
                )
            )
    out = run_cli(capsys, "status").out
    assert "scores    as of 2026-11-24: 1 healthy (50 %), 0 at-risk (0 %), 1 critical (50 %)" in out
    scores = run_cli(capsys, "status", "--json").json()["scores"]
    assert scores["bands"] == {"healthy": 1, "at_risk": 0, "critical": 1}


def test_demo_ends_with_a_dashboard_sign_in_that_works(
    env: dict[str, str], engine: Engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from successcrew.services.platform.users import check_password
    from successcrew.settings import session_secret_file
    from successcrew.store.db import transaction

    args = ("demo", "--accounts", "10", "--days", "60", "--crew-days", "0")
    result = run_cli(capsys, *args, "--data-dir", str(tmp_path / "demo"))
    assert result.code == 0, result.err
    assert "run `successcrew serve` and open http://localhost:8000/" in result.out
    password = result.out.split("password: ")[1].split()[0]
    with transaction(engine) as session:
        lead = check_password(session, "demo-lead@successcrew.example", password)
        chair = check_password(session, "demo-chairman@successcrew.example", password)
    assert lead is not None and lead.role == "lead"
    assert chair is not None and chair.role == "chairman"
    # serve needs the session secret to sign anyone in: the demo made sure it exists.
    assert session_secret_file().is_file()
