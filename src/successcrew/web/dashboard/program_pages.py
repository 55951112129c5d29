"""Programs (``/programs``) with the resume form, and NPS (``/nps``) with category correction.
A resume calls ``pausing.resume`` as ``successcrew programs resume`` does, by the user."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from successcrew.definitions.feedback_categories import load_taxonomy
from successcrew.definitions.playbooks import load_playbooks
from successcrew.domain import roles
from successcrew.errors import InputError
from successcrew.services.platform import pausing
from successcrew.services.views.nps_view import nps_view
from successcrew.services.views.program_view import program_views
from successcrew.services.voice.feedback import correct_categories
from successcrew.store.db import transaction
from successcrew.web.auth.identity import SignedInUser, require, signed_in_user, verify_csrf
from successcrew.web.dashboard.reading import (
    bad_request,
    book_owner,
    now_of,
    read_session,
    web_context,
)
from successcrew.web.dashboard.rendering import render_dashboard
from successcrew.web.params import RowId

router = APIRouter()

#: What the pages say after a change (``?done=<code>``; never text from the query).
FLASH = {
    "resumed": "Hold lifted: no hold remains, the program runs again.",
    "still_paused": "Hold lifted; the program stays paused by the holds listed.",
    "nothing": "There was no such hold to lift; nothing changed.",
    "categories": "Categories saved; later automatic readings keep them.",
}


@router.get("/programs", response_class=HTMLResponse)
def programs(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """Each playbook's enrolments, funnel, A/B against holdout and pause holds."""
    with read_session(request) as session:
        views = program_views(session, load_playbooks(), now=now_of(request))
    return render_dashboard(
        request,
        "dashboard/programs.html",
        programs=views,
        may_resume=roles.can(user, roles.PAUSE),
        user_email=user.email,
        flash=FLASH.get(request.query_params.get("done", "")),
    )


@router.post("/programs/resume", dependencies=[Depends(verify_csrf)])
def resume(
    request: Request,
    scope: str = Form(...),
    rule: str = Form(""),
    reason: str = Form(""),
    user: SignedInUser = Depends(require(roles.PAUSE)),
) -> Any:
    """Lift one named hold (the user's own, or a rule's) on a program's scope."""
    known = {f"campaign:{b.id}" for b in load_playbooks()} | {"campaigns", "automation"}
    if scope not in known:
        return bad_request(request, f"scope {scope!r}: not a program's pause scope")
    ctx = web_context(request)
    try:
        with transaction(ctx.engine) as session:
            change = pausing.resume(
                session, scope, by=user.email, rule=rule or None, reason=reason, now=ctx.clock()
            )
    except InputError as exc:
        return bad_request(
            request, str(exc).replace("--reason", "a reason").replace("--rule", "rule")
        )
    done = "nothing" if not change.changed else "still_paused" if change.paused else "resumed"
    return RedirectResponse(f"/programs?done={done}", status_code=303)


@router.get("/nps", response_class=HTMLResponse)
def nps(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """NPS trend, by segment, themes with quotes, and the comments."""
    with read_session(request) as session:
        view = nps_view(session, now_of(request), owner=book_owner(user))
    return render_dashboard(
        request,
        "dashboard/nps.html",
        view=view,
        categories=list(load_taxonomy().categories),
        may_correct=roles.can(user, roles.CORRECT_FEEDBACK),
        flash=FLASH.get(request.query_params.get("done", "")),
    )


@router.post("/nps/comments/{response_id}/categories", dependencies=[Depends(verify_csrf)])
async def categories(
    request: Request,
    response_id: RowId,
    user: SignedInUser = Depends(require(roles.CORRECT_FEEDBACK)),
) -> Any:
    """Set a comment's categories by hand (automatic runs keep the correction)."""
    form = await request.form()
    names = [str(v) for v in form.getlist("category") if str(v).strip()]
    ctx = web_context(request)
    try:
        with transaction(ctx.engine) as session:
            correct_categories(
                session,
                response_id,
                names,
                known=list(load_taxonomy().categories),
                actor=user.email,
                now=ctx.clock(),
            )
    except InputError as exc:
        return bad_request(request, str(exc))
    return RedirectResponse("/nps?done=categories", status_code=303)
