"""A stand-in HubSpot CRM v3: paged companies/contacts, properties, batch upsert, tasks."""

from __future__ import annotations

import json
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

RATE_HEADERS = {
    "X-HubSpot-RateLimit-Max": "190",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
}


class FakeHubSpot:
    """Companies and contacts paged with ``after``; counts every request it answers."""

    def __init__(self, server: HTTPServer, token: str, *, companies: int = 0, contacts: int = 0):
        self.token = token
        self.companies = [
            {"id": str(1000 + i), "properties": {"name": f"Company {i}", "domain": f"c{i}.io"}}
            for i in range(companies)
        ]
        self.contacts = [
            {
                "id": str(5000 + i),
                "properties": {
                    "email": f"person{i}@c{i % max(companies, 1)}.io",
                    "firstname": "Pat",
                    "lastname": f"Doe{i}",
                    "jobtitle": "Admin",
                    "hs_email_optout": "true" if i % 2 else "false",
                },
                "associations": {
                    "companies": {
                        "results": [
                            {"id": str(1000 + i % max(companies, 1)), "type": "contact_to_company"}
                        ]
                    }
                },
            }
            for i in range(contacts)
        ]
        self.properties: set[str] = set()
        self.upserts: list[dict[str, Any]] = []  # every input pushed, in order
        self.stamps: dict[str, str] = {}
        #: Upsert ids answered as validation errors (HubSpot's 207 multi-status).
        self.reject_ids: set[str] = set()
        self.requests = 0
        self.remaining = 150
        for path, handler, method in (
            ("/crm/v3/objects/companies", self._companies, "GET"),
            ("/crm/v3/objects/contacts", self._contacts, "GET"),
            ("/crm/v3/properties/companies", self._property, "POST"),
            ("/crm/v3/objects/companies/batch/upsert", self._upsert, "POST"),
            ("/crm/v3/objects/companies/batch/update", self._update, "POST"),
            ("/crm/v3/objects/tasks", self._task, "POST"),
            ("/crm/v3/owners", self._owners, "GET"),
        ):
            server.expect_request(path, method=method).respond_with_handler(handler)

    def _reply(self, body: Any, status: int = 200) -> Response:
        self.remaining = max(self.remaining - 1, 0)
        headers = dict(RATE_HEADERS, **{"X-HubSpot-RateLimit-Remaining": str(self.remaining)})
        return Response(
            json.dumps(body), status=status, headers=headers, content_type="application/json"
        )

    def _check(self, request: Request) -> Response | None:
        self.requests += 1
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return self._reply({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
        return None

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Response:
        limit = min(int(request.args.get("limit", "10")), 100)
        start = int(request.args.get("after", "0"))
        body: dict[str, Any] = {"results": items[start : start + limit]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": str(start + limit), "link": "..."}}
        return self._reply(body)

    def _companies(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        for c in self.companies:
            if c["id"] in self.stamps:
                c["properties"]["successcrew_account_id"] = self.stamps[c["id"]]
        return self._page(request, self.companies)

    def _contacts(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        return self._page(request, self.contacts)

    def _property(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        name = request.get_json()["name"]
        if name in self.properties:
            return self._reply({"status": "error", "category": "OBJECT_ALREADY_EXISTS"}, 409)
        self.properties.add(name)
        return self._reply({"name": name}, 201)

    def _upsert(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        inputs = request.get_json()["inputs"]
        if len(inputs) > 100:
            return self._reply({"status": "error", "message": "too many inputs"}, 400)
        accepted = [i for i in inputs if i["id"] not in self.reject_ids]
        self.upserts.extend(accepted)
        body: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [{"id": i["id"], "properties": i["properties"]} for i in accepted],
        }
        rejected = [i["id"] for i in inputs if i["id"] in self.reject_ids]
        if not rejected:
            return self._reply(body)
        body["errors"] = [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid",
                "context": {"ids": [r]},
            }
            for r in rejected
        ]
        return self._reply(body, 207)

    def _update(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        for item in request.get_json()["inputs"]:
            self.stamps[item["id"]] = item["properties"]["successcrew_account_id"]
        return self._reply({"status": "COMPLETE", "results": []})

    def _task(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        return self._reply({"id": "777", "properties": request.get_json()["properties"]}, 201)

    def _owners(self, request: Request) -> Response:
        if (denied := self._check(request)) is not None:
            return denied
        email = request.args.get("email")
        results = [{"id": "42", "email": email}] if email == "owner@acme.test" else []
        return self._reply({"results": results})
