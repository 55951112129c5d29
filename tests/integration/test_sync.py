"""CRM sync into SQLite and PostgreSQL from a stand-in HubSpot, and the crm_sync component check."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from sqlalchemy import Engine, insert, select, update

from successcrew.definitions.thresholds import Thresholds, load_thresholds
from successcrew.integrations import HubSpotConnector, sync_crm
from successcrew.integrations.http import HttpPolicy
from successcrew.store.db import transaction
from successcrew.store.models import Account, AccountSource, ComponentCheck, Contact, HealthSnapshot
from tests.fakes.hubspot import FakeHubSpot
from tests.integration.outbox_helpers import NOW

TOKEN = "pat-sync-secret"


@pytest.fixture
def thresholds() -> Thresholds:
    return load_thresholds()


def _hubspot(server: HTTPServer, policy: HttpPolicy) -> HubSpotConnector:
    return HubSpotConnector(server.url_for(""), token=SecretStr(TOKEN), policy=policy)


def _score_everyone(engine: Engine, score: float, band: str) -> None:
    with transaction(engine) as session:
        ids = session.scalars(select(Account.id)).all()
        session.execute(
            insert(HealthSnapshot),
            [
                {
                    "account_id": i,
                    "as_of": date(2025, 6, 1),
                    "score": score,
                    "band": band,
                    "components": {},
                    "missing_components": [],
                    "model_version": "v1",
                    "created_at": NOW,
                }
                for i in ids
            ],
        )


def _checks(engine: Engine) -> list[ComponentCheck]:
    with transaction(engine) as session:
        return list(session.scalars(select(ComponentCheck).order_by(ComponentCheck.id)))


def test_sync_pulls_accounts_and_contacts_then_pushes_scores_back(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy, thresholds: Thresholds
) -> None:
    fake = FakeHubSpot(server, TOKEN, companies=3, contacts=5)
    fake.companies[1]["properties"]["name"] = "Beta Corp"
    first = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    (part,) = first.providers
    assert (part.accounts_pulled, part.contacts_pulled, part.contacts_skipped) == (3, 5, 0)
    with transaction(engine) as session:
        accounts = session.execute(
            select(Account.external_id, Account.name).order_by(Account.id)
        ).all()
        sources = session.execute(select(AccountSource.source, AccountSource.source_id)).all()
        contacts = session.execute(
            select(Contact.email, Contact.email_opt_out).order_by(Contact.email)
        ).all()
    assert accounts == [
        ("hubspot:1000", "Company 0"),
        ("hubspot:1001", "Beta Corp"),
        ("hubspot:1002", "Company 2"),
    ]
    assert sorted(sources) == [("hubspot", "1000"), ("hubspot", "1001"), ("hubspot", "1002")]
    assert contacts[:2] == [("person0@c0.io", False), ("person1@c1.io", True)]
    assert fake.upserts == []  # nothing scored yet

    _score_everyone(engine, 35, "critical")
    second = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    assert second.providers[0].scores_pushed == 3 and second.ok
    # Companies got our id stamped first, so the upsert updates them rather than duplicating.
    assert fake.stamps == {"1000": "hubspot:1000", "1001": "hubspot:1001", "1002": "hubspot:1002"}
    assert sorted(u["id"] for u in fake.upserts) == ["hubspot:1000", "hubspot:1001", "hubspot:1002"]
    assert fake.upserts[0]["properties"] == {
        "successcrew_health_score": "35",
        "successcrew_health_band": "critical",
    }
    with transaction(engine) as session:
        assert session.scalar(select(Account.id).where(Account.external_id == "hubspot:1000"))
        assert len(session.scalars(select(Account.id)).all()) == 3  # re-sync created nothing

    third = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    stamped_again = [r for r, _ in server.log if r.path.endswith("batch/update")]
    assert len(stamped_again) == 1 and third.ok  # already stamped: no second linking pass
    check = _checks(engine)[-1]
    assert (check.component, check.ok) == ("crm_sync", True)
    assert check.detail == {"attempted": 11, "failed": 0, "error_rate_pct": 0.0, "unreachable": []}


def test_a_record_seen_twice_while_paging_is_synced_once(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy, thresholds: Thresholds
) -> None:
    fake = FakeHubSpot(server, TOKEN, companies=2, contacts=2)
    fake.companies.append(fake.companies[0])  # it moved to a later page while we paged
    fake.contacts.append(fake.contacts[1])
    summary = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    assert summary.ok and summary.providers[0].accounts_pulled == 2
    with transaction(engine) as session:
        assert len(session.scalars(select(Account.id)).all()) == 2
        assert len(session.scalars(select(Contact.id)).all()) == 2


def test_a_local_opt_out_survives_a_crm_that_says_otherwise(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy, thresholds: Thresholds
) -> None:
    FakeHubSpot(server, TOKEN, companies=1, contacts=1)
    sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW, push=False)
    with transaction(engine) as session:
        session.execute(update(Contact).values(email_opt_out=True))
    sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW, push=False)
    with transaction(engine) as session:
        assert session.scalars(select(Contact.email_opt_out)).all() == [True]


def test_an_error_rate_above_the_threshold_fails_the_component_check(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy, thresholds: Thresholds
) -> None:
    fake = FakeHubSpot(server, TOKEN, companies=20)
    sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW, push=False)
    _score_everyone(engine, 80, "healthy")
    for c in fake.companies:  # already linked, so the push goes straight to batch/upsert
        c["properties"]["successcrew_account_id"] = f"hubspot:{c['id']}"
    fake.reject_ids = {"hubspot:1000", "hubspot:1001", "hubspot:1002"}
    summary = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    # 20 accounts pulled + 20 scores pushed, 3 rejected: 7.5 % > 5 %.
    assert (summary.attempted, summary.failed, summary.error_rate_pct) == (40, 3, 7.5)
    check = _checks(engine)[-1]
    assert check.ok is False
    assert check.detail == {"attempted": 40, "failed": 3, "error_rate_pct": 7.5, "unreachable": []}
    assert "7.5% is above 5%" in check.error


def test_a_failed_pull_writes_nothing_and_fails_the_check(
    engine: Engine, server: HTTPServer, fast_policy: HttpPolicy, thresholds: Thresholds
) -> None:
    server.expect_request("/crm/v3/objects/companies").respond_with_data("down", status=503)
    summary = sync_crm(engine, [_hubspot(server, fast_policy)], thresholds, NOW)
    assert not summary.ok and summary.error_rate_pct == 100.0
    with transaction(engine) as session:
        assert session.scalars(select(Account.id)).all() == []
    check = _checks(engine)[-1]
    assert check.ok is False and "HTTP 503" in check.error and TOKEN not in check.error


def test_no_crm_configured_records_no_check(engine: Engine, thresholds: Thresholds) -> None:
    summary = sync_crm(engine, [], thresholds, NOW)
    assert summary.ok and summary.providers == []
    assert _checks(engine) == []
