"""Slack Socket Mode for deployments behind a firewall: slack_sdk's built-in client (no extra
dependency) on the app-level token, feeding the same handler as the request URL.

Slack asks clients to reconnect from time to time and connections drop; the client reconnects
by itself (``auto_reconnect_enabled``) and pings every ``ping_interval`` seconds. A watchdog
thread also checks the connection every ``WATCHDOG_SECONDS`` and opens a new one when it is
gone: after an idle reconnect a client may otherwise stop receiving (reported in slack_bolt).
Run it in one process only (``serve --workers 1``): each connection gets its own envelopes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import Any

from successcrew.web.slack_endpoint import InteractionHandler

log = logging.getLogger("successcrew.web.slack")

WATCHDOG_SECONDS = 30.0


class SocketModeRunner:
    """Connects at start-up, hands envelopes to ``handler``, reconnects, closes at shutdown."""

    def __init__(
        self,
        *,
        app_token: str,
        api_url: str,
        bot_token: str | None,
        handler: InteractionHandler,
        ping_interval: float = 5.0,
        watchdog_seconds: float = WATCHDOG_SECONDS,
    ) -> None:
        from slack_sdk import WebClient
        from slack_sdk.socket_mode.builtin import SocketModeClient

        web = WebClient(token=bot_token, base_url=api_url.rstrip("/") + "/")
        self.client = SocketModeClient(
            app_token=app_token,
            web_client=web,
            auto_reconnect_enabled=True,
            ping_interval=ping_interval,
            logger=log,
        )
        self.client.socket_mode_request_listeners.append(self._on_request)
        self.handler = handler
        self.watchdog_seconds = watchdog_seconds
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None

    def _on_request(self, client: Any, request: Any) -> None:
        from slack_sdk.socket_mode.response import SocketModeResponse

        # Acknowledge first: Slack wants the ack within 3 seconds; the decision follows.
        client.send_socket_mode_response(SocketModeResponse(envelope_id=request.envelope_id))
        if request.type != "interactive" or not isinstance(request.payload, dict):
            return
        outcome = self.handler.handle(request.payload)
        if outcome.follows_up:
            self.handler.after(outcome)

    def _watch(self) -> None:
        while not self._stop.wait(self.watchdog_seconds):
            try:
                if not self.client.is_connected():
                    log.warning("Slack Socket Mode connection lost; reconnecting")
                    self.client.connect_to_new_endpoint()
            except Exception as exc:  # keep watching: the next round tries again
                log.warning("Slack Socket Mode reconnect failed: %s", type(exc).__name__)

    def start(self) -> None:
        """Open the connection (returns at once; envelopes arrive on background threads). When
        Slack cannot be reached now, the watchdog keeps trying; ``serve`` still starts."""
        try:
            self.client.connect()
            log.info("Slack Socket Mode connected")
        except Exception as exc:
            log.warning("Slack Socket Mode could not connect yet (%s); retrying", exc)
        self._watchdog = threading.Thread(
            target=self._watch, name="slack-socket-watchdog", daemon=True
        )
        self._watchdog.start()

    def stop(self) -> None:
        """Close the connection and the watchdog."""
        self._stop.set()
        # Closing a broken socket may raise; we are leaving anyway.
        with contextlib.suppress(Exception):
            self.client.close()
