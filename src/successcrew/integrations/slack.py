"""Slack: Block Kit building (pure) and the ``chat.postMessage`` client.

A message carries the outbox idempotency key in its ``metadata``; after a crash the dispatcher
reads ``conversations.history`` with ``include_all_metadata`` to learn whether it already went
out, so a retry never posts the same alert twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import httpx

from successcrew.domain.block_kit import Button, build_blocks, slack_message
from successcrew.integrations.http import (
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    expect_dict,
)
from successcrew.redaction import redact_document

#: Button and build_blocks live in domain/block_kit.py; they are re-exported here for clients.
__all__ = ["Button", "SlackClient", "build_blocks", "build_message", "channel_wait"]

#: ``metadata.event_type`` of every message we post; the key sits in ``event_payload``.
METADATA_EVENT_TYPE = "successcrew_outbox"
#: Slack's documented pace for chat.postMessage: about one message per second per channel.
PER_CHANNEL_INTERVAL_SECONDS = 1.0
#: ``ok: false`` errors that no retry will fix.
_PERMANENT_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "msg_too_long",
        "no_text",
        "invalid_blocks",
        "invalid_metadata",
        "too_many_attachments",
        "restricted_action",
    }
)
_AUTH_ERRORS = frozenset(
    {"not_authed", "invalid_auth", "account_inactive", "token_revoked", "token_expired"}
)


def build_message(payload: Mapping[str, Any], *, key: str, default_channel: str) -> dict[str, Any]:
    """The ``chat.postMessage`` body for an outbox payload (``block_kit.slack_message``)."""
    return {
        "channel": payload.get("channel") or default_channel,
        **slack_message(payload),
        "metadata": {"event_type": METADATA_EVENT_TYPE, "event_payload": {"idempotency_key": key}},
        "unfurl_links": False,
    }


def channel_wait(last_sent: float | None, now: float, interval: float) -> float:
    """Seconds to wait so two posts to one channel are at least ``interval`` apart."""
    if last_sent is None:
        return 0.0
    return max(0.0, last_sent + interval - now)


class SlackClient(ProviderClient):
    """Slack Web API client: post with pacing, find a posted message by idempotency key."""

    provider = "slack"

    def __init__(
        self,
        base_url: str,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        channel_interval: float = PER_CHANNEL_INTERVAL_SECONDS,
        **kwargs: Any,
    ) -> None:
        super().__init__(base_url, **kwargs)
        self._monotonic = monotonic
        self._channel_interval = channel_interval
        self._last_post: dict[str, float] = {}
        self._channel_ids: dict[str, str] = {}

    def _call(self, method: str, response: httpx.Response) -> dict[str, Any]:
        body = expect_dict(self, self.json(response), method)
        if body.get("ok") is True:
            return body
        error = str(body.get("error") or "unknown_error")
        if error in _AUTH_ERRORS:
            raise ProviderAuthError(self.provider, f"{method}: {error}", status=200, code=error)
        raise ProviderError(
            self.provider,
            f"{method}: {error}",
            status=response.status_code,
            code=error,
            retryable=error not in _PERMANENT_ERRORS,
        )

    def check(self) -> str:
        """Validate the token with ``auth.test``; returns which workspace it belongs to."""
        body = self._call("auth.test", self.request("POST", "/auth.test"))
        return f"token valid (workspace {body.get('team') or body.get('team_id') or '?'})"

    def post_message(self, message: Mapping[str, Any]) -> tuple[str, str]:
        """Post, at most one message per second per channel; returns (channel id, ts)."""
        channel = str(message["channel"])
        self.sleep(
            channel_wait(self._last_post.get(channel), self._monotonic(), self._channel_interval)
        )
        try:
            # A message built from a row stored before the sanitiser existed may still quote a
            # secret; Slack is no place for one.
            response = self.request(
                "POST", "/chat.postMessage", json=redact_document(dict(message))
            )
        finally:
            self._last_post[channel] = self._monotonic()
        body = self._call("chat.postMessage", response)
        ts = body.get("ts")
        if not ts:
            raise ProviderResponseError(self.provider, "chat.postMessage: answer has no ts")
        return str(body.get("channel") or channel), str(ts)

    def update_message(
        self, channel: str, ts: str, *, text: str, blocks: Sequence[Mapping[str, Any]]
    ) -> None:
        """``chat.update`` one of our messages (an app may update its own) in ``channel`` (id)."""
        body = {"channel": channel, "ts": ts, "text": text, "blocks": list(blocks)}
        self._call("chat.update", self.request("POST", "/chat.update", json=body))

    def resolve_channel(self, channel: str) -> str:
        """A channel id for ``#name`` or ``name`` (``conversations.list``); ids pass through."""
        name = channel.removeprefix("#")
        if channel in self._channel_ids:
            return self._channel_ids[channel]
        if not channel.startswith("#"):
            return channel
        cursor = ""
        while True:
            params = {"limit": 200, "types": "public_channel,private_channel"}
            if cursor:
                params["cursor"] = cursor
            body = self._call(
                "conversations.list", self.request("GET", "/conversations.list", params=params)
            )
            for item in body.get("channels") or []:
                if item.get("name") == name:
                    self._channel_ids[channel] = str(item["id"])
                    return self._channel_ids[channel]
            cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
            if not cursor:
                raise ProviderError(
                    self.provider, f"channel {channel} not found", code="channel_not_found"
                )

    def find_by_key(self, channel: str, key: str, *, oldest: float) -> str | None:
        """The ts of a message we posted to ``channel`` with idempotency ``key``, else None.

        Reads ``conversations.history`` from ``oldest`` (Unix seconds) with all metadata.
        """
        channel_id = self.resolve_channel(channel)
        cursor = ""
        while True:
            params: dict[str, Any] = {
                "channel": channel_id,
                "oldest": f"{oldest:.6f}",
                "include_all_metadata": "true",
                "limit": 200,
            }
            if cursor:
                params["cursor"] = cursor
            body = self._call(
                "conversations.history",
                self.request("GET", "/conversations.history", params=params),
            )
            for msg in body.get("messages") or []:
                meta = msg.get("metadata") or {}
                if (
                    meta.get("event_type") == METADATA_EVENT_TYPE
                    and (meta.get("event_payload") or {}).get("idempotency_key") == key
                ):
                    return str(msg.get("ts"))
            cursor = (body.get("response_metadata") or {}).get("next_cursor") or ""
            if not (body.get("has_more") and cursor):
                return None


def post_response(url: str, body: Mapping[str, Any], *, timeout: float = 5.0) -> None:
    """POST a message to an interaction's ``response_url`` (e.g. an ephemeral "not allowed").

    The URL carries its own authorisation, so no token is sent; it works at most 5 times in 30
    minutes, which is why decided cards are updated with ``chat.update`` instead.
    """
    response = httpx.post(url, json=dict(body), timeout=timeout)
    if response.status_code >= 400:
        raise ProviderError(
            "slack",
            f"response_url answered HTTP {response.status_code}",
            status=response.status_code,
        )
