"""A dispatch transaction the database rolls back to let another process through (a deadlock,
a serialisation failure, SQLite's stale snapshot) is run again; one that keeps being rolled back
ends the dispatch with one line on stderr and exit 1, never a traceback, in ``integrations
dispatch`` and in the dispatch task of ``run``.

On PostgreSQL the conflicts come from a trigger that raises SQLSTATE 40P01 (what the server
raises for the loser of a real deadlock, which the stress test in tests/e2e provokes) for the
first N UPDATEs of the outbox; on SQLite from a second connection that commits between the
claim's read and its write.
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event, insert, text, update

from successcrew.definitions.thresholds import load_thresholds
from successcrew.integrations import dispatch
from successcrew.integrations.http import HttpPolicy
from successcrew.integrations.providers import outbox_only_reason
from successcrew.store.db import CONFLICT_ATTEMPTS, make_engine, transaction
from successcrew.store.models import OutboxMessage
from successcrew.store.outbox import enqueue
from tests.clirunner import run_cli
from tests.crewhelpers import dispatch_only_project
from tests.fakes.slack import FakeSlack
from tests.integration.outbox_helpers import NOW, make_settings, rows

TOKEN = "xoxb-conflict-secret"


def _held_alert(engine: Engine) -> None:
    """One Slack alert held while Slack had no token (now configured: the hold pass releases
    it with an UPDATE)."""
    with transaction(engine) as session:
        enqueue(session, key="alert:1", channel="slack", payload={"title": "Critical"}, now=NOW)
        session.execute(
            update(OutboxMessage).values(
                status="held",
                last_error=outbox_only_reason("slack"),
                next_attempt_at=NOW + timedelta(days=1),
            )
        )


@pytest.fixture
def slack(server: HTTPServer, monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> FakeSlack:
    monkeypatch.setenv("SUCCESSCREW_SLACK_TOKEN", TOKEN)
    monkeypatch.setenv("SUCCESSCREW_SLACK_API_URL", server.url_for("/api"))
    return FakeSlack(server, TOKEN)


@pytest.fixture
def deadlocks(db_url: str, engine: Engine) -> Iterator[Callable[[int], Callable[[], int]]]:
    """``arm(n)``: the next ``n`` UPDATE statements on the outbox fail as a deadlock's loser
    does; returns a function telling how many UPDATEs were tried so far."""
    if not db_url.startswith("postgresql"):
        pytest.skip("the deadlock is raised by a PostgreSQL trigger (SQLite: see the test below)")

    def arm(times: int) -> Callable[[], int]:
        with engine.begin() as conn:
            conn.execute(text("CREATE SEQUENCE test_outbox_updates"))
            conn.execute(
                text(
                    f"""
                    CREATE FUNCTION test_outbox_deadlock() RETURNS trigger LANGUAGE plpgsql AS $$
                    BEGIN
                      -- nextval is not rolled back with the transaction: it counts attempts.
                      IF nextval('test_outbox_updates') <= {int(times)} THEN
                        RAISE EXCEPTION 'deadlock detected' USING ERRCODE = '40P01';
                      END IF;
                      RETURN NULL;
                    END $$
                    """
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER test_outbox_deadlock BEFORE UPDATE ON outbox "
                    "FOR EACH STATEMENT EXECUTE FUNCTION test_outbox_deadlock()"
                )
            )

        def tried() -> int:
            with engine.connect() as conn:
                return int(conn.scalar(text("SELECT last_value FROM test_outbox_updates")))

        return tried

    try:
        yield arm
    finally:
        # The session's PostgreSQL database is shared by the tests that follow.
        with engine.begin() as conn:
            conn.execute(text("DROP TRIGGER IF EXISTS test_outbox_deadlock ON outbox"))
            conn.execute(text("DROP FUNCTION IF EXISTS test_outbox_deadlock()"))
            conn.execute(text("DROP SEQUENCE IF EXISTS test_outbox_updates"))


def test_a_deadlock_in_the_hold_pass_is_retried_and_the_message_goes_out_once(
    engine: Engine,
    slack: FakeSlack,
    deadlocks: Callable[[int], Callable[[], int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _held_alert(engine)
    tried = deadlocks(2)  # the release fails twice, then goes through
    result = run_cli(capsys, "integrations", "dispatch", "--now", NOW.isoformat())
    assert result.code == 0
    assert "Traceback" not in result.err and "error" not in result.err
    assert "delivered 1" in result.out
    assert tried() > 2  # the two failed releases, then release, claim and record
    assert [p["metadata"]["event_payload"]["idempotency_key"] for p in slack.posts] == ["alert:1"]
    assert rows(engine)["alert:1"].status == "delivered"


def test_a_deadlock_that_persists_is_one_line_on_stderr_and_exit_1(
    engine: Engine,
    slack: FakeSlack,
    deadlocks: Callable[[int], Callable[[], int]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _held_alert(engine)
    tried = deadlocks(10**6)
    result = run_cli(capsys, "integrations", "dispatch", "--now", NOW.isoformat())
    assert result.code == 1
    assert result.out == ""
    assert "Traceback" not in result.err
    [line] = result.err.splitlines()
    assert line.startswith(
        "error: dispatch: holding and releasing unsendable messages: the database rolled the "
        f"transaction back {CONFLICT_ATTEMPTS} times in a row"
    ), line
    assert "deadlock detected, SQLSTATE 40P01" in line
    assert "run it again" in line and TOKEN not in line
    assert tried() == CONFLICT_ATTEMPTS  # bounded
    # Nothing of the failed passes was kept, and nothing was sent.
    assert rows(engine)["alert:1"].status == "held"
    assert slack.posts == []


def test_a_run_whose_dispatch_keeps_deadlocking_records_one_line_and_exits_1(
    engine: Engine,
    slack: FakeSlack,
    deadlocks: Callable[[int], Callable[[], int]],
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(dispatch_only_project(tmp_path)))
    monkeypatch.setenv("SUCCESSCREW_SURVEY_SECRET", "test-survey-secret")
    _held_alert(engine)
    deadlocks(10**6)
    result = run_cli(capsys, "run", "--now", NOW.isoformat(), "--json")
    assert result.code == 1
    assert "Traceback" not in result.err
    summary: dict[str, Any] = result.json()
    [task] = summary["tasks"]
    assert (task["task"], task["status"]) == ("dispatch", "failed")
    assert task["error"].startswith(
        "DatabaseConflict: dispatch: holding and releasing unsendable messages: the database "
        "rolled the transaction back"
    ), task["error"]
    assert "\n" not in task["error"]
    assert slack.posts == []


def test_a_stale_sqlite_snapshot_in_the_claim_is_retried(
    sqlite_template: Path, tmp_path: Path, server: HTTPServer, fast_policy: HttpPolicy
) -> None:
    path = tmp_path / "successcrew.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    fake = FakeSlack(server, TOKEN)
    with transaction(engine) as session:
        enqueue(session, key="alert:1", channel="slack", payload={"title": "Critical"}, now=NOW)
        session.execute(
            insert(OutboxMessage).values(
                idempotency_key="old:1",
                channel="slack",
                payload={},
                status="dead",
                attempts=5,
                next_attempt_at=NOW,
                created_at=NOW,
            )
        )
    claim_reads: list[str] = []

    def another_writer_commits(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Between the claim's read and its UPDATE, once: a dispatcher elsewhere records a row.
        if statement.lstrip().startswith("SELECT outbox.id, outbox.status"):
            claim_reads.append(statement)
            if len(claim_reads) == 1:
                other = sqlite3.connect(path, isolation_level=None)
                other.execute("UPDATE outbox SET last_error = 'seen' WHERE idempotency_key='old:1'")
                other.close()

    event.listen(engine, "after_cursor_execute", another_writer_commits)
    try:
        settings = make_settings(slack_token=TOKEN, slack_api_url=fake.url)
        summary = dispatch(engine, settings, load_thresholds(), NOW, policy=fast_policy)
    finally:
        event.remove(engine, "after_cursor_execute", another_writer_commits)
    assert len(claim_reads) >= 2  # the claim ran again after SQLITE_BUSY_SNAPSHOT
    assert (summary.claimed, summary.delivered, summary.errors) == (1, 1, [])
    assert [p["metadata"]["event_payload"]["idempotency_key"] for p in fake.posts] == ["alert:1"]
    assert rows(engine)["alert:1"].status == "delivered"
    engine.dispose()
