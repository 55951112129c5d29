"""The signed links in our e-mails: one secret (``SUCCESSCREW_SURVEY_SECRET``) signs survey
links and one-click unsubscribe links, so nobody can answer or unsubscribe for someone else."""

from __future__ import annotations

from successcrew.domain.unsubscribe_tokens import UnsubscribeClaims, sign_unsubscribe_token
from successcrew.errors import ConfigError


def require_secret(secret: str | None) -> str:
    """The link secret (survey and unsubscribe links), or ConfigError saying how to set it."""
    if not secret:
        raise ConfigError(
            "SUCCESSCREW_SURVEY_SECRET is not set: survey and unsubscribe links must be signed. "
            "Set it to a long random string (e.g. "
            "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`)."
        )
    return secret


def unsubscribe_url(base_url: str, secret: str | None, contact_id: int, source: str) -> str:
    """The signed per-contact link; ``source`` is ``program:<id>`` or ``survey:<kind>``."""
    token = sign_unsubscribe_token(UnsubscribeClaims(contact_id, source), require_secret(secret))
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"
