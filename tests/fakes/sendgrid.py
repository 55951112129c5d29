"""A stand-in SendGrid v3 ``mail/send`` that counts what it accepted by our idempotency key."""

from __future__ import annotations

import itertools
import json
import threading
from collections import Counter

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


class FakeSendGrid:
    """``POST /v3/mail/send`` with a bearer key: 202 and an ``X-Message-Id``, as SendGrid answers.

    SendGrid has no idempotency key of its own; the dispatcher puts ours in
    ``custom_args.successcrew_key``, and ``accepted`` counts messages by it, so a test can tell a
    message sent twice from one sent once.
    """

    def __init__(self, server: HTTPServer, api_key: str) -> None:
        self.api_key = api_key
        self.accepted: Counter[str] = Counter()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # the server may be threaded
        self.url = server.url_for("")
        server.expect_request("/v3/mail/send", method="POST").respond_with_handler(self._send)

    def _send(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.api_key}":
            body = {"errors": [{"message": "The provided authorization grant is invalid"}]}
            return Response(json.dumps(body), status=401, content_type="application/json")
        key = (request.get_json().get("custom_args") or {}).get("successcrew_key", "")
        with self._lock:
            self.accepted[key] += 1
            message_id = f"sg-{next(self._ids)}"
        return Response("", status=202, headers={"X-Message-Id": message_id})
