"""Survey links: ``GET /survey/{token}`` renders the question (with ``?score=N`` chosen) and
records nothing, since mail scanners open every link; ``POST`` records the answer once (the
database decides between two submits at the same moment). The in-app widget's API sits here
too: ``/widget.js``, and ``/api/v1/surveys/in-app`` behind an origin allow-list, CORS, a
per-client rate limit and a small body limit.
"""

from __future__ import annotations

import hashlib
import hmac
from importlib import resources
from typing import Annotated
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from successcrew.errors import ConfigError, InputError
from successcrew.services.voice.surveys import (
    SurveyTokenError,
    in_app_survey,
    read_survey,
    record_survey_response,
)
from successcrew.store.db import transaction
from successcrew.web.context import WebContext
from successcrew.web.pages import message, page
from successcrew.web.params import load_json, whole_number
from successcrew.web.ratelimit import RateLimiter
from successcrew.web.signatures import same_secret

router = APIRouter()

COMMENT_MAX = 2000
#: HTTP status per reason a survey link cannot be used.
STATUS = {"malformed": 400, "altered": 403, "unknown": 404, "expired": 410, "used": 409}
TITLES = {
    "malformed": "This link is incomplete",
    "altered": "This link does not work",
    "unknown": "This survey is not known here",
    "expired": "This survey has closed",
    "used": "Already answered",
}


def _ctx(request: Request) -> WebContext:
    return request.app.state.ctx


def _token_page(exc: SurveyTokenError) -> Response:
    hint = None
    if exc.reason in ("malformed", "altered"):
        hint = "Open the link from the e-mail again, or copy the whole link into the address bar."
    return message(
        TITLES.get(exc.reason, "This link does not work"),
        f"Sorry: {exc}.",
        STATUS.get(exc.reason, 400),
        hint,
    )


def _unconfigured(ctx: WebContext, endpoint: str, env_var: str) -> Response:
    ctx.refuse_unconfigured(endpoint, env_var)
    return message(
        "Surveys are not available",
        "This server cannot check survey links yet; please try again later.",
        503,
    )


@router.get("/survey/{token}")
def survey_page(request: Request, token: str, score: str | None = None) -> Response:
    """The survey question with ``score`` preselected; nothing is recorded."""
    ctx = _ctx(request)
    secret = ctx.settings.link_secret()
    if secret is None:
        return _unconfigured(ctx, "GET /survey", "SUCCESSCREW_SURVEY_SECRET")
    try:
        with transaction(ctx.engine) as session:
            view = read_survey(session, token, secret=secret, now=ctx.clock())
    except SurveyTokenError as exc:
        return _token_page(exc)
    chosen = _score(score)
    return page(
        "survey.html",
        title=view.question,
        page=view,
        score=chosen,
        comment=None,
        error=None,
        action=f"/survey/{token}",
        comment_max=COMMENT_MAX,
    )


def _score(raw: str | None) -> int | None:
    """A score 0-10 from a link or a form, or None for anything else (``²``, ``11``, 5,000
    digits): the page then asks for one."""
    if raw is None:
        return None
    try:
        return whole_number(raw, name="score", low=0, high=10)
    except ValueError:
        return None


async def _form(request: Request) -> dict[str, str]:
    """The posted form (urlencoded or multipart); InputError when the body is not one."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind == "application/x-www-form-urlencoded":
        body = await request.body()
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("the form is not UTF-8 text") from None
        try:
            return dict(parse_qsl(text, keep_blank_values=True, strict_parsing=bool(text)))
        except ValueError:
            raise InputError("the form could not be read") from None
    if kind == "multipart/form-data":
        try:
            form = await request.form()
        except Exception:  # python-multipart raises several types for a broken body
            raise InputError("the form could not be read") from None
        return {k: v for k, v in form.items() if isinstance(v, str)}
    raise InputError("expected a form (application/x-www-form-urlencoded or multipart/form-data)")


@router.post("/survey/{token}")
async def survey_answer(request: Request, token: str) -> Response:
    """Record the answer once; a second submit of the same link records nothing."""
    ctx = _ctx(request)
    secret = ctx.settings.link_secret()
    if secret is None:
        return _unconfigured(ctx, "POST /survey", "SUCCESSCREW_SURVEY_SECRET")
    try:
        form = await _form(request)
    except InputError as exc:
        return message(
            "Your answer could not be read",
            f"Sorry: {exc}. Please use the form on the survey page.",
            400,
        )
    raw_score = form.get("score", "").strip()
    comment = form.get("comment", "")[:COMMENT_MAX]
    score = _score(raw_score)

    def record() -> Response:
        now = ctx.clock()
        try:
            with transaction(ctx.engine) as session:
                view = read_survey(session, token, secret=secret, now=now)
                if score is None:
                    return page(
                        "survey.html",
                        400,
                        title=view.question,
                        page=view,
                        score=None,
                        comment=comment,
                        error="Please choose a score from 0 to 10, then send your answer.",
                        action=f"/survey/{token}",
                        comment_max=COMMENT_MAX,
                    )
                record_survey_response(session, token, score, comment, now, secret=secret)
        except SurveyTokenError as exc:
            return _token_page(exc)
        request.app.state.metrics.survey_answer(view.channel)
        return page("survey_thanks.html", title="Thank you", score=score, comment=comment.strip())

    return await run_in_threadpool(record)


# --- the in-app widget ------------------------------------------------------------------------


class InAppAnswer(BaseModel):
    """The widget's POST body."""

    model_config = ConfigDict(extra="forbid")
    token: Annotated[str, Field(min_length=10, max_length=1000)]
    score: Annotated[StrictInt, Field(ge=0, le=10)]
    comment: Annotated[str, Field(max_length=COMMENT_MAX)] | None = None


def _allowed_origins(ctx: WebContext) -> set[str]:
    return {
        o.strip().rstrip("/") for o in ctx.settings.survey_allowed_origins.split(",") if o.strip()
    }


def _cors(origin: str) -> dict[str, str]:
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Methods": "GET, POST",
        "Access-Control-Allow-Headers": "Content-Type",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def _in_app_gate(request: Request) -> tuple[dict[str, str], Response | None]:
    """CORS headers for an allowed origin, or the refusal: not configured (503), a foreign
    origin (403), too many requests from this client (429)."""
    ctx = _ctx(request)
    origins = _allowed_origins(ctx)
    if not origins or ctx.secret("in_app_secret") is None or ctx.settings.link_secret() is None:
        ctx.refuse_unconfigured(
            "/api/v1/surveys/in-app",
            "SUCCESSCREW_SURVEY_ALLOWED_ORIGINS, SUCCESSCREW_IN_APP_SECRET or "
            "SUCCESSCREW_SURVEY_SECRET",
        )
        return {}, JSONResponse({"error": "in-app surveys are not configured on this server"}, 503)
    origin = request.headers.get("origin", "").rstrip("/")
    if origin not in origins:
        return {}, JSONResponse(
            {"error": "this origin may not use the survey API"}, 403, headers={"Vary": "Origin"}
        )
    headers = _cors(origin)
    if request.method != "OPTIONS":
        limiter: RateLimiter = request.app.state.in_app_limiter
        client = request.client.host if request.client else "-"
        allowed, wait = limiter.allow(client)
        if not allowed:
            return {}, JSONResponse(
                {"error": "too many survey requests from this address; try again shortly"},
                429,
                headers={**headers, "Retry-After": str(max(1, int(wait + 0.999)))},
            )
    return headers, None


@router.options("/api/v1/surveys/in-app")
def in_app_preflight(request: Request) -> Response:
    """CORS preflight: allowed origins only."""
    headers, refusal = _in_app_gate(request)
    return refusal or Response(status_code=204, headers=headers)


@router.get("/api/v1/surveys/in-app")
def in_app_question(request: Request, user: str = "", user_hash: str = "") -> Response:
    """The open in-app survey of ``user`` (the product's user id, signed by ``user_hash``)."""
    headers, refusal = _in_app_gate(request)
    if refusal is not None:
        return refusal
    ctx = _ctx(request)
    key = ctx.secret("in_app_secret") or ""
    expected = hmac.new(key.encode(), user.encode(), hashlib.sha256).hexdigest()
    if not user or not same_secret(user_hash.lower(), expected):
        return JSONResponse({"error": "user_hash does not match user"}, 401, headers=headers)
    with transaction(ctx.engine) as session:
        found = in_app_survey(session, user, secret=ctx.settings.link_secret(), now=ctx.clock())
    if found is None:
        return Response(status_code=204, headers=headers)
    return JSONResponse(found, headers={**headers, "Cache-Control": "no-store"})


@router.post("/api/v1/surveys/in-app")
async def in_app_answer(request: Request) -> Response:
    """Record an in-app answer: the same single-use token check as the survey page."""
    headers, refusal = _in_app_gate(request)
    if refusal is not None:
        return refusal
    ctx = _ctx(request)
    try:
        answer = InAppAnswer.model_validate(load_json(await request.body()))
    except ValidationError as exc:
        return JSONResponse(
            {"error": f"malformed answer: {_first_error(exc)}"}, 400, headers=headers
        )
    except ValueError as exc:
        return JSONResponse({"error": f"malformed answer: {exc}"}, 400, headers=headers)

    def record() -> Response:
        try:
            with transaction(ctx.engine) as session:
                record_survey_response(
                    session,
                    answer.token,
                    answer.score,
                    answer.comment,
                    ctx.clock(),
                    secret=ctx.settings.link_secret(),
                )
        except SurveyTokenError as exc:
            return JSONResponse(
                {"error": str(exc), "reason": exc.reason},
                STATUS.get(exc.reason, 400),
                headers=headers,
            )
        except (InputError, ConfigError) as exc:
            return JSONResponse({"error": str(exc)}, 400, headers=headers)
        request.app.state.metrics.survey_answer("in_app")
        return JSONResponse({"recorded": True}, 201, headers=headers)

    return await run_in_threadpool(record)


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ())) or "body"
        return f"{where}: {err.get('msg')}"
    return str(exc)


@router.get("/widget.js")
def widget_script() -> Response:
    """The in-app survey widget a product embeds (no secret in it; see docs/web.md)."""
    script = resources.files("successcrew.web").joinpath("static/widget.js").read_text("utf-8")
    return Response(
        script,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
