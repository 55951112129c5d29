"""``successcrew serve --slack-socket-mode`` against a Socket Mode stand-in: the click arrives
over the WebSocket, is acknowledged, decides through the same handler as the request URL (the
card is redrawn with chat.update), and after Slack asks the client to reconnect the next click
arrives on the new connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, insert, select

from successcrew.definitions.thresholds import load_thresholds
from successcrew.integrations.dispatcher import dispatch
from successcrew.paths import definition_path
from successcrew.services.escalations.lifecycle import send as send_escalation
from successcrew.settings import Settings
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import Account, Escalation, OutboxMessage
from tests.fakes.slack import FakeSlack
from tests.fakes.slack_socket import FakeSlackSocket
from tests.serving import base_env, start_serve, stop_serve

pytestmark = pytest.mark.xdist_group("serve-socket")

CHAIR = "U0CHAIR1"
TOKEN = "xoxb-socket-test"
APP_TOKEN = "xapp-1-socket-test"
NOW = datetime.now(UTC)


@pytest.fixture
def setup(
    tmp_path: Path, sqlite_template: Path
) -> Iterator[tuple[Engine, Settings, FakeSlack, FakeSlackSocket]]:
    import shutil

    db = tmp_path / "socket.db"
    shutil.copy(sqlite_template, db)
    server = HTTPServer(host="127.0.0.1", port=0)
    server.start()
    slack = FakeSlack(server, TOKEN)
    sockets = FakeSlackSocket(server, APP_TOKEN)
    (tmp_path / "project" / "config").mkdir(parents=True)
    policy = definition_path("config", "escalation.yaml").read_text()
    (tmp_path / "project" / "config" / "escalation.yaml").write_text(
        policy.replace("deciders: []", f"deciders: [{CHAIR}]")
    )
    url = f"sqlite:///{db}"
    settings = Settings(database_url=url, slack_token=TOKEN, slack_api_url=slack.url)
    env = base_env(
        url,
        SUCCESSCREW_PROJECT_DIR=str(tmp_path / "project"),
        SUCCESSCREW_SLACK_TOKEN=TOKEN,
        SUCCESSCREW_SLACK_APP_TOKEN=APP_TOKEN,
        SUCCESSCREW_SLACK_API_URL=slack.url,
    )
    served = start_serve(env, tmp_path, "--slack-socket-mode")
    engine = make_engine(url, immediate=True)
    try:
        yield engine, settings, slack, sockets
    finally:
        code = stop_serve(served)
        engine.dispose()
        sockets.close()
        server.stop()
    assert code in (0, -15), served.log()


def _escalation(engine: Engine, settings: Settings, name: str) -> tuple[int, str]:
    with transaction(engine) as s:
        account = s.execute(
            insert(Account)
            .values(external_id=name, name=name, created_at=NOW, updated_at=NOW)
            .returning(Account.id)
        ).scalar_one()
        esc = Escalation(
            kind="critical_high_value",
            account_id=account,
            title=f"{name} is Critical",
            context={},
            status="open",
            created_at=NOW,
            expires_at=NOW + timedelta(days=2),
        )
        s.add(esc)
        s.flush()
        send_escalation(s, esc, settings=settings, now=NOW, reminder=False)
        esc_id = esc.id
    dispatch(engine, settings, load_thresholds(), NOW)
    with engine.connect() as conn:
        ts = conn.execute(
            select(OutboxMessage.provider_message_id).where(
                OutboxMessage.idempotency_key == f"escalation:{esc_id}:notice"
            )
        ).scalar_one()
    return esc_id, ts


def _click(esc_id: int, ts: str, user: str, response_url: str) -> dict:
    return {
        "type": "block_actions",
        "user": {"id": user, "username": user.lower()},
        "channel": {"id": "C0CH"},
        "container": {"message_ts": ts},
        "actions": [{"action_id": "escalation_approve", "value": f"{esc_id}:approve"}],
        "response_url": response_url,
    }


def _status(engine: Engine, esc_id: int) -> str:
    with engine.connect() as conn:
        return conn.execute(select(Escalation.status).where(Escalation.id == esc_id)).scalar_one()


def _until(check, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


def test_socket_mode_clicks_decide_acknowledged_and_survive_a_reconnect(setup) -> None:
    engine, settings, slack, sockets = setup
    sockets.wait_for_connections(1)
    esc_id, ts = _escalation(engine, settings, "Initech")
    response_url = slack.url.removesuffix("/api") + "/actions/T1/1/a"
    envelope = sockets.interactive(_click(esc_id, ts, CHAIR, response_url))
    assert sockets.acks.get(timeout=10)["envelope_id"] == envelope
    _until(lambda: _status(engine, esc_id) == "approved")
    _until(lambda: any(u["ts"] == ts for u in slack.updates))
    assert "Approved by" in json.dumps(slack.updates[-1]["blocks"])

    sockets.ask_to_reconnect()
    sockets.wait_for_connections(2)
    other, other_ts = _escalation(engine, settings, "Umbrella")
    envelope = sockets.interactive(_click(other, other_ts, "U0NOBODY", response_url))
    assert sockets.acks.get(timeout=15)["envelope_id"] == envelope
    _until(lambda: bool(slack.responses))
    assert "not allowed" in slack.responses[-1]["text"]
    assert _status(engine, other) == "open"
