"""After the demo: a way into the dashboard on the demo data (two demo sign-ins)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine

from successcrew.services.platform.setup import ensure_session_secret
from successcrew.services.platform.users import add_user
from successcrew.settings import Settings
from successcrew.store.db import transaction

#: The demo's sign-ins: a lead (every account's tasks, pauses) and the chairman (decisions).
DEMO_USERS = (
    ("demo-lead@successcrew.example", "lead", "Demo Lead"),
    ("demo-chairman@successcrew.example", "chairman", "Demo Chairman"),
)


@dataclass(frozen=True)
class DashboardAccess:
    """How to open the dashboard on the demo database."""

    url: str
    users: tuple[tuple[str, str], ...]
    password: str

    def as_dict(self) -> dict[str, object]:
        return {
            "command": "successcrew serve",
            "url": self.url,
            "users": [{"email": e, "role": r} for e, r in self.users],
            "password": self.password,
        }


def create_demo_sign_in(engine: Engine, settings: Settings, *, now: datetime) -> DashboardAccess:
    """Create (or reset) the demo sign-ins with a new random password, and make sure the
    session secret exists, so ``successcrew serve`` lets them in."""
    ensure_session_secret(settings)
    password = secrets.token_urlsafe(12)
    with transaction(engine) as session:
        for email, role, name in DEMO_USERS:
            add_user(
                session,
                email,
                role=role,
                name=name,
                password=password,
                by="demo",
                now=now,
                cost=settings.password_hash_cost,
            )
    url = settings.public_base_url.rstrip("/") + "/"
    return DashboardAccess(url, tuple((email, role) for email, role, _ in DEMO_USERS), password)
