"""Provider e-mail events in one vocabulary: what SendGrid's Event Webhook and Mailchimp
Transactional (Mandrill) webhooks report, mapped to our kinds, with the id each is deduplicated
on and the outbox key of the message it is about. Pure: no database, no clock.

Kinds: processed, delivered, deferred, dropped, rejected, hard_bounce, soft_bounce, open, click,
spam_complaint, unsubscribe, resubscribe, reply, negative_reply.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from successcrew.domain.json_objects import json_object

#: The custom_args / metadata key that carries our outbox idempotency key (see the senders).
KEY_FIELD = "successcrew_key"
#: Kinds that count against a program (its negative-feedback rate) or as its replies.
FEEDBACK_KINDS = {
    "unsubscribe": "unsubscribe",
    "spam_complaint": "spam_complaint",
    "reply": "reply",
    "negative_reply": "negative_reply",
}
#: Kinds that stop all further e-mail to the address (suppression).
SUPPRESSING_KINDS = frozenset({"hard_bounce"})
#: Kinds that unsubscribe the contact from all e-mail.
UNSUBSCRIBING_KINDS = frozenset({"unsubscribe", "spam_complaint"})
#: A reply whose sentiment (VADER compound, -1..1) is at or below this is a negative reply.
NEGATIVE_REPLY_AT = -0.3

_SENDGRID = {
    "processed": "processed",
    "delivered": "delivered",
    "deferred": "deferred",
    "dropped": "dropped",
    "open": "open",
    "click": "click",
    "spamreport": "spam_complaint",
    "unsubscribe": "unsubscribe",
    "group_unsubscribe": "unsubscribe",
    "group_resubscribe": "resubscribe",
}
_MANDRILL = {
    "send": "processed",
    "delivered": "delivered",
    "deferral": "deferred",
    "hard_bounce": "hard_bounce",
    "soft_bounce": "soft_bounce",
    "open": "open",
    "click": "click",
    "spam": "spam_complaint",
    "unsub": "unsubscribe",
    "reject": "rejected",
}


@dataclass(frozen=True)
class EmailEventIn:
    """One provider event, normalised."""

    provider: str
    event_id: str
    kind: str
    email: str
    occurred_at: datetime
    outbox_key: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict[str, Any])


def _when(value: Any) -> datetime | None:
    # A Unix time is a number (or its digits); ``true`` is not 1970-01-01 00:00:01.
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()[:40]


def _address(value: Any) -> str:
    """An e-mail address as a provider sends it, or ``""`` for anything that is not one."""
    if not isinstance(value, str) or "@" not in value:
        return ""
    return value.strip()[:320]


def _text(value: Any) -> str:
    """A provider's string field; ``""`` for a missing one or one of another type."""
    return value if isinstance(value, str) else ""


def sendgrid_events(items: Iterable[Any]) -> tuple[list[EmailEventIn], int]:
    """SendGrid's JSON array as events, and how many items were unusable (no event, no
    address, an unknown type). ``sg_event_id`` is the dedupe id; a bounce of ``type`` blocked is
    a soft bounce (the receiving server refused for now), any other bounce is hard."""
    out: list[EmailEventIn] = []
    skipped = 0
    for raw in items:
        item = json_object(raw)
        if item is None:
            skipped += 1
            continue
        name = _text(item.get("event"))
        kind = _SENDGRID.get(name)
        if name == "bounce":
            kind = "soft_bounce" if item.get("type") == "blocked" else "hard_bounce"
        email = _address(item.get("email"))
        when = _when(item.get("timestamp"))
        given_id = item.get("sg_event_id")
        if kind is None or not email or when is None or not isinstance(given_id, str | None):
            skipped += 1
            continue
        event_id = (given_id or "") or _digest(
            "sendgrid", item.get("sg_message_id"), name, item.get("timestamp"), email
        )
        detail: dict[str, Any] = {
            k: item[k]
            for k in ("reason", "type", "status", "url", "sg_message_id", "response")
            if item.get(k) not in (None, "")
        }
        key = item.get(KEY_FIELD)
        out.append(
            EmailEventIn(
                provider="sendgrid",
                event_id=event_id[:200],
                kind=kind,
                email=email,
                occurred_at=when,
                outbox_key=str(key) if key else None,
                detail=detail,
            )
        )
    return out, skipped


def mandrill_events(
    items: Iterable[Any], *, sentiment: Callable[[str | None], float | None]
) -> tuple[list[EmailEventIn], int]:
    """Mandrill's ``mandrill_events`` as events, and how many were unusable.

    Mandrill has no per-event id: ``_id`` + event + ``ts`` is the dedupe id. Inbound messages
    (replies) become ``reply``, or ``negative_reply`` when ``sentiment`` of their text is at or
    below NEGATIVE_REPLY_AT; their sender is the address, matched to the contact later.
    """
    out: list[EmailEventIn] = []
    skipped = 0
    for raw in items:
        item = json_object(raw)
        if item is None:
            skipped += 1
            continue
        name = _text(item.get("event"))
        msg = json_object(item.get("msg")) or {}
        when = _when(item.get("ts"))
        if name == "inbound":
            email = _address(msg.get("from_email"))
            if not email or when is None:
                skipped += 1
                continue
            text = _text(msg.get("text"))[:5000] or None
            score = sentiment(text)
            kind = "negative_reply" if score is not None and score <= NEGATIVE_REPLY_AT else "reply"
            out.append(
                EmailEventIn(
                    provider="mailchimp",
                    event_id=_digest("inbound", item.get("ts"), email, msg.get("subject")),
                    kind=kind,
                    email=email,
                    occurred_at=when,
                    detail={"subject": _text(msg.get("subject"))[:300], "sentiment": score},
                )
            )
            continue
        kind = _MANDRILL.get(name)
        email = _address(msg.get("email"))
        message_id = item.get("_id") or msg.get("_id")
        # Mandrill gives every message an ``_id``: without one there is no dedupe key either.
        if kind is None or not email or when is None or not isinstance(message_id, str):
            skipped += 1
            continue
        metadata = json_object(msg.get("metadata")) or {}
        key = metadata.get(KEY_FIELD)
        detail: dict[str, Any] = {
            k: msg[k]
            for k in ("bounce_description", "diag", "state")
            if msg.get(k) not in (None, "")
        }
        if isinstance(item.get("url"), str):
            detail["url"] = item["url"]
        out.append(
            EmailEventIn(
                provider="mailchimp",
                event_id=f"{message_id}:{name}:{item.get('ts')}"[:200],
                kind=kind,
                email=email,
                occurred_at=when,
                outbox_key=str(key) if key else None,
                detail=detail,
            )
        )
    return out, skipped
