"""Benchmark: the dashboard's read pages on PostgreSQL with 100,000 accounts and a year of scores.

Not a timed test: run it by hand.

    python bench/bench_dashboard.py              # 100,000 accounts
    python bench/bench_dashboard.py --quick      # 10,000 accounts

It creates the database ``bench_dashboard`` (dropped at the end, unless --keep), fills it with
set-based SQL (generate_series inside PostgreSQL, not the importer): accounts in three segments,
health snapshots weekly for the year and daily for its last 90 days (a daily year would be
36.5 million rows, more than this shared box builds in reasonable time), NPS answers with
comments, program enrolments, trigger events and dead letters. It then serves the app in this
process (uvicorn on loopback), signs in as a lead, and prints per page the median server time
over 5 requests (after one warm-up), as a ratio to one plain indexed query measured in the same
run (one account's snapshot on one date by its unique index), and the statements each page ran.
Targets: the accounts table and the portfolio under 300 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import create_engine, event, text

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
DATABASE = "bench_dashboard"
AS_OF = date(2026, 6, 30)
NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
PASSWORD = "bench-dashboard-password"
TARGET_MS = 300.0
#: Pages with a target (the rest are printed without one).
TARGETED = ("/", "/accounts")


def log(message: str) -> None:
    """Progress on stderr, so stdout holds only the results."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def populate(engine: Any, accounts: int) -> dict[str, float]:
    """Fill the database set-based; returns the seconds each part took."""
    took: dict[str, float] = {}

    def step(label: str, sql: str, **params: Any) -> None:
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text(sql), params)
        took[label] = took.get(label, 0.0) + time.perf_counter() - start

    step(
        "accounts",
        """
        INSERT INTO accounts (external_id, name, segment, plan, arr, owner_email, started_at,
                              renewal_date, created_at, updated_at)
        SELECT 'ACC-' || lpad(g::text, 6, '0'), 'Company ' || g,
               (ARRAY['enterprise', 'mid_market', 'smb'])[1 + g % 3],
               (ARRAY['starter', 'pro', 'enterprise', 'pro'])[1 + g % 4],
               5000 + (g * 7919) % 200000, 'csm' || (g % 40) || '@example.com',
               date '2024-01-01', CAST(:as_of AS date) + (g * 13) % 365, now(), now()
        FROM generate_series(1, :n) g
        """,
        n=accounts,
        as_of=AS_OF,
    )
    step(
        "accounts",
        """
        INSERT INTO health_model_layouts (digest, model_version, components, created_at)
        VALUES ('bench', 'bench-1',
                '[{"name": "usage", "kind": "usage_total", "label": "Product usage",
                   "metric": "logins", "window_days": 30},
                  {"name": "support", "kind": "tickets_open", "label": "Open tickets"}]',
                now())
        """,
    )
    daily = [AS_OF - timedelta(days=d) for d in range(90)]
    weekly = [AS_OF - timedelta(days=d) for d in range(91, 365, 7)]
    dates = sorted(daily + weekly)
    # Score: a per-account level with a slow wave; a tenth of the book falls this last week.
    for start in range(0, len(dates), 15):
        chunk = dates[start : start + 15]
        step(
            "snapshots",
            """
            WITH d AS (SELECT unnest(CAST(:days AS date[])) AS as_of),
            s AS (
              SELECT a.id, d.as_of,
                     greatest(0, least(100,
                       20 + (a.id * 37) % 75
                       + 8 * sin(a.id + (d.as_of - date '2026-01-01') / 20.0)
                       - CASE WHEN a.id % 10 = 0 AND d.as_of > CAST(:as_of AS date) - 7
                              THEN 25 ELSE 0 END)) AS score
              FROM accounts a CROSS JOIN d
            )
            INSERT INTO health_snapshots (account_id, as_of, score, computed_score, band,
                                          layout_id, component_values, model_version, stale,
                                          created_at)
            SELECT s.id, s.as_of, s.score, s.score,
                   CASE WHEN s.score >= 70 THEN 'healthy'
                        WHEN s.score >= 40 THEN 'at_risk' ELSE 'critical' END,
                   (SELECT id FROM health_model_layouts WHERE digest = 'bench'),
                   ARRAY[s.score / 10, s.score / 160, 0.6, s.score * 0.6,
                         3 - s.score / 40, s.score / 100, 0.4, s.score * 0.4],
                   'bench-1', false, now()
            FROM s
            """,
            days=chunk,
            as_of=AS_OF,
        )
    step(
        "other",
        """
        INSERT INTO nps_responses (natural_key, account_id, score, comment, channel,
                                   responded_at, categories)
        SELECT 'nk-' || g, 1 + (g * 7) % :n, g % 11,
               CASE WHEN g % 3 = 0 THEN 'The export is slow and support took days' END,
               'email', CAST(:now AS timestamptz) - make_interval(hours => g % 8760),
               CASE WHEN g % 3 = 0 THEN '["performance", "support"]'::jsonb END
        FROM generate_series(1, :m) g
        """,
        n=accounts,
        m=accounts // 2,
        now=NOW,
    )
    step(
        "other",
        """
        INSERT INTO program_enrolments (program, account_id, variant, entry_rule, entry_key,
                                        status, next_step, enrolled_at)
        SELECT 'at_risk', a.id, CASE WHEN a.id % 10 = 0 THEN 'holdout' ELSE 'personal' END,
               'band', 'bench', 'active', 0, CAST(:now AS timestamptz) - interval '20 days'
        FROM accounts a WHERE a.id % 20 = 0
        """,
        now=NOW,
    )
    step(
        "other",
        """
        INSERT INTO outbox (idempotency_key, channel, payload, status, attempts,
                            next_attempt_at, last_error, account_id, created_at)
        SELECT 'bench-' || g, 'email', '{}'::jsonb,
               CASE WHEN g % 50 = 0 THEN 'dead' ELSE 'delivered' END, 1,
               CAST(:now AS timestamptz), NULL, 1 + g % :n, CAST(:now AS timestamptz)
        FROM generate_series(1, :m) g
        """,
        n=accounts,
        m=accounts // 10,
        now=NOW,
    )
    start = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    took["vacuum analyze"] = time.perf_counter() - start
    return took


def serve(app: Any, port: int) -> Any:
    """uvicorn in a thread on loopback; returns the server (``should_exit`` stops it)."""
    import uvicorn

    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server


def main(argv: list[str] | None = None) -> int:
    """Build, measure, print, drop. Returns 0 (figures are printed, never asserted)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--quick", action="store_true", help="10,000 accounts")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--reuse", action="store_true", help="measure a kept database again")
    parser.add_argument(
        "--url", default=os.environ.get("SUCCESSCREW_BENCH_POSTGRES_URL", DEFAULT_URL)
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.accounts = 10_000

    import httpx

    from successcrew.services.platform.users import add_user
    from successcrew.settings import Settings
    from successcrew.store.db import make_engine, transaction
    from successcrew.store.migrate import upgrade
    from successcrew.web.application import create_app

    admin = create_engine(args.url, isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{DATABASE}"'))
    url = admin.url.set(database=DATABASE).render_as_string(hide_password=False)
    engine = make_engine(url)
    server = None
    try:
        if not args.reuse:
            started = time.perf_counter()
            upgrade(engine)
            log(f"building {args.accounts:,} accounts and a year of snapshots")
            took = populate(engine, args.accounts)
            with transaction(engine) as session:
                add_user(
                    session,
                    "lead@example.com",
                    role="lead",
                    name="Lead",
                    password=PASSWORD,
                    by="bench",
                    now=NOW,
                    cost="low",
                )
            build_s = time.perf_counter() - started
        with engine.connect() as conn:
            snapshots = conn.execute(text("SELECT count(*) FROM health_snapshots")).scalar_one()
        print(
            f"data: {args.accounts:,} accounts, {snapshots:,} snapshots "
            "(weekly for a year, daily for its last 90 days)"
        )
        if not args.reuse:
            parts = ", ".join(f"{k} {v:.0f} s" for k, v in took.items())
            print(f"build: {build_s:.0f} s ({parts})")

        # The baseline: one account's snapshot on one date, by the unique index.
        probe = text("SELECT score FROM health_snapshots WHERE account_id = :a AND as_of = :d")
        times = []
        with engine.connect() as conn:
            for i in range(300):
                start = time.perf_counter()
                conn.execute(probe, {"a": 1 + (i * 331) % args.accounts, "d": AS_OF}).all()
                times.append(time.perf_counter() - start)
        base_ms = 1000 * statistics.median(times)

        statements = {"n": 0}
        event.listen(
            engine, "before_cursor_execute", lambda *a: statements.update(n=statements["n"] + 1)
        )
        port = 18765
        settings = Settings(
            database_url=url,
            session_secret="bench-dashboard-session-secret-0123456789",
            public_base_url=f"http://127.0.0.1:{port}",
        )
        server = serve(create_app(settings, engine=engine, clock=lambda: NOW), port)
        base = f"http://127.0.0.1:{port}"
        client = httpx.Client(base_url=base, headers={"Origin": base}, timeout=120)
        assert (
            client.post(
                "/login", data={"email": "lead@example.com", "password": PASSWORD}
            ).status_code
            == 303
        )
        pages = [
            "/",
            "/accounts",
            "/accounts?band=at_risk&segment=enterprise",
            "/accounts?sort=change&dir=desc",
            "/accounts?sort=arr&dir=desc&page=40",
            "/accounts?q=company%204242",
            "/accounts?renewal=90&band=critical",
            "/accounts/ACC-000420",
            "/programs",
            "/nps",
            "/operations",
        ]
        print(f"baseline (one indexed query): {base_ms:.2f} ms")
        print(f"{'page':45} {'median ms':>10} {'ratio':>8} {'stmts':>6}  target")
        for path in pages:
            answer = client.get(path)
            assert answer.status_code == 200, (path, answer.status_code)
            runs = []
            for _ in range(5):
                statements["n"] = 0
                start = time.perf_counter()
                client.get(path)
                runs.append(1000 * (time.perf_counter() - start))
            ms = statistics.median(runs)
            target = ""
            if path in TARGETED:
                target = f"< {TARGET_MS:.0f} ms: {'met' if ms < TARGET_MS else 'MISSED'}"
            print(f"{path:45} {ms:10.1f} {ms / base_ms:8.0f} {statements['n']:6d}  {target}")
        start = time.perf_counter()
        size = len(client.get("/accounts.csv").content)
        print(
            f"CSV export of every account: {time.perf_counter() - start:.1f} s, {size / 1e6:.1f} MB"
        )
        client.close()
    finally:
        if server is not None:
            server.should_exit = True
            time.sleep(0.5)
        engine.dispose()
        if not args.keep:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)'))
        admin.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
