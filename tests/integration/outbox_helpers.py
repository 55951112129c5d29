"""Shared set-up for the outbox tests: settings with chosen providers, accounts and contacts."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Engine, insert, select

from successcrew.settings import Settings
from successcrew.store.db import transaction
from successcrew.store.models import Account, Contact, OutboxMessage

NOW = datetime(2025, 6, 2, 9, 0, tzinfo=UTC)
NO_PROVIDERS: dict[str, Any] = {
    "slack_token": None,
    "hubspot_token": None,
    "salesforce_token": None,
    "salesforce_api_url": "",
    "intercom_token": None,
    "sendgrid_api_key": None,
    "mailchimp_api_key": None,
}


def make_settings(**overrides: Any) -> Settings:
    """Settings independent of the environment: no provider unless given."""
    values = dict(NO_PROVIDERS, **overrides)
    for key, value in values.items():
        if (key.endswith("_token") or key.endswith("_api_key")) and isinstance(value, str):
            values[key] = SecretStr(value)
    return Settings(**values)


def add_contact(
    engine: Engine, email: str, *, opt_out: bool = False, unsubscribed: bool = False
) -> int:
    """An account with one contact; returns the contact id."""
    with transaction(engine) as session:
        account_id = session.execute(
            insert(Account)
            .values(external_id=f"acct-{email}", name=email, created_at=NOW, updated_at=NOW)
            .returning(Account.id)
        ).scalar_one()
        return session.execute(
            insert(Contact)
            .values(
                external_id=f"c-{email}",
                account_id=account_id,
                email=email,
                email_opt_out=opt_out,
                unsubscribed_at=NOW if unsubscribed else None,
                created_at=NOW,
                updated_at=NOW,
            )
            .returning(Contact.id)
        ).scalar_one()


def rows(engine: Engine) -> dict[str, OutboxMessage]:
    """Outbox rows by idempotency key."""
    with transaction(engine) as session:
        return {m.idempotency_key: m for m in session.scalars(select(OutboxMessage))}
