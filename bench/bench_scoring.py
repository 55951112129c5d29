"""Benchmark: health scoring and the daily roll-up against a hand-written query over raw events.

Not a timed test: run it by hand on PostgreSQL.

    python bench/bench_scoring.py                 # 100,000 accounts, 50 million events, 180 days
    python bench/bench_scoring.py --quick         # 10,000 accounts, 2 million events
    python bench/bench_scoring.py --accounts 100000 --events 20000000

It creates its own database (dropped at the end, unless --keep), fills it with set-based SQL
(generate_series inside PostgreSQL, no Python loops), and prints:

* baseline: one hand-written aggregate over the raw events (per-account 30-day event count and
  last activity), the cost of answering "how active is everyone" without the daily roll-up;
* scoring: ``successcrew score`` for one date (every account, default model, snapshots written)
  from ``usage_daily``, as a ratio of the baseline (target <= 0.5);
* roll-up: rolling one new day of raw events into ``usage_daily`` with the store's ``rollup``,
  as a ratio of the baseline (target <= 0.05);
* peak RSS of this process.

Usage events are skewed the way real products are: a few large accounts produce most events
(account = N * random()^2), spread over four metrics and 180 days.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, create_engine, text

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
AS_OF = date(2026, 6, 30)


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def timed(label: str, fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Best-of-``repeat`` wall time of ``fn`` (the first run also warms the cache)."""
    times = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    best = min(times)
    extra = f" (runs: {', '.join(f'{t:.2f}' for t in times)})" if repeat > 1 else ""
    log(f"{label}: {best:.2f} s{extra}")
    return best, result


def populate(engine: Engine, accounts: int, events: int, days: int) -> None:
    """Accounts, raw events, daily roll-up, tickets, invoices and NPS answers, all in SQL."""
    first_day = AS_OF - timedelta(days=days - 1)
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO accounts (id, external_id, name, segment, plan, arr, started_at,
                                  created_at, updated_at)
            SELECT g, 'B' || g, 'Bench ' || g,
                   (ARRAY['smb','smb','smb','mid_market','mid_market','enterprise'])[1 + g % 6],
                   'pro', 1000 + (g % 97) * 500, DATE '2024-01-01' + (g % 300), now(), now()
            FROM generate_series(1, :n) g
            """),
            {"n": accounts},
        )
        conn.execute(text("SELECT setval('accounts_id_seq', :n)"), {"n": accounts})
    # Bulk loading is far faster without index maintenance and foreign-key checks on every row;
    # the indexes the queries use are rebuilt right after (the foreign key is left off: the
    # benchmark database is thrown away and no benchmarked query reads it).
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE usage_events DROP CONSTRAINT uq_usage_events_event_key"))
        conn.execute(text("DROP INDEX ix_usage_events_day_account"))
        conn.execute(
            text("ALTER TABLE usage_events DROP CONSTRAINT fk_usage_events_account_id_accounts")
        )
    log(f"generating {events:,} raw events over {days} days ...")
    chunk = 5_000_000
    for offset in range(0, events, chunk):
        size = min(chunk, events - offset)
        with engine.begin() as conn:
            conn.execute(
                text("""
                INSERT INTO usage_events (event_key, account_id, metric, value, occurred_at, day)
                SELECT 'e' || g, account_id,
                       (ARRAY['logins','logins','api_calls','api_calls','api_calls',
                              'active_users','reports_created'])[1 + g % 7],
                       1.0, ts, (ts AT TIME ZONE 'UTC')::date
                FROM (
                    SELECT g, 1 + floor(:accounts * power(random(), 2))::int AS account_id,
                           CAST(:first AS timestamptz)
                               + random() * make_interval(days => :days) AS ts
                    FROM generate_series(:lo, :hi) g
                ) e
                """),
                {
                    "accounts": accounts,
                    "first": datetime(first_day.year, first_day.month, first_day.day, tzinfo=UTC),
                    "days": days,
                    "lo": offset + 1,
                    "hi": offset + size,
                },
            )
        log(f"  {offset + size:,} events")
    log("building usage_events indexes ...")
    with engine.begin() as conn:
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        conn.execute(
            text(
                "ALTER TABLE usage_events ADD CONSTRAINT uq_usage_events_event_key "
                "UNIQUE (event_key)"
            )
        )
        conn.execute(
            text("CREATE INDEX ix_usage_events_day_account ON usage_events (day, account_id)")
        )
    log("rolling up all days into usage_daily (setup, not measured) ...")
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE usage_daily DROP CONSTRAINT pk_usage_daily"))
        # Day by day, as the daily roll-up fills the table in production: rows of one day end
        # up together on disk, which is what makes reading "the last 60 days" cheap.
        conn.execute(text("SET LOCAL work_mem = '256MB'"))
        conn.execute(
            text("""
            INSERT INTO usage_daily (account_id, metric, day, value, event_count)
            SELECT account_id, metric, day, sum(value), count(*)
            FROM usage_events GROUP BY day, account_id, metric ORDER BY day, account_id, metric
            """)
        )
        conn.execute(text("SET maintenance_work_mem = '512MB'"))
        conn.execute(
            text(
                "ALTER TABLE usage_daily ADD CONSTRAINT pk_usage_daily "
                "PRIMARY KEY (day, account_id, metric)"
            )
        )
        # What the roll-up keeps beside the daily totals: each pair's first active day.
        conn.execute(
            text("""
            INSERT INTO usage_first_activity (account_id, metric, first_day)
            SELECT account_id, metric, min(day) FROM usage_daily WHERE value > 0
            GROUP BY account_id, metric
            """)
        )
    with engine.begin() as conn:
        # A ticket for every fourth account, an invoice each (some overdue), NPS for a fifth.
        conn.execute(
            text("""
            INSERT INTO tickets (external_id, account_id, opened_at, closed_at, priority)
            SELECT 'T' || g, 1 + (g * 4) % :n,
                   CAST(:asof AS timestamptz) - (g % 60) * interval '1 day',
                   CASE WHEN g % 3 = 0 THEN NULL
                        ELSE CAST(:asof AS timestamptz) - (g % 20) * interval '1 day' END,
                   (ARRAY['low','normal','high','urgent'])[1 + g % 4]
            FROM generate_series(1, :n / 4) g
            """),
            {"n": accounts, "asof": datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)},
        )
        conn.execute(
            text("""
            INSERT INTO invoices (external_id, account_id, amount, due_at, issued_at, paid_at,
                                  status)
            SELECT 'I' || g, g, 1000, CAST(:asof AS date) - (g % 45),
                   CAST(:asof AS date) - 30 - (g % 45),
                   CASE WHEN g % 10 = 0 THEN NULL ELSE CAST(:asof AS date) - (g % 40) END,
                   CASE WHEN g % 10 = 0 THEN 'open' ELSE 'paid' END
            FROM generate_series(1, :n) g
            """),
            {"n": accounts, "asof": AS_OF},
        )
        conn.execute(
            text("""
            INSERT INTO nps_responses (natural_key, account_id, score, responded_at)
            SELECT 'N' || g, 1 + (g * 5) % :n, g % 11,
                   CAST(:asof AS timestamptz) - (g % 200) * interval '1 day'
            FROM generate_series(1, :n / 5) g
            """),
            {"n": accounts, "asof": datetime(AS_OF.year, AS_OF.month, AS_OF.day, tzinfo=UTC)},
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("VACUUM ANALYZE"))


def add_new_day(engine: Engine, accounts: int, per_day: int, new_day: date) -> date:
    """One more day of raw events, as an import would add it (indexes in place)."""
    with engine.begin() as conn:
        conn.execute(
            text("""
            INSERT INTO usage_events (event_key, account_id, metric, value, occurred_at, day)
            SELECT 'n' || CAST(:day AS text) || '-' || g,
                   1 + floor(:accounts * power(random(), 2))::int,
                   (ARRAY['logins','logins','api_calls','api_calls','api_calls',
                          'active_users','reports_created'])[1 + g % 7],
                   1.0, CAST(:start AS timestamptz) + random() * interval '1 day',
                   CAST(:day AS date)
            FROM generate_series(1, :events) g
            """),
            {
                "accounts": accounts,
                "events": per_day,
                "start": datetime(new_day.year, new_day.month, new_day.day, tzinfo=UTC),
                "day": new_day,
            },
        )
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(text("ANALYZE usage_events"))
    return new_day


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns 0 (the figures are printed, never asserted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=180)
    parser.add_argument("--quick", action="store_true", help="10,000 accounts, 2 million events")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument(
        "--url", default=os.environ.get("SUCCESSCREW_BENCH_POSTGRES_URL", DEFAULT_URL)
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts, args.events = 10_000, 2_000_000

    from successcrew.definitions.health_model import load_health_model
    from successcrew.definitions.thresholds import load_thresholds
    from successcrew.services.scoring.health_scores import run_scoring
    from successcrew.store.db import make_engine
    from successcrew.store.migrate import upgrade
    from successcrew.store.scoring_sql import usage_weeks
    from successcrew.store.usage import rollup, settle_usage

    name = f"sc_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    started = time.perf_counter()
    try:
        upgrade(engine)
        log(f"database {name}: {args.accounts:,} accounts, {args.events:,} events")
        populate(engine, args.accounts, args.events, args.days)
        with engine.connect() as conn:
            daily_rows = conn.execute(text("SELECT count(*) FROM usage_daily")).scalar_one()
        setup_s = time.perf_counter() - started
        log(f"setup done in {setup_s:.0f} s; usage_daily holds {daily_rows:,} rows")

        def baseline() -> int:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("""
                    SELECT account_id,
                           count(*) FILTER (WHERE day > :since) AS events_30d,
                           max(occurred_at) AS last_activity
                    FROM usage_events
                    WHERE day <= :asof
                    GROUP BY account_id
                    """),
                    {"since": AS_OF - timedelta(days=30), "asof": AS_OF},
                ).all()
            return len(rows)

        base_s, base_rows = timed(
            "baseline: 30-day count + last activity over raw events", baseline, repeat=3
        )

        model = load_health_model()
        thresholds = load_thresholds()
        bands = thresholds.health_bands

        # Weekly totals: a scoring run sums a week the first time it needs it, so in steady
        # state the daily run builds at most one new week a week. Built here for the dates
        # timed below (the first one timed, as the once-a-week cost).
        def build(day: date) -> int:
            with engine.begin() as conn:
                weeks = usage_weeks(model, day)
                settle_usage(conn, day, weeks)
            return len(weeks)

        weeks_s, weeks_n = timed(f"weekly totals for the weeks {AS_OF} reads", lambda: build(AS_OF))
        for back in (1, 2):
            build(AS_OF - timedelta(days=back))
        with engine.connect() as conn:
            # (autovacuum would do this in production; the benchmark's server may have it off)
            conn.execution_options(isolation_level="AUTOCOMMIT").execute(
                text("ANALYZE usage_weekly")
            )

        def score_on(day: date) -> Callable[[], int]:
            # The `successcrew score` path: each input's freshness checked first, the model
            # compared with the previous date's, the snapshots written, the checks recorded.
            def score() -> int:
                outcome = run_scoring(
                    engine,
                    bands,
                    day,
                    now=datetime.now(UTC),
                    load_model=lambda: model,
                    freshness=thresholds.data_freshness,
                )
                assert outcome.ok and not outcome.summary["stale_components"], outcome.summary
                return int(outcome.summary["scored"])

            return score

        # Every timed run scores a date with no snapshots yet (the daily job's case: insert, not
        # replace); re-scoring a date already scored is timed apart, for information.
        score_times = []
        scored = 0
        for back in range(3):
            elapsed, scored = timed(
                f"scoring all accounts for {AS_OF - timedelta(days=back)} (snapshots inserted)",
                score_on(AS_OF - timedelta(days=back)),
            )
            score_times.append(elapsed)
        score_s = min(score_times)
        rescore_s, _ = timed(
            "re-scoring a date already scored (snapshots replaced)", score_on(AS_OF)
        )

        per_day = args.events // args.days
        # Every timed run rolls up a day nobody rolled up before (its rows are all inserted).
        rollup_times = []
        for ahead in range(1, 4):
            new_day = add_new_day(engine, args.accounts, per_day, AS_OF + timedelta(days=ahead))

            def roll(day: date = new_day) -> None:
                with engine.begin() as conn:
                    rollup(conn, days=[day])

            elapsed, _ = timed(
                f"roll-up of {new_day} ({per_day:,} raw events, rows inserted)", roll
            )
            rollup_times.append(elapsed)
        rollup_s = min(rollup_times)
        rerun_s, _ = timed("roll-up of the same day again (nothing changed)", roll)

        def settle() -> int:
            with engine.begin() as conn:
                return settle_usage(conn, new_day)

        # The roll-ups marked their days; the next scoring run takes them into first activity.
        settle_s, settled = timed(
            "first-activity upkeep for the new days (next scoring run)", settle
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

        print(f"accounts            {args.accounts:,}")
        print(
            f"raw events          {args.events:,} over {args.days} days "
            f"(+{per_day:,} for the new day)"
        )
        print(f"usage_daily rows    {daily_rows:,}")
        print(f"baseline            {base_s:.2f} s ({base_rows:,} accounts)")
        print(
            f"scoring             {score_s:.2f} s ({scored:,} snapshots)  "
            f"ratio {score_s / base_s:.3f} (target <= 0.5)  "
            f"[runs {', '.join(f'{t:.2f}' for t in score_times)}]"
        )
        print(f"  re-scoring a date  {rescore_s:.2f} s  ratio {rescore_s / base_s:.3f}")
        print(
            f"  weekly totals      {weeks_n} weeks summed in {weeks_s:.2f} s "
            f"({weeks_s / max(weeks_n, 1):.2f} s a week, once a week by the first scoring run "
            "that reads the week)"
        )
        print(
            f"roll-up one day     {rollup_s:.2f} s  ratio {rollup_s / base_s:.4f} "
            "(target <= 0.05)  "
            f"[runs {', '.join(f'{t:.2f}' for t in rollup_times)}]"
        )
        print(
            f"  same day again    {rerun_s:.2f} s  ratio {rerun_s / base_s:.4f} (nothing changed)"
        )
        print(
            f"  first-activity upkeep for {settled} new days, done by the next scoring run: "
            f"{settle_s:.2f} s ({settle_s / max(settled, 1):.2f} s a day)"
        )
        print(f"peak RSS (python)   {peak_mb:.0f} MB")
        print(f"setup               {setup_s:.0f} s; total {time.perf_counter() - started:.0f} s")
        print(
            f"baseline: best of 3 runs; scoring and roll-up: best of 3 first runs (3 dates, 3 new "
            f"days); model {model.version}, {len(model.default.components)} components"
        )
    finally:
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
