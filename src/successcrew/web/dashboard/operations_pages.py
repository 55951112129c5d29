"""Operations (``/operations``): setup, runs and tasks, component health, holds, the outbox
and its dead letters (with a retry button for leads), and the weekly report in the app."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain import roles
from successcrew.errors import InputError
from successcrew.services.messaging.dead_letters import retry_dead_letter
from successcrew.services.views.operations_view import operations_view
from successcrew.services.voice.report import render_report_html
from successcrew.store.db import transaction
from successcrew.web.auth.identity import SignedInUser, require, signed_in_user, verify_csrf
from successcrew.web.dashboard.reading import bad_request, now_of, read_session, web_context
from successcrew.web.dashboard.rendering import render_dashboard
from successcrew.web.pages import PAGE_HEADERS
from successcrew.web.params import RowId

router = APIRouter()

#: What the page says after a change (``?done=<code>``; never text from the query).
FLASH = {"retried": "The message is queued again; the next run's dispatch sends it."}


@router.get("/operations", response_class=HTMLResponse)
def operations(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """How the crew is running."""
    with read_session(request) as session:
        view = operations_view(session, load_thresholds(), now_of(request))
    return render_dashboard(
        request,
        "dashboard/operations.html",
        view=view,
        # Retrying sends again: the same people who may pause and resume may do it.
        may_retry=roles.can(user, roles.PAUSE),
        model=web_context(request).settings.llm_model or None,
        flash=FLASH.get(request.query_params.get("done", "")),
    )


@router.post("/operations/dead-letters/{message_id}/retry", dependencies=[Depends(verify_csrf)])
def retry(
    request: Request, message_id: RowId, user: SignedInUser = Depends(require(roles.PAUSE))
) -> Any:
    """Requeue one dead letter; the next dispatch sends it with every check applied anew."""
    ctx = web_context(request)
    try:
        with transaction(ctx.engine) as session:
            retry_dead_letter(session, message_id, by=user.email, now=ctx.clock())
    except InputError as exc:
        return bad_request(request, str(exc))
    return RedirectResponse("/operations?done=retried", status_code=303)


@router.get("/operations/report", response_class=HTMLResponse)
def weekly_report(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """The weekly insights report as ``successcrew report`` writes it, read now (its own page:
    it carries its own stylesheet and inline charts)."""
    html = render_report_html(web_context(request).engine, now_of(request))
    return HTMLResponse(html, headers=PAGE_HEADERS)
