"""Decisions: open escalations with their account's context (approve / decline for the
chairman; everyone else sees them read-only), recent decisions, and the trigger events behind
them with value, threshold and evidence.

A web decision goes through ``services.escalations.lifecycle.decide`` like ``successcrew decide``
and the Slack button: one path, one audit trail, ``by`` the signed-in e-mail, ``via="web"``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from successcrew.domain import roles
from successcrew.errors import AlreadyDecided, InputError
from successcrew.web.auth import SignedInUser, require, signed_in_user, verify_csrf
from successcrew.web.dashboard.reading import book_owner
from successcrew.web.dashboard.rendering import render_dashboard
from successcrew.web.params import RowId

router = APIRouter()

#: Trigger events shown: those fired over the last 30 days.
EVENT_DAYS = 30
FLASH = {
    "approve": "Escalation approved.",
    "decline": "Escalation declined.",
    "proposal-approve": "Proposal approved: what it proposed is queued.",
    "proposal-decline": "Proposal declined.",
}


@router.get("/decisions", include_in_schema=False)
def decisions(request: Request, user: SignedInUser = Depends(signed_in_user)) -> Response:
    """The decisions page."""
    from successcrew.services.escalations.lifecycle import open_escalations, recent_decisions
    from successcrew.services.model_pass.proposals import list_proposals
    from successcrew.store.db import transaction
    from successcrew.store.trigger_events import list_events

    ctx = request.app.state.ctx
    now = ctx.clock()
    # A csm sees what is about their own book (and the company's), like every other list.
    owner = book_owner(user)
    with transaction(ctx.engine) as session:
        waiting = open_escalations(session, owner=owner)
        decided = recent_decisions(session, owner=owner)
        events = list_events(session, now - timedelta(days=EVENT_DAYS), limit=200, owner=owner)
        proposals = list_proposals(session.connection(), status="pending", limit=100, owner=owner)
    return render_dashboard(
        request,
        "dashboard/decisions.html",
        waiting=waiting,
        decided=decided,
        events=events,
        proposals=proposals,
        may_decide=roles.can(user, roles.DECIDE_ESCALATION),
        may_decide_proposals=roles.can(user, roles.DECIDE_PROPOSAL),
        book=owner,
        flash=FLASH.get(request.query_params.get("done", "")),
    )


def _decided(
    request: Request, decide: Callable[[Session, datetime], object], *, done: str, what: str
) -> Response:
    """Run one decision in its own transaction: back to the list with ``done``, or a page that
    says why nothing changed (409 when it was no longer open, 400 for bad input)."""
    from successcrew.store.db import transaction

    ctx = request.app.state.ctx
    try:
        with transaction(ctx.engine) as session:
            decide(session, ctx.clock())
    except InputError as exc:
        return render_dashboard(
            request,
            "dashboard/message.html",
            status=409 if isinstance(exc, AlreadyDecided) else 400,
            heading="Not decided",
            sentence=str(exc),
            hint=f"The decisions page shows what is still {what}.",
        )
    return RedirectResponse(f"/decisions?done={done}", status_code=303)


@router.post(
    "/decisions/escalations/{escalation_id}",
    include_in_schema=False,
    dependencies=[Depends(verify_csrf)],
)
def decide_escalation(
    request: Request,
    escalation_id: RowId,
    decision: str = Form(...),
    note: str = Form(""),
    user: SignedInUser = Depends(require(roles.DECIDE_ESCALATION)),
) -> Response:
    """Approve or decline: the same decision ``successcrew decide`` records."""
    from successcrew.services.escalations.lifecycle import decide

    ctx = request.app.state.ctx
    return _decided(
        request,
        lambda session, now: decide(
            session,
            escalation_id,
            decision,
            by=user.email,
            note=note.strip()[:2000] or None,
            now=now,
            policy=ctx.policy,
            via="web",
        ),
        done=decision,
        what="open",
    )


@router.post(
    "/decisions/proposals/{proposal_id}",
    include_in_schema=False,
    dependencies=[Depends(verify_csrf)],
)
def decide_proposal(
    request: Request,
    proposal_id: RowId,
    decision: str = Form(...),
    note: str = Form(""),
    user: SignedInUser = Depends(require(roles.DECIDE_PROPOSAL)),
) -> Response:
    """Approve or decline a model's proposal: the same decision as ``successcrew proposals``."""
    from successcrew.services.model_pass.proposals import decide

    ctx = request.app.state.ctx
    return _decided(
        request,
        lambda session, now: decide(
            session,
            proposal_id,
            decision,
            by=user.email,
            note=note.strip()[:2000] or None,
            now=now,
            settings=ctx.settings,
            policy=ctx.policy,
        ),
        done=f"proposal-{decision}",
        what="pending",
    )
