"""My work: the signed-in person's tasks (a lead's or chairman's: the team's), overdue first;
done, snooze until a date, reopen."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from successcrew.domain import roles
from successcrew.errors import InputError
from successcrew.web.auth import (
    PermissionDenied,
    SignedInUser,
    require,
    signed_in_user,
    verify_csrf,
)
from successcrew.web.dashboard.rendering import render_dashboard
from successcrew.web.params import RowId

router = APIRouter()

#: What the page says after a change (``?done=<code>``; never text from the query itself).
FLASH = {
    "done": "Task marked done.",
    "snooze": "Task snoozed.",
    "reopen": "Task reopened.",
}


@router.get("/my-work", include_in_schema=False)
def my_work(request: Request, user: SignedInUser = Depends(signed_in_user)) -> Response:
    """The task queue."""
    from successcrew.services.platform.tasks import work_for
    from successcrew.store.db import transaction

    ctx = request.app.state.ctx
    today = ctx.clock().date()
    with transaction(ctx.engine) as session:
        work = work_for(session, user, today=today)
    return render_dashboard(
        request,
        "dashboard/my_work.html",
        work=work,
        can_work=roles.role_may(user.role, roles.WORK_TASK),
        flash=FLASH.get(request.query_params.get("done", "")),
        min_snooze=date.fromordinal(today.toordinal() + 1).isoformat(),
    )


@router.post("/my-work/{task_id}", include_in_schema=False, dependencies=[Depends(verify_csrf)])
def update(
    request: Request,
    task_id: RowId,
    action: str = Form(...),
    until: str = Form(""),
    user: SignedInUser = Depends(require(roles.WORK_TASK)),
) -> Response:
    """Done, snooze (until a date) or reopen one task; back to My work."""
    from successcrew.services.platform.tasks import update_task
    from successcrew.store.db import transaction
    from successcrew.web.pages import message

    ctx = request.app.state.ctx
    try:
        snooze = date.fromisoformat(until) if until else None
    except ValueError:
        return message("Not a date", f"{until!r} is not a date (YYYY-MM-DD).", 400)
    try:
        with transaction(ctx.engine) as session:
            update_task(session, task_id, user, action=action, until=snooze, now=ctx.clock())
    except PermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    except InputError as exc:
        return render_dashboard(
            request,
            "dashboard/message.html",
            status=404 if "does not exist" in str(exc) else 400,
            heading="Task not changed",
            sentence=str(exc),
            hint=None,
        )
    return RedirectResponse(f"/my-work?done={action}", status_code=303)
