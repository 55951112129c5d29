"""Ask (``/ask``): a question over the book, answered by the optional model from read-only
tools, with the accounts (linked to their pages), the figures it used and what it cost.

The same function as ``successcrew ask`` answers (``llm.ask.answer_question``): one code path.
crewAI and LangChain are imported on the first question, never when the app starts, so a
dashboard without a model (or without the extra) loads neither; the box is then absent and the
page says why. The tools see every account, so asking is for roles that see the whole book
(``roles.ASK``). A model's text is untrusted: the template autoescapes all of it.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from successcrew.domain import roles
from successcrew.errors import SuccessCrewError
from successcrew.web.auth.identity import SignedInUser, require, signed_in_user, verify_csrf
from successcrew.web.dashboard.reading import now_of, web_context
from successcrew.web.dashboard.rendering import render_dashboard

router = APIRouter()

#: One question at a time per process: an answer takes seconds of both cores, and crewAI's
#: first import points HOME at successcrew's data directory for its length.
_one_at_a_time = threading.Lock()


def unavailable(request: Request) -> str | None:
    """Why there is no Ask box here, or None (reads settings and installed packages only)."""
    from successcrew.llm.setup import ask_unavailable

    return ask_unavailable(web_context(request).settings)


def _page(request: Request, user: SignedInUser, **context: Any) -> HTMLResponse:
    context.setdefault("question", "")
    context.setdefault("result", None)
    context.setdefault("error", None)
    context.setdefault("links", {})
    return render_dashboard(
        request,
        "dashboard/ask.html",
        unavailable=unavailable(request),
        may_ask=roles.can(user, roles.ASK),
        refusal=roles.check(user, roles.ASK).reason,
        **context,
    )


@router.get("/ask", response_class=HTMLResponse)
def ask_page(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """The Ask box (or why it is absent)."""
    return _page(request, user)


@router.post("/ask", response_class=HTMLResponse, dependencies=[Depends(verify_csrf)])
def ask_question(
    request: Request,
    question: str = Form(""),
    user: SignedInUser = Depends(require(roles.ASK)),
) -> HTMLResponse:
    """Answer ``question`` and show the answer on the page (the answer is not stored; what it
    spent is, in ``model_usage``, and shows under Operations)."""
    reason = unavailable(request)
    if reason:
        return _page(request, user, question=question)
    from successcrew.llm.ask import answer_question

    ctx = web_context(request)
    try:
        with _one_at_a_time:
            result = answer_question(ctx.settings, ctx.engine, question, now=now_of(request))
    except SuccessCrewError as exc:
        return _page(request, user, question=question, error=str(exc))
    # The answer may cite an account by id or by external id: link both.
    links: dict[int | str, dict[str, Any]] = {}
    for a in result["accounts"]:
        link = {"href": "/accounts/" + quote(a["external_id"], safe=""), **a}
        links[a["id"]] = links[a["external_id"]] = link
    return _page(request, user, question=result["question"], result=result, links=links)
