"""Benchmark: ``successcrew serve`` on PostgreSQL under webhook and product-event load.

    .venv/bin/python bench/bench_serve.py [--workers 2] [--threads 8]

Starts ``successcrew serve`` as a process on a fresh PostgreSQL database, then posts at the
same time: 10,000 SendGrid events in signed batches of 100, 2,000 Segment ``track`` events in
batches of 20, and Slack button clicks (one per escalation, signed) while that load runs.
Prints events per second and latency percentiles per kind, then checks every event was stored
exactly once (a few batches are re-posted as SendGrid would retry them) and that the Slack
clicks answered within Slack's 3 seconds at the 99th percentile.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

import httpx
from sqlalchemy import create_engine, func, insert, select, text

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.serving import base_env, free_port, start_serve, stop_serve
from tests.signing import sendgrid_headers, sendgrid_keypair, slack_headers

from successcrew.store.db import make_engine, transaction
from successcrew.store.migrate import upgrade
from successcrew.store.models import (
    Account,
    Contact,
    EmailEvent,
    Escalation,
    InboundReceipt,
    OutboxMessage,
    UsageEvent,
)

ADMIN = os.environ.get(
    "SUCCESSCREW_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
SLACK_SECRET = "bench-slack-secret"
WRITE_KEY = "bench-write-key"
CHAIR = "U0BENCH01"
NOW = datetime.now(UTC)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def seed(url: str, contacts: int, escalations: int) -> tuple[list[tuple[str, str]], list[int]]:
    engine = make_engine(url)
    upgrade(engine)
    with transaction(engine) as s:
        account = s.execute(
            insert(Account)
            .values(external_id="BENCH-1", name="Bench", created_at=NOW, updated_at=NOW)
            .returning(Account.id)
        ).scalar_one()
        rows = [
            {
                "external_id": f"bc-{i}",
                "account_id": account,
                "email": f"b{i}@bench.example",
                "created_at": NOW,
                "updated_at": NOW,
            }
            for i in range(contacts)
        ]
        ids = s.execute(insert(Contact).returning(Contact.id, Contact.email), rows).all()
        s.execute(
            insert(OutboxMessage),
            [
                {
                    "idempotency_key": f"program:at_risk:1:0:{cid}",
                    "channel": "email",
                    "payload": {
                        "kind": "campaign",
                        "program": "at_risk",
                        "contact_id": cid,
                        "to": email,
                    },
                    "status": "delivered",
                    "attempts": 1,
                    "next_attempt_at": NOW,
                    "created_at": NOW,
                    "account_id": account,
                }
                for cid, email in ids
            ],
        )
        esc_ids = (
            s.execute(
                insert(Escalation).returning(Escalation.id),
                [
                    {
                        "kind": "critical_high_value",
                        "account_id": account,
                        "title": f"Bench escalation {i}",
                        "context": {},
                        "status": "open",
                        "created_at": NOW,
                        "expires_at": NOW + timedelta(days=2),
                    }
                    for i in range(escalations)
                ],
            )
            .scalars()
            .all()
        )
    engine.dispose()
    return [(f"program:at_risk:1:0:{cid}", email) for cid, email in ids], list(esc_ids)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=8)
    parser.add_argument("--sendgrid-events", type=int, default=10_000)
    parser.add_argument("--segment-events", type=int, default=2_000)
    parser.add_argument("--slack-clicks", type=int, default=40)
    args = parser.parse_args()

    name = f"sc_bench_serve_{uuid.uuid4().hex[:6]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    folder = Path(tempfile.mkdtemp(prefix="bench-serve-"))
    served = None
    try:
        recipients, escalations = seed(url, 1000, args.slack_clicks)
        project = folder / "project" / "config"
        project.mkdir(parents=True)
        (project / "escalation.yaml").write_text(f"deciders: [{CHAIR}]\n")
        private, public = sendgrid_keypair()
        env = base_env(
            url,
            SUCCESSCREW_PROJECT_DIR=str(folder / "project"),
            SUCCESSCREW_SENDGRID_WEBHOOK_PUBLIC_KEY=public,
            SUCCESSCREW_SEGMENT_WRITE_KEY=WRITE_KEY,
            SUCCESSCREW_SLACK_SIGNING_SECRET=SLACK_SECRET,
        )
        served = start_serve(
            env,
            folder,
            "--workers",
            str(args.workers),
            "--no-access-log",
            port=free_port(),
            timeout=60,
        )
        base = served.base

        kinds = ["delivered", "open", "click", "processed"]
        batches = []
        for b in range(args.sendgrid_events // 100):
            events = []
            for i in range(100):
                key, email = recipients[(b * 100 + i) % len(recipients)]
                events.append(
                    {
                        "email": email,
                        "timestamp": int(NOW.timestamp()),
                        "event": kinds[i % 4],
                        "sg_event_id": f"bench-{b}-{i}",
                        "successcrew_key": key,
                    }
                )
            batches.append(json.dumps(events).encode())
        segment = []
        per = 20
        for b in range(args.segment_events // per):
            calls = [
                {
                    "type": "track",
                    "messageId": f"seg-{b}-{i}",
                    "userId": f"u{i}",
                    "event": "Signed In",
                    "context": {"groupId": "BENCH-1"},
                    "timestamp": NOW.isoformat(),
                }
                for i in range(per)
            ]
            segment.append(json.dumps({"batch": calls}).encode())

        client = httpx.Client(
            base_url=base, timeout=60, limits=httpx.Limits(max_connections=args.threads * 3)
        )
        timings: dict[str, list[float]] = {"sendgrid": [], "segment": [], "slack": []}

        def post_sendgrid(body: bytes) -> None:
            started = time.perf_counter()
            r = client.post(
                "/webhooks/sendgrid", content=body, headers=sendgrid_headers(private, body)
            )
            timings["sendgrid"].append(time.perf_counter() - started)
            assert r.status_code == 200, r.text

        def post_segment(body: bytes) -> None:
            started = time.perf_counter()
            r = client.post(
                "/v1/batch",
                content=body,
                auth=(WRITE_KEY, ""),
                headers={"Content-Type": "application/json"},
            )
            timings["segment"].append(time.perf_counter() - started)
            assert r.status_code == 200, r.text

        def click(esc_id: int) -> None:
            payload = {
                "type": "block_actions",
                "user": {"id": CHAIR},
                "channel": {"id": "C1"},
                "container": {"message_ts": "1.0"},
                "actions": [{"action_id": "escalation_approve", "value": f"{esc_id}:approve"}],
            }
            body = urlencode({"payload": json.dumps(payload)}).encode()
            time.sleep(0.05)
            started = time.perf_counter()
            r = client.post(
                "/slack/interactions", content=body, headers=slack_headers(SLACK_SECRET, body)
            )
            timings["slack"].append(time.perf_counter() - started)
            assert r.status_code == 200, r.text

        jobs = [(post_sendgrid, b) for b in batches] + [(post_segment, b) for b in segment]
        # Interleave so the three kinds overlap for the whole run; retries of 10 batches at the end.
        jobs.sort(key=lambda j: hash(j[1]) % 1000)
        step = max(1, len(jobs) // max(1, len(escalations)))
        for n, esc in enumerate(escalations):
            jobs.insert(min(len(jobs), n * step + 1), (click, esc))
        jobs += [(post_sendgrid, b) for b in batches[:10]]
        started = time.perf_counter()
        with ThreadPoolExecutor(args.threads) as pool:
            for future in [pool.submit(fn, arg) for fn, arg in jobs]:
                future.result()
        elapsed = time.perf_counter() - started
        client.close()

        engine = make_engine(url)
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(EmailEvent)).scalar_one()
            receipts = conn.execute(
                select(func.count()).where(InboundReceipt.source == "sendgrid")
            ).scalar_one()
            usage = conn.execute(select(func.count()).select_from(UsageEvent)).scalar_one()
            decided = conn.execute(
                select(func.count()).where(Escalation.decided_via == "slack")
            ).scalar_one()
        engine.dispose()
        total = args.sendgrid_events + args.segment_events
        print(f"serve --workers {args.workers}, {args.threads} client threads, PostgreSQL")
        print(
            f"  all requests: {len(jobs)} in {elapsed:.1f} s; "
            f"{total / elapsed:,.0f} events/s overall"
        )
        for kind, values in timings.items():
            if values:
                print(
                    f"  {kind:<8} {len(values):>4} requests"
                    f"  p50 {statistics.median(values) * 1000:7.1f} ms"
                    f"  p99 {percentile(values, 99) * 1000:7.1f} ms"
                    f"  max {max(values) * 1000:7.1f} ms"
                )
        print(
            f"  stored once: email_events {stored} (of {args.sendgrid_events}, 10 batches "
            f"re-posted), receipts {receipts}, usage_events {usage} (of {args.segment_events}), "
            f"slack decisions {decided}"
        )
        ok = (
            stored == args.sendgrid_events
            and receipts == args.sendgrid_events
            and usage == args.segment_events
            and decided == len(escalations)
            and percentile(timings["slack"], 99) < 3.0
        )
        print("  OK" if ok else "  FAILED")
        return 0 if ok else 1
    finally:
        if served is not None:
            stop_serve(served)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
