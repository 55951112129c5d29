"""The FastAPI application behind ``successcrew serve`` (``create_app`` is the uvicorn factory).

Everything a request needs is loaded once per process: settings, an engine on the configured
database (checked to be at the current schema), the escalation policy (who may decide in
Slack), the product-event mapping. Tests and the demo hand in their own clock and engine.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from typing import TYPE_CHECKING

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import Engine

from successcrew.clock import utcnow
from successcrew.definitions.escalation_policy import EscalationPolicy, load_policy
from successcrew.definitions.product_events import ProductEvents, load_product_events
from successcrew.settings import Settings, load_settings
from successcrew.web import (
    auth,
    dashboard,
    email_webhooks,
    ops_endpoints,
    segment_api,
    slack_endpoint,
    survey_pages,
    unsubscribe_pages,
)
from successcrew.web.context import WebContext
from successcrew.web.middleware import (
    AccessLog,
    BodyLimit,
    ProxiedPeer,
    RefuseNul,
    StrictTransport,
)
from successcrew.web.prometheus import WebMetrics
from successcrew.web.ratelimit import RateLimiter

if TYPE_CHECKING:
    from successcrew.web.socket_mode import SocketModeRunner

log = logging.getLogger("successcrew.web")

#: Small JSON bodies: the in-app widget's answer.
IN_APP_LIMIT = 8 * 1024


def ready_engine(settings: Settings) -> Engine:
    """An engine on the configured database, refusing to start on an old or empty schema.

    SQLite transactions start ``BEGIN IMMEDIATE``: concurrent requests read and then write,
    and a deferred transaction would fail at once instead of waiting its turn.
    """
    from successcrew.errors import ConfigError
    from successcrew.store.db import make_engine, redacted_url
    from successcrew.store.migrate import current_revision, head_revision

    engine = make_engine(settings.resolved_database_url(), immediate=True)
    try:
        current = current_revision(engine)
    except Exception as exc:
        raise ConfigError(
            f"cannot open the database {redacted_url(engine)}: {type(exc).__name__}. "
            "Check SUCCESSCREW_DATABASE_URL."
        ) from None
    if current != head_revision(engine):
        raise ConfigError("the database schema is not current; run `successcrew init` first.")
    return engine


def _limits(settings: Settings) -> Callable[[str], tuple[int, int, str]]:
    too_large = "the request body is too large"

    def limit_for(path: str) -> tuple[int, int, str]:
        if path.startswith("/webhooks/"):
            return settings.webhook_max_body_bytes, 413, too_large
        if path == "/v1/batch":
            return segment_api.BATCH_LIMIT, 400, "a batch may be at most 500 KB"
        if path.startswith("/v1/"):
            return segment_api.CALL_LIMIT, 400, "a call may be at most 32 KB"
        if path.startswith("/api/v1/surveys/"):
            return IN_APP_LIMIT, 413, too_large
        return settings.max_body_bytes, 413, too_large

    return limit_for


def create_app(
    settings: Settings | None = None,
    *,
    engine: Engine | None = None,
    clock: Callable[[], datetime] = utcnow,
    wall_clock: Callable[[], float] = time.time,
    policy: EscalationPolicy | None = None,
    product_events: ProductEvents | None = None,
) -> FastAPI:
    """The app; with no arguments (the uvicorn factory) everything comes from the environment."""
    from successcrew.redaction import install_log_redaction

    # uvicorn's worker processes build the app from this factory without going through the
    # command line, so they install the log sanitiser here as well.
    install_log_redaction()
    settings = settings or load_settings()
    ctx = WebContext(
        settings=settings,
        engine=engine or ready_engine(settings),
        policy=policy or load_policy(),
        product_events=product_events or load_product_events(),
        clock=clock,
        wall_clock=wall_clock,
    )
    metrics = WebMetrics()
    handler = slack_endpoint.InteractionHandler(ctx, metrics)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runner = None
        if settings.slack_socket_mode:
            runner = _socket_mode(ctx, handler)
        try:
            yield
        finally:
            if runner is not None:
                runner.stop()
            if engine is None:
                ctx.engine.dispose()

    app = FastAPI(
        title="successcrew",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.ctx = ctx
    app.state.metrics = metrics
    app.state.slack_handler = handler
    app.state.in_app_limiter = RateLimiter(settings.in_app_rate_per_minute, clock=time.monotonic)
    auth.install(app)
    for router in dashboard.ROUTERS:
        app.include_router(router)
    for module in (
        survey_pages,
        unsubscribe_pages,
        email_webhooks,
        slack_endpoint,
        segment_api,
        ops_endpoints,
    ):
        app.include_router(module.router)

    @app.exception_handler(RequestValidationError)
    async def _bad_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # 400, not FastAPI's 422: the house answers malformed input with 400.
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse({"error": f"malformed request: {where}: {first.get('msg')}"}, 400)

    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimit, limit_for=_limits(settings))
    app.add_middleware(AccessLog)
    if settings.hsts_seconds > 0:
        app.add_middleware(StrictTransport, max_age=settings.hsts_seconds)
    # Outermost: notes the peer address, then believes X-Forwarded-For/-Proto from trusted
    # proxies (uvicorn's own handling is off, it would forget the peer the auth proxy check needs).
    app.add_middleware(ProxiedPeer, trusted=settings.trusted_proxies)
    return app


def _socket_mode(
    ctx: WebContext, handler: slack_endpoint.InteractionHandler
) -> SocketModeRunner | None:
    from successcrew.web.socket_mode import SocketModeRunner

    app_token = ctx.secret("slack_app_token")
    if app_token is None:
        ctx.refuse_unconfigured("Slack Socket Mode", "SUCCESSCREW_SLACK_APP_TOKEN")
        return None
    runner = SocketModeRunner(
        app_token=app_token,
        api_url=ctx.settings.slack_api_url,
        bot_token=ctx.secret("slack_token"),
        handler=handler,
    )
    runner.start()
    return runner
