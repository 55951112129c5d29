"""``render_dashboard``: a dashboard page with the signed-in user, the nav and the CSRF field.

Templates extend ``dashboard/layout.html`` and put ``{{ csrf_field() }}`` in every POST form.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from markupsafe import Markup, escape

from successcrew.web.auth.identity import CSRF_FIELD, SignedInUser, signed_in_user
from successcrew.web.pages import DASHBOARD_HEADERS, page

#: The dashboard's sections: (label, path).
NAV: tuple[tuple[str, str], ...] = (
    ("Portfolio", "/"),
    ("Accounts", "/accounts"),
    ("My work", "/my-work"),
    ("Decisions", "/decisions"),
    ("Programs", "/programs"),
    ("NPS", "/nps"),
    ("Operations", "/operations"),
    ("Ask", "/ask"),
)


def nav_items(path: str) -> list[dict[str, Any]]:
    """The nav with the current section marked (``/accounts/12`` is under Accounts)."""
    items = []
    for label, href in NAV:
        current = path == href if href == "/" else path == href or path.startswith(href + "/")
        items.append({"label": label, "href": href, "current": current})
    return items


def csrf_input(user: SignedInUser) -> Markup:
    """The hidden field carrying ``user``'s CSRF token."""
    return Markup('<input type="hidden" name="{}" value="{}">').format(
        CSRF_FIELD, escape(user.csrf_token)
    )


def render_dashboard(
    request: Request, template: str, *, status: int = 200, **context: Any
) -> HTMLResponse:
    """Render ``template`` (extending ``dashboard/layout.html``) for the signed-in user.

    Adds ``user`` (a SignedInUser), ``nav``, ``csrf_field()``, ``title`` (default: the
    section's label) and ``flash`` (a sentence shown on top; default none) to ``context``.
    """
    user = signed_in_user(request)
    nav = nav_items(request.url.path)
    section = next((item["label"] for item in nav if item["current"]), "successcrew")
    context.setdefault("title", section)
    context.setdefault("flash", None)
    return page(
        template,
        status,
        headers=DASHBOARD_HEADERS,
        user=user,
        nav=nav,
        csrf_field=lambda: csrf_input(user),
        **context,
    )
