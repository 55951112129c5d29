"""A HubSpot CRM v3 stand-in: the endpoints the HubSpot connector calls, answered in process.

The demo links it as its CRM on a loopback port (:func:`serving`), so the crew's setup steps,
daily sync, score push and owner tasks take the real connector's path without reaching the
internet; the tests' fake HubSpot is this class behind their own HTTP server. It answers as
HubSpot documents: companies and contacts paged with
``after`` (at most 100 a page), ``batch/upsert`` and ``batch/update`` of at most 100 inputs,
207 multi-status for rejected ids, 409 for a property that exists, the
``X-HubSpot-RateLimit-*`` headers on every answer, 401 for a wrong token.

``is_down`` makes it an outage: while it returns True every request is answered 503 with a
``Retry-After``, as HubSpot does when it is unavailable.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

RATE_HEADERS = {
    "X-HubSpot-RateLimit-Max": "190",
    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
}
BATCH_LIMIT = 100
PAGE_LIMIT = 100
ID_PROPERTY = "successcrew_account_id"

Answer = tuple[int, dict[str, str], bytes]


class HubSpotStandIn:
    """Companies and contacts as HubSpot holds them; counts every request it answers.

    ``companies`` and ``contacts`` are HubSpot objects (``{"id", "properties", ...}``);
    ``owners`` maps an owner's e-mail to their HubSpot owner id.
    """

    def __init__(
        self,
        token: str,
        *,
        companies: list[dict[str, Any]] | None = None,
        contacts: list[dict[str, Any]] | None = None,
        owners: Mapping[str, str] | None = None,
        is_down: Callable[[], bool] = lambda: False,
        window_seconds: float | None = None,
    ) -> None:
        self.token = token
        self.companies = companies or []
        self.contacts = contacts or []
        self.owners = dict(owners or {})
        self.is_down = is_down
        self.properties: set[str] = set()
        self.upserts: list[dict[str, Any]] = []  # every input pushed, in order
        self.stamps: dict[str, str] = {}
        #: Upsert ids answered as validation errors (HubSpot's 207 multi-status).
        self.reject_ids: set[str] = set()
        self.tasks: list[dict[str, Any]] = []
        self.requests = 0
        self.refused_while_down = 0
        self.remaining = 150
        #: With a window, ``remaining`` refills to the limit every ``window_seconds`` (as
        #: HubSpot's 10-second window does); without one it only counts down.
        self.window_seconds = window_seconds
        if window_seconds is not None:
            self.remaining = int(RATE_HEADERS["X-HubSpot-RateLimit-Max"])
        self._window_started = time.monotonic()
        self._lock = threading.Lock()
        self._routes: dict[tuple[str, str], Callable[[dict[str, str], Any], Answer]] = {
            ("GET", "/crm/v3/objects/companies"): self._companies,
            ("GET", "/crm/v3/objects/contacts"): self._contacts,
            ("POST", "/crm/v3/properties/companies"): self._property,
            ("POST", "/crm/v3/objects/companies/batch/upsert"): self._upsert,
            ("POST", "/crm/v3/objects/companies/batch/update"): self._update,
            ("POST", "/crm/v3/objects/tasks"): self._task,
            ("GET", "/crm/v3/owners"): self._owners,
        }

    @property
    def paths(self) -> list[tuple[str, str]]:
        """(method, path) of every endpoint answered."""
        return list(self._routes)

    def answer(
        self,
        method: str,
        path: str,
        args: Mapping[str, str],
        headers: Mapping[str, str] | Message[str, str],
        body: bytes,
    ) -> Answer:
        """The status, headers and body HubSpot would answer to this request (``headers`` as
        the HTTP server parsed them: looked up without regard to case)."""
        with self._lock:
            self.requests += 1
            if self.is_down():
                self.refused_while_down += 1
                return self._reply({"status": "error", "message": "Service Unavailable"}, 503)
            if headers.get("Authorization") != f"Bearer {self.token}":
                return self._reply({"status": "error", "category": "INVALID_AUTHENTICATION"}, 401)
            route = self._routes.get((method, path))
            if route is None:
                return self._reply({"status": "error", "category": "OBJECT_NOT_FOUND"}, 404)
            return route(dict(args), json.loads(body) if body else None)

    def _reply(self, body: Any, status: int = 200) -> Answer:
        elapsed = time.monotonic() - self._window_started
        if self.window_seconds is not None and elapsed >= self.window_seconds:
            self._window_started = time.monotonic()
            self.remaining = int(RATE_HEADERS["X-HubSpot-RateLimit-Max"])
        self.remaining = max(self.remaining - 1, 0)
        headers = dict(RATE_HEADERS, **{"X-HubSpot-RateLimit-Remaining": str(self.remaining)})
        headers["Content-Type"] = "application/json"
        if status == 503:
            headers["Retry-After"] = "1"
        return status, headers, json.dumps(body).encode()

    def _page(self, args: dict[str, str], items: list[dict[str, Any]]) -> Answer:
        limit = min(int(args.get("limit", "10")), PAGE_LIMIT)
        start = int(args.get("after", "0"))
        body: dict[str, Any] = {"results": items[start : start + limit]}
        if start + limit < len(items):
            body["paging"] = {"next": {"after": str(start + limit), "link": "..."}}
        return self._reply(body)

    def _companies(self, args: dict[str, str], _body: Any) -> Answer:
        for c in self.companies:
            if c["id"] in self.stamps:
                c["properties"][ID_PROPERTY] = self.stamps[c["id"]]
        return self._page(args, self.companies)

    def _contacts(self, args: dict[str, str], _body: Any) -> Answer:
        return self._page(args, self.contacts)

    def _property(self, _args: dict[str, str], body: Any) -> Answer:
        name = body["name"]
        if name in self.properties:
            return self._reply({"status": "error", "category": "OBJECT_ALREADY_EXISTS"}, 409)
        self.properties.add(name)
        return self._reply({"name": name}, 201)

    def _upsert(self, _args: dict[str, str], body: Any) -> Answer:
        inputs = body["inputs"]
        if len(inputs) > BATCH_LIMIT:
            return self._reply({"status": "error", "message": "too many inputs"}, 400)
        accepted = [i for i in inputs if i["id"] not in self.reject_ids]
        self.upserts.extend(accepted)
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": [{"id": i["id"], "properties": i["properties"]} for i in accepted],
        }
        rejected = [i["id"] for i in inputs if i["id"] in self.reject_ids]
        if not rejected:
            return self._reply(answer)
        answer["errors"] = [
            {
                "status": "error",
                "category": "VALIDATION_ERROR",
                "message": "Property values were not valid",
                "context": {"ids": [r]},
            }
            for r in rejected
        ]
        return self._reply(answer, 207)

    def _update(self, _args: dict[str, str], body: Any) -> Answer:
        inputs = body["inputs"]
        if len(inputs) > BATCH_LIMIT:
            return self._reply({"status": "error", "message": "too many inputs"}, 400)
        for item in inputs:
            self.stamps[item["id"]] = item["properties"][ID_PROPERTY]
        return self._reply({"status": "COMPLETE", "results": []})

    def _task(self, _args: dict[str, str], body: Any) -> Answer:
        self.tasks.append(body)
        task_id = str(776 + len(self.tasks))
        return self._reply({"id": task_id, "properties": body["properties"]}, 201)

    def _owners(self, args: dict[str, str], _body: Any) -> Answer:
        email = args.get("email") or ""
        owner = self.owners.get(email)
        return self._reply({"results": [{"id": owner, "email": email}] if owner else []})


@contextmanager
def serving(standin: HubSpotStandIn) -> Iterator[str]:
    """Answer as ``standin`` on a free loopback port in a thread; yields the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, headers, payload = standin.answer(
                self.command, url.path, dict(parse_qsl(url.query)), self.headers, body
            )
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = _answer

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo prints its own story."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="demo-hubspot", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
