"""What the read pages share: a session on the app's engine, the clock, the signed-in user's
book (a CSM reads only the accounts they own; others are answered as absent), and the 400 page
for a bad parameter."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from fastapi import Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from successcrew.domain.roles import OWN_BOOK_ROLES
from successcrew.web.auth.identity import SignedInUser
from successcrew.web.context import WebContext
from successcrew.web.dashboard.rendering import render_dashboard


def web_context(request: Request) -> WebContext:
    """The app's loaded settings, engine and clock."""
    ctx: WebContext = request.app.state.ctx
    return ctx


@contextmanager
def read_session(request: Request) -> Iterator[Session]:
    """A session for reading only: closed at the end, which ends its transaction without a
    commit (GET never changes anything) and keeps what was loaded readable for the page."""
    with Session(web_context(request).engine) as session:
        yield session


def now_of(request: Request) -> datetime:
    """The app's clock (the demo and the tests run it on simulated days)."""
    return web_context(request).clock()


def book_owner(user: SignedInUser) -> str | None:
    """The owner every list is narrowed to: a CSM's own e-mail; None for the whole book."""
    return user.email if user.role in OWN_BOOK_ROLES else None


def in_book(user: SignedInUser, owner_email: str | None) -> bool:
    """Whether ``user`` may see an account owned by ``owner_email`` (a CSM: their own only).
    An account outside a CSM's book is answered as one that does not exist (404): whether an
    external id exists elsewhere in the company is not theirs to learn."""
    mine = book_owner(user)
    return mine is None or (owner_email or "").strip().lower() == mine.strip().lower()


def bad_request(request: Request, sentence: str, hint: str | None = None) -> HTMLResponse:
    """A 400 page saying which parameter was wrong and how."""
    return render_dashboard(
        request,
        "dashboard/message.html",
        status=400,
        heading="That request could not be read",
        sentence=sentence,
        hint=hint,
    )
