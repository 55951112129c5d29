"""Intercom connector: scroll and cursor paging, rate-limit headers, at-risk tags, notes."""

from __future__ import annotations

import json

from pydantic import SecretStr
from pytest_httpserver import HTTPServer

from successcrew.integrations import CrmTask, IntercomConnector, ScoreUpdate
from successcrew.integrations.http import HttpPolicy

TOKEN = "dG9rOmludGVyY29tLXNlY3JldA=="
NOW = 1_750_000_000.0


def _connector(server: HTTPServer, policy: HttpPolicy, sleeps: list[float]) -> IntercomConnector:
    return IntercomConnector(
        server.url_for(""),
        token=SecretStr(TOKEN),
        policy=policy,
        sleep=sleeps.append,
        wall_clock=lambda: NOW,
    )


def test_companies_scroll_until_an_empty_page(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_ordered_request("/companies/scroll", query_string="").respond_with_json(
        {"type": "list", "data": [{"id": "c1", "name": "Acme"}], "scroll_param": "s-1"}
    )
    server.expect_ordered_request(
        "/companies/scroll", query_string={"scroll_param": "s-1"}
    ).respond_with_json(
        {"type": "list", "data": [{"id": "c2", "company_id": "beta"}], "scroll_param": "s-1"}
    )
    server.expect_ordered_request(
        "/companies/scroll", query_string={"scroll_param": "s-1"}
    ).respond_with_json({"type": "list", "data": [], "scroll_param": "s-1"})
    accounts = list(_connector(server, policy, sleeps).pull_accounts())
    assert [(a.source_id, a.name) for a in accounts] == [("c1", "Acme"), ("c2", "beta")]
    assert len(server.log) == 3
    assert server.log[0][0].headers["Intercom-Version"] == "2.11"


def test_contacts_follow_starting_after_and_pause_on_the_rate_limit(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_ordered_request("/contacts", query_string={"per_page": "150"}).respond_with_json(
        {
            "type": "list",
            "data": [
                {
                    "id": "u1",
                    "email": "a@acme.io",
                    "name": "Ann",
                    "unsubscribed_from_emails": True,
                    "companies": {"data": [{"id": "c1"}]},
                }
            ],
            "pages": {"next": {"page": 2, "starting_after": "WzE3MF0="}},
        },
        # One request left in a window resetting in 4 s: wait rather than collect a 429.
        headers={
            "X-RateLimit-Limit": "20",
            "X-RateLimit-Remaining": "1",
            "X-RateLimit-Reset": str(int(NOW) + 4),
        },
    )
    server.expect_ordered_request(
        "/contacts", query_string={"per_page": "150", "starting_after": "WzE3MF0="}
    ).respond_with_json(
        {"type": "list", "data": [{"id": "u2", "email": "b@beta.io"}], "pages": {"next": None}}
    )
    contacts = list(_connector(server, policy, sleeps).pull_contacts())
    assert [(c.source_id, c.account_source_id, c.email_opt_out) for c in contacts] == [
        ("u1", "c1", True),
        ("u2", None, False),
    ]
    assert sleeps == [4.0]


def test_at_risk_companies_are_tagged_and_recovered_ones_untagged(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/tags", method="POST").respond_with_json(
        {"type": "tag", "id": "17", "name": "successcrew: at risk"}
    )
    result = _connector(server, policy, sleeps).push_scores(
        [
            ScoreUpdate("c1", "a1", 35, "critical"),
            ScoreUpdate("c2", "a2", 55, "at_risk"),
            ScoreUpdate("c3", "a3", 90, "healthy"),
        ]
    )
    assert not result.failed and result.requests == 1
    assert json.loads(server.log[0][0].get_data()) == {
        "name": "successcrew: at risk",
        "companies": [{"id": "c1"}, {"id": "c2"}, {"id": "c3", "untag": True}],
    }


def test_an_owner_task_becomes_a_note_on_a_company_contact(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request("/companies/c1/contacts").respond_with_json(
        {"type": "list", "data": [{"type": "contact", "id": "u9"}]}
    )
    server.expect_request("/contacts/u9/notes", method="POST").respond_with_json(
        {"type": "note", "id": "n1"}
    )
    note = _connector(server, policy, sleeps).create_task(
        CrmTask("c1", "Call Acme", "Score 31", "2025-07-01", "owner@acme.test")
    )
    assert note == "n1"
    body = json.loads(server.log[1][0].get_data())["body"]
    assert "Call Acme" in body and "owner@acme.test" in body and "2025-07-01" in body
