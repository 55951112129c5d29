"""HubSpot CRM v3: companies and contacts paged with ``after``; scores by batch upsert.

Scores are written with ``batch/upsert`` keyed on ``successcrew_account_id``, a unique custom
property holding our account external id (HubSpot refuses upserts keyed on ``hs_object_id``).
Companies first seen in HubSpot are stamped with it by :meth:`HubSpotConnector.link_accounts`
(``batch/update`` by HubSpot id) so an upsert always updates and never creates a duplicate.
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
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    expect_dict,
    header_int,
    pace_delay,
)
from successcrew.redaction import sanitise

BATCH_SIZE = 100
PAGE_SIZE = 100
ID_PROPERTY = "successcrew_account_id"
SCORE_PROPERTY = "successcrew_health_score"
BAND_PROPERTY = "successcrew_health_band"
_GROUP = "companyinformation"

#: The properties created once on companies; 409 from HubSpot means one already exists.
PROPERTIES: tuple[dict[str, Any], ...] = (
    {
        "name": ID_PROPERTY,
        "label": "successcrew account id",
        "type": "string",
        "fieldType": "text",
        "groupName": _GROUP,
        "hasUniqueValue": True,
    },
    {
        "name": SCORE_PROPERTY,
        "label": "Health score (successcrew)",
        "type": "number",
        "fieldType": "number",
        "groupName": _GROUP,
    },
    {
        "name": BAND_PROPERTY,
        "label": "Health band (successcrew)",
        "type": "enumeration",
        "fieldType": "select",
        "groupName": _GROUP,
        "options": [
            {"label": "Healthy", "value": "healthy", "displayOrder": 0},
            {"label": "At-Risk", "value": "at_risk", "displayOrder": 1},
            {"label": "Critical", "value": "critical", "displayOrder": 2},
        ],
    },
)


def upsert_inputs(updates: Sequence[ScoreUpdate]) -> list[dict[str, Any]]:
    """``batch/upsert`` inputs for score updates (scores sent as HubSpot number strings)."""
    return [
        {
            "idProperty": ID_PROPERTY,
            "id": u.external_id,
            "properties": {SCORE_PROPERTY: f"{u.score:g}", BAND_PROPERTY: u.band},
        }
        for u in updates
    ]


def _batch_failures(body: dict[str, Any], batch: Sequence[ScoreUpdate]) -> dict[str, str]:
    """Failed ids from a 207 multi-status answer; errors naming no id fail the whole batch."""
    failed: dict[str, str] = {}
    by_external = {u.external_id: u.source_id for u in batch}
    for err in body.get("errors") or []:
        message = sanitise(
            str(err.get("message") or err.get("category") or "error"), limit=DETAIL_LIMIT
        )
        ids = (err.get("context") or {}).get("ids") or []
        if not ids:
            return {u.source_id: message for u in batch}
        for ext in ids:
            failed[by_external.get(str(ext), str(ext))] = message
    return failed


class HubSpotConnector(ProviderClient):
    """HubSpot CRM v3 with the house HTTP policy and HubSpot's rate-limit headers honoured."""

    provider = "hubspot"

    def after_response(self, response: httpx.Response) -> None:
        """Pause when the 10-second window is nearly spent (``X-HubSpot-RateLimit-*``)."""
        remaining = header_int(response.headers, "X-HubSpot-RateLimit-Remaining")
        interval_ms = header_int(response.headers, "X-HubSpot-RateLimit-Interval-Milliseconds")
        limit = header_int(response.headers, "X-HubSpot-RateLimit-Max") or 100
        # Keep a 5 % reserve: other jobs on the same private app share the window.
        reserve = max(1, limit // 20)
        window = interval_ms / 1000 if interval_ms is not None else None
        self.pause_before_next = max(
            self.pause_before_next, pace_delay(remaining, window, reserve=reserve)
        )

    def check(self) -> str:
        """GET one company: proves the token and the crm.objects.companies.read scope."""
        self.get_json("/crm/v3/objects/companies", params={"limit": 1})
        return "token valid"

    def _paged(self, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
        after: str | None = None
        while True:
            query = dict(params, limit=PAGE_SIZE)
            if after:
                query["after"] = after
            body = expect_dict(self, self.get_json(path, params=query), path)
            results = body.get("results")
            if not isinstance(results, list):
                raise ProviderResponseError(self.provider, f"{path}: answer has no results list")
            yield from results
            after = ((body.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                return

    def pull_accounts(self) -> Iterator[CrmAccount]:
        """Every company (name, domain, our stamped id)."""
        props = {"properties": f"name,domain,{ID_PROPERTY}"}
        for item in self._paged("/crm/v3/objects/companies", props):
            p = item.get("properties") or {}
            yield CrmAccount(
                source_id=str(item["id"]),
                name=p.get("name") or p.get("domain") or f"HubSpot company {item['id']}",
                domain=p.get("domain"),
                linked_external_id=p.get(ID_PROPERTY) or None,
            )

    def pull_contacts(self) -> Iterator[CrmContact]:
        """Every contact with its first associated company and its email opt-out flag."""
        params = {
            "properties": "email,firstname,lastname,jobtitle,hs_email_optout",
            "associations": "companies",
        }
        for item in self._paged("/crm/v3/objects/contacts", params):
            p = item.get("properties") or {}
            companies = ((item.get("associations") or {}).get("companies") or {}).get("results")
            name = " ".join(x for x in (p.get("firstname"), p.get("lastname")) if x) or None
            yield CrmContact(
                source_id=str(item["id"]),
                email=p.get("email") or None,
                account_source_id=str(companies[0]["id"]) if companies else None,
                name=name,
                role=p.get("jobtitle") or None,
                email_opt_out=str(p.get("hs_email_optout") or "").lower() == "true",
            )

    def prepare(self) -> None:
        """Create our three company properties once; 409 means it already exists."""
        for prop in PROPERTIES:
            self.request("POST", "/crm/v3/properties/companies", json=prop, expected={409})

    def link_accounts(self, pairs: Sequence[tuple[str, str]]) -> PushResult:
        """Stamp ``successcrew_account_id`` on companies: pairs of (HubSpot id, our id)."""
        result = PushResult()
        for start in range(0, len(pairs), BATCH_SIZE):
            batch = pairs[start : start + BATCH_SIZE]
            result.attempted += len(batch)
            inputs = [{"id": hs, "properties": {ID_PROPERTY: ours}} for hs, ours in batch]
            try:
                self.request(
                    "POST", "/crm/v3/objects/companies/batch/update", json={"inputs": inputs}
                )
            except ProviderError as exc:
                result.failed.update({hs: str(exc) for hs, _ in batch})
            result.requests += 1
        return result

    def push_scores(self, updates: Sequence[ScoreUpdate]) -> PushResult:
        """Batch upsert, 100 companies per request (10,000 scores = 100 requests)."""
        result = PushResult()
        for batch in chunks(updates, BATCH_SIZE):
            result.attempted += len(batch)
            result.requests += 1
            try:
                response = self.request(
                    "POST",
                    "/crm/v3/objects/companies/batch/upsert",
                    json={"inputs": upsert_inputs(batch)},
                )
                body = expect_dict(self, self.json(response), "batch/upsert")
            except ProviderError as exc:
                result.failed.update({u.source_id: str(exc) for u in batch})
                continue
            if response.status_code == 207:
                result.failed.update(_batch_failures(body, batch))
        return result

    def create_task(self, task: CrmTask) -> str:
        """A task on the company (association type 192: task to company), for its owner."""
        properties: dict[str, Any] = {
            "hs_task_subject": task.subject,
            "hs_task_body": task.body,
            "hs_task_status": "NOT_STARTED",
            "hs_task_priority": "HIGH",
            "hs_timestamp": f"{task.due_date}T09:00:00Z",
        }
        if task.owner_email:
            owner_id = self._owner_id(task.owner_email)
            if owner_id:
                properties["hubspot_owner_id"] = owner_id
        body = {
            "properties": {k: v for k, v in properties.items() if v is not None},
            "associations": [
                {
                    "to": {"id": task.account_source_id},
                    "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 192}],
                }
            ],
        }
        answer = expect_dict(self, self.post_json("/crm/v3/objects/tasks", body), "tasks")
        return str(answer.get("id"))

    def _owner_id(self, email: str) -> str | None:
        body = expect_dict(
            self, self.get_json("/crm/v3/owners", params={"email": email, "limit": 1}), "owners"
        )
        results = body.get("results") or []
        return str(results[0]["id"]) if results else None
