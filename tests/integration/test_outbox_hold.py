"""Holding is set-based: thousands of unsendable messages cost a handful of statements, on SQLite
and PostgreSQL, and are released as soon as their reason is gone."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, event, func, select

from successcrew.definitions.thresholds import Thresholds, load_thresholds
from successcrew.integrations import dispatch, outbox_summary
from successcrew.integrations.http import HttpPolicy
from successcrew.store.db import transaction
from successcrew.store.models import Contact, OutboxMessage
from successcrew.store.outbox import enqueue_many
from successcrew.store.pauses import hold, lift
from tests.fakes.slack import FakeSlack
from tests.integration.outbox_helpers import NOW, add_contact, make_settings, rows

HOUR = timedelta(hours=1)
SLACK_TOKEN = "xoxb-hold-secret"
#: The hold pass's lock, pause flags, the grouped read, one UPDATE per group that changes, the
#: (empty) claim: the five groups below need at most 5 updates, so 5,000 messages must fit in
#: this many.
MAX_STATEMENTS = 10


@pytest.fixture
def thresholds() -> Thresholds:
    return load_thresholds()


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every statement the engine sends to the database inside the block (transaction control,
    which SQLite's engine sends as an explicit ``BEGIN``, left out)."""
    seen: list[str] = []

    def before(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.strip().upper() not in ("BEGIN", "COMMIT", "ROLLBACK"):
            seen.append(statement)

    event.listen(engine, "before_cursor_execute", before)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", before)


def _messages(n: int) -> list[dict[str, Any]]:
    """``n`` messages over five hold groups: Slack, a program's Slack note, campaign and survey
    email, a HubSpot task."""
    kinds: list[tuple[str, dict[str, Any]]] = [
        ("slack", {"title": "alert"}),
        ("slack", {"title": "note", "pause_scope": "campaign:win_back"}),
        (
            "email",
            {"to": "x@y.io", "subject": "s", "text": "t", "kind": "campaign", "program": "p"},
        ),
        ("email", {"to": "x@y.io", "subject": "s", "text": "t", "kind": "survey"}),
        (
            "crm_task",
            {"provider": "hubspot", "account_source_id": "1", "subject": "s", "due_date": "x"},
        ),
    ]
    return [
        {"key": f"m{i}", "channel": kinds[i % 5][0], "payload": kinds[i % 5][1]} for i in range(n)
    ]


def _counts(engine: Engine) -> dict[str, int]:
    with transaction(engine) as session:
        return dict(
            session.execute(
                select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
            ).all()
        )


def test_holding_5000_messages_takes_a_bounded_number_of_statements(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy
) -> None:
    with transaction(engine) as session:
        enqueue_many(session, _messages(5000), now=NOW)
        hold(session, "campaigns", by="kim", kind="person", reason="review", now=NOW)

    with statements(engine) as first:
        summary = dispatch(engine, make_settings(), thresholds, NOW, policy=fast_policy)
    assert (summary.held, summary.claimed, summary.delivered) == (5000, 0, 0)
    assert len(first) <= MAX_STATEMENTS, first
    assert _counts(engine) == {"held": 5000}
    with transaction(engine) as session:
        reasons = outbox_summary(session)["held_reasons"]
    assert reasons == {
        "no SUCCESSCREW_SLACK_TOKEN configured: outbox only": 1000,
        "paused: campaigns (review)": 2000,
        "no SUCCESSCREW_SENDGRID_API_KEY configured: outbox only or "
        "no SUCCESSCREW_MAILCHIMP_API_KEY configured: outbox only": 1000,
        "no SUCCESSCREW_HUBSPOT_TOKEN configured: outbox only": 1000,
    }

    # The next tick re-decides the groups without touching the rows (nothing changed).
    with statements(engine) as second:
        summary = dispatch(engine, make_settings(), thresholds, NOW + HOUR, policy=fast_policy)
    assert (summary.held, summary.claimed) == (5000, 0)
    # Pause flags, the grouped read, the empty claim (and on PostgreSQL the hold pass's lock).
    assert len(second) <= 4, second
    assert not [s for s in second if s.lstrip().upper().startswith("UPDATE")]

    # Lifting the pause re-reasons its 2,000 rows (outbox only now) in bounded statements too.
    with transaction(engine) as session:
        lift(session, "campaigns", held_by="kim", kind="person", by="kim", reason="ok", now=NOW)
    with statements(engine) as third:
        summary = dispatch(engine, make_settings(), thresholds, NOW + 2 * HOUR, policy=fast_policy)
    assert (summary.held, summary.claimed) == (5000, 0)
    assert len(third) <= MAX_STATEMENTS, third
    with transaction(engine) as session:
        reasons = outbox_summary(session)["held_reasons"]
    assert "paused: campaigns (review)" not in reasons
    assert reasons["no SUCCESSCREW_SLACK_TOKEN configured: outbox only"] == 2000
    assert all(r.attempts == 0 for r in rows(engine).values())


def test_held_messages_go_out_once_credentials_appear(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    with transaction(engine) as session:
        enqueue_many(session, _messages(10)[::5], now=NOW)  # two plain Slack alerts
    assert dispatch(engine, make_settings(), thresholds, NOW, policy=fast_policy).held == 2
    fake = FakeSlack(server, SLACK_TOKEN)
    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=fake.url)
    # Well before the held rows' next_attempt_at: released because the reason is gone.
    summary = dispatch(engine, settings, thresholds, NOW + HOUR, policy=fast_policy)
    assert (summary.held, summary.delivered) == (0, 2)
    assert dispatch(engine, settings, thresholds, NOW + 2 * HOUR, policy=fast_policy).claimed == 0
    assert len(fake.posts) == 2
    assert {(r.status, r.attempts) for r in rows(engine).values()} == {("delivered", 1)}


def test_a_held_email_whose_recipient_opts_out_is_suppressed_not_held(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy
) -> None:
    contact_id = add_contact(engine, "gone@x.io")
    payload = {"to": "gone@x.io", "subject": "s", "text": "t", "contact_id": contact_id}
    with transaction(engine) as session:
        enqueue_many(
            session,
            [
                {"key": "gone", "channel": "email", "payload": payload},
                {
                    "key": "kept",
                    "channel": "email",
                    "payload": {**payload, "to": "k@x.io", "contact_id": None},
                },
            ],
            now=NOW,
        )
    assert dispatch(engine, make_settings(), thresholds, NOW, policy=fast_policy).held == 2
    with transaction(engine) as session:  # the opt-out arrives while the message waits
        session.get_one(Contact, contact_id).unsubscribed_at = NOW
    summary = dispatch(engine, make_settings(), thresholds, NOW + HOUR, policy=fast_policy)
    assert (summary.suppressed, summary.held) == (1, 1)
    by_key = rows(engine)
    assert by_key["gone"].status == "dead" and by_key["gone"].last_error.startswith("suppressed:")
    assert by_key["kept"].status == "held"
