"""The e-mail providers' event webhooks: SendGrid (``POST /webhooks/sendgrid``, ECDSA-signed
JSON array) and Mailchimp Transactional (``HEAD`` and ``POST /webhooks/mailchimp``, HMAC-signed
form with ``mandrill_events``). Verified on the raw body, then stored once per event."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from successcrew.domain.comment_analysis import sentiment
from successcrew.domain.email_event_rules import EmailEventIn, mandrill_events, sendgrid_events
from successcrew.services.inbound.email_events import record_email_events
from successcrew.store.db import transaction
from successcrew.web.context import WebContext
from successcrew.web.params import load_json
from successcrew.web.signatures import sendgrid_key_usable, verify_mandrill, verify_sendgrid

router = APIRouter()


def _refuse(ctx: WebContext, endpoint: str, env_var: str) -> Response:
    ctx.refuse_unconfigured(endpoint, env_var)
    return JSONResponse(
        {"error": f"this webhook is not configured on this server ({env_var})"}, 503
    )


async def _store(
    request: Request, provider: str, events: list[EmailEventIn], skipped: int
) -> Response:
    ctx: WebContext = request.app.state.ctx

    def run() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            return record_email_events(session, provider, events, now=ctx.clock()).as_dict()

    result = (
        await run_in_threadpool(run) if events else {"received": 0, "stored": 0, "duplicates": 0}
    )
    metrics = request.app.state.metrics
    metrics.webhook_events(provider, "stored", result["stored"])
    metrics.webhook_events(provider, "duplicate", result["duplicates"])
    metrics.webhook_events(provider, "ignored", skipped)
    return JSONResponse({**result, "ignored": skipped})


@router.post("/webhooks/sendgrid")
async def sendgrid(request: Request) -> Response:
    """SendGrid Event Webhook: a signed JSON array of events."""
    ctx: WebContext = request.app.state.ctx
    key = ctx.secret("sendgrid_webhook_public_key")
    if key is None or not sendgrid_key_usable(key):
        return _refuse(ctx, "POST /webhooks/sendgrid", "SUCCESSCREW_SENDGRID_WEBHOOK_PUBLIC_KEY")
    body = await request.body()
    if not verify_sendgrid(
        key,
        body,
        request.headers.get("x-twilio-email-event-webhook-signature"),
        request.headers.get("x-twilio-email-event-webhook-timestamp"),
        now=ctx.wall_clock(),
        max_age_seconds=ctx.settings.sendgrid_webhook_max_age_seconds,
    ):
        request.app.state.metrics.signature_failure("sendgrid")
        return JSONResponse(
            {"error": "the signature does not verify (or its timestamp is too old)"}, 403
        )
    try:
        items = load_json(body)
    except ValueError as exc:
        return JSONResponse({"error": str(exc)}, 400)
    if not isinstance(items, list):
        return JSONResponse({"error": "expected a JSON array of events"}, 400)
    events, skipped = sendgrid_events(items)
    return await _store(request, "sendgrid", events, skipped)


@router.head("/webhooks/mailchimp")
def mailchimp_check() -> Response:
    """Mandrill checks a new webhook URL with a HEAD request."""
    return Response(status_code=200)


@router.post("/webhooks/mailchimp")
async def mailchimp(request: Request) -> Response:
    """Mailchimp Transactional webhook: form field ``mandrill_events`` (a JSON array)."""
    ctx: WebContext = request.app.state.ctx
    key = ctx.secret("mailchimp_webhook_key")
    if key is None:
        return _refuse(ctx, "POST /webhooks/mailchimp", "SUCCESSCREW_MAILCHIMP_WEBHOOK_KEY")
    body = await request.body()
    try:
        params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except (UnicodeDecodeError, ValueError):
        params = {}
    # Mandrill's own check POSTs an empty batch signed with its test key; nothing else may be.
    empty = params.get("mandrill_events", "").strip() == "[]" and len(params) == 1
    signature = request.headers.get("x-mandrill-signature")
    if not verify_mandrill(key, ctx.settings.mandrill_url(), params, signature, test_key=empty):
        request.app.state.metrics.signature_failure("mailchimp")
        return JSONResponse({"error": "the signature does not verify"}, 403)
    if "mandrill_events" not in params:
        return JSONResponse(
            {"error": "expected a form field mandrill_events with a JSON array"}, 400
        )
    try:
        items = load_json(params["mandrill_events"])
    except ValueError as exc:
        return JSONResponse({"error": f"mandrill_events: {exc}"}, 400)
    if not isinstance(items, list):
        return JSONResponse({"error": "mandrill_events must be a JSON array"}, 400)
    events, skipped = mandrill_events(items, sentiment=sentiment)
    return await _store(request, "mailchimp", events, skipped)
