"""A stand-in Slack Web API that keeps channel history with message metadata."""

from __future__ import annotations

import json
import re
import time
from typing import Any

from pytest_httpserver import HTTPServer
from werkzeug import Request, Response


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(
        json.dumps(body), status=status, headers=headers, content_type="application/json"
    )


class FakeSlack:
    """chat.postMessage, conversations.history/list and auth.test under ``/api``.

    ``ratelimit_next`` answers that many posts with 429 + Retry-After, as Slack does.
    """

    def __init__(self, server: HTTPServer, token: str) -> None:
        self.token = token
        self.channels = {"customer-success": "C0CS", "chairman": "C0CH"}
        self.history: dict[str, list[dict[str, Any]]] = {}
        self.posts: list[dict[str, Any]] = []
        self.updates: list[dict[str, Any]] = []
        #: What arrived at interactions' ``response_url`` (``/actions/...``), e.g. ephemerals.
        self.responses: list[dict[str, Any]] = []
        self.ratelimit_next = 0
        self.retry_after = "3"
        self.url = server.url_for("/api")
        server.expect_request("/api/chat.postMessage", method="POST").respond_with_handler(
            self._post
        )
        server.expect_request("/api/conversations.history", method="GET").respond_with_handler(
            self._history
        )
        server.expect_request("/api/conversations.list", method="GET").respond_with_handler(
            self._list
        )
        server.expect_request("/api/auth.test", method="POST").respond_with_handler(self._auth)
        server.expect_request("/api/chat.update", method="POST").respond_with_handler(self._update)
        server.expect_request(re.compile(r"^/actions/.+"), method="POST").respond_with_handler(
            self._response_url
        )

    def _authed(self, request: Request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {self.token}"

    def _channel_id(self, name: str) -> str | None:
        if name in self.channels.values():
            return name
        return self.channels.get(name.removeprefix("#"))

    def _post(self, request: Request) -> Response:
        if not self._authed(request):
            return _json({"ok": False, "error": "invalid_auth"})
        if self.ratelimit_next > 0:
            self.ratelimit_next -= 1
            return _json(
                {"ok": False, "error": "ratelimited"}, 429, {"Retry-After": self.retry_after}
            )
        body = request.get_json()
        channel = self._channel_id(str(body.get("channel", "")))
        if channel is None:
            return _json({"ok": False, "error": "channel_not_found"})
        messages = self.history.setdefault(channel, [])
        ts = f"{time.time():.6f}"
        message = {
            "type": "message",
            "ts": ts,
            "text": body.get("text"),
            "blocks": body.get("blocks"),
        }
        if body.get("metadata"):
            message["metadata"] = body["metadata"]
        messages.append(message)
        self.posts.append(body)
        return _json({"ok": True, "channel": channel, "ts": ts, "message": message})

    def _update(self, request: Request) -> Response:
        """chat.update: only a message we posted, found by channel id and ts."""
        if not self._authed(request):
            return _json({"ok": False, "error": "invalid_auth"})
        body = request.get_json()
        for message in self.history.get(str(body.get("channel")), []):
            if message["ts"] == body.get("ts"):
                message.update(text=body.get("text"), blocks=body.get("blocks"))
                self.updates.append(body)
                return _json({"ok": True, "channel": body["channel"], "ts": body["ts"]})
        return _json({"ok": False, "error": "message_not_found"})

    def _response_url(self, request: Request) -> Response:
        self.responses.append(request.get_json())
        return Response("ok", content_type="text/plain")

    def _history(self, request: Request) -> Response:
        if not self._authed(request):
            return _json({"ok": False, "error": "invalid_auth"})
        channel = request.args.get("channel", "")
        if channel not in self.history and channel not in self.channels.values():
            return _json({"ok": False, "error": "channel_not_found"})
        oldest = float(request.args.get("oldest", "0"))
        with_meta = request.args.get("include_all_metadata") == "true"
        messages = []
        for m in reversed(self.history.get(channel, [])):  # newest first, as Slack answers
            if float(m["ts"]) < oldest:
                continue
            shown = dict(m)
            if not with_meta:
                shown.pop("metadata", None)
            messages.append(shown)
        return _json({"ok": True, "messages": messages, "has_more": False})

    def _list(self, request: Request) -> Response:
        channels = [{"id": cid, "name": name} for name, cid in self.channels.items()]
        return _json({"ok": True, "channels": channels, "response_metadata": {"next_cursor": ""}})

    def _auth(self, request: Request) -> Response:
        if not self._authed(request):
            return _json({"ok": False, "error": "invalid_auth"})
        return _json({"ok": True, "team": "Acme", "user": "successcrew"})
