"""Salesforce REST: SOQL paged through ``nextRecordsUrl``; scores by sObject Collections upsert.

Scores go to two custom Account fields an admin creates once (Setup > Object Manager > Account):
``SuccessCrew_Health_Score__c`` (Number 5,2) and ``SuccessCrew_Health_Band__c`` (Text 20).
Records are matched on ``external_id_field``: ``Id`` by default (the Salesforce id we keep in
``account_sources``, so an upsert never creates an account), or a custom External ID field that
holds our account external ids.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from successcrew.integrations.crm.connector import (
    CrmAccount,
    CrmContact,
    CrmTask,
    PushResult,
    ScoreUpdate,
    chunks,
)
from successcrew.integrations.http import (
    DETAIL_LIMIT,
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    describe_answer,
    expect_dict,
    provider_error_detail,
)
from successcrew.redaction import sanitise

#: sObject Collections take at most 200 records per request.
BATCH_SIZE = 200
SCORE_FIELD = "SuccessCrew_Health_Score__c"
BAND_FIELD = "SuccessCrew_Health_Band__c"


def soql_quote(value: str) -> str:
    """A SOQL string literal (backslash and quote escaped)."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parse_limit_info(header: str | None) -> tuple[int, int] | None:
    """``Sforce-Limit-Info: api-usage=used/limit`` as (used, limit)."""
    if not header:
        return None
    for part in header.split(","):
        name, _, value = part.strip().partition("=")
        if name == "api-usage" and "/" in value:
            used, _, limit = value.partition("/")
            try:
                return int(used), int(limit)
            except ValueError:
                return None
    return None


def upsert_records(updates: Sequence[ScoreUpdate], external_id_field: str) -> list[dict[str, Any]]:
    """Collection records for score updates, matched on ``external_id_field``."""
    return [
        {
            "attributes": {"type": "Account"},
            external_id_field: u.source_id if external_id_field == "Id" else u.external_id,
            SCORE_FIELD: round(u.score, 2),
            BAND_FIELD: u.band,
        }
        for u in updates
    ]


class SalesforceConnector(ProviderClient):
    """Salesforce REST API against the org's instance URL (``SUCCESSCREW_SALESFORCE_API_URL``)."""

    provider = "salesforce"

    def __init__(
        self,
        base_url: str,
        *,
        api_version: str = "v61.0",
        external_id_field: str = "Id",
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self.api = f"/services/data/{api_version}"
        self.external_id_field = external_id_field
        #: The org's daily API usage from the last answer, as (used, limit).
        self.api_usage: tuple[int, int] | None = None

    def after_response(self, response: httpx.Response) -> None:
        """Track the daily allocation so summaries can show it."""
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage is not None:
            self.api_usage = usage

    def error_for(self, response: httpx.Response) -> ProviderError:
        """Salesforce errors are ``[{"errorCode": ..., "message": ...}]``; an invalid session is
        an auth error whatever the status."""
        code, detail = provider_error_detail(response)
        if not code:
            return super().error_for(response)
        auth = response.status_code == 401 or code == "INVALID_SESSION_ID"
        return (ProviderAuthError if auth else ProviderError)(
            self.provider,
            describe_answer(response, code, detail),
            status=response.status_code,
            code=code,
        )

    def check(self) -> str:
        """GET limits: cheap, needs a valid session, and tells how much allocation is left."""
        body = expect_dict(self, self.get_json(f"{self.api}/limits"), "limits")
        daily = body.get("DailyApiRequests") or {}
        left, cap = daily.get("Remaining", "?"), daily.get("Max", "?")
        return f"token valid; {left}/{cap} API calls left today"

    def query(self, soql: str) -> Iterator[dict[str, Any]]:
        """Every record of a SOQL query, following ``nextRecordsUrl`` until ``done``."""
        body = expect_dict(self, self.get_json(f"{self.api}/query", params={"q": soql}), "query")
        while True:
            records = body.get("records")
            if not isinstance(records, list):
                raise ProviderResponseError(self.provider, "query: answer has no records list")
            yield from records
            next_url = body.get("nextRecordsUrl")
            if body.get("done", True) or not next_url:
                return
            body = expect_dict(self, self.get_json(next_url), "query")

    def pull_accounts(self) -> Iterator[CrmAccount]:
        """Every Account with its owner's email."""
        for r in self.query("SELECT Id, Name, Website, Owner.Email FROM Account"):
            yield CrmAccount(
                source_id=str(r["Id"]),
                name=r.get("Name") or f"Salesforce account {r['Id']}",
                owner_email=(r.get("Owner") or {}).get("Email"),
                domain=r.get("Website"),
            )

    def pull_contacts(self) -> Iterator[CrmContact]:
        """Every Contact with its Account and email opt-out."""
        soql = "SELECT Id, AccountId, Email, Name, Title, HasOptedOutOfEmail FROM Contact"
        for r in self.query(soql):
            yield CrmContact(
                source_id=str(r["Id"]),
                email=r.get("Email") or None,
                account_source_id=r.get("AccountId") or None,
                name=r.get("Name") or None,
                role=r.get("Title") or None,
                email_opt_out=bool(r.get("HasOptedOutOfEmail")),
            )

    def prepare(self) -> None:
        """Nothing to create over REST: custom fields need the Metadata API (see module doc)."""

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> PushResult:
        """Upsert through sObject Collections, 200 accounts per request, allOrNone false."""
        result = PushResult()
        path = f"{self.api}/composite/sobjects/Account/{self.external_id_field}"
        for batch in chunks(updates, BATCH_SIZE):
            result.attempted += len(batch)
            result.requests += 1
            body = {"allOrNone": False, "records": upsert_records(batch, self.external_id_field)}
            try:
                answer = self.json(self.request("PATCH", path, json=body))
            except ProviderError as exc:
                result.failed.update({u.source_id: str(exc) for u in batch})
                continue
            if not isinstance(answer, list) or len(answer) != len(batch):
                reason = "composite answer does not list one result per record"
                result.failed.update({u.source_id: reason for u in batch})
                continue
            # Results come back in request order.
            for update, item in zip(batch, answer, strict=True):
                if not item.get("success"):
                    errors = item.get("errors") or [{}]
                    first = errors[0]
                    result.failed[update.source_id] = sanitise(
                        f"{first.get('statusCode', 'ERROR')}: {first.get('message', '')}",
                        limit=DETAIL_LIMIT,
                    )
        return result

    def create_task(self, task: CrmTask) -> str:
        """A Task on the Account, owned by the account owner's Salesforce user when found."""
        body: dict[str, Any] = {
            "Subject": task.subject[:255],
            "Description": task.body,
            "WhatId": task.account_source_id,
            "ActivityDate": task.due_date,
            "Status": "Not Started",
            "Priority": "High",
        }
        if task.owner_email:
            users = list(
                self.query(
                    f"SELECT Id FROM User WHERE Email = {soql_quote(task.owner_email)} LIMIT 1"
                )
            )
            if users:
                body["OwnerId"] = users[0]["Id"]
        answer = expect_dict(self, self.post_json(f"{self.api}/sobjects/Task", body), "Task")
        return str(answer.get("id"))
