"""Sign-in and sign-out: ``/login`` (password, and the OIDC button when configured),
``/logout``. A session is a signed cookie: HttpOnly, SameSite=Lax (the OIDC redirect back must
carry it), Secure over HTTPS."""

from __future__ import annotations

from math import ceil

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import RedirectResponse, Response

from successcrew.web.auth.identity import (
    Auth,
    CsrfRejected,
    auth_of,
    current_user,
    safe_next,
    same_origin,
    verify_csrf,
)
from successcrew.web.auth.sessions import COOKIE
from successcrew.web.pages import DASHBOARD_HEADERS, page

router = APIRouter()


def login_page(
    request: Request, next_path: str, *, error: str | None = None, status: int = 200
) -> Response:
    """The sign-in page (password form and/or the single-sign-on button)."""
    auth = auth_of(request)
    settings = auth.settings
    return page(
        "dashboard/login.html",
        status,
        headers=DASHBOARD_HEADERS,
        title="Sign in",
        next_path=safe_next(next_path),
        error=error,
        password_login=settings.password_login,
        oidc_name=settings.oidc_name if settings.oidc_issuer else None,
        proxy_only=bool(auth.proxy_header) and not settings.password_login,
    )


def start_session(
    request: Request, auth: Auth, email: str, method: str, next_path: str
) -> Response:
    """Record a new session for ``email``, set its cookie and redirect to ``next_path`` (303)."""
    from successcrew.services.platform.sign_in import open_session
    from successcrew.store.db import transaction

    value, data = auth.require_codec().issue(email, method)
    ctx = request.app.state.ctx
    with transaction(ctx.engine) as session:
        opened = open_session(
            session,
            email,
            data.sid,
            method=method,
            now=ctx.wall_now(),
            hours=auth.settings.session_hours,
        )
    if not opened:
        return login_page(
            request, next_path, error="That user cannot sign in here (disabled).", status=403
        )
    response = RedirectResponse(safe_next(next_path), status_code=303)
    response.set_cookie(
        COOKIE,
        value,
        max_age=auth.settings.session_hours * 3600,
        path="/",
        httponly=True,
        samesite="lax",
        secure=auth.cookie_secure(request),
    )
    return response


@router.get("/login", include_in_schema=False)
def login_form(request: Request, next: str = "/") -> Response:
    """The sign-in page; already signed in, straight on to ``next``."""
    auth_of(request).require_codec()
    if current_user(request) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return login_page(request, next)


@router.post("/login", include_in_schema=False)
def login_submit(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    next: str = Form("/"),
) -> Response:
    """Check the password; on success a session, else the form again (429 when too many:
    ``services.platform.sign_in`` has the rule)."""
    from successcrew.services.platform.sign_in import begin_attempt, end_attempt
    from successcrew.services.platform.users import check_password
    from successcrew.store.db import transaction

    auth = auth_of(request)
    auth.require_codec()
    if not same_origin(request):
        raise CsrfRejected("the sign-in form was sent from another site")
    if not auth.settings.password_login:
        return login_page(request, next, error="Password sign-in is turned off here.", status=403)
    address = email.strip().lower()
    client = (request.client.host if request.client else "-") or "-"
    engine = request.app.state.ctx.engine
    attempt = begin_attempt(
        engine,
        address,
        client,
        now=request.app.state.ctx.wall_now(),
        per_minute=auth.settings.login_rate_per_minute,
    )
    if not attempt.allowed:
        return login_page(
            request,
            next,
            error=f"Too many failed sign-ins. Wait {max(1, ceil(attempt.wait_seconds))} s and "
            "try again.",
            status=429,
        )
    user = None
    if address and password:
        with transaction(engine) as session:
            user = check_password(session, address, password, cost=auth.settings.password_hash_cost)
    end_attempt(engine, attempt, succeeded=user is not None)
    if user is None:
        return login_page(request, next, error="That e-mail and password do not match.", status=401)
    return start_session(request, auth, user.email, "password", next)


@router.post("/logout", include_in_schema=False, dependencies=[Depends(verify_csrf)])
def logout(request: Request) -> Response:
    """End the session on the server (every copy of its cookie stops working), clear the cookie
    and go back to the sign-in page."""
    from successcrew.services.platform.sign_in import close_session
    from successcrew.store.db import transaction

    data = auth_of(request).require_codec().read(request.cookies.get(COOKIE))
    if data is not None:
        ctx = request.app.state.ctx
        with transaction(ctx.engine) as session:
            close_session(session, data.sid, now=ctx.wall_now())
    response = RedirectResponse("/login", status_code=303)
    secure = auth_of(request).cookie_secure(request)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    return response
