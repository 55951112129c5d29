"""A fresh install as an operator meets it, with real processes: `init` makes the survey secret
(mode 0600) when none is set, the crew's first real ticks exit 0, and setup steps with nothing to
do (no CRM, no provider at all) end skipped with the reason in `run`, `status` and the review."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from successcrew.store.db import make_engine
from successcrew.store.models import OutboxMessage, SetupProgress
from tests.crewhelpers import day

EXE = str(Path(sys.executable).with_name("successcrew"))
NO_PROVIDER = "no provider configured (outbox only): nothing to check"


def successcrew(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """Run the command as cron would: output to pipes, never a terminal."""
    return subprocess.run([EXE, *args], env=env, capture_output=True, text=True, timeout=120)


def test_init_then_the_first_ticks_exit_0_and_steps_with_nothing_to_do_say_why(
    db_url: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    env["XDG_DATA_HOME"] = str(tmp_path / "data")
    data = tmp_path / "data" / "successcrew"
    if db_url.startswith("sqlite"):
        database = f"sqlite:///{data / 'successcrew.db'}"  # the default: nothing configured
    else:
        env["SUCCESSCREW_DATABASE_URL"] = database = db_url

    init = successcrew(env, "init")
    assert init.returncode == 0, init.stderr
    secret_file = data / "survey_secret"
    assert f"survey secret: created {secret_file}" in " ".join(init.stdout.split())
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    secret = secret_file.read_text().strip()
    assert len(secret) >= 32 and secret not in init.stdout + init.stderr

    first = successcrew(env, "run", "--now", day(1).isoformat())
    assert first.returncode == 0, first.stdout + first.stderr
    # Day 30: every setup step is due; the first NPS wave signs its links with the file's secret.
    month = successcrew(env, "run", "--now", day(30).isoformat())
    assert month.returncode == 0, month.stdout + month.stderr
    lines = month.stdout.splitlines()
    assert any(line.split() == ["succeeded", "setup", "first_nps_wave"] for line in lines)
    said = " ".join(month.stdout.split())
    assert f"skipped setup check_connections: {NO_PROVIDER}" in said
    assert "skipped setup map_health_field: no CRM configured" in said
    assert "skipped setup initial_customer_sync: no CRM configured" in said
    assert "failed" not in said.replace("0 failed", "")

    engine = make_engine(database)
    try:
        with engine.connect() as conn:
            progress = dict(conn.execute(select(SetupProgress.step_id, SetupProgress.status)).all())
            review = conn.execute(
                select(OutboxMessage.payload).where(OutboxMessage.idempotency_key == "setup:review")
            ).scalar_one()
    finally:
        engine.dispose()
    skipped = {"check_connections", "map_health_field", "initial_customer_sync"}
    assert {s for s, status in progress.items() if status == "skipped"} == skipped
    assert all(status == "done" for s, status in progress.items() if s not in skipped)
    assert (
        f"Skipped: check_connections ({NO_PROVIDER}); initial_customer_sync (no CRM"
        in (review["summary"])
    )

    status = successcrew(env, "status", "--now", day(30, 8).isoformat())
    assert status.returncode == 0, status.stderr
    shown = " ".join(status.stdout.split())
    assert "skipped map_health_field (day 4, looks again after" in shown
    assert shown.count(": no CRM configured") == 2

    # init again keeps the secret: links already sent stay valid.
    again = successcrew(env, "init")
    assert again.returncode == 0 and f"survey secret: {secret_file}" in again.stdout
    assert secret_file.read_text().strip() == secret
