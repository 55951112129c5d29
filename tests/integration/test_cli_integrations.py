"""``successcrew integrations check|sync|dispatch`` as an operator runs them."""

from __future__ import annotations

import json

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from successcrew.cli.app import main
from successcrew.integrations import enqueue
from successcrew.store.db import transaction
from tests.fakes.hubspot import FakeHubSpot
from tests.fakes.slack import FakeSlack
from tests.integration.outbox_helpers import NOW, rows


def _run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str]:
    code = main(list(args))
    return code, capsys.readouterr().out


def test_check_without_credentials_reports_outbox_only_and_succeeds(
    env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = _run(capsys, "integrations", "check", "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["providers"]["hubspot"] == {
        "configured": False,
        "ok": None,
        "detail": "not configured (outbox only)",
    }
    assert set(report["providers"]) == {
        "slack",
        "hubspot",
        "salesforce",
        "intercom",
        "sendgrid",
        "mailchimp",
    }


def test_check_says_which_configured_providers_work(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    FakeSlack(server, "xoxb-good")
    FakeHubSpot(server, "pat-good")
    monkeypatch.setenv("SUCCESSCREW_SLACK_TOKEN", "xoxb-good")
    monkeypatch.setenv("SUCCESSCREW_SLACK_API_URL", server.url_for("/api"))
    monkeypatch.setenv("SUCCESSCREW_HUBSPOT_TOKEN", "pat-WRONG-secret")
    monkeypatch.setenv("SUCCESSCREW_HUBSPOT_API_URL", server.url_for(""))
    code, out = _run(capsys, "integrations", "check")
    assert code == 1
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "ok" in lines["slack"] and "Acme" in lines["slack"]
    assert "FAILED" in lines["hubspot"] and "HTTP 401" in lines["hubspot"]
    assert "not configured (outbox only)" in lines["sendgrid"]
    assert "pat-WRONG-secret" not in out


def test_sync_pulls_from_the_configured_crm(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    server: HTTPServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    FakeHubSpot(server, "pat-good", companies=2, contacts=2)
    monkeypatch.setenv("SUCCESSCREW_HUBSPOT_TOKEN", "pat-good")
    monkeypatch.setenv("SUCCESSCREW_HUBSPOT_API_URL", server.url_for(""))
    code, out = _run(capsys, "integrations", "sync", "--now", "2025-06-02", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["ok"] is True
    assert summary["providers"][0]["accounts_pulled"] == 2


def test_dispatch_without_credentials_holds_messages_and_exits_zero(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction(engine) as session:
        enqueue(session, key="k", channel="slack", payload={"title": "Acme"}, now=NOW)
    code, out = _run(capsys, "integrations", "dispatch", "--now", NOW.isoformat(), "--json")
    assert code == 0
    document = json.loads(out)
    assert document["dispatch"]["held"] == 1
    assert document["outbox"]["counts"]["held"] == 1
    assert rows(engine)["k"].last_error == "no SUCCESSCREW_SLACK_TOKEN configured: outbox only"
