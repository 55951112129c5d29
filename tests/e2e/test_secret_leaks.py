"""No credential leaks when providers echo it back: the real commands as real processes.

Every provider is configured with a long random token and pointed at a hostile stand-in
(tests/fakes/adversarial.py) that answers each request with the next of its behaviours: the
``Authorization`` header echoed, echoed twice, cut in the middle, the body echoed (Mandrill's
``key`` in it), a 500 with the token in its JSON fields, a redirect to a URL carrying the token.
Then ``integrations check``, ``integrations dispatch`` (messages of every channel queued),
``integrations sync``, a ``run`` whose system-health checks fail so that RETENTION-004 fires and
its Slack alert (quoting the last error) is dispatched, and ``status``, with and without
``--json``, every log record at DEBUG on stderr. Afterwards no secret, and no run of 8 of its
characters, is in any stdout, any stderr, or any column of any table. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, select

from successcrew.definitions.thresholds import thresholds_path
from successcrew.integrations import enqueue
from successcrew.services.triggers.evaluation import sync_trigger_definitions
from successcrew.store.db import transaction
from successcrew.store.models import Base, ComponentCheck, OutboxMessage, TaskRun, TriggerEvent
from tests.clirunner import run_cli
from tests.fakes.adversarial import (
    AdversarialProviders,
    leaked_pieces,
    other_secrets,
    provider_env,
    provider_tokens,
)

EXE = str(Path(sys.executable).with_name("successcrew"))
NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)

#: Only what RETENTION-004 needs: probe the components, evaluate the triggers, send the alert.
CREW = """
name: leak_test
setup:
  steps: []
operations:
  tasks:
    - {id: system_health, cadence: hourly, agent: success_infrastructure_architect, tool: check_system_health}
    - {id: triggers, cadence: hourly, agent: health_monitoring_specialist, tool: evaluate_triggers, after: [system_health]}
    - {id: dispatch, cadence: hourly, agent: success_infrastructure_architect, tool: dispatch_outbox, after: [triggers]}
"""


@pytest.fixture(scope="module")
def hostile_server() -> Iterator[HTTPServer]:
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.start()
    yield srv
    srv.stop()


def _project(tmp_path: Path) -> Path:
    """Tight retries (2 attempts, no backoff) and an alert at the first failed check."""
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "crews").mkdir()
    thresholds = yaml.safe_load(thresholds_path().read_text())
    thresholds["retries"] = {
        "attempts": 2,
        "backoff_initial_seconds": 0,
        "backoff_max_seconds": 0,
        "jitter": False,
    }
    thresholds["system_health"]["consecutive_failures_alert"] = 1
    (project / "config" / "thresholds.yaml").write_text(yaml.safe_dump(thresholds))
    (project / "crews" / "customer_success.yaml").write_text(textwrap.dedent(CREW))
    return project


def _prepare(engine: Engine) -> None:
    """What ``init`` would have done (the RETENTION triggers stored), and messages of every
    channel queued for every provider."""
    with transaction(engine) as session:
        sync_trigger_definitions(session, NOW)
        for n, channel in enumerate(("#cs-a", "#cs-b")):
            enqueue(
                session,
                key=f"leak:slack:{n}",
                channel="slack",
                payload={"title": "Account at risk", "summary": "Acme dropped", "channel": channel},
                now=NOW,
            )
        for provider in ("sendgrid", "mailchimp"):
            for n in range(3):
                enqueue(
                    session,
                    key=f"leak:{provider}:{n}",
                    channel="email",
                    payload={
                        "to": f"pat{n}@acme.example",
                        "subject": "How are we doing?",
                        "text": "Tell us in one click.",
                        "provider": provider,
                    },
                    now=NOW,
                )
        for provider in ("hubspot", "salesforce", "intercom"):
            for n in range(2):
                enqueue(
                    session,
                    key=f"leak:{provider}:{n}",
                    channel="crm_task",
                    payload={
                        "provider": provider,
                        "account_source_id": f"{provider}-{n}",
                        "subject": "Call Acme",
                        "body": "Health dropped to 31.",
                        "due_date": "2026-11-03",
                        "owner_email": "owner@example.com",
                    },
                    now=NOW,
                )


def _database_text(engine: Engine) -> dict[str, str]:
    """Every table's rows as stored: raw driver values, no column type reading them back."""
    out = {}
    with engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            rows = conn.exec_driver_sql(f'SELECT * FROM "{table.name}"').fetchall()
            out[table.name] = "\n".join(repr(tuple(row)) for row in rows)
    return out


def test_echoed_credentials_reach_no_output_no_log_and_no_table(
    db_url: str, engine: Engine, hostile_server: HTTPServer, tmp_path: Path
) -> None:
    hostile_server.clear()
    tokens = provider_tokens()
    secrets_ = {**tokens, **other_secrets()}
    hostile = AdversarialProviders(hostile_server, tokens)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    env.update(provider_env(hostile_server, tokens))
    env.update(
        SUCCESSCREW_DATABASE_URL=db_url,
        SUCCESSCREW_PROJECT_DIR=str(_project(tmp_path)),
        SUCCESSCREW_SLACK_SIGNING_SECRET=secrets_["slack_signing_secret"],
        SUCCESSCREW_SURVEY_SECRET=secrets_["survey_secret"],
        SUCCESSCREW_LOG_LEVEL="DEBUG",
    )
    _prepare(engine)
    later = (NOW + timedelta(hours=3)).isoformat()
    commands = [
        ["integrations", "check"],
        ["integrations", "check", "--json"],
        ["integrations", "dispatch", "--now", NOW.isoformat(), "--json"],
        ["integrations", "dispatch", "--now", later],
        ["integrations", "sync", "--now", NOW.isoformat(), "--json"],
        ["run", "--now", (NOW + timedelta(hours=4)).isoformat(), "--json"],
        ["status", "--now", (NOW + timedelta(hours=5)).isoformat()],
        ["status", "--now", (NOW + timedelta(hours=5)).isoformat(), "--json"],
    ]
    seen: dict[str, str] = {}
    codes = {}
    for args in commands:
        done = subprocess.run(
            [EXE, *args], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        name = " ".join(args)
        codes[name] = done.returncode
        seen[f"stdout of {name}"] = done.stdout
        seen[f"stderr of {name}"] = done.stderr
    seen.update({f"table {t}": text for t, text in _database_text(engine).items()})

    # The stand-ins did their worst: every behaviour, for every provider, with the token in it.
    assert hostile.missing_modes() == []
    assert hostile.echoed >= 36
    # The commands ran and failed the way a user would see (not crashed, not a usage error).
    assert codes["integrations check"] == 1 and codes["integrations dispatch --now " + later] == 1
    assert codes["integrations sync --now " + NOW.isoformat() + " --json"] == 1
    assert all(code in (0, 1) for code in codes.values()), codes
    assert "Traceback" not in "".join(v for k, v in seen.items() if k.startswith("stderr"))
    # Every log record was shown (DEBUG), and provider failures were among them.
    logs = seen["stderr of integrations check"]
    assert "DEBUG httpcore" in logs and "HTTP Request:" in logs
    assert "attempt 1 failed" in "".join(v for k, v in seen.items() if k.startswith("stderr"))

    leaks = {
        where: found for where, text in seen.items() if (found := leaked_pieces(text, secrets_))
    }
    assert leaks == {}

    # The paths the issue names were all exercised, and what they keep says what happened.
    with engine.connect() as conn:
        outbox = conn.execute(select(OutboxMessage.status, OutboxMessage.last_error)).all()
        checks = conn.execute(
            select(ComponentCheck.component, ComponentCheck.error).where(
                ComponentCheck.ok.is_(False)
            )
        ).all()
        evidence = conn.scalars(
            select(TriggerEvent.evidence).where(TriggerEvent.code == "RETENTION-004")
        ).all()
        alerts = conn.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.trigger_event_id.is_not(None))
        ).all()
        task_results = conn.scalars(select(TaskRun.result)).all()
    # 14 queued messages and RETENTION-004's two alerts: none delivered, each error says why:
    # the provider's answer, or (for what the run queued after the CRM sync failed outright)
    # the automation hold the crm_sync_error_rate rule set.
    assert len(outbox) == 16 and all(st != "delivered" for st, _ in outbox)
    tried = [e for _, e in outbox if "HTTP" in e]
    held = [e for _, e in outbox if "HTTP" not in e]
    # (Every provider's every hostile mode was met: missing_modes() above.)
    assert len(tried) >= 12, outbox
    assert all(e.startswith("paused: automation") and "crm_sync_error_rate" in e for e in held)
    assert any("[REDACTED]" in e for _, e in outbox)
    assert {c for c, _ in checks} >= {"crm_sync", "campaign_dispatch"}
    assert all("answered HTTP" in (e or "") for c, e in checks if c != "crm_sync")
    assert evidence and all("answered HTTP" in str(ev["last_error"]) for ev in evidence)
    assert any("last error" in str(a) for a in alerts)
    assert task_results
    assert (
        "answered HTTP" in seen[f"stdout of status --now {(NOW + timedelta(hours=5)).isoformat()}"]
    )


def test_an_unknown_log_level_is_a_configuration_error(
    env: dict[str, str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SUCCESSCREW_LOG_LEVEL", "LOUD")
    result = run_cli(capsys, "status")
    assert result.code == 2
    assert "SUCCESSCREW_LOG_LEVEL: 'LOUD' is not a log level; use one of DEBUG, INFO" in result.err
