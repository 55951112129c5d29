"""Mailchimp Transactional (Mandrill) ``messages/send``: per-recipient status in the answer."""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import SecretStr

from successcrew.integrations.email.sender import EmailMessage, SendResult
from successcrew.integrations.http import (
    ProviderAuthError,
    ProviderClient,
    ProviderError,
    ProviderResponseError,
    describe_answer,
    provider_error_detail,
)

#: Statuses meaning Mandrill took the message (queued: e.g. over the hourly quota, sent later).
ACCEPTED = frozenset({"sent", "queued", "scheduled"})
#: Mandrill answers every error with HTTP 500 and a JSON ``name``; these will not get better.
_PERMANENT = frozenset({"Invalid_Key", "ValidationError", "PaymentRequired", "Unknown_Subaccount"})


def _error_name(response: httpx.Response) -> str | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return str(body.get("name")) if isinstance(body, dict) and body.get("name") else None


def mandrill_message(message: EmailMessage) -> dict[str, Any]:
    """The ``message`` object of ``messages/send`` (without the API key)."""
    to: dict[str, str] = {"email": message.to_email, "type": "to"}
    if message.to_name:
        to["name"] = message.to_name
    body: dict[str, Any] = {
        "subject": message.subject,
        "text": message.text,
        "from_email": message.from_email,
        "to": [to],
        "metadata": {"successcrew_key": message.idempotency_key, **dict(message.metadata)},
    }
    if message.html:
        body["html"] = message.html
    if message.headers:
        body["headers"] = dict(message.headers)
    if message.categories:
        body["tags"] = list(message.categories)
    return body


class MailchimpClient(ProviderClient):
    """Mailchimp Transactional: the API key travels in the JSON body, never in a header."""

    provider = "mailchimp"

    def __init__(self, base_url: str, *, api_key: SecretStr, **kwargs: Any) -> None:
        # The key goes in bodies, so it is registered as a secret to redact, not as a bearer.
        super().__init__(base_url, extra_secrets=[api_key], **kwargs)
        self._key = api_key

    def is_retryable(self, response: httpx.Response) -> bool:
        """A 500 naming a permanent error (bad key, invalid message) is not retried."""
        if _error_name(response) in _PERMANENT:
            return False
        return super().is_retryable(response)

    def error_for(self, response: httpx.Response) -> ProviderError:
        """Mandrill's ``name``/``message`` pair; Invalid_Key is an auth error."""
        name = _error_name(response)
        if name is None:
            return super().error_for(response)
        code, detail = provider_error_detail(response)
        cls = ProviderAuthError if name == "Invalid_Key" else ProviderError
        return cls(
            self.provider,
            describe_answer(response, code, detail),
            status=response.status_code,
            code=code,
            retryable=name not in _PERMANENT,
        )

    def send(self, message: EmailMessage) -> SendResult:
        """Send one message; rejected or invalid recipients raise a permanent ProviderError."""
        answer = self.post_json(
            "/messages/send",
            {"key": self._key.get_secret_value(), "message": mandrill_message(message)},
        )
        if not isinstance(answer, list) or not answer or not isinstance(answer[0], dict):
            raise ProviderResponseError(
                self.provider, "messages/send: expected a list of recipient results"
            )
        result = answer[0]
        status = str(result.get("status"))
        if status in ACCEPTED:
            return SendResult(message_id=result.get("_id"), status=status)
        reason = result.get("reject_reason") or "no reason given"
        raise ProviderError(
            self.provider,
            f"recipient {status}: {reason}",
            code=status,
            retryable=False,
        )

    def check(self) -> str:
        """POST users/ping: answers "PONG!" for a valid key."""
        answer = self.post_json("/users/ping", {"key": self._key.get_secret_value()})
        if answer != "PONG!":
            raise ProviderResponseError(self.provider, f"users/ping answered {answer!r}")
        return "key valid"
