"""Signed survey links: HMAC-SHA256 over the claims, with an expiry. No database, no clock.

A token is ``base64url(json claims) "." base64url(hmac)``. The claims name the invitation (its
random nonce), the contact, the account and the survey kind, and ``exp`` (Unix seconds). Whether
the token was used already is the database's business (``store.surveys``), not the token's.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from successcrew.errors import InputError


class SurveyTokenError(InputError):
    """A survey link cannot be used; ``reason`` is one of malformed, altered, expired, used."""

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


@dataclass(frozen=True)
class SurveyClaims:
    """What a valid token says."""

    nonce: str
    contact_id: int
    account_id: int
    kind: str
    expires_at: datetime

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready claims."""
        return {
            "nonce": self.nonce,
            "contact_id": self.contact_id,
            "account_id": self.account_id,
            "kind": self.kind,
            "expires_at": self.expires_at.isoformat(),
        }


def b64url(data: bytes) -> str:
    """Unpadded URL-safe base64 (what a link can carry as it is)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    """The bytes of an unpadded URL-safe base64 text; ValueError when it is not one."""
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hmac_b64url(body: str, secret: str) -> str:
    """HMAC-SHA256 of ``body`` under ``secret``, as unpadded URL-safe base64."""
    return b64url(hmac.new(secret.encode(), body.encode("ascii"), hashlib.sha256).digest())


def signature_matches(body: str, signature: str, secret: str) -> bool:
    """True when ``signature`` is ``body``'s HMAC under ``secret``, compared in constant time (the
    check takes as long however many characters match). A token with characters outside ASCII
    never matches: we issue none."""
    if not (body.isascii() and signature.isascii()):
        return False
    return hmac.compare_digest(hmac_b64url(body, secret), signature)


def sign_survey_token(claims: SurveyClaims, secret: str) -> str:
    """The token for ``claims``; only a holder of ``secret`` can make one that verifies."""
    if not secret:
        raise ValueError("a survey secret is required to sign survey links")
    body = b64url(
        json.dumps(
            {
                "n": claims.nonce,
                "c": claims.contact_id,
                "a": claims.account_id,
                "k": claims.kind,
                "exp": int(claims.expires_at.timestamp()),
            },
            separators=(",", ":"),
            sort_keys=True,
        ).encode()
    )
    return f"{body}.{hmac_b64url(body, secret)}"


def verify_survey_token(token: str, secret: str, now: datetime) -> SurveyClaims:
    """The claims of a genuine, unexpired token; SurveyTokenError says why otherwise."""
    body, dot, signature = token.strip().partition(".")
    if not dot or not body or not signature:
        raise SurveyTokenError("malformed", "this survey link is incomplete; copy the whole link")
    if not signature_matches(body, signature, secret):
        raise SurveyTokenError(
            "altered", "this survey link has been altered or was not issued by us"
        )
    try:
        data = json.loads(unb64url(body))
        claims = SurveyClaims(
            nonce=str(data["n"]),
            contact_id=int(data["c"]),
            account_id=int(data["a"]),
            kind=str(data["k"]),
            expires_at=datetime.fromtimestamp(int(data["exp"]), UTC),
        )
    except (ValueError, KeyError, TypeError):
        raise SurveyTokenError("malformed", "this survey link cannot be read") from None
    if now >= claims.expires_at:
        raise SurveyTokenError(
            "expired",
            f"this survey link expired on {claims.expires_at:%Y-%m-%d %H:%M} UTC",
        )
    return claims
