"""The session cookie: a signed, timestamped value naming who signed in, how, and the session's
random id.

The session itself is a row (``services.platform.sign_in``), checked with the user's row on
every request: signing out, a disabled user or a new password ends it at once, and a changed
role takes effect at the next click. The CSRF token is derived from the session's random id, so
a token never outlives (or crosses) its session.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

COOKIE = "successcrew_session"
_SALT = "successcrew.dashboard.session"


@dataclass(frozen=True)
class SessionData:
    """What the cookie holds: the e-mail, a random session id, the sign-in method."""

    email: str
    sid: str
    method: str


class SessionCodec:
    """Signs and reads session cookies with the session secret."""

    def __init__(self, secret: str, max_age_seconds: int) -> None:
        self._secret = secret.encode()
        self._serializer = URLSafeTimedSerializer(secret, salt=_SALT)
        self.max_age_seconds = max_age_seconds

    def issue(self, email: str, method: str) -> tuple[str, SessionData]:
        """A new cookie value (and what it holds) for ``email``."""
        data = SessionData(email=email, sid=secrets.token_urlsafe(18), method=method)
        value = self._serializer.dumps({"e": data.email, "s": data.sid, "m": data.method})
        return value, data

    def read(self, value: str | None) -> SessionData | None:
        """The session in ``value``; None when absent, altered or older than the max age."""
        if not value:
            return None
        try:
            raw = self._serializer.loads(value, max_age=self.max_age_seconds)
        except BadSignature:
            return None
        if not isinstance(raw, dict) or not all(isinstance(raw.get(k), str) for k in "esm"):
            return None
        return SessionData(email=raw["e"], sid=raw["s"], method=raw["m"])

    def csrf_token(self, sid: str) -> str:
        """The CSRF token of session ``sid`` (an HMAC of it: not stored, not guessable)."""
        return hmac.new(self._secret, b"csrf:" + sid.encode(), hashlib.sha256).hexdigest()
