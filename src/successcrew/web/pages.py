"""HTML pages: Jinja2 templates shipped in ``web/templates``, autoescaped (customer-written
comments are shown as text, never as markup)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import jinja2
from fastapi.responses import HTMLResponse

from successcrew import numbers

#: Headers on every page: no caching of personal pages, no framing, no sniffing, no scripts.
PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


#: Dashboard pages: the app's own stylesheet, no script; ``same-origin`` referrers so the
#: browser sends this site's Origin with its forms (``no-referrer`` would make it ``null``).
DASHBOARD_HEADERS = {
    **PAGE_HEADERS,
    "Referrer-Policy": "same-origin",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
}


@lru_cache(maxsize=1)
def _band_edges() -> tuple[float, ...]:
    from successcrew.definitions.thresholds import load_thresholds

    return tuple(load_thresholds().health_bands.boundaries)


def score_text(value: float | None) -> str:
    """A score as every other output writes it: never shown across a band edge (39.95 is 39.9)."""
    return numbers.score(value, _band_edges())


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    """The template environment (autoescape on for every template), with the one number
    formatter (successcrew.numbers) as globals, so pages write numbers as the CLI does."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("successcrew.web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    env.globals.update(count=numbers.count, amount=numbers.amount, score_text=score_text)
    return env


def page(
    name: str, status: int = 200, *, headers: dict[str, str] | None = None, **context: Any
) -> HTMLResponse:
    """Render template ``name`` as the response (``headers``: PAGE_HEADERS unless given)."""
    context.setdefault("title", "successcrew")
    html = environment().get_template(name).render(**context)
    return HTMLResponse(html, status_code=status, headers=headers or PAGE_HEADERS)


def message(title: str, sentence: str, status: int, hint: str | None = None) -> HTMLResponse:
    """A page that says in a sentence what happened (and what to do)."""
    return page("message.html", status, title=title, sentence=sentence, hint=hint)
