"""Real ``successcrew run`` processes: two at once (one works, the other exits 75), and runs
killed with SIGKILL at random points that the next run finishes without repeating a step or
losing a message. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from successcrew.store.models import CrewRun, OutboxMessage, TaskRun
from tests.crewhelpers import DAY1, day, make_crew, plant_snapshot, seed_accounts

EXE = str(Path(sys.executable).with_name("successcrew"))

NAPPER = '''
import time
from successcrew.agents import Agent, TaskContext, tool


class Napper(Agent):
    @tool()
    def nap(self, ctx: TaskContext) -> dict:
        """Hold the run open long enough for a second run to find the lock taken."""
        time.sleep(float(ctx.params.get("seconds", 3)))
        return {"slept": ctx.params.get("seconds", 3)}
'''


def _env(db_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    env.update(
        SUCCESSCREW_DATABASE_URL=db_url, SUCCESSCREW_SURVEY_SECRET="test-survey-secret", **extra
    )
    return env


def test_two_runs_at_the_same_moment_one_works_the_other_exits_75(
    db_url: str, engine: Engine, tmp_path: Path
) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "napper.py").write_text(NAPPER)
    project = tmp_path / "project"
    (project / "agents").mkdir(parents=True)
    (project / "crews").mkdir()
    (project / "agents" / "napper.yaml").write_text(
        "name: napper\nclass: napper:Napper\nrole: Napper\ngoal: Hold the lock.\n"
        "backstory: A test agent.\ntools:\n  - {name: nap, description: Sleep.}\n"
    )
    (project / "crews" / "customer_success.yaml").write_text(
        textwrap.dedent(
            """
            name: lock_test
            setup:
              steps: []
            operations:
              tasks:
                - {id: nap, cadence: hourly, agent: napper, tool: nap, params: {seconds: 4}}
            """
        )
    )
    env = _env(
        db_url,
        SUCCESSCREW_PROJECT_DIR=str(project),
        PYTHONPATH=os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]),
    )
    args = [EXE, "run", "--now", day(1).isoformat(), "--json"]
    procs = [
        subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    results = [(p.wait(timeout=60), *p.communicate()) for p in procs]
    codes = sorted(r[0] for r in results)
    assert codes == [0, 75], results
    loser = next(r for r in results if r[0] == 75)
    assert "another successcrew run holds the run lock" in loser[2]
    assert loser[1] == ""  # nothing on stdout: cron's JSON consumer sees no half document
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(CrewRun)).scalar_one() == 1
    # The lock is released with the run: the next tick takes it.
    again = subprocess.run(
        [EXE, "run", "--now", day(1, 8).isoformat()], env=env, capture_output=True, timeout=60
    )
    assert again.returncode == 0, again.stderr


TICKS = [1, 7, 11, 17, 21, 22, 25, 30]


def _seed(engine: Engine) -> None:
    seed_accounts(engine, 40)
    for ext, score in (("T-040", 12.0), ("T-039", 25.0), ("T-038", 33.0), ("T-005", 20.0)):
        plant_snapshot(engine, ext, DAY1, score)


def _crew_runs(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(CrewRun)).scalar_one()


def _outcome(engine: Engine) -> tuple[Counter, Counter, int]:
    with engine.connect() as conn:
        messages = Counter(
            (ch, acc, str(payload.get("title") or payload.get("subject")))
            for ch, acc, payload in conn.execute(
                select(OutboxMessage.channel, OutboxMessage.account_id, OutboxMessage.payload)
            )
        )
        steps = Counter(
            conn.execute(select(TaskRun.task).where(TaskRun.status == "succeeded")).scalars()
        )
        abandoned = conn.execute(
            select(func.count()).where(CrewRun.status == "abandoned")
        ).scalar_one()
    return messages, steps, abandoned


@pytest.mark.parametrize("seed", [11])
def test_a_run_killed_at_a_random_point_is_finished_by_the_next_one(
    db_url: str, engine: Engine, tmp_path: Path, seed: int, request: pytest.FixtureRequest
) -> None:
    # The reference: the same ticks, never interrupted, on a second database of the same kind.
    if engine.dialect.name == "sqlite":
        ref_url = f"sqlite:///{tmp_path / 'reference.db'}"
        import shutil

        shutil.copy(request.getfixturevalue("sqlite_template"), tmp_path / "reference.db")
    else:
        ref_url = _fresh_pg_copy(request)
    from successcrew.store.db import make_engine

    ref_engine = make_engine(ref_url)
    try:
        _seed(engine)
        _seed(ref_engine)
        crew = make_crew(ref_engine)
        for n in TICKS:
            assert crew.run(day(n)).exit_code == 0
        crew.close()
        expected = _outcome(ref_engine)
    finally:
        ref_engine.dispose()

    rng = random.Random(seed)
    env = _env(db_url)
    kills = 0
    for n in TICKS:
        args = [EXE, "run", "--now", day(n).isoformat(), "--json"]
        before = _crew_runs(engine)
        proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        # Wait until the run has started working (its crew_run row is committed), then kill it
        # at a random point of its work.
        deadline = time.monotonic() + 30
        while proc.poll() is None and _crew_runs(engine) == before:
            assert time.monotonic() < deadline
            time.sleep(0.005)
        time.sleep(rng.uniform(0, 0.12))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait(timeout=60)
        finish = subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)
        assert finish.returncode == 0, finish.stderr
    assert kills >= 2, "the random delays should have killed several runs mid-way"

    messages, steps, abandoned = _outcome(engine)
    assert messages == expected[0]  # no message lost, none queued twice
    assert steps == expected[1]  # every step and operation ran exactly as often as uninterrupted
    assert abandoned >= 1  # the killed runs are on record


def _fresh_pg_copy(request: pytest.FixtureRequest) -> str:
    """A second, empty, migrated PostgreSQL database next to the test one (dropped after it)."""
    import uuid

    from sqlalchemy import create_engine, text

    from successcrew.store.migrate import upgrade
    from tests.conftest import ADMIN_URL

    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"sc_ref_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    from successcrew.store.db import make_engine

    eng = make_engine(url)
    upgrade(eng)
    eng.dispose()

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    request.addfinalizer(drop)
    return url
