"""Slack interactivity: ``POST /slack/interactions`` (the app's request URL) and, for
deployments without a public URL, Socket Mode (``serve --slack-socket-mode``). Both hand the
verified payload to one handler, which decides through ``services.inbound.slack_decisions``
and, after Slack has its answer (within its 3 seconds), redraws the cards and tells a
refused user why.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, BackgroundTasks, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from successcrew.services.inbound.slack_decisions import (
    SlackOutcome,
    decide_from_slack,
    follow_up,
    record_follow_up,
)
from successcrew.store.db import transaction
from successcrew.web.context import WebContext
from successcrew.web.params import load_json
from successcrew.web.signatures import verify_slack

router = APIRouter()
log = logging.getLogger("successcrew.web.slack")


class InteractionHandler:
    """The one handler of Slack interactions, whichever way they arrive."""

    def __init__(self, ctx: WebContext, metrics: Any) -> None:
        self.ctx = ctx
        self.metrics = metrics

    def handle(self, payload: dict[str, Any]) -> SlackOutcome:
        """Decide (or refuse) in one transaction; fast enough to answer Slack in time."""
        with transaction(self.ctx.engine) as session:
            outcome = decide_from_slack(
                session, payload, policy=self.ctx.policy, now=self.ctx.clock()
            )
        self.metrics.slack_interaction(outcome.outcome)
        return outcome

    def after(self, outcome: SlackOutcome) -> None:
        """Redraw the cards and answer a refused user; audited. Never raises."""
        try:
            done = follow_up(outcome, settings=self.ctx.settings)
            with transaction(self.ctx.engine) as session:
                record_follow_up(session, outcome, done, now=self.ctx.clock())
            if done["card_errors"]:
                log.warning(
                    "escalation %s: %d card(s) updated; problems: %s",
                    outcome.escalation_id,
                    done["cards_updated"],
                    "; ".join(done["card_errors"]),
                )
        except Exception:
            log.exception("Slack follow-up for escalation %s failed", outcome.escalation_id)


@router.post("/slack/interactions")
async def interactions(request: Request, background: BackgroundTasks) -> Response:
    """Slack's request URL for interactivity: verify, decide, answer 200, then follow up."""
    ctx: WebContext = request.app.state.ctx
    secret = ctx.secret("slack_signing_secret")
    if secret is None:
        ctx.refuse_unconfigured("POST /slack/interactions", "SUCCESSCREW_SLACK_SIGNING_SECRET")
        return JSONResponse({"error": "Slack interactivity is not configured on this server"}, 503)
    body = await request.body()
    if not verify_slack(secret, body, request.headers, wall_clock=ctx.wall_clock):
        request.app.state.metrics.signature_failure("slack")
        return JSONResponse({"error": "the signature does not verify (or is too old)"}, 401)
    try:
        payload = load_json(parse_qs(body.decode("utf-8"), strict_parsing=True)["payload"][0])
    except (KeyError, IndexError, ValueError, UnicodeDecodeError):
        return JSONResponse({"error": "expected a form field payload with JSON"}, 400)
    if not isinstance(payload, dict):
        return JSONResponse({"error": "payload must be a JSON object"}, 400)
    handler: InteractionHandler = request.app.state.slack_handler
    outcome = await run_in_threadpool(handler.handle, payload)
    if outcome.follows_up:
        background.add_task(handler.after, outcome)
    return Response(status_code=200)
