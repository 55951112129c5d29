"""Request signatures of the providers that call us, checked on the raw body before anything
is parsed: SendGrid's ECDSA P-256 Event Webhook signature, Mandrill's HMAC-SHA1 and Slack's v0
HMAC-SHA256 (slack_sdk's SignatureVerifier, 5-minute window)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Callable, Mapping
from functools import lru_cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from slack_sdk.signature import Clock, SignatureVerifier

#: Mandrill signs its setup test POST with this key instead of the webhook's own.
MANDRILL_TEST_KEY = "test-webhook"


@lru_cache(maxsize=4)
def _sendgrid_key(public_key_b64: str) -> ec.EllipticCurvePublicKey | None:
    try:
        key = serialization.load_der_public_key(base64.b64decode(public_key_b64, validate=True))
    except (ValueError, binascii.Error):
        return None
    return key if isinstance(key, ec.EllipticCurvePublicKey) else None


def sendgrid_key_usable(public_key_b64: str) -> bool:
    """True when the configured SendGrid verification key is a readable EC public key."""
    return _sendgrid_key(public_key_b64) is not None


def verify_sendgrid(
    public_key_b64: str,
    body: bytes,
    signature_b64: str | None,
    timestamp: str | None,
    *,
    now: float,
    max_age_seconds: int,
) -> bool:
    """SendGrid signs ``timestamp + raw body`` (the body exactly as sent: a trailing CRLF
    counts) with ECDSA P-256 / SHA-256; the signature is base64 DER. A timestamp further than
    ``max_age_seconds`` from ``now`` (either way) fails, as Slack's window does: a signed
    request recorded and replayed later is refused. SendGrid signs each delivery when it sends
    it, retries included."""
    key = _sendgrid_key(public_key_b64)
    if key is None or not signature_b64 or not timestamp:
        return False
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    if abs(now - int(timestamp)) > max_age_seconds:
        return False
    try:
        signature = base64.b64decode(signature_b64, validate=True)
        key.verify(signature, timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    except (InvalidSignature, ValueError, binascii.Error):
        return False
    return True


def same_secret(given: str, expected: str) -> bool:
    """Constant-time equality of a value from a request and the expected one. Compared as UTF-8
    bytes: ``hmac.compare_digest`` raises on a ``str`` with characters outside ASCII, and a
    header, a form field or a query parameter may hold any."""
    return hmac.compare_digest(
        given.encode("utf-8", "replace"), expected.encode("utf-8", "replace")
    )


def mandrill_signature(key: str, url: str, params: Mapping[str, str]) -> str:
    """Base64 HMAC-SHA1 of the URL as registered, then each POST key and value, keys sorted."""
    signed = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(key.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def verify_mandrill(
    key: str, url: str, params: Mapping[str, str], signature: str | None, *, test_key: bool
) -> bool:
    """Constant-time check against the webhook key (and Mandrill's test key when allowed)."""
    if not signature:
        return False
    keys = [key, MANDRILL_TEST_KEY] if test_key else [key]
    return any(same_secret(signature, mandrill_signature(k, url, params)) for k in keys)


class _Clock(Clock):
    """slack_sdk's clock, reading the time the caller passes in (``--now`` in tests)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now

    def now(self) -> float:
        return self._now()


def verify_slack(
    secret: str, body: bytes, headers: Mapping[str, str], *, wall_clock: Callable[[], float]
) -> bool:
    """``v0=`` + HMAC-SHA256 of ``v0:{timestamp}:{body}``; a timestamp more than 5 minutes
    from ``wall_clock`` fails. The verifier raises on a non-numeric timestamp, a body that is not
    UTF-8 or a signature with characters outside ASCII; each is a refusal, not an error."""
    verifier = SignatureVerifier(secret, clock=_Clock(wall_clock))
    try:
        return bool(verifier.is_valid_request(body, dict(headers)))
    except (ValueError, TypeError, UnicodeDecodeError):
        return False
