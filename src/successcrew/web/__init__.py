"""The web app run by ``successcrew serve``: survey pages, one-click unsubscribe, the e-mail
providers' event webhooks, Slack interactivity, Segment-compatible product events, ``/healthz``
and ``/metrics``. Every request is verified (signature, signed token or write key) before
anything is read from it; the endpoints call ``services/`` for every read and write.

Importing this package loads FastAPI; only ``successcrew serve`` (and the demo) do.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:
    from successcrew.web.application import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from successcrew.web.application import create_app

        return create_app
    raise AttributeError(name)
