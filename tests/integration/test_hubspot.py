"""HubSpot CRM v3 connector against a stand-in that pages, rate-limits and upserts like HubSpot."""

from __future__ import annotations

import json

from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from successcrew.integrations import CrmTask, HubSpotConnector, ScoreUpdate
from successcrew.integrations.http import HttpPolicy
from tests.fakes.hubspot import FakeHubSpot

TOKEN = "pat-na1-hubspot-secret"


def _connector(server: HTTPServer, policy: HttpPolicy, sleeps: list[float]) -> HubSpotConnector:
    return HubSpotConnector(
        server.url_for(""), token=SecretStr(TOKEN), policy=policy, sleep=sleeps.append
    )


def test_companies_are_paged_with_after_to_the_end(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    FakeHubSpot(server, TOKEN, companies=250)
    accounts = list(_connector(server, policy, sleeps).pull_accounts())
    assert [a.source_id for a in accounts] == [str(1000 + i) for i in range(250)]
    assert accounts[0].name == "Company 0" and accounts[0].domain == "c0.io"
    requests = [r for r, _ in server.log]
    assert [r.args.get("after") for r in requests] == [None, "100", "200"]
    first = requests[0]
    assert first.method == "GET" and first.path == "/crm/v3/objects/companies"
    assert first.args["limit"] == "100"
    assert first.args["properties"] == "name,domain,successcrew_account_id"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"


def test_contacts_carry_their_company_and_email_opt_out(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    FakeHubSpot(server, TOKEN, companies=3, contacts=4)
    contacts = list(_connector(server, policy, sleeps).pull_contacts())
    assert [(c.email, c.account_source_id, c.email_opt_out) for c in contacts] == [
        ("person0@c0.io", "1000", False),
        ("person1@c1.io", "1001", True),
        ("person2@c2.io", "1002", False),
        ("person3@c0.io", "1000", True),
    ]
    assert contacts[1].name == "Pat Doe1" and contacts[1].role == "Admin"
    assert server.log[0][0].args["associations"] == "companies"


def test_custom_properties_are_created_once_and_409_means_they_exist(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeHubSpot(server, TOKEN)
    connector = _connector(server, policy, sleeps)
    connector.prepare()
    connector.prepare()  # second time: three 409 answers, no error
    assert fake.properties == {
        "successcrew_account_id",
        "successcrew_health_score",
        "successcrew_health_band",
    }
    statuses = [resp.status_code for _, resp in server.log]
    assert statuses == [201, 201, 201, 409, 409, 409]
    created = json.loads(server.log[0][0].get_data())
    assert created["hasUniqueValue"] is True and created["groupName"] == "companyinformation"


def test_ten_thousand_scores_take_at_most_one_hundred_requests(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeHubSpot(server, TOKEN)
    fake.remaining = 10**6  # this test measures batching, not pacing
    updates = [ScoreUpdate(str(i), f"acct-{i}", i % 100, "healthy") for i in range(10_000)]
    result = _connector(server, policy, sleeps).push_scores(updates)
    assert fake.requests <= 100
    assert fake.requests == 100
    assert result.attempted == 10_000 and not result.failed
    assert len(fake.upserts) == 10_000
    assert fake.upserts[7] == {
        "idProperty": "successcrew_account_id",
        "id": "acct-7",
        "properties": {"successcrew_health_score": "7", "successcrew_health_band": "healthy"},
    }


def test_pushes_slow_down_before_the_rate_limit_window_is_spent(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    fake = FakeHubSpot(server, TOKEN)
    fake.remaining = 12  # the 5 % reserve of 190 is 9: the fourth answer says 8 left
    updates = [ScoreUpdate(str(i), f"a{i}", 50, "at_risk") for i in range(600)]
    _connector(server, policy, sleeps).push_scores(updates)
    assert all(resp.status_code == 200 for _, resp in server.log)  # never a 429
    # After the answer leaving 9 requests we wait out the 10 s window before each request.
    assert sleeps and all(s == 10.0 for s in sleeps)
    assert len(sleeps) == 3


def test_a_partially_failed_batch_reports_the_failed_companies(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(
        "/crm/v3/objects/companies/batch/upsert", method="POST"
    ).respond_with_json(
        {
            "status": "COMPLETE",
            "results": [{"id": "1", "properties": {}}],
            "errors": [
                {
                    "status": "error",
                    "category": "VALIDATION_ERROR",
                    "message": "Property values were not valid",
                    "context": {"ids": ["acct-2"]},
                }
            ],
        },
        status=207,
    )
    updates = [
        ScoreUpdate("1", "acct-1", 80, "healthy"),
        ScoreUpdate("2", "acct-2", 10, "critical"),
    ]
    result = _connector(server, policy, sleeps).push_scores(updates)
    assert result.failed == {"2": "Property values were not valid"}
    assert result.succeeded == 1


def test_a_task_is_created_for_the_owner_on_the_company(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    FakeHubSpot(server, TOKEN)
    task_id = _connector(server, policy, sleeps).create_task(
        CrmTask("1001", "Call Acme", "Health dropped to 32", "2025-07-01", "owner@acme.test")
    )
    assert task_id == "777"
    sent = json.loads(server.log[-1][0].get_data())
    assert sent["properties"] == {
        "hs_task_subject": "Call Acme",
        "hs_task_body": "Health dropped to 32",
        "hs_task_status": "NOT_STARTED",
        "hs_task_priority": "HIGH",
        "hs_timestamp": "2025-07-01T09:00:00Z",
        "hubspot_owner_id": "42",
    }
    assert sent["associations"][0]["to"] == {"id": "1001"}
    assert sent["associations"][0]["types"][0]["associationTypeId"] == 192
