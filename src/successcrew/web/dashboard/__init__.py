"""The dashboard: server-rendered pages for the team (sign-in in ``web/auth``).

``ROUTERS`` lists the dashboard's routers; ``web/application.py`` includes each. A page module
adds its ``router`` here.
"""

from __future__ import annotations

from fastapi import APIRouter

from successcrew.web.auth import login_pages, oidc
from successcrew.web.dashboard import (
    account_pages,
    ask_pages,
    assets,
    decisions_pages,
    operations_pages,
    portfolio_pages,
    program_pages,
    work_pages,
)

ROUTERS: list[APIRouter] = [
    login_pages.router,
    oidc.router,
    assets.router,
    work_pages.router,
    decisions_pages.router,
    portfolio_pages.router,
    account_pages.router,
    program_pages.router,
    operations_pages.router,
    ask_pages.router,
]
