"""Browser tests: a real ``successcrew serve`` over a test database, a user of every role, and
Playwright pages signed in through the sign-in form, driving Debian's chromium.

Fixtures (used from ``tests/browser/``):

- ``dashboard``: the running server (module scope, once on SQLite and once on PostgreSQL):
  ``dashboard.base``, ``dashboard.engine`` (write test data straight to its database),
  ``dashboard.password``, ``dashboard.users`` (role -> e-mail), ``dashboard.http(role)`` (an
  httpx client signed in as ``role``, for posting forms directly).
- ``signed_in(role)``: a Playwright page signed in as ``role`` (a fresh browser context).
- ``screenshot(page, name)``: writes ``name.png``. Kept in ``$SUCCESSCREW_SCREENSHOTS`` when set
  (``SUCCESSCREW_SCREENSHOTS=bench/out/screens python -m pytest tests/browser``), else in
  the test's temporary folder.

Playwright cannot download browsers here: it launches ``/usr/bin/chromium`` (``apt-get install
chromium``). Without it the tests skip saying so, unless ``SUCCESSCREW_REQUIRE_BROWSER=1`` (as in
CI), where that is a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, select

from successcrew.domain.roles import ROLES
from successcrew.services.platform.users import add_user
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import User
from tests.serving import Served, base_env, free_port, module_database, start_serve, stop_serve

CHROMIUM = os.environ.get("SUCCESSCREW_CHROMIUM", "/usr/bin/chromium")
REQUIRE_BROWSER = os.environ.get("SUCCESSCREW_REQUIRE_BROWSER") == "1"
SESSION_SECRET = "browser-test-session-secret-0123456789"
PASSWORD = "correct horse battery staple"
#: The demo's start: pages that show dates relative to "now" see the same day each run.
NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def require_chromium() -> None:
    """Skip (or, with SUCCESSCREW_REQUIRE_BROWSER=1, fail) when chromium is not installed."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (install it: apt-get install chromium)"
    if REQUIRE_BROWSER:
        pytest.fail(f"browser tests are required (SUCCESSCREW_REQUIRE_BROWSER=1) but {reason}")
    pytest.skip(f"browser tests need chromium: {reason}")


def user_email(role: str) -> str:
    """The test user of ``role``."""
    return f"{role}@example.com"


@dataclass
class Dashboard:
    """A running dashboard and a way into its database."""

    served: Served
    engine: Engine
    users: dict[str, str]
    password: str = PASSWORD
    _clients: list[httpx.Client] = field(default_factory=list)

    @property
    def base(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return self.served.base

    def http(self, role: str | None) -> httpx.Client:
        """An httpx client on the server, signed in as ``role`` through ``/login`` (None:
        signed out). It sends the site's Origin like a browser does."""
        client = httpx.Client(
            base_url=self.base, headers={"Origin": self.base}, follow_redirects=False
        )
        self._clients.append(client)
        if role is not None:
            answer = client.post(
                "/login", data={"email": self.users[role], "password": self.password}
            )
            assert answer.status_code == 303, answer.text
        return client

    def csrf(self, client: httpx.Client, path: str) -> str:
        """The CSRF token in the page at ``path`` (as the forms carry it)."""
        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)

    def close(self) -> None:
        for client in self._clients:
            client.close()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def dashboard(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Dashboard]:
    """``successcrew serve`` on a loopback port with one user of every role."""
    folder = tmp_path_factory.mktemp(f"dashboard-{request.param}")
    template = request.getfixturevalue("sqlite_template") if request.param == "sqlite" else None
    with (
        module_database(request.param, folder, template) as db_url,
        running_dashboard(db_url, folder) as board,
    ):
        yield board


def add_role_users(engine: Engine) -> dict[str, str]:
    """One user of every role (cheap hashes); returns role -> e-mail."""
    users = {role: user_email(role) for role in ROLES}
    with transaction(engine) as session:
        for role, email in users.items():
            add_user(
                session,
                email,
                role=role,
                name=f"{role.title()} Tester",
                password=PASSWORD,
                by="tests",
                now=NOW,
                cost="low",
            )
    return users


@contextlib.contextmanager
def running_dashboard(db_url: str, folder: Path, **settings: str) -> Iterator[Dashboard]:
    """``successcrew serve`` on ``db_url`` (users of every role added once) with extra
    ``SUCCESSCREW_*`` ``settings``."""
    port = free_port()
    engine = make_engine(db_url)
    with transaction(engine) as session:
        known = session.execute(select(User.email)).scalars().all()
    users = {role: user_email(role) for role in ROLES} if known else add_role_users(engine)
    env = base_env(
        db_url,
        SUCCESSCREW_SESSION_SECRET=SESSION_SECRET,
        SUCCESSCREW_PASSWORD_HASH_COST="low",
        SUCCESSCREW_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        XDG_DATA_HOME=str(folder / "data"),
        **settings,
    )
    served = start_serve(env, folder, port=port)
    board = Dashboard(served, engine, users)
    try:
        yield board
    finally:
        board.close()
        stop_serve(served)
        engine.dispose()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments, on Debian's chromium."""
    return {**browser_type_launch_args, "executable_path": CHROMIUM}


@pytest.fixture
def signed_in(dashboard: Dashboard, request: pytest.FixtureRequest) -> Iterator[Callable[..., Any]]:
    """``signed_in(role, viewport=None)``: a Playwright page signed in as ``role`` through the
    sign-in form (a context of its own, closed after the test)."""
    require_chromium()
    browser = request.getfixturevalue("browser")
    contexts: list[Any] = []

    def open_as(role: str, viewport: dict[str, int] | None = None) -> Any:
        context = browser.new_context(
            base_url=dashboard.base, viewport=viewport or {"width": 1280, "height": 800}
        )
        contexts.append(context)
        page = context.new_page()
        page.goto("/login?next=/my-work")
        page.fill("#email", dashboard.users[role])
        page.fill("#password", dashboard.password)
        page.click("button[type=submit]")
        page.wait_for_load_state()
        assert "/login" not in page.url, f"sign-in as {role} failed: {page.content()[:500]}"
        return page

    yield open_as
    for context in contexts:
        context.close()


@pytest.fixture
def screenshot(tmp_path: Path, request: pytest.FixtureRequest) -> Callable[[Any, str], Path]:
    """``screenshot(page, name)``: a full-page PNG, kept in $SUCCESSCREW_SCREENSHOTS when set."""
    keep = os.environ.get("SUCCESSCREW_SCREENSHOTS")
    folder = Path(keep) if keep else tmp_path / "screens"
    folder.mkdir(parents=True, exist_ok=True)
    backend = "pg" if "postgresql" in request.node.name else "sqlite"

    def take(page: Any, name: str) -> Path:
        path = folder / f"{name}-{backend}.png"
        page.screenshot(path=str(path), full_page=True)
        return path

    return take
