"""Signed one-click unsubscribe links (RFC 8058): HMAC-SHA256 over the contact, no expiry.

The mailbox provider POSTs to the URL with no cookies and no authorisation, so the URL itself
must say who unsubscribes, and only we may be able to make one: ``base64url(json) "."
base64url(hmac)``. The signed text starts with ``unsubscribe.`` so that no survey token (signed
with the same secret) can pass for one. The link never expires: an unsubscribe link in an old
e-mail must keep working. ``p`` names the program (or survey) whose e-mail carried it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from successcrew.domain.survey_tokens import b64url, hmac_b64url, signature_matches, unb64url
from successcrew.errors import InputError

_PURPOSE = "unsubscribe."


class UnsubscribeTokenError(InputError):
    """An unsubscribe link cannot be used; ``reason`` is malformed or altered."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class UnsubscribeClaims:
    """Who a genuine link unsubscribes, and which e-mail carried it."""

    contact_id: int
    source: str


def sign_unsubscribe_token(claims: UnsubscribeClaims, secret: str) -> str:
    """The token for ``claims``; only a holder of ``secret`` can make one that verifies."""
    if not secret:
        raise ValueError("a link secret is required to sign unsubscribe links")
    body = b64url(
        json.dumps(
            {"u": claims.contact_id, "p": claims.source}, separators=(",", ":"), sort_keys=True
        ).encode()
    )
    return f"{body}.{hmac_b64url(_PURPOSE + body, secret)}"


def verify_unsubscribe_token(token: str, secret: str) -> UnsubscribeClaims:
    """The claims of a genuine token; UnsubscribeTokenError says why otherwise."""
    body, dot, signature = token.strip().partition(".")
    if not dot or not body or not signature:
        raise UnsubscribeTokenError(
            "malformed", "this unsubscribe link is incomplete; copy the whole link from the e-mail"
        )
    if not signature_matches(_PURPOSE + body, signature, secret):
        raise UnsubscribeTokenError(
            "altered", "this unsubscribe link has been altered or was not issued by us"
        )
    try:
        data = json.loads(unb64url(body))
        return UnsubscribeClaims(contact_id=int(data["u"]), source=str(data.get("p") or ""))
    except (ValueError, KeyError, TypeError):
        raise UnsubscribeTokenError("malformed", "this unsubscribe link cannot be read") from None
