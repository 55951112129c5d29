"""Dashboard sign-in: the signed-in user, role checks, CSRF, and the answers when they fail.

Page modules use the dependencies::

    @router.get("/my-work")
    def my_work(request: Request, user: SignedInUser = Depends(signed_in_user)): ...

    @router.post("/tasks/{id}/done", dependencies=[Depends(verify_csrf)])
    def done(..., user: SignedInUser = Depends(require(roles.WORK_TASK))): ...
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from successcrew.web.auth.identity import (
    CSRF_FIELD,
    Auth,
    AuthUnconfigured,
    CsrfRejected,
    PermissionDenied,
    SignedInUser,
    SignInRequired,
    current_user,
    ensure,
    require,
    safe_next,
    sign_in_location,
    signed_in_user,
    verify_csrf,
)

__all__ = [
    "CSRF_FIELD",
    "Auth",
    "PermissionDenied",
    "SignedInUser",
    "current_user",
    "ensure",
    "install",
    "require",
    "safe_next",
    "signed_in_user",
    "verify_csrf",
]


def _refusal(request: Request, heading: str, sentence: str, status: int) -> Response:
    from successcrew.web.pages import message

    user = getattr(request.state, "user", None)
    if user is None:
        return message(heading, sentence, status)
    from successcrew.web.dashboard.rendering import render_dashboard

    return render_dashboard(
        request,
        "dashboard/message.html",
        status=status,
        title=heading,
        heading=heading,
        sentence=sentence,
        hint=None,
    )


def install(app: FastAPI) -> None:
    """Load the sign-in configuration and answer the auth exceptions (303, 403, 503)."""
    app.state.auth = Auth(app.state.ctx.settings)

    @app.exception_handler(SignInRequired)
    async def _sign_in(_request: Request, exc: SignInRequired) -> Response:
        return RedirectResponse(sign_in_location(exc.next_path), status_code=303)

    @app.exception_handler(PermissionDenied)
    async def _denied(request: Request, exc: PermissionDenied) -> Response:
        return _refusal(request, "Not allowed", f"You cannot do this: {exc.reason}.", 403)

    @app.exception_handler(CsrfRejected)
    async def _csrf(request: Request, exc: CsrfRejected) -> Response:
        return _refusal(
            request,
            "Form refused",
            f"Nothing was changed: {exc.reason}. Reload the page and try again.",
            403,
        )

    @app.exception_handler(AuthUnconfigured)
    async def _unconfigured(_request: Request, _exc: AuthUnconfigured) -> Response:
        from successcrew.web.pages import message

        return message(
            "Dashboard not set up",
            "The dashboard cannot sign anyone in: there is no session secret.",
            503,
            hint="Run `successcrew init` (it creates one) or set SUCCESSCREW_SESSION_SECRET, "
            "then restart `successcrew serve`.",
        )
