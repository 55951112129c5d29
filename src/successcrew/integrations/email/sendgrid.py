"""SendGrid v3 ``mail/send``: 202 means accepted; ``X-Message-Id`` is kept as the provider id."""

from __future__ import annotations

from typing import Any

from successcrew.integrations.email.sender import EmailMessage, SendResult
from successcrew.integrations.http import ProviderClient, ProviderResponseError

#: custom_args key that carries our idempotency key into SendGrid's event webhooks.
KEY_ARG = "successcrew_key"


def sendgrid_body(message: EmailMessage) -> dict[str, Any]:
    """The ``/v3/mail/send`` JSON for one message (one personalization, one recipient)."""
    to: dict[str, str] = {"email": message.to_email}
    if message.to_name:
        to["name"] = message.to_name
    content = [{"type": "text/plain", "value": message.text}]
    if message.html:
        content.append({"type": "text/html", "value": message.html})
    body: dict[str, Any] = {
        "personalizations": [{"to": [to]}],
        "from": {"email": message.from_email},
        "subject": message.subject,
        "content": content,
        # SendGrid has no idempotency key: ours rides along so webhooks can be matched.
        "custom_args": {KEY_ARG: message.idempotency_key, **dict(message.metadata)},
    }
    if message.headers:
        body["headers"] = dict(message.headers)
    if message.categories:
        body["categories"] = list(message.categories)[:10]
    return body


class SendGridClient(ProviderClient):
    """SendGrid v3 with the house HTTP policy."""

    provider = "sendgrid"

    def send(self, message: EmailMessage) -> SendResult:
        """POST mail/send; returns the ``X-Message-Id`` of the accepted message."""
        response = self.request("POST", "/v3/mail/send", json=sendgrid_body(message))
        if response.status_code != 202:
            raise ProviderResponseError(
                self.provider,
                f"mail/send answered HTTP {response.status_code}, expected 202",
                status=response.status_code,
            )
        return SendResult(message_id=response.headers.get("X-Message-Id"), status="accepted")

    def check(self) -> str:
        """GET /v3/scopes: cheap, and refused with 401 for a bad key."""
        body = self.get_json("/v3/scopes")
        scopes = body.get("scopes") if isinstance(body, dict) else None
        can_send = isinstance(scopes, list) and "mail.send" in scopes
        return "key valid" + ("" if can_send else " (but lacks the mail.send scope)")
