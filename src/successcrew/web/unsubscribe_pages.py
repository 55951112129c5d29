"""One-click unsubscribe (RFC 8058): ``GET /unsubscribe/{token}`` shows the confirmation page
and changes nothing (scanners fetch links); ``POST`` (the mailbox provider's
``List-Unsubscribe=One-Click``, with no cookies, or the page's button) unsubscribes, once,
answering 200 and never a redirect."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from successcrew.services.inbound.unsubscribes import (
    UnsubscribeTokenError,
    read_unsubscribe,
    unsubscribe,
)
from successcrew.store.db import transaction
from successcrew.web.context import WebContext
from successcrew.web.pages import message, page

router = APIRouter()

STATUS = {"malformed": 400, "altered": 403, "unknown": 404}


def _refused(exc: UnsubscribeTokenError) -> Response:
    return message(
        "This unsubscribe link does not work",
        f"Sorry: {exc}.",
        STATUS.get(exc.reason, 400),
        "Open the link from the e-mail again, or reply to the e-mail and we will unsubscribe you.",
    )


def _unconfigured(ctx: WebContext) -> Response:
    ctx.refuse_unconfigured("/unsubscribe", "SUCCESSCREW_SURVEY_SECRET")
    return message(
        "Unsubscribe is not available right now",
        "This server cannot check unsubscribe links yet; please try again later or reply to the "
        "e-mail.",
        503,
    )


@router.get("/unsubscribe/{token}")
def confirm(request: Request, token: str) -> Response:
    """Whose address the link unsubscribes, and a button; nothing changes."""
    ctx: WebContext = request.app.state.ctx
    secret = ctx.settings.link_secret()
    if secret is None:
        return _unconfigured(ctx)
    try:
        with transaction(ctx.engine) as session:
            view = read_unsubscribe(session, token, secret=secret)
    except UnsubscribeTokenError as exc:
        return _refused(exc)
    return page("unsubscribe.html", title="Unsubscribe", view=view, action=f"/unsubscribe/{token}")


@router.post("/unsubscribe/{token}")
async def one_click(request: Request, token: str) -> Response:
    """Unsubscribe the link's contact; a repeat is answered the same way and changes nothing.

    The body (``List-Unsubscribe=One-Click``) is not needed: the signed URL says who. It is
    not parsed, so a provider's form or multipart encoding never matters.
    """
    ctx: WebContext = request.app.state.ctx
    secret = ctx.settings.link_secret()
    if secret is None:
        return _unconfigured(ctx)
    await request.body()
    via = "one-click" if "origin" not in request.headers else "page"

    def run() -> Response:
        try:
            with transaction(ctx.engine) as session:
                view = unsubscribe(session, token, secret=secret, now=ctx.clock(), via=via)
        except UnsubscribeTokenError as exc:
            return _refused(exc)
        request.app.state.metrics.unsubscribe(view.changed)
        return page("unsubscribe_done.html", title="Unsubscribed", view=view)

    return await run_in_threadpool(run)
