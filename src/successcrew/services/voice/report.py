"""The insights report (Stage 33): Markdown and a self-contained HTML page with SVG charts.

``generate_report(engine, out_dir, now)`` gathers the figures (a fixed number of grouped queries,
none per account), then renders ``report.md``, ``report.html`` and ``charts/*.svg`` from the
Jinja2 templates in ``services/report_templates``. The HTML inlines its charts and styles so a
customer-success lead can forward the one file as it is.

NPS figures and cohort retention come from the health branch's metric functions
(``store.metrics``), so the report and the exit gates agree on every number.
"""

from __future__ import annotations

import calendar
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any, TypedDict

from sqlalchemy import Engine, and_, func, select
from sqlalchemy.orm import Session

from successcrew import numbers
from successcrew.domain.comment_analysis import effective_categories, tone_of
from successcrew.domain.metrics import add_months, month_start
from successcrew.services.voice.report_charts import BAND_LABELS, BANDS, report_charts
from successcrew.store.db import transaction
from successcrew.store.models import (
    Account,
    HealthSnapshot,
    NpsResponse,
    SurveyInvitation,
)

TEMPLATES = Path(__file__).resolve().parent / "report_templates"
QUOTES_PER_THEME = 2
TREND_MONTHS = 12
THEME_LABELS = {"ux": "UX", "missing_feature": "missing feature"}


class NpsMonth(TypedDict):
    """NPS of one calendar month (``month`` as ``YYYY-MM``; ``nps`` None without answers)."""

    month: str
    nps: float | None
    responses: int
    promoters: int
    detractors: int


class NpsComment(TypedDict):
    """An NPS answer with a comment, its effective categories and its account."""

    id: int
    score: int
    comment: str
    responded_at: datetime
    sentiment: float | None
    categories: list[str]
    account: str
    segment: str | None
    churned_at: date | None


class Quote(TypedDict):
    """A comment quoted under a theme (one line, at most 220 characters)."""

    text: str
    score: int
    segment: str
    date: str


class Theme(TypedDict):
    """A comment category as a theme: how often, its tone, and recent quotes."""

    name: str
    label: str
    count: int
    share_pct: float
    tone: str
    negative: int
    neutral: int
    positive: int
    negative_pct: float | None
    positive_pct: float | None
    quotes: list[Quote]


# --- figures ---------------------------------------------------------------------------------


def _month_end(first: date) -> date:
    return first.replace(day=calendar.monthrange(first.year, first.month)[1])


def _months(now: datetime, count: int) -> list[date]:
    """First days of the last ``count`` months, oldest first, the current month last."""
    current = month_start(now.date())
    return [add_months(current, -i) for i in range(count - 1, -1, -1)]


def _quote(text: str) -> str:
    # One line, no table-breaking pipes, bounded length: quotes sit in tables and lists.
    flat = " ".join(text.split()).replace("|", "/")
    return flat if len(flat) <= 220 else flat[:217] + "..."


def nps_trend(session: Session, now: datetime) -> list[NpsMonth]:
    """NPS of each of the last 12 calendar months (answers in that month)."""
    from successcrew.store.metric_queries import nps_figures

    rows: list[NpsMonth] = []
    for first in _months(now, TREND_MONTHS):
        last = min(_month_end(first), now.date())
        figures = nps_figures(session, last, (last - first).days + 1)
        rows.append(
            {
                "month": first.strftime("%Y-%m"),
                "nps": figures.nps,
                "responses": figures.responses,
                "promoters": figures.promoters,
                "detractors": figures.detractors,
            }
        )
    return rows


def comments_between(
    session: Session, since: datetime, now: datetime, *, owner: str | None = None
) -> list[NpsComment]:
    """NPS answers with a comment from ``since`` to ``now``, newest first, each with its
    effective categories (a person's correction over the automatic reading); ``owner``
    narrows them to the accounts one CSM owns."""
    query = (
        select(
            NpsResponse.id,
            NpsResponse.score,
            NpsResponse.comment,
            NpsResponse.responded_at,
            NpsResponse.sentiment,
            NpsResponse.categories,
            NpsResponse.categories_manual,
            Account.name,
            Account.segment,
            Account.churned_at,
        )
        .join(Account, Account.id == NpsResponse.account_id)
        .where(
            NpsResponse.comment.is_not(None),
            NpsResponse.comment != "",
            NpsResponse.responded_at >= since,
            NpsResponse.responded_at <= now,
        )
        .order_by(NpsResponse.responded_at.desc(), NpsResponse.id.desc())
    )
    if owner is not None:
        query = query.where(Account.owner_email == owner)
    rows = session.execute(query).all()
    return [
        {
            "id": r.id,
            "score": r.score,
            "comment": r.comment,
            "responded_at": r.responded_at,
            "sentiment": r.sentiment,
            "categories": effective_categories(r.categories, r.categories_manual),
            "account": r.name,
            "segment": r.segment,
            "churned_at": r.churned_at,
        }
        for r in rows
    ]


def themes_of(comments: list[NpsComment]) -> list[Theme]:
    """The comments' categories as themes, most frequent first, with tone and recent quotes."""
    counts: Counter[str] = Counter()
    quotes: dict[str, list[Quote]] = defaultdict(list)
    sentiments: dict[str, list[float | None]] = defaultdict(list)
    for c in comments:
        for name in c["categories"]:
            counts[name] += 1
            sentiments[name].append(c["sentiment"])
            # Newest first: the examples are recent, and each quote appears once per theme.
            if len(quotes[name]) < QUOTES_PER_THEME and all(
                q["text"] != _quote(c["comment"]) for q in quotes[name]
            ):
                quotes[name].append(
                    {
                        "text": _quote(c["comment"]),
                        "score": c["score"],
                        "segment": c["segment"] or "unknown",
                        "date": c["responded_at"].date().isoformat(),
                    }
                )
    total = len(comments)
    themes: list[Theme] = []
    for name, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        tone = tone_of(sentiments[name])
        themes.append(
            {
                "name": name,
                "label": THEME_LABELS.get(name, name.replace("_", " ")),
                "count": n,
                "share_pct": 100 * n / total if total else 0.0,
                # The comments' own labels counted, not a mean (which lets polite words in a
                # few comments outweigh the complaints in the rest).
                "tone": tone.label,
                "negative": tone.negative,
                "neutral": tone.neutral,
                "positive": tone.positive,
                "negative_pct": tone.negative_pct,
                "positive_pct": tone.positive_pct,
                "quotes": quotes[name],
            }
        )
    return themes


def health_trends(session: Session, now: datetime, months: int = 6) -> dict[str, Any]:
    """Band counts and mean score at the last scoring date of each month, and band movements
    between the latest scoring date and the one closest to 30 days before it."""
    since = add_months(month_start(now.date()), -(months - 1))
    dates = [
        d
        for (d,) in session.execute(
            select(HealthSnapshot.as_of)
            .where(HealthSnapshot.as_of >= since, HealthSnapshot.as_of <= now.date())
            .group_by(HealthSnapshot.as_of)
            .order_by(HealthSnapshot.as_of)
        )
    ]
    if not dates:
        return {"months": [], "movements": None}
    last_per_month: dict[str, date] = {}
    for d in dates:
        last_per_month[d.strftime("%Y-%m")] = d
    chosen = sorted(last_per_month.values())
    stats: dict[date, dict[str, Any]] = {
        d: {"as_of": d, "counts": dict.fromkeys(BANDS, 0), "mean": None, "n": 0} for d in chosen
    }
    for as_of, band, n, mean in session.execute(
        select(
            HealthSnapshot.as_of,
            HealthSnapshot.band,
            func.count(),
            func.avg(HealthSnapshot.score),
        )
        .where(HealthSnapshot.as_of.in_(chosen))
        .group_by(HealthSnapshot.as_of, HealthSnapshot.band)
    ):
        entry = stats[as_of]
        entry["counts"][band] = int(n)
        total = entry["n"] + int(n)
        entry["mean"] = (
            float(mean)
            if entry["mean"] is None
            else (entry["mean"] * entry["n"] + float(mean) * int(n)) / total
        )
        entry["n"] = total
    latest = dates[-1]
    target = latest - timedelta(days=30)
    earlier = min(dates, key=lambda d: (abs((d - target).days), d))
    movements = None
    if earlier != latest:
        old = HealthSnapshot.__table__.alias("old")
        new = HealthSnapshot.__table__.alias("new")
        matrix = {a: dict.fromkeys(BANDS, 0) for a in BANDS}
        for old_band, new_band, n in session.execute(
            select(old.c.band, new.c.band, func.count())
            .select_from(old.join(new, and_(old.c.account_id == new.c.account_id)))
            .where(old.c.as_of == earlier, new.c.as_of == latest)
            .group_by(old.c.band, new.c.band)
        ):
            matrix[old_band][new_band] = int(n)
        movements = {
            "from": earlier.isoformat(),
            "to": latest.isoformat(),
            "matrix": matrix,
            "improved": matrix["critical"]["at_risk"]
            + matrix["critical"]["healthy"]
            + matrix["at_risk"]["healthy"],
            "worsened": matrix["healthy"]["at_risk"]
            + matrix["healthy"]["critical"]
            + matrix["at_risk"]["critical"],
        }
    return {
        "months": [
            {
                "month": s["as_of"].strftime("%Y-%m"),
                "as_of": s["as_of"].isoformat(),
                "counts": s["counts"],
                "mean": s["mean"],
                "accounts": s["n"],
            }
            for s in (stats[d] for d in chosen)
        ],
        "movements": movements,
    }


def churn_reasons(
    session: Session, comments_all: list[NpsComment], now: datetime
) -> dict[str, Any]:
    """Why accounts left: categories of comments from accounts that churned in the last year,
    answered in the 180 days before their churn, plus exit survey answers."""
    year_ago = now.date() - timedelta(days=365)
    churned = session.scalar(
        select(func.count())
        .select_from(Account)
        .where(Account.churned_at.is_not(None), Account.churned_at > year_ago)
    )
    exit_ids = {
        rid
        for (rid,) in session.execute(
            select(SurveyInvitation.response_id).where(
                SurveyInvitation.kind == "exit", SurveyInvitation.response_id.is_not(None)
            )
        )
    }
    relevant = [
        c
        for c in comments_all
        if c["id"] in exit_ids
        or (
            c["churned_at"] is not None
            and c["churned_at"] > year_ago
            and c["churned_at"] - timedelta(days=180) <= c["responded_at"].date() <= c["churned_at"]
            and c["score"] <= 8
        )
    ]
    themes = [t for t in themes_of(relevant) if t["name"] != "praise"]
    return {
        "churned_accounts": int(churned or 0),
        "comments": len(relevant),
        "accounts_with_comments": len({c["account"] for c in relevant}),
        "themes": themes,
    }


def feature_requests(comments: list[NpsComment], limit: int = 8) -> dict[str, Any]:
    """Comments in the ``missing_feature`` category, newest first."""
    found = [c for c in comments if "missing_feature" in c["categories"]]
    by_text: Counter[str] = Counter(_quote(c["comment"]) for c in found)
    return {
        "count": len(found),
        "accounts": len({c["account"] for c in found}),
        "top": [{"text": t, "mentions": n} for t, n in by_text.most_common(limit)],
    }


def program_results(session: Session, now: datetime) -> list[dict[str, Any]]:
    """Enrolments and A/B evaluation per playbook."""
    from successcrew.definitions.playbooks import load_playbooks
    from successcrew.services.programs.results import enrolment_summary, evaluate

    summary = enrolment_summary(session)
    results = []
    for book in load_playbooks():
        evaluation = evaluate(session, book, now=now).as_dict()
        results.append(
            {
                "id": book.id,
                "name": book.spec.name,
                "holdout_pct": book.spec.holdout_pct,
                "outcome": (
                    f"Healthy within {book.spec.outcome.days} days"
                    if book.spec.outcome.kind == "recovered_healthy"
                    else f"still a customer {book.spec.outcome.days} days after enrolment"
                ),
                "enrolments": summary.get(
                    book.id, {"total": 0, "by_status": {}, "by_variant": {}, "exit_reasons": {}}
                ),
                "comparisons": evaluation["comparisons"],
                "treatment_delivered": evaluation["treatment_delivered"],
                "enrolled": evaluation["enrolled"],
                "reached": evaluation["reached"],
                "not_reached": evaluation["not_reached"],
                "recovered_after_treatment": evaluation["recovered_after_treatment"],
                "messages": evaluation["messages"],
                "held_reason": evaluation["held_reason"],
                "min_sample": book.spec.min_sample,
            }
        )
    return results


def what_worked(
    programs: list[dict[str, Any]], themes: list[Theme], trend: list[NpsMonth]
) -> list[str]:
    """Plain sentences: significant wins first, then what the data does not show yet.

    Only enrolments the program reached count: a program whose messages never left the outbox
    gets no credit for what its accounts did anyway, and says so.
    """
    lines = []
    for p in programs:
        if not p["treatment_delivered"]:
            why = f" (held because {p['held_reason']})" if p["held_reason"] else ""
            lines.append(
                f"{p['name']}: no treatment delivered. {numbers.count(p['enrolled'])} accounts "
                f"were enrolled for treatment but none of its messages reached them{why}, so it "
                "shows no result."
            )
            continue
        if p["not_reached"]:
            lines.append(
                f"{p['name']}: {numbers.count(p['not_reached'])} of {numbers.count(p['enrolled'])} "
                "accounts enrolled for "
                "treatment were never reached (their messages were not delivered) and are not "
                "counted."
            )
        for c in p["comparisons"]:
            if c["significant"] and c["uplift"] > 0:
                low, high = c["ci95"]
                lines.append(
                    f"{p['name']} - variant '{c['variant']}' beat the holdout by "
                    f"{numbers.points(c['uplift'])} ({numbers.points(low)} to "
                    f"{numbers.points(high)}, p = {c['p_value']:.3f}) on '{p['outcome']}'. "
                    "Keep it."
                )
            elif c["significant"] and c["uplift"] < 0:
                lines.append(
                    f"{p['name']} - variant '{c['variant']}' did worse than doing nothing "
                    f"({numbers.points(c['uplift'])}, p = {c['p_value']:.3f}). Stop or rework it."
                )
        recovered = p["recovered_after_treatment"]
        if recovered:
            lines.append(
                f"{p['name']}: {numbers.count(recovered)} accounts recovered to Healthy after the "
                "program reached them."
            )
    if not any("beat the holdout" in line for line in lines):
        lines.append(
            "No playbook variant has shown a significant improvement over its holdout yet; "
            "results firm up as enrolments mature."
        )
    praise = next((t for t in themes if t["name"] == "praise"), None)
    if praise:
        lines.append(
            f"Customers praise us in {numbers.count(praise['count'])} comments "
            f"({numbers.percent(praise['share_pct'], 0)}): "
            f'e.g. "{praise["quotes"][0]["text"]}"'
            if praise["quotes"]
            else f"Customers praise us in {numbers.count(praise['count'])} comments."
        )
    known = [(m["month"], m["nps"]) for m in trend if m["nps"] is not None]
    if len(known) >= 2:
        (first_month, first), (last_month, last) = known[0], known[-1]
        delta = last - first
        lines.append(f"NPS moved {delta:+.0f} points from {first_month} to {last_month}.")
    return lines


def collect(engine: Engine, now: datetime) -> dict[str, Any]:
    """All figures for the report as of ``now``."""
    from successcrew.store.metric_queries import nps_figures, portfolio_retention

    with transaction(engine) as session:
        today = now.date()
        active = session.scalar(
            select(func.count())
            .select_from(Account)
            .where((Account.churned_at.is_(None)) | (Account.churned_at > today))
        )
        churned_90 = session.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.churned_at > today - timedelta(days=90), Account.churned_at <= today)
        )
        nps_90 = nps_figures(session, today, 90)
        trend = nps_trend(session, now)
        year = comments_between(session, now - timedelta(days=365), now)
        quarter = [c for c in year if c["responded_at"] >= now - timedelta(days=90)]
        themes = themes_of(quarter)
        retention = portfolio_retention(session, today)
        programs = program_results(session, now)
        document = {
            "as_of": now.isoformat(),
            "headline": {
                "active_accounts": int(active or 0),
                "churned_last_90_days": int(churned_90 or 0),
                "nps_90_days": nps_90.nps,
                "nps_responses_90_days": nps_90.responses,
                "comments_90_days": len(quarter),
            },
            "nps_trend": trend,
            "themes": themes,
            "churn_reasons": churn_reasons(session, year, now),
            "feature_requests": feature_requests(
                [c for c in year if c["responded_at"] >= now - timedelta(days=180)]
            ),
            "health": health_trends(session, now),
            "retention": retention.as_dict(),
            "programs": programs,
        }
        document["what_worked"] = what_worked(programs, themes, trend)
    return document


def narrative(doc: dict[str, Any]) -> dict[str, str] | None:
    """A model's few sentences over the figures when one is configured (else None: the report
    reads as before). The figures stay the crew's own; the text is labelled as the model's."""
    from successcrew.services.model.assistant import current

    assistant = current()
    if assistant is None:
        return None
    figures = {k: doc[k] for k in ("as_of", "headline", "what_worked", "retention") if k in doc}
    figures["themes"] = [
        {"label": t.get("label"), "count": t.get("count"), "tone": t.get("tone")}
        for t in doc.get("themes") or []
    ]
    text = assistant.report_summary(figures)
    return {"text": text, "model": assistant.model} if text else None


# --- rendering -------------------------------------------------------------------------------


def _environment() -> Any:
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        undefined=StrictUndefined,
        # HTML and SVG escape customer text; Markdown is plain text.
        autoescape=lambda name: bool(name) and name.endswith((".html.j2", ".svg.j2")),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    # Numbers as people write them (numbers.py); report.json keeps the raw figures.
    env.filters["pct"] = lambda v, d=1: numbers.percent(v, d, missing="-")
    env.filters["pts"] = numbers.points
    env.filters["rate"] = numbers.rate
    env.filters["signed"] = numbers.signed
    env.filters["count"] = numbers.count
    env.filters["score"] = numbers.score
    env.filters["label"] = lambda v: BAND_LABELS.get(v, str(v).replace("_", " "))
    return env


def _charts(env: Any, doc: dict[str, Any]) -> dict[str, str]:
    return {
        name: env.get_template(f"chart_{kind}.svg.j2").render(chart=chart)
        for name, (kind, chart) in report_charts(doc).items()
    }


def render_report_html(engine: Engine, now: datetime) -> str:
    """The weekly report as report.html holds it (charts inline), for the dashboard to serve;
    the figures are read as of ``now`` and nothing is written."""
    doc = collect(engine, now)
    doc["narrative"] = narrative(doc)
    env = _environment()
    return env.get_template("report.html.j2").render(doc=doc, svgs=_charts(env, doc), bands=BANDS)


def generate_report(engine: Engine, out_dir: Path, now: datetime) -> dict[str, Any]:
    """Write report.md, report.html, report.json and charts/*.svg into ``out_dir``."""
    import json

    doc = collect(engine, now)
    doc["narrative"] = narrative(doc)
    env = _environment()
    out_dir.mkdir(parents=True, exist_ok=True)
    chart_dir = out_dir / "charts"
    chart_dir.mkdir(exist_ok=True)
    svgs = _charts(env, doc)
    for name, svg in svgs.items():
        (chart_dir / f"{name}.svg").write_text(svg, encoding="utf-8")
    context = {"doc": doc, "svgs": svgs, "bands": BANDS}
    markdown = out_dir / "report.md"
    html = out_dir / "report.html"
    markdown.write_text(env.get_template("report.md.j2").render(**context), encoding="utf-8")
    html.write_text(env.get_template("report.html.j2").render(**context), encoding="utf-8")
    (out_dir / "report.json").write_text(json.dumps(doc, indent=2, default=str), encoding="utf-8")
    return {
        "markdown": str(markdown),
        "html": str(html),
        "json": str(out_dir / "report.json"),
        "charts": sorted(str(chart_dir / f"{n}.svg") for n in svgs),
        "headline": doc["headline"],
    }
