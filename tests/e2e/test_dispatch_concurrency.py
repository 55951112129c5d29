"""Several dispatchers and a run started at the same moment on PostgreSQL, as scaling out does
(CronJob parallelism, a manual dispatch beside the hourly run): none fails, every message reaches
the provider once, none is left claimed.

A database holding held messages whose reason is gone (credentials configured since, a pause
lifted) and due pending ones is seeded once; every round works on a fresh copy of it
(``CREATE DATABASE ... TEMPLATE``), with Slack and SendGrid stand-ins on loopback counting what
they receive by idempotency key. The processes of a round are forked from warm launchers
(tests/forked_cli.py), so twenty rounds of five processes cost seconds of imports, not minutes.
Before the hold pass took its lock, one round in five or so failed with DeadlockDetected.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, create_engine, func, select, text, update
from sqlalchemy.engine import make_url

from successcrew.integrations.providers import EMAIL_PROVIDERS, outbox_only_reason
from successcrew.store.db import make_engine, transaction
from successcrew.store.migrate import upgrade
from successcrew.store.models import OutboxMessage
from successcrew.store.outbox import enqueue_many
from tests.crewhelpers import dispatch_only_project
from tests.fakes.sendgrid import FakeSendGrid
from tests.fakes.slack import FakeSlack
from tests.forked_cli import Finished, Launcher, together
from tests.integration.outbox_helpers import NOW

ROUNDS = 20
DISPATCHERS = 4
#: Each launcher has its own hash seed (see tests/forked_cli.py): two give every round processes
#: that walk the same set in different orders.
LAUNCHERS = 2
MESSAGES = 200
SLACK_TOKEN = "xoxb-concurrency-secret"
SENDGRID_KEY = "SG.concurrency-secret"
SLACK_OFF = outbox_only_reason("slack")
EMAIL_OFF = " or ".join(outbox_only_reason(n) for n in EMAIL_PROVIDERS)
LIFTED = "paused: campaigns (review)"
#: (channel, payload, why it was held): eight hold groups, so a hold pass releases several.
KINDS: list[tuple[str, dict[str, Any], str]] = [
    ("slack", {"title": "Critical account"}, SLACK_OFF),
    ("slack", {"title": "Program note", "pause_scope": "campaign:win_back"}, LIFTED),
    ("slack", {"title": "At-risk step", "program": "at_risk"}, SLACK_OFF),
    ("slack", {"title": "For the chairman", "summary": "Decide"}, SLACK_OFF),
    ("email", {"subject": "How are we doing?", "text": "0-10?", "kind": "survey"}, EMAIL_OFF),
    ("email", {"subject": "We miss you", "text": "t", "kind": "campaign", "program": "w"}, LIFTED),
    ("email", {"subject": "Your renewal", "text": "t"}, EMAIL_OFF),
    ("email", {"subject": "Check-in", "text": "t", "provider": "sendgrid"}, EMAIL_OFF),
]


def _seed(url: str) -> None:
    """Migrate and fill the template: five in six held (as a set hold leaves them), the rest
    pending and due."""
    engine = make_engine(url)
    try:
        upgrade(engine)
        messages = []
        for i in range(MESSAGES):
            channel, payload, _ = KINDS[i % len(KINDS)]
            if channel == "email":
                payload = dict(payload, to=f"contact{i}@customer.io")
            else:
                # Slack's pace (one post a second per channel, kept by each process) is not what
                # is under test: a channel per message keeps a round from waiting on it.
                payload = dict(payload, channel=f"cs-{i}")
            messages.append({"key": f"msg:{i}", "channel": channel, "payload": payload})
        with transaction(engine) as session:
            enqueue_many(session, messages, now=NOW)
            for k, (_, _, reason) in enumerate(KINDS):
                held = [f"msg:{i}" for i in range(k, MESSAGES, len(KINDS)) if i % 6]
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.idempotency_key.in_(held))
                    .values(
                        status="held", last_error=reason, next_attempt_at=NOW + timedelta(days=1)
                    )
                )
    finally:
        engine.dispose()


@pytest.fixture
def copies(db_url: str) -> Iterator[tuple[Engine, str, str]]:
    """An admin engine, the seeded template's name and a prefix for the copies; every database
    made here is dropped at the end."""
    if not db_url.startswith("postgresql"):
        pytest.skip(
            "PostgreSQL only: SQLite serialises writers, so parallel dispatchers cannot "
            "deadlock there"
        )
    url = make_url(db_url)
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    prefix = f"{url.database}_conc"
    template = f"{prefix}_tpl"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{template}"'))
    try:
        _seed(url.set(database=template).render_as_string(hide_password=False))
        yield admin, template, prefix
    finally:
        with admin.connect() as conn:
            names = conn.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE :p"),
                {"p": f"{prefix}%"},
            ).all()
            for name in names:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _counts(url: str) -> dict[str, int]:
    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            return dict(
                session.execute(
                    select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
                ).all()
            )
    finally:
        engine.dispose()


def _fail_text(finished: list[Finished], argvs: list[list[str]]) -> str:
    return "\n".join(
        f"{' '.join(argv[:2])}: exit {f.code}\n{f.stderr[-3000:]}"
        for argv, f in zip(argvs, finished, strict=True)
        if f.code != 0 or f.stderr
    )


def test_dispatchers_and_a_run_started_together_send_each_message_once(
    copies: tuple[Engine, str, str], tmp_path: Path
) -> None:
    admin, template, prefix = copies
    project = dispatch_only_project(tmp_path)
    base_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("SUCCESSCREW_") and k not in ("SSL_CERT_FILE", "SSL_CERT_DIR")
    }
    # The stand-ins speak plain HTTP on loopback: an empty CA directory spares every provider
    # client the loading of a system bundle (a tenth of a second each, in every process) and
    # makes any HTTPS call, which a test must never make, fail.
    (tmp_path / "no-cas").mkdir()
    base_env["SSL_CERT_DIR"] = str(tmp_path / "no-cas")
    server = HTTPServer(host="127.0.0.1", threaded=True)
    server.start()
    launchers = [Launcher(base_env) for _ in range(LAUNCHERS)]
    now = NOW.isoformat()
    argvs = [["integrations", "dispatch", "--now", now]] * DISPATCHERS + [
        ["run", "--now", now, "--json"]
    ]
    try:
        for launcher in launchers:
            launcher.wait_ready()
        for n in range(ROUNDS):
            name = f"{prefix}_r{n}"
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{template}"'))
                # Durability is not under test; waiting on the disk for every commit of a
                # loaded machine would only slow the rounds down.
                conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO off'))
                # A process stuck on a lock fails the round (with its error) instead of
                # hanging the suite.
                conn.execute(text(f"ALTER DATABASE \"{name}\" SET statement_timeout TO '60s'"))
            url = admin.url.set(database=name).render_as_string(hide_password=False)
            server.clear()
            slack = FakeSlack(server, SLACK_TOKEN)
            slack.channels.update({f"cs-{i}": f"C{i}" for i in range(MESSAGES)})
            sendgrid = FakeSendGrid(server, SENDGRID_KEY)
            env = {
                "SUCCESSCREW_DATABASE_URL": url,
                "SUCCESSCREW_PROJECT_DIR": str(project),
                "SUCCESSCREW_SURVEY_SECRET": "test-survey-secret",
                "SUCCESSCREW_SLACK_TOKEN": SLACK_TOKEN,
                "SUCCESSCREW_SLACK_API_URL": slack.url,
                "SUCCESSCREW_SENDGRID_API_KEY": SENDGRID_KEY,
                "SUCCESSCREW_SENDGRID_API_URL": sendgrid.url,
            }
            finished = together(launchers, env, argvs)

            assert all(f.code == 0 for f in finished), f"round {n}: {_fail_text(finished, argvs)}"
            assert not any("Traceback" in f.stderr for f in finished), _fail_text(finished, argvs)
            run = json.loads(finished[-1].stdout)
            assert [(t["task"], t["status"]) for t in run["tasks"]] == [("dispatch", "succeeded")]
            received = Counter(
                post["metadata"]["event_payload"]["idempotency_key"] for post in slack.posts
            )
            received.update(sendgrid.accepted)
            assert set(received) == {f"msg:{i}" for i in range(MESSAGES)}, f"round {n}"
            assert [k for k, c in received.items() if c > 1] == [], f"round {n}: sent twice"
            assert _counts(url) == {"delivered": MESSAGES}, f"round {n}"
            # A deadlock the retry hid still counts here (backends report at exit, and all of
            # this round's have ended): the fix is that none happens.
            with admin.connect() as conn:
                deadlocks = conn.scalar(
                    text("SELECT deadlocks FROM pg_stat_database WHERE datname = :n"), {"n": name}
                )
            assert deadlocks == 0, f"round {n}: PostgreSQL broke {deadlocks} deadlock(s)"
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        for launcher in launchers:
            launcher.close()
        server.stop()
