"""Fixtures for the integration tests: a threaded loopback server and fast HTTP policies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer

from successcrew.definitions.thresholds import RetryPolicy
from successcrew.integrations.http import HttpPolicy

#: Production retry numbers; only the sleeping is cut short in tests.
RETRY = RetryPolicy(attempts=3, backoff_initial_seconds=1, backoff_max_seconds=30, jitter=True)


@pytest.fixture(scope="session")
def _server_session() -> Iterator[HTTPServer]:
    # One server for the session: stopping werkzeug costs half a second per test.
    srv = HTTPServer(host="127.0.0.1", threaded=True)
    srv.start()
    yield srv
    srv.stop()


@pytest.fixture
def server(_server_session: HTTPServer) -> Iterator[HTTPServer]:
    """A threaded local HTTP server (a slow handler must not block the client's retries)."""
    _server_session.clear()
    yield _server_session
    _server_session.clear()


@pytest.fixture
def sleeps() -> list[float]:
    """Every wait the client asked for, recorded instead of slept."""
    return []


@pytest.fixture
def policy() -> HttpPolicy:
    """Production decisions; timeouts loose enough for a loaded CI machine (timeout tests shorten them)."""
    return HttpPolicy(retry=RETRY, connect_timeout=2.0, read_timeout=5.0)


@pytest.fixture
def fast_policy() -> HttpPolicy:
    """For code that sleeps for real (dispatcher, sync): every wait capped at 10 ms."""
    return HttpPolicy(retry=RETRY, connect_timeout=2.0, read_timeout=5.0, max_sleep_seconds=0.01)
