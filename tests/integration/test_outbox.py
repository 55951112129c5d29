"""The outbox and its dispatcher on SQLite and PostgreSQL, against stand-in providers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine

from successcrew.definitions.thresholds import Thresholds, load_thresholds
from successcrew.domain.email_event_rules import EmailEventIn
from successcrew.integrations import dispatch, enqueue, outbox_summary
from successcrew.integrations.http import HttpPolicy
from successcrew.services.inbound.email_events import record_email_events
from successcrew.store.db import session_factory, transaction
from successcrew.store.outbox import claim
from successcrew.store.pauses import hold, lift
from tests.fakes.slack import FakeSlack
from tests.integration.outbox_helpers import NOW, add_contact, make_settings, rows

SLACK_TOKEN = "xoxb-outbox-secret"
HOUR = timedelta(hours=1)


@pytest.fixture
def thresholds() -> Thresholds:
    return load_thresholds()


def _email(to: str, kind: str = "playbook", **extra: object) -> dict[str, object]:
    return {"to": to, "subject": "Hello", "text": "Hi there", "kind": kind, **extra}


def _sendgrid(server: HTTPServer) -> None:
    server.expect_request("/v3/mail/send", method="POST").respond_with_data(
        "", status=202, headers={"X-Message-Id": "sg-1"}
    )


def test_enqueue_is_idempotent_on_the_key(engine: Engine) -> None:
    with transaction(engine) as session:
        assert enqueue(session, key="k1", channel="slack", payload={"title": "a"}, now=NOW)
        assert not enqueue(session, key="k1", channel="slack", payload={"title": "b"}, now=NOW)
    with transaction(engine) as session:
        assert not enqueue(session, key="k1", channel="slack", payload={"title": "c"}, now=NOW)
    assert rows(engine)["k1"].payload == {"title": "a"}
    with transaction(engine) as session:
        assert outbox_summary(session)["counts"]["pending"] == 1


def test_without_credentials_messages_are_held_shown_and_the_run_succeeds(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy
) -> None:
    with transaction(engine) as session:
        enqueue(session, key="s", channel="slack", payload={"title": "Acme critical"}, now=NOW)
        enqueue(session, key="e", channel="email", payload=_email("a@x.io"), now=NOW)
        task = {
            "provider": "hubspot",
            "account_source_id": "1",
            "subject": "Call",
            "due_date": "2025-06-03",
        }
        enqueue(session, key="t", channel="crm_task", payload=task, now=NOW)
    for hour in range(2):  # held rows are re-checked every dispatch, never counted as attempts
        later = NOW + timedelta(hours=hour)
        summary = dispatch(engine, make_settings(), thresholds, later, policy=fast_policy)
        assert summary.held == 3 and summary.delivered == 0 and not summary.errors
    by_key = rows(engine)
    assert {k: (r.status, r.attempts) for k, r in by_key.items()} == {
        "s": ("held", 0),
        "e": ("held", 0),
        "t": ("held", 0),
    }
    assert by_key["s"].last_error == "no SUCCESSCREW_SLACK_TOKEN configured: outbox only"
    assert by_key["t"].last_error == "no SUCCESSCREW_HUBSPOT_TOKEN configured: outbox only"
    assert "SUCCESSCREW_SENDGRID_API_KEY" in by_key["e"].last_error
    with transaction(engine) as session:
        shown = outbox_summary(session)
    assert shown["counts"]["held"] == 3
    assert shown["held_reasons"]["no SUCCESSCREW_SLACK_TOKEN configured: outbox only"] == 1


def test_a_slack_alert_is_delivered_once_with_its_key(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    fake = FakeSlack(server, SLACK_TOKEN)
    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=fake.url)
    with transaction(engine) as session:
        enqueue(
            session,
            key="RETENTION-001:acct-1",
            channel="slack",
            payload={"title": "Acme is Critical", "fields": {"Score": 31}},
            now=NOW,
        )
    first = dispatch(engine, settings, thresholds, NOW, policy=fast_policy)
    second = dispatch(engine, settings, thresholds, NOW + timedelta(hours=1), policy=fast_policy)
    assert (first.delivered, second.claimed) == (1, 0)
    assert len(fake.posts) == 1 and fake.posts[0]["channel"] == "#customer-success"
    row = rows(engine)["RETENTION-001:acct-1"]
    assert row.status == "delivered" and row.provider_message_id == fake.history["C0CS"][0]["ts"]
    assert row.delivered_at == NOW and row.attempts == 1


def test_pause_flags_hold_what_they_cover_and_nothing_else(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    _sendgrid(server)
    settings = make_settings(sendgrid_api_key="SG.key", sendgrid_api_url=server.url_for(""))
    with transaction(engine) as session:
        hold(session, "campaigns", by="rule", kind="rule", reason="negative feedback", now=NOW)
        enqueue(session, key="camp", channel="email", payload=_email("a@x.io", "campaign"), now=NOW)
        enqueue(session, key="surv", channel="email", payload=_email("b@x.io", "survey"), now=NOW)
    summary = dispatch(engine, settings, thresholds, NOW, policy=fast_policy)
    assert (summary.delivered, summary.held) == (1, 1)
    assert rows(engine)["camp"].last_error == "paused: campaigns (negative feedback)"
    assert [r.get_json()["personalizations"][0]["to"][0]["email"] for r, _ in server.log] == [
        "b@x.io"
    ]
    with transaction(engine) as session:
        lift(session, "campaigns", held_by="rule", kind="rule", by="kim", reason="fixed", now=NOW)
        hold(session, "automation", by="rule", kind="rule", reason="CRM errors", now=NOW)
        enqueue(session, key="other", channel="email", payload=_email("c@x.io"), now=NOW)
    summary = dispatch(engine, settings, thresholds, NOW + HOUR, policy=fast_policy)
    assert summary.held == 2 and len(server.log) == 1
    assert rows(engine)["other"].last_error == "paused: automation (CRM errors)"
    with transaction(engine) as session:
        lift(session, "automation", held_by="rule", kind="rule", by="kim", reason="ok", now=NOW)
    summary = dispatch(engine, settings, thresholds, NOW + 2 * HOUR, policy=fast_policy)
    assert summary.delivered == 2 and len(server.log) == 3


@pytest.mark.parametrize("how", ["opt_out", "unsubscribed", "bounced"])
def test_opted_out_contacts_are_never_sent_to(
    how: str, engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    _sendgrid(server)
    settings = make_settings(sendgrid_api_key="SG.key", sendgrid_api_url=server.url_for(""))
    contact_id = add_contact(
        engine, "gone@x.io", opt_out=how == "opt_out", unsubscribed=how == "unsubscribed"
    )
    if how == "bounced":
        # A hard bounce reported by the provider (any case) suppresses the address itself.
        with transaction(engine) as session:
            record_email_events(
                session,
                "sendgrid",
                [EmailEventIn("sendgrid", "ev1", "hard_bounce", "Gone@X.io", NOW)],
                now=NOW,
            )
    with transaction(engine) as session:
        # Enqueued while the contact was fine; the opt-out is checked at send time.
        enqueue(
            session,
            key="e1",
            channel="email",
            payload=_email("gone@x.io", contact_id=contact_id),
            now=NOW,
        )
    summary = dispatch(engine, settings, thresholds, NOW, policy=fast_policy)
    assert summary.suppressed == 1 and summary.delivered == 0
    assert server.log == []
    row = rows(engine)["e1"]
    assert row.status == "dead" and row.last_error.startswith("suppressed:")


def test_a_failing_provider_is_retried_later_then_dead_lettered(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    server.expect_request("/api/chat.postMessage").respond_with_data("oops", status=500)
    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=server.url_for("/api"))
    with transaction(engine) as session:
        enqueue(session, key="k", channel="slack", payload={"title": "x", "channel": "C1"}, now=NOW)
    first = dispatch(engine, settings, thresholds, NOW, policy=fast_policy, max_attempts=2)
    assert first.retried == 1 and len(server.log) == 3  # three HTTP attempts in one try
    row = rows(engine)["k"]
    assert row.status == "pending" and row.attempts == 1
    assert row.next_attempt_at == NOW + timedelta(minutes=1)
    assert dispatch(engine, settings, thresholds, NOW, policy=fast_policy).claimed == 0  # not due
    later = NOW + timedelta(minutes=2)
    second = dispatch(engine, settings, thresholds, later, policy=fast_policy, max_attempts=2)
    assert second.dead == 1
    row = rows(engine)["k"]
    assert row.status == "dead" and "dead-lettered after 2 attempt(s)" in row.last_error
    assert SLACK_TOKEN not in row.last_error
    with transaction(engine) as session:
        (dead,) = outbox_summary(session)["dead_letters"]
    assert dead["key"] == "k" and dead["attempts"] == 2 and "HTTP 500" in dead["last_error"]


def test_a_permanent_refusal_is_dead_lettered_at_once(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy, server: HTTPServer
) -> None:
    fake = FakeSlack(server, SLACK_TOKEN)
    settings = make_settings(slack_token=SLACK_TOKEN, slack_api_url=fake.url)
    with transaction(engine) as session:
        enqueue(
            session, key="k", channel="slack", payload={"title": "x", "channel": "#gone"}, now=NOW
        )
    summary = dispatch(engine, settings, thresholds, NOW, policy=fast_policy)
    assert summary.dead == 1 and len(server.log) == 1
    assert "channel_not_found" in rows(engine)["k"].last_error


def test_many_held_messages_do_not_keep_one_dispatch_busy(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy
) -> None:
    with transaction(engine) as session:
        for i in range(7):
            enqueue(session, key=f"k{i}", channel="slack", payload={"title": "x"}, now=NOW)
    summary = dispatch(engine, make_settings(), thresholds, NOW, policy=fast_policy, batch_size=3)
    # Held as a set, before the claim loop: none of them is claimed (or looked at) one by one.
    assert (summary.claimed, summary.held) == (0, 7)


def test_a_message_that_keeps_killing_dispatchers_is_dead_lettered(
    engine: Engine, thresholds: Thresholds, fast_policy: HttpPolicy
) -> None:
    with transaction(engine) as session:
        enqueue(session, key="poison", channel="slack", payload={"title": "x"}, now=NOW)
    lease = timedelta(minutes=10)
    for i in range(3):  # three dispatchers claim it and die before recording anything
        with transaction(engine) as session:
            assert len(claim(session, now=NOW + i * 2 * lease, lease=lease, limit=10)) == 1
    summary = dispatch(
        engine, make_settings(), thresholds, NOW + 6 * lease, policy=fast_policy, max_attempts=2
    )
    assert summary.dead == 1
    row = rows(engine)["poison"]
    assert row.status == "dead" and "stopped 3 time(s)" in row.last_error


@pytest.mark.postgres
def test_parallel_dispatchers_on_postgresql_claim_disjoint_rows(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SKIP LOCKED is PostgreSQL's; SQLite serialises writers instead")
    with transaction(engine) as session:
        for i in range(6):
            enqueue(session, key=f"k{i}", channel="slack", payload={}, now=NOW)
    factory = session_factory(engine)
    with factory() as first, factory() as second:
        a = claim(first, now=NOW, lease=timedelta(minutes=5), limit=4)  # rows stay locked
        b = claim(second, now=NOW, lease=timedelta(minutes=5), limit=4)
        first.commit()
        second.commit()
    ids_a = {c.message.idempotency_key for c in a}
    ids_b = {c.message.idempotency_key for c in b}
    assert len(ids_a) == 4 and len(ids_b) == 2 and not ids_a & ids_b
