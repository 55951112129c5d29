"""A dispatcher killed between send and record: nothing is lost, Slack is not posted twice.

The dispatcher runs in a real subprocess that SIGKILLs itself right after the HTTP send returns
and before the outbox row is updated; the stand-in servers live in this test process, so they
remember what was sent across the kill.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from datetime import timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from successcrew.definitions.thresholds import load_thresholds
from successcrew.integrations import dispatch, enqueue
from successcrew.integrations.dispatcher import DEFAULT_LEASE
from successcrew.integrations.http import HttpPolicy
from successcrew.store.db import transaction
from successcrew.store.outbox import claim
from tests.fakes.slack import FakeSlack
from tests.integration.outbox_helpers import NOW, make_settings, rows

SLACK_TOKEN = "xoxb-crash-secret"

CRASHING_DISPATCHER = textwrap.dedent(
    """
    import os, signal, sys
    from datetime import datetime
    from successcrew.integrations import dispatch
    from successcrew.integrations.http import HttpPolicy
    from successcrew.settings import Settings
    from successcrew.store.db import make_engine
    from successcrew.definitions.thresholds import load_thresholds

    def die(message):
        # The send returned; the row is not recorded yet. Die the hardest way there is.
        os.kill(os.getpid(), signal.SIGKILL)

    thresholds = load_thresholds()
    dispatch(
        make_engine(os.environ["SUCCESSCREW_DATABASE_URL"]),
        Settings(),
        thresholds,
        datetime.fromisoformat(sys.argv[1]),
        policy=HttpPolicy(retry=thresholds.retries, max_sleep_seconds=0.01),
        after_send=die,
    )
    sys.exit(0)  # not reached when a message was sent
    """
)


def _run_crashing_dispatcher(db_url: str, env: dict[str, str], tmp_path: Path) -> int:
    script = tmp_path / "crashing_dispatcher.py"
    script.write_text(CRASHING_DISPATCHER)
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    proc = subprocess.run(
        [sys.executable, str(script), NOW.isoformat()],
        env={**clean, "SUCCESSCREW_DATABASE_URL": db_url, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    if proc.returncode != -signal.SIGKILL:
        pytest.fail(f"the dispatcher was not killed (exit {proc.returncode}):\n{proc.stderr}")
    return proc.returncode


def test_slack_message_survives_the_crash_and_is_not_posted_twice(
    db_url: str, engine: Engine, server: HTTPServer, tmp_path: Path, fast_policy: HttpPolicy
) -> None:
    fake = FakeSlack(server, SLACK_TOKEN)
    with transaction(engine) as session:
        enqueue(
            session,
            key="RETENTION-001:acct-7:1",
            channel="slack",
            payload={"title": "Acme is Critical", "channel": "#customer-success"},
            now=NOW,
        )
    code = _run_crashing_dispatcher(
        db_url,
        {"SUCCESSCREW_SLACK_TOKEN": SLACK_TOKEN, "SUCCESSCREW_SLACK_API_URL": fake.url},
        tmp_path,
    )
    assert code == -signal.SIGKILL
    assert len(fake.posts) == 1  # it went out ...
    assert rows(engine)["RETENTION-001:acct-7:1"].status == "sending"  # ... but was not recorded

    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=fake.url)
    thresholds = load_thresholds()
    # While the lease runs, nobody touches the row (the crashed run might still be alive).
    assert dispatch(engine, settings, thresholds, NOW, policy=fast_policy).claimed == 0
    after_lease = NOW + DEFAULT_LEASE + timedelta(seconds=1)
    summary = dispatch(engine, settings, thresholds, after_lease, policy=fast_policy)
    assert (summary.claimed, summary.recovered, summary.delivered) == (1, 1, 0)
    assert len(fake.posts) == 1  # found in the channel history by its key: not posted again
    row = rows(engine)["RETENTION-001:acct-7:1"]
    assert row.status == "delivered"
    assert row.provider_message_id == fake.history["C0CS"][0]["ts"]


def test_an_email_sent_before_the_crash_is_not_lost(
    db_url: str, engine: Engine, server: HTTPServer, tmp_path: Path, fast_policy: HttpPolicy
) -> None:
    server.expect_request("/v3/mail/send", method="POST").respond_with_data(
        "", status=202, headers={"X-Message-Id": "sg-after-crash"}
    )
    with transaction(engine) as session:
        enqueue(
            session,
            key="survey:acct-7",
            channel="email",
            payload={"to": "ann@acme.io", "subject": "NPS", "text": "0-10?", "kind": "survey"},
            now=NOW,
        )
    env = {
        "SUCCESSCREW_SENDGRID_API_KEY": "SG.k",
        "SUCCESSCREW_SENDGRID_API_URL": server.url_for(""),
    }
    assert _run_crashing_dispatcher(db_url, env, tmp_path) == -signal.SIGKILL
    assert len(server.log) == 1 and rows(engine)["survey:acct-7"].status == "sending"

    settings = make_settings(sendgrid_api_key="SG.k", sendgrid_api_url=server.url_for(""))
    later = NOW + DEFAULT_LEASE + timedelta(seconds=1)
    summary = dispatch(engine, settings, load_thresholds(), later, policy=fast_policy)
    # SendGrid offers no lookup by our key: at-least-once is the honest guarantee.
    assert summary.delivered == 1 and len(server.log) == 2
    row = rows(engine)["survey:acct-7"]
    assert row.status == "delivered" and row.provider_message_id == "sg-after-crash"


def test_a_crash_before_anything_was_sent_loses_nothing(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy
) -> None:
    fake = FakeSlack(server, SLACK_TOKEN)
    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=fake.url)
    with transaction(engine) as session:
        enqueue(
            session, key="k", channel="slack", payload={"title": "x", "channel": "C0CS"}, now=NOW
        )
    # The state a dispatcher leaves when it dies after claiming, before sending: a lease.
    with transaction(engine) as session:
        claim(session, now=NOW, lease=DEFAULT_LEASE, limit=10)
    later = NOW + DEFAULT_LEASE + timedelta(seconds=1)
    summary = dispatch(engine, settings, load_thresholds(), later, policy=fast_policy)
    assert (summary.recovered, summary.delivered) == (0, 1) and len(fake.posts) == 1
