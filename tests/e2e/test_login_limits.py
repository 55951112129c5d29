"""Failed sign-ins are limited for the whole server, not per worker: ``successcrew serve
--workers 2`` as a real process, each guess on a new connection (so both workers take some),
(here) one failure a minute per e-mail and ten times that per client address, and the wait the
refusal names is what is left of the minute.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from successcrew.clock import utcnow
from successcrew.services.platform.users import add_user
from successcrew.store.db import make_engine, transaction
from tests.serving import Served, base_env, module_database, start_serve, stop_serve

pytestmark = pytest.mark.xdist_group("serve")

PASSWORD = "the right password, at last"
RATE = 1


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def served(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Served, str]]:
    folder: Path = tmp_path_factory.mktemp(f"login-limits-{request.param}")
    template = request.getfixturevalue("sqlite_template") if request.param == "sqlite" else None
    with module_database(request.param, folder, template) as url:
        engine = make_engine(url)
        with transaction(engine) as session:
            for email in ("guessed@example.com", "other@example.com"):
                add_user(
                    session,
                    email,
                    role="lead",
                    name=None,
                    password=PASSWORD,
                    by="tests",
                    now=utcnow(),
                    cost="low",
                )
        engine.dispose()
        env = base_env(
            url,
            SUCCESSCREW_SESSION_SECRET="login-limits-session-secret-0123456789",
            SUCCESSCREW_LOGIN_RATE_PER_MINUTE=str(RATE),
        )
        running = start_serve(env, folder, "--workers", "2", timeout=90)
        try:
            yield running, url
        finally:
            stop_serve(running)


def _sign_in(
    served: Served, email: str, password: str, client: str = "203.0.113.5"
) -> httpx.Response:
    # A new connection per guess: uvicorn's workers share the socket, so guesses land on both.
    with httpx.Client(base_url=served.base, timeout=30) as http:
        return http.post(
            "/login",
            data={"email": email, "password": password},
            headers={"Origin": served.base, "X-Forwarded-For": client},
        )


def _wait(answer: httpx.Response) -> int:
    found = re.search(r"Wait (\d+) s", answer.text)
    assert found, answer.text[:500]
    return int(found.group(1))


def test_the_failures_a_minute_per_email_count_across_workers(served: tuple[Served, str]) -> None:
    server, _ = served
    started = time.monotonic()
    codes = [_sign_in(server, "guessed@example.com", f"guess {i}").status_code for i in range(10)]
    assert codes == [401] * RATE + [429] * (10 - RATE)
    refused = _sign_in(server, "guessed@example.com", PASSWORD)
    assert refused.status_code == 429
    # What is left of the minute since the first failure (not a token bucket's few seconds).
    left = 60 - (time.monotonic() - started)
    assert left - 3 <= _wait(refused) <= 60
    # Another e-mail from the same client is not held back by this one's failures.
    assert _sign_in(server, "other@example.com", PASSWORD).status_code == 303


def test_a_client_address_gets_ten_times_the_allowance(served: tuple[Served, str]) -> None:
    from concurrent.futures import ThreadPoolExecutor

    server, _ = served
    client = "198.51.100.23"
    limit = RATE * 10
    # At the same moment, on both workers: racing attempts never get past the limit either.
    with ThreadPoolExecutor(limit) as pool:
        codes = list(
            pool.map(
                lambda i: _sign_in(server, f"nobody{i}@example.com", "wrong", client).status_code,
                range(limit),
            )
        )
    assert codes == [401] * limit
    assert _sign_in(server, "other@example.com", PASSWORD, client).status_code == 429
    # From another address the same user signs in.
    assert _sign_in(server, "other@example.com", PASSWORD, "198.51.100.24").status_code == 303
