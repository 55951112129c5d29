"""What every email provider takes and gives back."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class EmailMessage:
    """One email to one recipient; ``idempotency_key`` is the outbox key it was enqueued under."""

    to_email: str
    subject: str
    text: str
    from_email: str
    idempotency_key: str
    to_name: str | None = None
    html: str | None = None
    categories: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    #: Extra message headers (``List-Unsubscribe`` and ``List-Unsubscribe-Post``).
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_payload(
        cls, payload: Mapping[str, Any], *, key: str, default_from: str
    ) -> EmailMessage:
        """Build from an outbox payload (``to``, ``subject``, ``text``, optional ``html`` ...).

        An ``unsubscribe_url`` becomes the RFC 8058 one-click headers: mailbox providers show
        an unsubscribe button and POST ``List-Unsubscribe=One-Click`` to the URL.
        """
        headers = {str(k): str(v) for k, v in (payload.get("headers") or {}).items()}
        if payload.get("unsubscribe_url"):
            headers["List-Unsubscribe"] = f"<{payload['unsubscribe_url']}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        return cls(
            to_email=str(payload["to"]),
            to_name=payload.get("to_name"),
            subject=str(payload["subject"]),
            text=str(payload["text"]),
            html=payload.get("html"),
            from_email=str(payload.get("from") or default_from),
            idempotency_key=key,
            categories=tuple(payload.get("categories") or ()),
            headers=headers,
        )


@dataclass(frozen=True)
class SendResult:
    """The provider accepted the message; ``message_id`` is its id for later lookups."""

    message_id: str | None
    status: str


class EmailSender(Protocol):
    """A transactional email provider."""

    provider: str

    def send(self, message: EmailMessage) -> SendResult:
        """Hand one message over; raises ProviderError when refused."""
        ...

    def check(self) -> str:
        """Validate the credentials with one cheap call; returns a short description."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...
