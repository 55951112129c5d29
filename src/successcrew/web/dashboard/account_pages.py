"""Accounts (``/accounts``, its CSV export) and the account page (``/accounts/{id}``) with the
override form and notes. Filter values are bound parameters and sort keys an allow-list."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import date
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, StreamingResponse
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import load_thresholds
from successcrew.domain import roles
from successcrew.errors import InputError
from successcrew.services.scoring.overrides import override_score
from successcrew.services.views.account_table import (
    BANDS,
    SORT_KEYS,
    AccountFilter,
    export_rows,
    table_page,
)
from successcrew.services.views.account_view import account_view, add_note, find_account
from successcrew.store.db import transaction
from successcrew.web.auth.identity import SignedInUser, ensure, signed_in_user, verify_csrf
from successcrew.web.dashboard.charts import score_chart
from successcrew.web.dashboard.reading import (
    bad_request,
    book_owner,
    in_book,
    now_of,
    read_session,
    web_context,
)
from successcrew.web.dashboard.rendering import render_dashboard
from successcrew.web.pages import score_text
from successcrew.web.params import whole_number

router = APIRouter()

#: The furthest page and renewal window the address may ask for (beyond: 400, saying so).
MAX_PAGE = 1_000_000
MAX_RENEWAL_DAYS = 3650

#: Query parameters the table keeps between its links (filters and sort, not the page).
FILTER_PARAMS = ("band", "segment", "owner", "plan", "renewal", "q", "sort", "dir")
CSV_COLUMNS = (
    "external_id",
    "name",
    "segment",
    "plan",
    "owner_email",
    "arr",
    "renewal_date",
    "score",
    "band",
    "change",
    "overridden",
)


def _filter(request: Request, user: SignedInUser, *, per_page: int = 50) -> AccountFilter:
    """The table's filter from the query string; ValueError naming a bad parameter."""
    p = request.query_params

    def text(name: str) -> str | None:
        value = p.get(name, "").strip()
        return value or None

    def number(name: str, default: int | None, low: int, high: int) -> int | None:
        raw = text(name)
        return default if raw is None else whole_number(raw, name=name, low=low, high=high)

    direction = text("dir") or "asc"
    if direction not in ("asc", "desc"):
        raise ValueError(f"dir={direction!r}: must be asc or desc")
    return AccountFilter(
        band=text("band"),
        segment=text("segment"),
        owner=text("owner"),
        plan=text("plan"),
        renewal_days=number("renewal", None, 0, MAX_RENEWAL_DAYS),
        search=text("q"),
        sort=text("sort") or "score",
        descending=direction == "desc",
        page=number("page", 1, 1, MAX_PAGE) or 1,
        per_page=per_page,
        book_owner=book_owner(user),
    )


def _kept(request: Request, **changes: str | int | None) -> str:
    """The current filter's query string with ``changes`` applied (for links)."""
    params = {k: request.query_params[k] for k in FILTER_PARAMS if request.query_params.get(k)}
    for k, v in changes.items():
        if v is None:
            params.pop(k, None)
        else:
            params[k] = str(v)
    return urlencode(params)


@router.get("/accounts", response_class=HTMLResponse)
def accounts(request: Request, user: SignedInUser = Depends(signed_in_user)) -> HTMLResponse:
    """The filtered, sorted, paged table."""
    try:
        f = _filter(request, user)
    except ValueError as exc:
        return bad_request(request, str(exc), "Clear the filter and choose again.")
    with read_session(request) as session:
        result, choices = table_page(session, f, now_of(request).date())
    pages = max(1, -(-result.total // f.per_page))
    sort_links = {}
    for key in SORT_KEYS:
        flip = "desc" if f.sort == key and not f.descending else "asc"
        sort_links[key] = _kept(request, sort=key, dir=flip, page=None)
    return render_dashboard(
        request,
        "dashboard/accounts.html",
        f=f,
        result=result,
        choices=choices,
        bands=BANDS,
        pages=pages,
        sort_links=sort_links,
        prev_link=_kept(request, page=f.page - 1) if f.page > 1 else None,
        next_link=_kept(request, page=f.page + 1) if f.page < pages else None,
        csv_link=_kept(request),
        book=f.book_owner,
    )


@router.get("/accounts.csv")
def accounts_csv(request: Request, user: SignedInUser = Depends(signed_in_user)) -> Any:
    """Every account matching the current filter, as CSV (streamed)."""
    try:
        f = _filter(request, user)
    except ValueError as exc:
        return bad_request(request, str(exc))
    today = now_of(request).date()
    engine = web_context(request).engine

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with Session(engine) as session:
            for n, row in enumerate(export_rows(session, f, today), 1):
                writer.writerow(
                    [
                        # A leading = + - @ would be a formula in a spreadsheet: quote it.
                        _cell(row.external_id),
                        _cell(row.name),
                        _cell(row.segment),
                        _cell(row.plan),
                        _cell(row.owner_email),
                        "" if row.arr is None else f"{row.arr:.2f}",
                        row.renewal_date or "",
                        # As every page writes it: never rounded across a band edge.
                        "" if row.score is None else score_text(row.score),
                        row.band or "",
                        "" if row.change is None else f"{row.change:.1f}",
                        "yes" if row.overridden else "",
                    ]
                )
                if n % 1000 == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
        yield buffer.getvalue()

    name = f"accounts-{today.isoformat()}.csv"
    return StreamingResponse(
        lines(),
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Cache-Control": "no-store",
        },
    )


def _cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value[0] in "=+-@\t\r" else value


def _account_in_book(session: Session, external_id: str, user: SignedInUser) -> Any:
    """The account, or None when there is none or it is outside a CSM's book (both 404)."""
    account = find_account(session, external_id)
    if account is None or not in_book(user, account.owner_email):
        return None
    return account


def _not_found(request: Request, external_id: str) -> HTMLResponse:
    return render_dashboard(
        request,
        "dashboard/message.html",
        status=404,
        heading="No such account",
        sentence=f"There is no account with the external id {external_id!r}.",
        hint="Search for it on the Accounts page.",
    )


@router.get("/accounts/{external_id:path}", response_class=HTMLResponse)
def account(
    request: Request, external_id: str, user: SignedInUser = Depends(signed_in_user)
) -> HTMLResponse:
    """Account 360: history, components, explanations, overrides, timeline, contacts, notes."""
    thresholds = load_thresholds()
    bands = thresholds.health_bands
    with read_session(request) as session:
        acc = _account_in_book(session, external_id, user)
        if acc is None:
            return _not_found(request, external_id)
        view = account_view(session, acc, now_of(request))
    chart = score_chart(
        view.history, [(bands.healthy.min, "Healthy"), (bands.at_risk.min, "At-Risk")]
    )
    return render_dashboard(
        request,
        "dashboard/account.html",
        title=acc.name,
        view=view,
        chart=chart,
        may_override=roles.can(user, roles.OVERRIDE, acc.owner_email),
        may_note=roles.can(user, roles.NOTE, acc.owner_email),
        self_path="/accounts/" + quote(acc.external_id, safe=""),
        flash=FLASH.get(request.query_params.get("done", "")),
    )


#: What the account page says after a change (``?done=<code>``; never text from the query).
FLASH = {
    "override": "Manual score set: it applies from the next scoring run on.",
    "note": "Note added.",
}


def _back(external_id: str, done: str) -> RedirectResponse:
    path = "/accounts/" + quote(external_id, safe="")
    return RedirectResponse(f"{path}?done={done}", status_code=303)


@router.post("/accounts/{external_id:path}/override", dependencies=[Depends(verify_csrf)])
def override(
    request: Request,
    external_id: str,
    score: str = Form(...),
    reason: str = Form(...),
    expires: str = Form(""),
    user: SignedInUser = Depends(signed_in_user),
) -> Any:
    """Set a manual score (the same use case as ``successcrew health override``)."""
    ctx = web_context(request)
    try:
        value = float(score)
        expiry = date.fromisoformat(expires) if expires.strip() else None
    except ValueError:
        return bad_request(request, "score must be a number 0-100 and expiry a date (YYYY-MM-DD)")
    try:
        with transaction(ctx.engine) as session:
            acc = _account_in_book(session, external_id, user)
            if acc is None:
                return _not_found(request, external_id)
            ensure(user, roles.OVERRIDE, acc.owner_email)
            override_score(
                session,
                external_id,
                score=value,
                reason=reason,
                by=user.email,
                expires=expiry,
                now=ctx.clock(),
            )
    except InputError as exc:
        return bad_request(request, str(exc))
    return _back(external_id, "override")


@router.post("/accounts/{external_id:path}/notes", dependencies=[Depends(verify_csrf)])
def note(
    request: Request,
    external_id: str,
    body: str = Form(""),
    user: SignedInUser = Depends(signed_in_user),
) -> Any:
    """Add a note to the account's timeline."""
    ctx = web_context(request)
    try:
        with transaction(ctx.engine) as session:
            acc = _account_in_book(session, external_id, user)
            if acc is None:
                return _not_found(request, external_id)
            ensure(user, roles.NOTE, acc.owner_email)
            add_note(session, external_id, by=user.email, body=body, now=ctx.clock())
    except InputError as exc:
        return bad_request(request, str(exc))
    return _back(external_id, "note")
