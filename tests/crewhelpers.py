"""Helpers for crew tests: a crew on a test database, a small book of accounts, day stepping."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert

from successcrew.crew.customer_success import CustomerSuccessCrew
from successcrew.definitions.thresholds import load_thresholds
from successcrew.settings import Settings
from successcrew.store.models import Account, HealthSnapshot

DAY1 = date(2026, 11, 2)


def day(n: int, hour: int = 6) -> datetime:
    """Simulated clock on setup day ``n`` (day 1 = DAY1)."""
    d = DAY1 + timedelta(days=n - 1)
    return datetime(d.year, d.month, d.day, hour, tzinfo=UTC)


#: A crew whose only task is the stock dispatch operation (no setup flow to start on day 0).
DISPATCH_ONLY_CREW = """\
name: dispatch_only
setup:
  steps: []
operations:
  tasks:
    - {id: dispatch, cadence: hourly, agent: success_infrastructure_architect, tool: dispatch_outbox}
"""


def dispatch_only_project(root: Path) -> Path:
    """A ``SUCCESSCREW_PROJECT_DIR`` under ``root`` whose crew only dispatches the outbox."""
    project = root / "dispatch-only-project"
    (project / "crews").mkdir(parents=True)
    (project / "crews" / "customer_success.yaml").write_text(DISPATCH_ONLY_CREW)
    return project


def make_crew(engine: Engine, **kw: Any) -> CustomerSuccessCrew:
    """The crew with no provider configured (outbox only) and a survey-link signing secret."""
    settings = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        survey_secret="test-survey-secret",
    )
    return CustomerSuccessCrew(engine, settings=settings, thresholds=load_thresholds(), **kw)


def seed_accounts(engine: Engine, n: int = 20) -> None:
    """``n`` active accounts, ARR 10,000 .. n*10,000, owners set."""
    now = datetime(2026, 10, 1, tzinfo=UTC)
    rows = [
        {
            "external_id": f"T-{i:03d}",
            "name": f"Test Co {i}",
            "segment": "enterprise" if i > n - 3 else "smb",
            "plan": "pro",
            "arr": 10_000 * i,
            "owner_email": f"owner{i}@example.com",
            "started_at": date(2025, 1, 1),
            "created_at": now,
            "updated_at": now,
        }
        for i in range(1, n + 1)
    ]
    with engine.begin() as conn:
        conn.execute(insert(Account), rows)


def plant_snapshot(engine: Engine, external_id: str, as_of: date, score: float) -> None:
    """A health snapshot as the health engine would store it (for escalation tests)."""
    band = "healthy" if score >= 70 else "at_risk" if score >= 40 else "critical"
    with engine.begin() as conn:
        account_id = conn.execute(
            Account.__table__.select().where(Account.external_id == external_id)
        ).one()[0]
        conn.execute(
            insert(HealthSnapshot).values(
                account_id=account_id,
                as_of=as_of,
                score=score,
                computed_score=score,
                band=band,
                components={
                    "usage": {
                        "label": "Usage",
                        "kind": "usage_total",
                        "raw": 12.0,
                        "window_days": 30,
                    },
                    "nps": {"label": "Latest NPS", "kind": "latest_nps", "raw": 3.0},
                },
                missing_components=[],
                model_version="test",
                stale=False,
                created_at=datetime(as_of.year, as_of.month, as_of.day, tzinfo=UTC),
            )
        )
