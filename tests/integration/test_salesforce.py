"""Salesforce REST connector: SOQL paging, sObject Collections upsert, Task records."""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from successcrew.integrations import CrmTask, ProviderAuthError, SalesforceConnector, ScoreUpdate
from successcrew.integrations.http import HttpPolicy

TOKEN = "00Dxx!salesforce-session-secret"
API = "/services/data/v61.0"


def _connector(server: HTTPServer, policy: HttpPolicy, sleeps: list[float]) -> SalesforceConnector:
    return SalesforceConnector(
        server.url_for(""), token=SecretStr(TOKEN), policy=policy, sleep=sleeps.append
    )


def test_soql_follows_next_records_url_until_done(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(f"{API}/query", method="GET").respond_with_json(
        {
            "totalSize": 3,
            "done": False,
            "nextRecordsUrl": f"{API}/query/01gD0000002HU6KIAW-2000",
            "records": [
                {"Id": "001A", "Name": "Acme", "Website": "acme.io", "Owner": {"Email": "o@x.io"}},
                {"Id": "001B", "Name": "Beta", "Website": None, "Owner": None},
            ],
        },
        headers={"Sforce-Limit-Info": "api-usage=18/15000"},
    )
    server.expect_request(f"{API}/query/01gD0000002HU6KIAW-2000", method="GET").respond_with_json(
        {"totalSize": 3, "done": True, "records": [{"Id": "001C", "Name": "Gamma"}]}
    )
    connector = _connector(server, policy, sleeps)
    accounts = list(connector.pull_accounts())
    assert [(a.source_id, a.name, a.owner_email) for a in accounts] == [
        ("001A", "Acme", "o@x.io"),
        ("001B", "Beta", None),
        ("001C", "Gamma", None),
    ]
    first = server.log[0][0]
    assert first.args["q"] == "SELECT Id, Name, Website, Owner.Email FROM Account"
    assert first.headers["Authorization"] == f"Bearer {TOKEN}"
    assert len(server.log) == 2
    assert connector.api_usage == (18, 15000)


def test_scores_are_upserted_two_hundred_per_request_with_per_record_results(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    def collections(request: Request) -> Response:
        body = request.get_json()
        results = [
            {
                "id": r["Id"],
                "success": r["Id"] != "001-7",
                "created": False,
                "errors": []
                if r["Id"] != "001-7"
                else [
                    {
                        "statusCode": "ENTITY_IS_DELETED",
                        "message": "entity is deleted",
                        "fields": [],
                    }
                ],
            }
            for r in body["records"]
        ]
        return Response(json.dumps(results), content_type="application/json")

    server.expect_request(
        f"{API}/composite/sobjects/Account/Id", method="PATCH"
    ).respond_with_handler(collections)
    updates = [ScoreUpdate(f"001-{i}", f"acct-{i}", 55.254, "at_risk") for i in range(450)]
    result = _connector(server, policy, sleeps).push_scores(updates)
    sizes = [len(json.loads(r.get_data())["records"]) for r, _ in server.log]
    assert sizes == [200, 200, 50]
    first = json.loads(server.log[0][0].get_data())
    assert first["allOrNone"] is False
    assert first["records"][0] == {
        "attributes": {"type": "Account"},
        "Id": "001-0",
        "SuccessCrew_Health_Score__c": 55.25,
        "SuccessCrew_Health_Band__c": "at_risk",
    }
    assert result.failed == {"001-7": "ENTITY_IS_DELETED: entity is deleted"}
    assert result.succeeded == 449


def test_a_task_is_assigned_to_the_owner_found_by_email(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(f"{API}/query", method="GET").respond_with_json(
        {"totalSize": 1, "done": True, "records": [{"Id": "005OWNER"}]}
    )
    server.expect_request(f"{API}/sobjects/Task", method="POST").respond_with_json(
        {"id": "00TNEW", "success": True, "errors": []}, status=201
    )
    task_id = _connector(server, policy, sleeps).create_task(
        CrmTask("001A", "Call Acme", "Score 31", "2025-07-01", "o'hara@acme.test")
    )
    assert task_id == "00TNEW"
    assert server.log[0][0].args["q"] == (
        "SELECT Id FROM User WHERE Email = 'o\\'hara@acme.test' LIMIT 1"
    )
    assert json.loads(server.log[1][0].get_data()) == {
        "Subject": "Call Acme",
        "Description": "Score 31",
        "WhatId": "001A",
        "ActivityDate": "2025-07-01",
        "Status": "Not Started",
        "Priority": "High",
        "OwnerId": "005OWNER",
    }


def test_an_expired_session_is_an_auth_error_naming_the_code(
    server: HTTPServer, policy: HttpPolicy, sleeps: list[float]
) -> None:
    server.expect_request(f"{API}/limits").respond_with_json(
        [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}], status=401
    )
    with pytest.raises(ProviderAuthError, match="INVALID_SESSION_ID"):
        _connector(server, policy, sleeps).check()
