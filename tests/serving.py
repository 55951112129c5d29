"""``successcrew serve`` as a real process on a loopback port, and a database of its own for
one test module (the process and the module's tests share it; other tests never truncate it)."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, create_engine, text

from successcrew.store.db import make_engine
from successcrew.store.migrate import upgrade
from tests.conftest import ADMIN_URL, _pg_unavailable

EXE = str(Path(sys.executable).with_name("successcrew"))


def free_port() -> int:
    """A port nothing listens on now (a small race until uvicorn binds it)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def module_database(kind: str, folder: Path, sqlite_template: Path | None) -> Iterator[str]:
    """A migrated database for one module: a copied SQLite file, or a PostgreSQL database."""
    if kind == "sqlite":
        path = folder / "serve.db"
        if sqlite_template is not None:
            shutil.copy(sqlite_template, path)
        else:
            engine = make_engine(f"sqlite:///{path}")
            upgrade(engine)
            engine.dispose()
        yield f"sqlite:///{path}"
        return
    name = f"sc_serve_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    try:
        admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _pg_unavailable(f"cannot reach {ADMIN_URL.split('@')[-1]} ({type(exc).__name__})")
        raise
    url = admin.url.set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@dataclass
class Served:
    """A running ``successcrew serve``."""

    proc: subprocess.Popen[bytes]
    base: str
    log_path: Path

    def log(self) -> str:
        """Everything the process wrote so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")


def base_env(db_url: str, **extra: str) -> dict[str, str]:
    """The environment without any SUCCESSCREW_ setting of the caller's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SUCCESSCREW_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(SUCCESSCREW_DATABASE_URL=db_url, **extra)
    return env


def start_serve(
    env: Mapping[str, str], folder: Path, *args: str, port: int | None = None, timeout: float = 30
) -> Served:
    """Start the process and wait until ``/livez`` answers."""
    port = port or free_port()
    log_path = folder / f"serve-{port}.log"
    out = log_path.open("wb")
    proc = subprocess.Popen(
        [EXE, "serve", "--host", "127.0.0.1", "--port", str(port), *args],
        env=dict(env),
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    out.close()
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=0.5) as poller:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"serve exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                if poller.get(base + "/livez").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                proc.kill()
                pytest.fail(f"serve did not answer in {timeout}s:\n{log_path.read_text()}")
            time.sleep(0.1)
    return Served(proc, base, log_path)


def stop_serve(served: Served) -> int:
    """SIGTERM (graceful), then kill after 15 s; returns the exit code."""
    served.proc.send_signal(signal.SIGTERM)
    try:
        return served.proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        served.proc.kill()
        return served.proc.wait()


@dataclass
class InThread:
    """The app served by uvicorn in a thread of the test process (real HTTP on loopback), with
    ``client(email)``: an httpx client signed in through ``/login`` sending the site's Origin."""

    base: str
    password: str
    _clients: list[httpx.Client]

    @property
    def port(self) -> int:
        """The loopback port it listens on."""
        return int(self.base.rsplit(":", 1)[1])

    def client(self, email: str | None) -> httpx.Client:
        """Signed in as ``email`` (None: signed out)."""
        client = httpx.Client(base_url=self.base, headers={"Origin": self.base}, timeout=120)
        self._clients.append(client)
        if email is not None:
            answer = client.post("/login", data={"email": email, "password": self.password})
            assert answer.status_code == 303, answer.text[:300]
        return client

    def csrf(self, client: httpx.Client, path: str) -> str:
        """The CSRF token in the page at ``path``."""
        import re

        found = re.search(r'name="csrf_token" value="([^"]+)"', client.get(path).text)
        assert found, f"no CSRF field on {path}"
        return found.group(1)


@contextlib.contextmanager
def app_in_thread(
    engine: Engine, now: datetime, users: Mapping[str, str], password: str, **settings: Any
) -> Iterator[InThread]:
    """``create_app`` on ``engine`` with the clock at ``now``, users ``{email: role}`` added,
    and extra ``Settings`` fields, served on a free loopback port until the block ends."""
    import threading

    import uvicorn

    from successcrew.services.platform.users import add_user
    from successcrew.settings import Settings
    from successcrew.store.db import transaction
    from successcrew.web.application import create_app

    with transaction(engine) as session:
        for email, role in users.items():
            add_user(
                session,
                email,
                role=role,
                name=role.title(),
                password=password,
                by="tests",
                now=now,
                cost="low",
            )
    port = free_port()
    config = Settings(
        database_url=engine.url.render_as_string(hide_password=False),
        session_secret="in-thread-test-session-secret-0123456789",
        public_base_url=f"http://127.0.0.1:{port}",
        **settings,
    )
    app = create_app(config, engine=engine, clock=lambda: now)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "the app did not start"
        time.sleep(0.05)
    served = InThread(f"http://127.0.0.1:{port}", password, [])
    try:
        yield served
    finally:
        for client in served._clients:
            client.close()
        server.should_exit = True
        thread.join(10)
