"""The Portfolio writes a Critical score as Critical: the read model hands the page the score as
stored and ``numbers.score`` writes it (39.95 reads 39.9, never 40.0, which would read At-Risk).
On the served app over loopback HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, select

from successcrew.store.models import Account, HealthSnapshot
from tests.serving import app_in_thread

NOW = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
USERS = {"lead@example.com": "lead"}
PASSWORD = "portfolio-scores-password"


def _snapshot(account_id: int, day: date, score: float, band: str) -> dict[str, object]:
    return {
        "account_id": account_id,
        "as_of": day,
        "score": score,
        "computed_score": score,
        "band": band,
        "components": {},
        "missing_components": [],
        "model_version": "test-1",
        "stale": False,
        "created_at": datetime.combine(day, datetime.min.time(), tzinfo=UTC),
    }


def test_a_critical_score_just_under_the_edge_never_reads_as_at_risk(engine: Engine) -> None:
    today = NOW.date()
    made = datetime(2025, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            insert(Account).values(
                external_id="EDGE-1",
                name="Edge Industries",
                segment="smb",
                arr=50_000,
                renewal_date=today + timedelta(days=20),
                started_at=date(2024, 1, 1),
                created_at=made,
                updated_at=made,
            )
        )
        account = conn.execute(select(Account.id)).scalar_one()
        conn.execute(
            insert(HealthSnapshot),
            [
                _snapshot(account, today - timedelta(days=7), 60.0, "at_risk"),
                _snapshot(account, today, 39.95, "critical"),
            ],
        )
    with app_in_thread(engine, NOW, USERS, PASSWORD) as app:
        page = app.client("lead@example.com").get("/")
    assert page.status_code == 200
    cells = re.findall(r'data-label="Score">([^<]*)<', page.text)
    # The fall (60.0 -> 39.9) and the renewal (39.9), each written as Critical.
    assert cells == ["60.0 → 39.9", "39.9"], cells
    assert "40.0" not in page.text
