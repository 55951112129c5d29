"""Benchmark: push N health scores to a local stand-in HubSpot; print requests and seconds.

    .venv/bin/python bench/bench_hubspot_push.py [N]

The stand-in answers batch/upsert as HubSpot does (at most 100 inputs per request). The figure
that matters is the request count: N / 100, rounded up (10,000 scores = 100 requests).
"""

from __future__ import annotations

import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

from pydantic import SecretStr

from successcrew.integrations import HubSpotConnector, ScoreUpdate
from successcrew.integrations.http import HttpPolicy


class _Handler(BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:
        type(self).requests += 1
        inputs = json.loads(self.rfile.read(int(self.headers["Content-Length"])))["inputs"]
        status = 200 if len(inputs) <= 100 else 400
        body = json.dumps({"status": "COMPLETE", "results": inputs}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        # A Professional-tier window with plenty left, so no pacing pause skews the timing.
        self.send_header("X-HubSpot-RateLimit-Max", "190")
        self.send_header("X-HubSpot-RateLimit-Remaining", "189")
        self.send_header("X-HubSpot-RateLimit-Interval-Milliseconds", "10000")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def main() -> None:
    """Run the benchmark and print one line of results."""
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    updates = [ScoreUpdate(str(i), f"acct-{i}", i % 101, "healthy") for i in range(count)]
    with HubSpotConnector(url, token=SecretStr("bench"), policy=HttpPolicy()) as connector:
        started = time.perf_counter()
        result = connector.push_scores(updates)
        elapsed = time.perf_counter() - started
    server.shutdown()
    print(
        f"scores={count} requests={_Handler.requests} failed={len(result.failed)} "
        f"seconds={elapsed:.2f}"
    )


if __name__ == "__main__":
    main()
