"""The dashboard's stylesheet, served by the app itself (nothing from a CDN)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()


@lru_cache(maxsize=1)
def _stylesheet() -> bytes:
    return resources.files("successcrew.web").joinpath("static/dashboard.css").read_bytes()


@router.get("/static/dashboard.css", include_in_schema=False)
def stylesheet() -> Response:
    """``web/static/dashboard.css`` (cached for an hour)."""
    return Response(
        _stylesheet(),
        media_type="text/css",
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )
