"""The signed links in our e-mails: one secret (``SUCCESSCREW_SURVEY_SECRET``) signs survey
links and one-click unsubscribe links, so nobody can answer or unsubscribe for someone else."""

from __future__ import annotations

from successcrew.domain.unsubscribe_tokens import UnsubscribeClaims, sign_unsubscribe_token
from successcrew.errors import ConfigError


def require_secret(secret: str | None) -> str:
    """The link secret (survey and unsubscribe links), or ConfigError saying how to set it."""
    if not secret:
        from successcrew.settings import survey_secret_file

        raise ConfigError(
            "SUCCESSCREW_SURVEY_SECRET is not set and there is no survey secret file "
            f"({survey_secret_file()}): survey and unsubscribe links must be signed. Run "
            "`successcrew init`, which creates the file, or set SUCCESSCREW_SURVEY_SECRET to a "
            "long random string."
        )
    return secret


def unsubscribe_url(base_url: str, secret: str | None, contact_id: int, source: str) -> str:
    """The signed per-contact link; ``source`` is ``program:<id>`` or ``survey:<kind>``."""
    token = sign_unsubscribe_token(UnsubscribeClaims(contact_id, source), require_secret(secret))
    return f"{base_url.rstrip('/')}/unsubscribe/{token}"
