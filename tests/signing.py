"""Requests signed the way the providers sign them (written here from their documentation, not
taken from the code under test): SendGrid's ECDSA, Mandrill's HMAC-SHA1, Slack's v0."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec


def sendgrid_keypair() -> tuple[ec.EllipticCurvePrivateKey, str]:
    """A P-256 key pair; the public key as SendGrid shows it (base64 DER)."""
    private = ec.generate_private_key(ec.SECP256R1())
    der = private.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, base64.b64encode(der).decode()


def sendgrid_headers(
    private: ec.EllipticCurvePrivateKey, body: bytes, ts: str | None = None
) -> dict[str, str]:
    """Signature over timestamp + raw body, as SendGrid's Event Webhook sends it."""
    ts = ts or str(int(time.time()))
    signature = private.sign(ts.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "X-Twilio-Email-Event-Webhook-Signature": base64.b64encode(signature).decode(),
        "X-Twilio-Email-Event-Webhook-Timestamp": ts,
        "Content-Type": "application/json",
    }


def mandrill_signature(key: str, url: str, params: Mapping[str, str]) -> str:
    """Mandrill: base64 HMAC-SHA1 of the URL then each sorted key and its value."""
    text = url + "".join(k + params[k] for k in sorted(params))
    return base64.b64encode(hmac.new(key.encode(), text.encode(), hashlib.sha1).digest()).decode()


def slack_headers(secret: str, body: bytes, ts: int | None = None) -> dict[str, str]:
    """Slack v0: hex HMAC-SHA256 of ``v0:{ts}:{body}``."""
    stamp = str(int(time.time()) if ts is None else ts)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:".encode() + body, hashlib.sha256).hexdigest()
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
        "Content-Type": "application/x-www-form-urlencoded",
    }
