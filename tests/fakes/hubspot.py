"""A stand-in HubSpot CRM v3 for tests: the demo's stand-in behind pytest-httpserver."""

from __future__ import annotations

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from successcrew.demo.hubspot_standin import RATE_HEADERS, HubSpotStandIn

__all__ = ["RATE_HEADERS", "FakeHubSpot"]


class FakeHubSpot(HubSpotStandIn):
    """``companies`` numbered companies and ``contacts`` contacts spread over them; one owner,
    ``owner@acme.test``; counts every request it answers."""

    def __init__(self, server: HTTPServer, token: str, *, companies: int = 0, contacts: int = 0):
        spread = max(companies, 1)
        super().__init__(
            token,
            companies=[
                {"id": str(1000 + i), "properties": {"name": f"Company {i}", "domain": f"c{i}.io"}}
                for i in range(companies)
            ],
            contacts=[
                {
                    "id": str(5000 + i),
                    "properties": {
                        "email": f"person{i}@c{i % spread}.io",
                        "firstname": "Pat",
                        "lastname": f"Doe{i}",
                        "jobtitle": "Admin",
                        "hs_email_optout": "true" if i % 2 else "false",
                    },
                    "associations": {
                        "companies": {
                            "results": [
                                {"id": str(1000 + i % spread), "type": "contact_to_company"}
                            ]
                        }
                    },
                }
                for i in range(contacts)
            ],
            owners={"owner@acme.test": "42"},
        )
        for method, path in self.paths:
            server.expect_request(path, method=method).respond_with_handler(self._handle)

    def _handle(self, request: Request) -> Response:
        status, headers, body = self.answer(
            request.method, request.path, request.args, request.headers, request.get_data()
        )
        return Response(body, status=status, headers=headers)
