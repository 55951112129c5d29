"""Benchmark: importing a large usage file into PostgreSQL (rows per second, peak memory).

Prints, for a small and a large file of raw usage events: rows per second, peak RSS of the
importing process, and the ratio to a baseline measured in the same run (a bare ``COPY`` of the
same rows into an unindexed table, the floor for any importer). Memory must stay flat as the
file grows: the peak RSS ratio large/small is printed too.

    python bench/bench_import.py                 # 1,000,000 rows (and 250,000 for the memory ratio)
    python bench/bench_import.py --rows 200000   # quicker

Needs PostgreSQL (SUCCESSCREW_BENCH_POSTGRES_URL, default postgresql+psycopg://postgres@127.0.0.1/test);
creates and drops its own database.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text

ADMIN_URL = os.environ.get(
    "SUCCESSCREW_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
ACCOUNTS = 2000


def write_usage(path: Path, rows: int, seed: int = 1) -> None:
    rng = random.Random(seed)
    start = datetime(2026, 5, 1, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["account_external_id", "metric", "value", "occurred_at"])
        for i in range(rows):
            at = start + timedelta(seconds=rng.randrange(180 * 86400), microseconds=i % 1_000_000)
            writer.writerow(
                [
                    f"B-{rng.randrange(ACCOUNTS):05d}",
                    rng.choice(("logins", "api_calls", "reports_created")),
                    rng.randint(1, 20),
                    at.isoformat(),
                ]
            )


def child(url: str, path: str) -> None:
    """Run one import in this process and print its figures as JSON."""
    from successcrew.imports.pipeline import import_file
    from successcrew.store.db import make_engine

    engine = make_engine(url)
    started = time.perf_counter()
    result = import_file(engine, "usage", Path(path), now=datetime.now(UTC))
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rows": result.rows, "seconds": seconds, "peak_rss_mb": peak_kb / 1024}))


def baseline_copy(url: str, path: Path) -> float:
    """Seconds for a bare COPY of the file into an unindexed text table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TEMP TABLE raw (a text, m text, v text, t text)"))
        dbapi = conn.connection.dbapi_connection
        started = time.perf_counter()
        with (
            dbapi.cursor() as cur,
            path.open("rb") as handle,
            cur.copy("COPY raw FROM STDIN WITH (FORMAT csv, HEADER true)") as copy,
        ):
            while chunk := handle.read(1 << 20):
                copy.write(chunk)
        seconds = time.perf_counter() - started
    engine.dispose()
    return seconds


def measure(url: str, path: Path) -> dict[str, float]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", url, str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--child", nargs=2, metavar=("URL", "PATH"))
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    from successcrew.imports.pipeline import import_file
    from successcrew.store.db import make_engine
    from successcrew.store.migrate import upgrade

    name = f"sc_bench_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    try:
        engine = make_engine(url)
        upgrade(engine)
        with tempfile.TemporaryDirectory() as tmp:
            tmp_path = Path(tmp)
            accounts = tmp_path / "accounts.csv"
            accounts.write_text(
                "external_id,name\n" + "".join(f"B-{i:05d},Bench {i}\n" for i in range(ACCOUNTS))
            )
            import_file(engine, "accounts", accounts, now=datetime.now(UTC))
            small_rows = max(args.rows // 4, 1000)
            results = {}
            for label, rows in (("small", small_rows), ("large", args.rows)):
                path = tmp_path / f"usage_{label}.csv"
                write_usage(path, rows, seed=rows)
                base = baseline_copy(url, path)
                figures = measure(url, path)
                figures["baseline_copy_seconds"] = base
                results[label] = figures
                print(
                    f"{rows:>10,} rows: {figures['rows'] / figures['seconds']:>9,.0f} rows/s "
                    f"({figures['seconds']:.1f} s), peak RSS {figures['peak_rss_mb']:.0f} MB, "
                    f"bare COPY {base:.2f} s -> import/COPY ratio {figures['seconds'] / base:.1f}"
                )
            with engine.connect() as conn:
                daily = conn.execute(text("SELECT count(*) FROM usage_daily")).scalar_one()
            engine.dispose()
        ratio = results["large"]["peak_rss_mb"] / results["small"]["peak_rss_mb"]
        print(
            f"memory: peak RSS large/small = {ratio:.2f} for {args.rows / small_rows:.0f}x the "
            f"rows (flat when close to 1); daily rows rolled up: {daily:,}"
        )
        print(f"date: {date.today().isoformat()}, cores: {os.cpu_count()}")
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
