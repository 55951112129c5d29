"""Product events the way Segment's HTTP Tracking API takes them: ``POST /v1/track``,
``/v1/identify``, ``/v1/group``, ``/v1/page``, ``/v1/screen``, ``/v1/alias`` and ``/v1/batch``,
so Segment, RudderStack and the analytics-python / analytics-node clients pointed at this host
feed usage without files.

Auth: HTTP Basic with the write key as the user name (empty password), checked before the body
is read. Limits as Segment's: 32 KB per call, 500 KB per batch, answered with 400 (the body
middleware refuses larger bodies before they are read); gzip bodies are accepted and their
decompressed size is held to the same limits. Success is ``{"success": true}``.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
import zlib
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from successcrew.domain.product_event_rules import UNUSED
from successcrew.services.inbound.product_events import record_segment_calls
from successcrew.store.db import transaction
from successcrew.web.context import WebContext
from successcrew.web.params import load_json

router = APIRouter()
log = logging.getLogger("successcrew.web.segment")

CALL_LIMIT = 32 * 1024
BATCH_LIMIT = 500 * 1024
BATCH_MAX_ITEMS = 2500
SINGLE = ("track", "identify", "group", "page", "screen", "alias")


def _error(status: int, code: str, text: str) -> JSONResponse:
    # The shape Segment's client libraries read from an error answer.
    return JSONResponse({"code": code, "message": text}, status)


def _authorised(request: Request, key: str) -> bool:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "basic" or not value:
        return False
    try:
        user = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
    except (binascii.Error, UnicodeDecodeError):
        return False
    return hmac.compare_digest(user.encode(), key.encode())


def _decompress(body: bytes, encoding: str, limit: int) -> bytes | None:
    """The body, gunzipped when sent with ``Content-Encoding: gzip``; None when it is larger
    than ``limit`` once decompressed (or not gzip at all)."""
    if encoding.strip().lower() != "gzip":
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit + 1)
    except zlib.error:
        return None
    return data if len(data) <= limit else None


async def _receive(request: Request, kind: str) -> Response:
    ctx: WebContext = request.app.state.ctx
    key = ctx.secret("segment_write_key")
    if key is None:
        ctx.refuse_unconfigured("/v1/*", "SUCCESSCREW_SEGMENT_WRITE_KEY")
        return _error(503, "not_configured", "product events are not configured on this server")
    if not _authorised(request, key):
        request.app.state.metrics.signature_failure("segment")
        return _error(401, "unauthorized", "invalid write key (send it as the Basic-auth user)")
    limit = BATCH_LIMIT if kind == "batch" else CALL_LIMIT
    body = _decompress(await request.body(), request.headers.get("content-encoding", ""), limit)
    if body is None:
        return _error(400, "invalid_request", f"the body is larger than {limit // 1024} KB")
    try:
        document = load_json(body)
    except ValueError as exc:
        return _error(400, "invalid_request", str(exc))
    if not isinstance(document, dict):
        return _error(400, "invalid_request", "the body must be a JSON object")
    if kind == "batch":
        items = document.get("batch")
        if not isinstance(items, list) or len(items) > BATCH_MAX_ITEMS:
            return _error(
                400, "invalid_request", f"batch must be a list of at most {BATCH_MAX_ITEMS} calls"
            )
        outer = {
            k: document[k] for k in ("context", "integrations") if isinstance(document.get(k), dict)
        }
        calls: list[dict[str, Any]] = []
        for item in items:
            if not isinstance(item, dict):
                return _error(400, "invalid_request", "every batch item must be an object")
            if len(json.dumps(item, separators=(",", ":"))) > CALL_LIMIT:
                return _error(400, "invalid_request", "a call in the batch is larger than 32 KB")
            merged = dict(item)
            for name, value in outer.items():
                inner = item.get(name)
                merged[name] = {**value, **(inner if isinstance(inner, dict) else {})}
            calls.append(merged)
    else:
        calls = [{**document, "type": kind}]

    def run() -> dict[str, Any]:
        with transaction(ctx.engine) as session:
            return record_segment_calls(
                session, calls, mapping=ctx.product_events, now=ctx.clock()
            ).as_dict()

    result = await run_in_threadpool(run)
    metrics = request.app.state.metrics
    dropped: dict[str, int] = result["dropped"]
    metrics.product_events(
        "stored", result["received"] - result["duplicates"] - sum(dropped.values())
    )
    metrics.product_events("duplicate", result["duplicates"])
    metrics.product_events("dropped", sum(dropped.values()))
    metrics.product_events_dropped(dropped)
    if dropped:
        # Acknowledged as Segment does (its libraries would retry anything else), so the
        # sender never learns: the log and the metric say what was dropped and why.
        missing = {k: n for k, n in dropped.items() if k not in UNUSED}
        log.log(
            logging.WARNING if missing else logging.INFO,
            "product events: %d of %d call(s) dropped: %s",
            sum(dropped.values()),
            result["received"],
            ", ".join(f"{k} {n}" for k, n in sorted(dropped.items())),
        )
    return JSONResponse({"success": True, "dropped": dropped})


@router.post("/v1/batch")
async def batch(request: Request) -> Response:
    """A batch of calls (what the client libraries send)."""
    return await _receive(request, "batch")


def _single(kind: str) -> Any:
    async def endpoint(request: Request) -> Response:
        return await _receive(request, kind)

    endpoint.__name__ = f"segment_{kind}"
    endpoint.__doc__ = f"One ``{kind}`` call."
    return endpoint


for _kind in SINGLE:
    router.add_api_route(f"/v1/{_kind}", _single(_kind), methods=["POST"])
