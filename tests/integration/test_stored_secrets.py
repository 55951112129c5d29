"""The database keeps no secret, whichever code path writes the row (SQLite and PostgreSQL)."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select, update

from successcrew.integrations import enqueue
from successcrew.store.db import transaction
from successcrew.store.models import OutboxMessage
from successcrew.store.pauses import hold

NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)
TOKEN = f"SG.{secrets.token_urlsafe(16)}.{secrets.token_urlsafe(32)}"


@pytest.fixture(autouse=True)
def _sendgrid_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SUCCESSCREW_SENDGRID_API_KEY", TOKEN)


def _raw(engine: Engine, sql: str) -> str:
    with engine.connect() as conn:
        return repr(conn.exec_driver_sql(sql).fetchall())


def test_json_documents_and_error_texts_are_stored_without_secrets(engine: Engine) -> None:
    with transaction(engine) as session:
        enqueue(
            session,
            key="alert",
            channel="slack",
            payload={
                "title": "campaign_dispatch failing",
                "fields": {"Last error": f"sendgrid said {TOKEN[:30]} (cut)"},
                "text": "Acme is on the Basic plan: https://crew.example/s/x?token=signed-link",
            },
            now=NOW,
        )
    with transaction(engine) as session:
        # A raw UPDATE, as the dispatcher records a result: the column type still sanitises.
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.idempotency_key == "alert")
            .values(last_error=f'HTTP 401: {{"api_key": "other-key-1"}} Bearer {TOKEN}')
        )
        hold(
            session,
            "campaigns",
            by="test",
            kind="person",
            reason=f"dispatch failed: {TOKEN}",
            now=NOW,
        )
    stored = _raw(engine, "SELECT payload, last_error FROM outbox")
    assert TOKEN[:8] not in stored and TOKEN[-8:] not in stored and "other-key-1" not in stored
    assert "Last error" in stored and "sendgrid said [REDACTED] (cut)" in stored
    # Our own content is left as it is: a plan name, a signed survey link.
    assert "the Basic plan: https://crew.example/s/x?token=signed-link" in stored
    assert 'HTTP 401: {"api_key": "[REDACTED]"} Bearer [REDACTED]' in stored
    assert "dispatch failed: [REDACTED]" in _raw(engine, "SELECT reason FROM pause_holds")
    audit = _raw(engine, "SELECT detail FROM audit_log")
    assert "dispatch failed: [REDACTED]" in audit and TOKEN[:8] not in audit


def test_an_error_stored_before_the_sanitiser_is_cleaned_when_read(engine: Engine) -> None:
    with transaction(engine) as session:
        enqueue(session, key="old", channel="email", payload={"to": "a@b.example"}, now=NOW)
    with engine.begin() as conn:
        conn.exec_driver_sql(
            f"UPDATE outbox SET last_error = 'sendgrid: HTTP 401: {TOKEN} {TOKEN}'"
        )
    with transaction(engine) as session:
        shown = session.scalar(select(OutboxMessage.last_error))
    assert shown == "sendgrid: HTTP 401: [REDACTED] [REDACTED]"
