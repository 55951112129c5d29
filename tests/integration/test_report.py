"""The insights report over synthetic history loaded through the importer."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine, func, select

from successcrew.definitions.feedback_categories import load_taxonomy
from successcrew.definitions.playbooks import load_playbooks, load_program_settings
from successcrew.definitions.thresholds import load_thresholds
from successcrew.demo.synthetic import generate, write_csv
from successcrew.domain.metrics import nps_from_counts
from successcrew.imports.pipeline import import_file
from successcrew.services.programs.runs import run_programs
from successcrew.services.scoring.health_scores import run_scoring
from successcrew.services.voice.feedback import categorise_responses
from successcrew.services.voice.report import generate_report
from successcrew.store.db import transaction
from successcrew.store.models import Account, HealthSnapshot, NpsResponse, ProgramEnrolment

END = date(2026, 11, 1)
NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def load(engine: Engine, tmp_path: Path) -> None:
    data = generate(seed=11, accounts=60, end=END, days=240)
    paths = write_csv(data, tmp_path / "data")
    for kind in data.kinds():
        import_file(engine, kind, paths[kind], now=NOW)
    bands = load_thresholds().health_bands
    books = load_playbooks()
    settings = load_program_settings()
    # Score month by month (and weekly in the last month) and run the programs on each date.
    days = [date(2026, m, 1) for m in range(6, 11)] + [
        END - timedelta(days=d) for d in (21, 14, 7, 0)
    ]
    for day in days:
        when = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
        run_scoring(engine, bands, day, now=when)
        with transaction(engine) as s:
            run_programs(
                s,
                books,
                settings=settings,
                threshold_pct=10,
                base_url="https://cs.example",
                now=when,
                link_secret="test-link-secret",
            )
    with transaction(engine) as s:
        categorise_responses(s, load_taxonomy().categoriser())


def test_report_sections_and_figures_match_the_database(engine: Engine, tmp_path: Path) -> None:
    load(engine, tmp_path)
    out = tmp_path / "report"
    result = generate_report(engine, out, NOW)
    markdown = (out / "report.md").read_text()
    html = (out / "report.html").read_text()
    for section in (
        "## What worked",
        "## Churn reasons",
        "## Feature requests",
        "## NPS trend",
        "## Themes in NPS comments",
        "## Health-score trends and band movements",
        "## Retention by cohort",
        "## Playbooks and A/B tests",
    ):
        assert section in markdown
        assert section[3:] in html
    assert html.count("<svg") >= 5 and "<script" not in html
    for chart in ("nps_trend", "themes", "churn_reasons", "retention_cohorts", "health_bands"):
        svg = (out / "charts" / f"{chart}.svg").read_text()
        assert svg.startswith("<svg") and f"charts/{chart}.svg" in markdown

    with engine.connect() as conn:
        active = conn.execute(
            select(func.count())
            .select_from(Account)
            .where((Account.churned_at.is_(None)) | (Account.churned_at > END))
        ).scalar_one()
        scores = (
            conn.execute(
                select(NpsResponse.score).where(
                    NpsResponse.responded_at >= datetime(2026, 10, 1, tzinfo=UTC),
                    NpsResponse.responded_at < datetime(2026, 11, 1, tzinfo=UTC),
                )
            )
            .scalars()
            .all()
        )
        healthy_latest = conn.execute(
            select(func.count())
            .select_from(HealthSnapshot)
            .where(HealthSnapshot.as_of == END, HealthSnapshot.band == "healthy")
        ).scalar_one()
        enrolments = conn.execute(select(func.count()).select_from(ProgramEnrolment)).scalar_one()
        pricing = (
            conn.execute(
                select(NpsResponse.categories).where(
                    NpsResponse.responded_at >= NOW - timedelta(days=90),
                    NpsResponse.responded_at <= NOW,
                    NpsResponse.comment.is_not(None),
                    NpsResponse.comment != "",
                )
            )
            .scalars()
            .all()
        )

    assert result["headline"]["active_accounts"] == active
    assert f"{active} active accounts" in markdown
    # October's NPS, computed here from the raw scores, appears in the trend table.
    october = nps_from_counts(
        sum(s >= 9 for s in scores), sum(7 <= s <= 8 for s in scores), sum(s <= 6 for s in scores)
    )
    assert october is not None
    assert f"| 2026-10 | {october:+.1f} | {len(scores)} |" in markdown
    # Health: the latest scoring date's Healthy count is in the band table.
    assert f"| 2026-11 (2026-11-01) | {healthy_latest} |" in markdown
    # Themes: the pricing count over the last 90 days matches the stored categories.
    pricing_count = sum("pricing" in (c or []) for c in pricing)
    assert pricing_count > 0
    assert f"### Pricing: {pricing_count} comments" in markdown
    # Playbooks: enrolments are reported per program and add up.
    reported = [int(n) for n in re.findall(r"\n(\d+) enrolments", markdown)]
    assert enrolments > 0 and sum(reported) == enrolments
    assert "not enough data" in markdown
