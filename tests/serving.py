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
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

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
