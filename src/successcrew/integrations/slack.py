"""Slack: Block Kit building (pure) and the ``chat.postMessage`` client.

A message carries the outbox idempotency key in its ``metadata``; after a crash the dispatcher
reads ``conversations.history`` with ``include_all_metadata`` to learn whether it already went
out, so a retry never posts the same alert twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from successcrew.integrations.http import (
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    expect_dict,
)
from successcrew.redaction import redact_document

#: ``metadata.event_type`` of every message we post; the key sits in ``event_payload``.
METADATA_EVENT_TYPE = "successcrew_outbox"
#: Slack's documented pace for chat.postMessage: about one message per second per channel.
PER_CHANNEL_INTERVAL_SECONDS = 1.0
#: Header text is limited to 150 characters; section fields to 2000 (we stay well below).
_HEADER_MAX = 150
_FIELD_MAX = 1900
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


@dataclass(frozen=True)
class Button:
    """A decision button: ``value`` comes back to us in the interactivity payload."""

    text: str
    action_id: str
    value: str
    style: str | None = None  # "primary" or "danger"
    confirm: str | None = None  # a question shown before a dangerous click goes through


def _button_block(button: Button) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": {"type": "plain_text", "text": button.text[:75]},
        "action_id": button.action_id,
        "value": button.value,
    }
    if button.style in ("primary", "danger"):
        element["style"] = button.style
    if button.confirm:
        element["confirm"] = {
            "title": {"type": "plain_text", "text": "Are you sure?"},
            "text": {"type": "mrkdwn", "text": button.confirm},
            "confirm": {"type": "plain_text", "text": button.text[:30]},
            "deny": {"type": "plain_text", "text": "Cancel"},
        }
    return element


def build_blocks(
    title: str,
    *,
    summary: str | None = None,
    fields: Mapping[str, Any] | None = None,
    buttons: Sequence[Button] = (),
) -> list[dict[str, Any]]:
    """Block Kit for an alert: a header, an optional summary, fields, then decision buttons."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:_HEADER_MAX]}}
    ]
    if summary:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": summary[:2900]}})
    items = list((fields or {}).items())
    # A section holds at most 10 fields; longer lists continue in the next section.
    for start in range(0, len(items), 10):
        blocks.append(
            {
                "type": "section",
                "fields": [
                    {"type": "mrkdwn", "text": f"*{name}*\n{value}"[:_FIELD_MAX]}
                    for name, value in items[start : start + 10]
                ],
            }
        )
    if buttons:
        blocks.append({"type": "actions", "elements": [_button_block(b) for b in buttons[:25]]})
    return blocks


def fallback_text(title: str, summary: str | None, fields: Mapping[str, Any] | None) -> str:
    """The plain notification text Slack shows where blocks cannot be rendered."""
    parts = [title]
    if summary:
        parts.append(summary)
    parts.extend(f"{k}: {v}" for k, v in (fields or {}).items())
    return " | ".join(parts)[:3000]


def build_message(payload: Mapping[str, Any], *, key: str, default_channel: str) -> dict[str, Any]:
    """The ``chat.postMessage`` body for an outbox payload.

    The payload holds ``title`` and optionally ``channel``, ``summary``, ``fields`` and
    ``buttons`` (dicts with Button's fields); ``blocks`` given verbatim are used as they are.
    """
    title = str(payload.get("title") or payload.get("text") or "successcrew")
    summary = payload.get("summary")
    fields = payload.get("fields") or {}
    buttons = [Button(**b) for b in payload.get("buttons") or ()]
    blocks = payload.get("blocks") or build_blocks(
        title, summary=summary, fields=fields, buttons=buttons
    )
    return {
        "channel": payload.get("channel") or default_channel,
        "text": payload.get("text") or fallback_text(title, summary, fields),
        "blocks": blocks,
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
