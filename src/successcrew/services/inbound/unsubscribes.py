"""One-click unsubscribe (RFC 8058): the signed link in every program and survey e-mail, the
confirmation page (read only) and the unsubscribe itself (POST, idempotent, audited).

From the moment a contact is unsubscribed the dispatcher suppresses every e-mail to them,
including messages already waiting in the outbox.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from successcrew.domain.unsubscribe_tokens import (
    UnsubscribeTokenError,
    verify_unsubscribe_token,
)
from successcrew.services.messaging.links import require_secret, unsubscribe_url
from successcrew.services.programs.results import record_campaign_feedback
from successcrew.store import audit
from successcrew.store.models import Contact

__all__ = [
    "UnsubscribeTokenError",
    "UnsubscribeView",
    "read_unsubscribe",
    "unsubscribe",
    "unsubscribe_url",
]

#: The e-mail sources whose unsubscribes count against a program (its negative feedback).
PROGRAM_PREFIX = "program:"


@dataclass(frozen=True)
class UnsubscribeView:
    """What the unsubscribe page shows: whose address (masked) and whether it is done."""

    contact_id: int
    masked_email: str
    unsubscribed_at: datetime | None
    changed: bool = False


def mask_email(email: str) -> str:
    """``a***@example.com``: enough for the owner to recognise, nothing for anyone else."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***{at}{domain}" if at else "***"


def _contact(session: Session, token: str, secret: str | None, *, lock: bool) -> tuple:
    claims = verify_unsubscribe_token(token, require_secret(secret))
    contact = session.get(Contact, claims.contact_id, with_for_update=lock)
    if contact is None:
        raise UnsubscribeTokenError("unknown", "this unsubscribe link is not known here")
    return claims, contact


def read_unsubscribe(session: Session, token: str, *, secret: str | None) -> UnsubscribeView:
    """The confirmation page's view of a link; changes nothing (link scanners open it too)."""
    _claims, contact = _contact(session, token, secret, lock=False)
    return UnsubscribeView(contact.id, mask_email(contact.email), contact.unsubscribed_at)


def unsubscribe(
    session: Session, token: str, *, secret: str | None, now: datetime, via: str
) -> UnsubscribeView:
    """Unsubscribe the link's contact from all e-mail; a repeat changes nothing.

    The contact row is locked first, so two POSTs at the same moment record one unsubscribe
    (and one audit entry). An unsubscribe from a program e-mail also counts as that program's
    negative feedback, which its auto-pause rule reads.
    """
    claims, contact = _contact(session, token, secret, lock=True)
    if contact.unsubscribed_at is not None:
        return UnsubscribeView(contact.id, mask_email(contact.email), contact.unsubscribed_at)
    if claims.source.startswith(PROGRAM_PREFIX):
        record_campaign_feedback(
            session,
            program=claims.source.removeprefix(PROGRAM_PREFIX),
            contact_id=contact.id,
            kind="unsubscribe",
            now=now,
            detail={"via": via},
        )
    contact.unsubscribed_at = now
    contact.updated_at = now
    audit.record(
        session,
        at=now,
        actor=f"contact:{contact.id}",
        action="contact.unsubscribe",
        subject=f"contact:{contact.id}",
        detail={"source": claims.source, "via": via},
    )
    session.flush()
    return UnsubscribeView(contact.id, mask_email(contact.email), now, changed=True)
