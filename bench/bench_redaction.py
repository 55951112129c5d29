"""Benchmark: what the sanitiser costs where it runs on every row; print the figures.

    .venv/bin/python bench/bench_redaction.py [N]

Enqueues N e-mail messages (a 2 KB body each, as a campaign wave does) into a fresh SQLite file,
once with no provider secret configured (the sanitiser has nothing to look for) and once with
all eight ``SecretStr`` settings set, and prints both times and their ratio; then the cost of one
``sanitise`` of a typical provider error and of one ``redact_secrets`` of a 2 KB body.
"""

from __future__ import annotations

import os
import secrets
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from successcrew.redaction import redact_secrets, sanitise, secret_settings
from successcrew.store.db import make_engine, transaction
from successcrew.store.migrate import upgrade
from successcrew.store.outbox import enqueue_many

NOW = datetime(2026, 11, 2, tzinfo=UTC)
BODY = (
    "Hello Pat, your team's usage dropped this month. Here is what others did next: "
    "https://crew.example/s/abc123?t=signed "
) * 16


def _enqueue(count: int, tag: str) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        engine = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(engine)
        messages = [
            {
                "key": f"{tag}:{i}",
                "channel": "email",
                "payload": {
                    "to": f"pat{i}@acme.example",
                    "subject": "What teams like yours did next",
                    "text": BODY,
                    "kind": "campaign",
                },
            }
            for i in range(count)
        ]
        started = time.perf_counter()
        with transaction(engine) as session:
            enqueue_many(session, messages, now=NOW)
        elapsed = time.perf_counter() - started
        engine.dispose()
    return elapsed


def _per_call(fn: object, text: str, rounds: int = 2000) -> float:
    started = time.perf_counter()
    for _ in range(rounds):
        fn(text)  # type: ignore[operator]
    return (time.perf_counter() - started) / rounds * 1e6


def main() -> None:
    """Run the benchmark and print one line per figure."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    for name in secret_settings():
        os.environ.pop(f"SUCCESSCREW_{name.upper()}", None)
    baseline = _enqueue(count, "plain")
    for name in secret_settings():
        os.environ[f"SUCCESSCREW_{name.upper()}"] = f"{name[:4]}-{secrets.token_urlsafe(32)}"
    guarded = _enqueue(count, "guarded")
    token = os.environ["SUCCESSCREW_SLACK_TOKEN"]
    error = (
        "slack: POST /chat.postMessage answered HTTP 401: 401 Unauthorized: "
        f"Authorization: Bearer {token} (request id 8f1e2d) " + "." * 150
    )
    print(
        f"enqueue {count} e-mails: no secrets {baseline:.2f}s, 8 secrets {guarded:.2f}s, "
        f"ratio {guarded / baseline:.2f}"
    )
    print(f"sanitise one {len(error)}-char provider error: {_per_call(sanitise, error):.1f} us")
    print(f"redact_secrets one {len(BODY)}-char body: {_per_call(redact_secrets, BODY):.1f} us")


if __name__ == "__main__":
    main()
