"""A stand-in for Slack Socket Mode: ``apps.connections.open`` (HTTP, app-level token) hands out
a ``ws://`` URL; the WebSocket server says ``hello``, delivers the envelopes a test queues,
collects the acks, and can ask the client to reconnect (``disconnect``), as Slack does."""

from __future__ import annotations

import json
import queue
import threading
import uuid
from typing import Any

from pytest_httpserver import HTTPServer
from websockets.sync.server import ServerConnection, serve
from werkzeug import Request, Response


class FakeSlackSocket:
    """Register on ``server`` (the Web API stand-in) next to FakeSlack."""

    def __init__(self, server: HTTPServer, app_token: str) -> None:
        self.app_token = app_token
        self.connections = 0
        self.acks: queue.Queue[dict[str, Any]] = queue.Queue()
        self._outgoing: queue.Queue[dict[str, Any]] = queue.Queue()
        self._connected = threading.Condition()
        self._closing = threading.Event()
        # compression=None: slack_sdk's built-in client negotiates no extensions.
        self._ws = serve(self._handler, "127.0.0.1", 0, compression=None)
        self.port = self._ws.socket.getsockname()[1]
        threading.Thread(target=self._ws.serve_forever, daemon=True).start()
        server.expect_request("/api/apps.connections.open", method="POST").respond_with_handler(
            self._open
        )

    def _open(self, request: Request) -> Response:
        if request.headers.get("Authorization") != f"Bearer {self.app_token}":
            body = {"ok": False, "error": "invalid_auth"}
        else:
            body = {"ok": True, "url": f"ws://127.0.0.1:{self.port}/link/?ticket={uuid.uuid4()}"}
        return Response(json.dumps(body), content_type="application/json")

    def _handler(self, ws: ServerConnection) -> None:
        with self._connected:
            self.connections += 1
            self._connected.notify_all()
        ws.send(
            json.dumps({"type": "hello", "num_connections": 1, "connection_info": {"app_id": "A1"}})
        )
        while not self._closing.is_set():
            try:
                envelope = self._outgoing.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                ws.send(json.dumps(envelope))
            except Exception:
                self._outgoing.put(envelope)
                return
            if envelope.get("type") == "disconnect":
                return
            try:
                self.acks.put(json.loads(ws.recv(timeout=10)))
            except Exception:
                return

    def wait_for_connections(self, n: int, timeout: float = 30) -> None:
        """Block until the client has opened ``n`` connections in all."""
        with self._connected:
            if not self._connected.wait_for(lambda: self.connections >= n, timeout):
                raise AssertionError(f"only {self.connections} Socket Mode connection(s)")

    def interactive(self, payload: dict[str, Any]) -> str:
        """Deliver an ``interactive`` envelope; returns its envelope id."""
        envelope_id = str(uuid.uuid4())
        self._outgoing.put(
            {
                "envelope_id": envelope_id,
                "type": "interactive",
                "accepts_response_payload": False,
                "payload": payload,
            }
        )
        return envelope_id

    def ask_to_reconnect(self) -> None:
        """What Slack sends before it refreshes a connection."""
        self._outgoing.put({"type": "disconnect", "reason": "refresh_requested"})

    def close(self) -> None:
        """Stop the WebSocket server (its handlers notice within 0.2 s)."""
        self._closing.set()
        self._ws.shutdown()
