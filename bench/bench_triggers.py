"""Benchmark: evaluating RETENTION-001..004 and the rollback rules over 100,000 accounts.

Builds its own PostgreSQL database: accounts, a CRM link each, 15 days of health snapshots per
account, 90 days of NPS answers and 30 days of hourly component checks, all inserted set-based
with ``generate_series``. Then times ``evaluate_triggers``: the first evaluation (which opens an
event and writes outbox rows for every account in critical health or falling fast) and a repeat at
the same ``now`` (the steady state of an hourly run: nothing new). The baseline, measured in the
same run, is a plain ``SELECT band, count(*) FROM health_snapshots GROUP BY band`` over the same
snapshots; the ratios say what the trigger logic costs on top of reading the data once.

    python bench/bench_triggers.py                    # 100,000 accounts
    python bench/bench_triggers.py --accounts 20000   # quicker

Needs PostgreSQL (SUCCESSCREW_BENCH_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1/test);
creates and drops its own database.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from datetime import UTC, datetime

from sqlalchemy import create_engine, func, select, text

ADMIN_URL = os.environ.get(
    "SUCCESSCREW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
NOW = datetime(2026, 11, 20, 7, tzinfo=UTC)
DAYS = 15  # RETENTION-001's 14-day drop window plus today

FILL = """
INSERT INTO accounts (id, external_id, name, segment, arr, owner_email, started_at, churned_at,
                      created_at, updated_at)
SELECT a, 'B-' || a, 'Account ' || a,
       (ARRAY['smb', 'mid_market', 'enterprise'])[1 + a % 3],
       1000 + (a * 7919) % 200000, 'owner' || a % 50 || '@vendor.example',
       DATE '2024-01-01' + (a % 500),
       -- about 2 % churned during the last complete month (October)
       CASE WHEN a % 50 = 0 THEN DATE '2026-10-01' + (a % 28) END,
       :now, :now
FROM generate_series(1, :n) AS a;
SELECT setval(pg_get_serial_sequence('accounts', 'id'), :n);

INSERT INTO account_sources (account_id, source, source_id)
SELECT a, 'hubspot', 'hs-' || a FROM generate_series(1, :n) AS a;

-- A stable base score per account with daily noise; 3 % critical, 1 % falling 25 points today.
INSERT INTO health_snapshots (account_id, as_of, score, computed_score, band, components,
                              missing_components, model_version, stale, created_at)
SELECT a, d::date, s, s,
       CASE WHEN s >= 70 THEN 'healthy' WHEN s >= 40 THEN 'at_risk' ELSE 'critical' END,
       jsonb_build_object('logins', jsonb_build_object('label', 'logins', 'kind', 'trend',
                          'raw', s / 100, 'contribution', s, 'window_days', 30)),
       '[]'::jsonb, 'bench-1', false, :now
FROM (
  SELECT a, d,
         round((CASE WHEN a % 33 = 0 THEN 5 + (a % 30)
                     ELSE 45 + (a * 7919) % 5000 / 100.0 END
                + ((a + extract(doy FROM d)::int) % 7) - 3
                - CASE WHEN a % 100 = 1 AND d::date = :today THEN 25 ELSE 0 END)::numeric, 2)::float
           AS s
  FROM generate_series(1, :n) AS a,
       generate_series(CAST(:today AS date) - :days + 1, CAST(:today AS date),
                       interval '1 day') AS d
) AS x;

INSERT INTO nps_responses (natural_key, account_id, score, responded_at)
SELECT 'n' || i, 1 + (i * 31) % :n, (i * 7) % 11,
       CAST(:now AS timestamptz) - (i % 90) * interval '1 day'
FROM generate_series(1, :n / 2) AS i;

INSERT INTO component_checks (component, checked_at, ok, error, detail)
SELECT c, CAST(:now AS timestamptz) - h * interval '1 hour', h % 97 <> 5,
       CASE WHEN h % 97 = 5 THEN 'timeout' END,
       CASE WHEN c = 'crm_sync' THEN
         jsonb_build_object('attempted', 1000, 'failed', 12, 'error_rate_pct', 1.2) END
FROM unnest(ARRAY['crm_sync', 'health_scoring', 'campaign_dispatch', 'nps_surveys']) AS c,
     generate_series(1, 720) AS h;
ANALYZE;
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    args = parser.parse_args()

    from successcrew.definitions.thresholds import load_thresholds
    from successcrew.services.triggers.evaluation import evaluate_triggers, sync_trigger_definitions
    from successcrew.settings import Settings
    from successcrew.store.db import make_engine, transaction
    from successcrew.store.migrate import upgrade
    from successcrew.store.models import OutboxMessage, TriggerEvent

    name = f"sc_bench_triggers_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
        params = {"n": args.accounts, "now": NOW, "today": NOW.date(), "days": DAYS}
        started = time.perf_counter()
        with engine.begin() as conn:
            for statement in FILL.split(";\n"):
                if statement.strip():
                    conn.execute(text(statement), params)
        with transaction(engine) as session:
            sync_trigger_definitions(session, NOW)
        print(
            f"data: {args.accounts:,} accounts, {args.accounts * DAYS:,} snapshots, "
            f"{args.accounts // 2:,} NPS answers ({time.perf_counter() - started:.1f} s to load)"
        )

        thresholds = load_thresholds()
        settings = Settings(slack_token=None)

        def timed(label: str) -> float:
            started = time.perf_counter()
            summary = evaluate_triggers(engine, thresholds, NOW, settings=settings)
            seconds = time.perf_counter() - started
            parts = ", ".join(f"{t.code} {t.status} {t.fired} fired" for t in summary.triggers)
            print(f"{label}: {seconds:.3f} s ({parts})")
            return seconds

        first = timed("first evaluation")
        repeat = timed("repeat at the same now")
        with engine.connect() as conn:
            events = conn.execute(select(func.count()).select_from(TriggerEvent)).scalar_one()
            outbox = conn.execute(select(func.count()).select_from(OutboxMessage)).scalar_one()
            started = time.perf_counter()
            bands = conn.execute(
                text("SELECT band, count(*) FROM health_snapshots GROUP BY band")
            ).all()
            baseline = time.perf_counter() - started
        print(f"events {events:,}, outbox rows {outbox:,}; bands {dict(bands)}")
        print(f"baseline SELECT band, count(*) GROUP BY band: {baseline:.3f} s")
        print(
            f"ratio first/baseline {first / baseline:.1f}x, "
            f"repeat/baseline {repeat / baseline:.1f}x"
        )
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
