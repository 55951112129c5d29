"""The services behind `serve`, on SQLite and PostgreSQL: a webhook batch is a handful of
statements, and two deliveries of the same events at the same moment store them once."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

from sqlalchemy import Engine, event, func, insert, select

from successcrew.domain.email_event_rules import EmailEventIn
from successcrew.services.inbound.email_events import record_email_events
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import Account, Contact, EmailEvent, OutboxMessage

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)


def _seed(engine: Engine, n: int) -> list[str]:
    with transaction(engine) as s:
        account = s.execute(
            insert(Account)
            .values(external_id="A1", name="Acme", created_at=NOW, updated_at=NOW)
            .returning(Account.id)
        ).scalar_one()
        keys = []
        for i in range(n):
            cid = s.execute(
                insert(Contact)
                .values(
                    external_id=f"c{i}",
                    account_id=account,
                    email=f"c{i}@x.io",
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(Contact.id)
            ).scalar_one()
            key = f"program:at_risk:1:0:{cid}"
            s.add(
                OutboxMessage(
                    idempotency_key=key,
                    channel="email",
                    payload={"kind": "campaign", "program": "at_risk", "contact_id": cid},
                    status="delivered",
                    next_attempt_at=NOW,
                    created_at=NOW,
                    account_id=account,
                )
            )
            keys.append(key)
    return keys


def _events(keys: list[str]) -> list[EmailEventIn]:
    kinds = ["delivered", "open", "click", "hard_bounce", "unsubscribe"]
    return [
        EmailEventIn("sendgrid", f"ev-{i}", kinds[i % 5], f"c{i}@x.io", NOW, key)
        for i, key in enumerate(keys)
    ]


def test_a_batch_of_100_events_is_a_few_statements(engine: Engine) -> None:
    events = _events(_seed(engine, 100))
    statements: list[str] = []
    listener = lambda *args: statements.append(args[2])  # noqa: E731
    event.listen(engine, "before_cursor_execute", listener)
    try:
        with transaction(engine) as s:
            result = record_email_events(s, "sendgrid", events, now=NOW)
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert result.stored == 100 and result.suppressed_addresses == 20 and result.feedback == 20
    assert len(statements) <= 12, statements


def test_the_same_batch_twice_at_once_is_stored_once(db_url: str, engine: Engine) -> None:
    events = _events(_seed(engine, 50))
    writer = make_engine(db_url, immediate=True)
    barrier = threading.Barrier(2)
    results = []

    def deliver() -> None:
        barrier.wait()
        with transaction(writer) as s:
            results.append(record_email_events(s, "sendgrid", events, now=NOW))

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.dispose()
    assert sorted(r.stored for r in results) == [0, 50]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(EmailEvent)).scalar_one() == 50
