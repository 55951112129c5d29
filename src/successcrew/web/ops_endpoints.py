"""Operations: ``/healthz`` (database reachable, last successful run recent enough: else 503),
``/livez`` (the process answers; for container liveness probes) and ``/metrics``."""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from successcrew.services.platform.operations import check_health
from successcrew.web.context import WebContext
from successcrew.web.prometheus import exposition

router = APIRouter()


@router.get("/healthz")
def healthz(request: Request) -> Response:
    """200 when the database answers and the last successful run is within
    ``SUCCESSCREW_HEALTH_MAX_RUN_AGE_MINUTES``; 503 with the reason otherwise."""
    ctx: WebContext = request.app.state.ctx
    now = ctx.clock()
    health = check_health(
        ctx.engine,
        now=now,
        max_run_age=timedelta(minutes=ctx.settings.health_max_run_age_minutes),
    )
    return JSONResponse(
        health.as_dict(now), 200 if health.ok else 503, headers={"Cache-Control": "no-store"}
    )


@router.get("/livez")
def livez() -> Response:
    """The process is up (reads nothing)."""
    return JSONResponse({"status": "ok"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    """Prometheus scrape (text format, or OpenMetrics when asked for)."""
    ctx: WebContext = request.app.state.ctx
    body, content_type = exposition(ctx.engine, ctx.clock, request.headers.get("accept", ""))
    return Response(body, headers={"Content-Type": content_type, "Cache-Control": "no-store"})
