"""Fixtures for the llm extra's tests: crewAI made offline before anything imports it, a guard
that fails a test on any socket but loopback (the stand-in servers and the test PostgreSQL),
the OpenAI-compatible stand-in server, and a model configuration pointing at it.

Without the extra the test modules skip themselves with the reason (``SKIP_REASON``, shown by
``-ra`` in the lean run); `.ci/run` runs them in a second virtual environment with
``pip install -e '.[dev,llm]'``.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.llm import SKIP_REASON  # noqa: F401  (the modules' skip reason)

HAVE_EXTRA = all(importlib.util.find_spec(m) for m in ("crewai", "langchain_openai"))

if HAVE_EXTRA:
    from successcrew.llm.offline import CREWAI_SWITCHES, LANGCHAIN_SWITCHES

    # Before any test module imports crewAI: the switches, and this worker's own sandbox for
    # what crewAI writes (each xdist worker imports it once).
    os.environ.update(CREWAI_SWITCHES)
    os.environ.update(LANGCHAIN_SWITCHES)
    for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "OPENAI_API_BASE"):
        os.environ.pop(key, None)
    _SANDBOX = Path(tempfile.mkdtemp(prefix="successcrew-llm-tests-"))
    os.environ["CREWAI_STORAGE_DIR"] = str(_SANDBOX / "crewai")


class NetworkGuard:
    """An audit hook: connects and DNS lookups only to loopback ports that are allowed."""

    def __init__(self) -> None:
        self.allowed_ports: set[int] = {5432}
        self.blocked: list[str] = []

    def __call__(self, event: str, args: tuple) -> None:
        if event == "socket.connect":
            addr = args[1]
            if not isinstance(addr, tuple):  # AF_UNIX
                return
            host, port = addr[0], addr[1]
            if host in ("127.0.0.1", "::1", "localhost") and port in self.allowed_ports:
                return
            self.blocked.append(f"connect {host}:{port}")
            raise ConnectionRefusedError(f"test network guard: {host}:{port} is not allowed")
        if event == "socket.getaddrinfo":
            host = args[0].decode() if isinstance(args[0], bytes) else args[0]
            if host in (None, "127.0.0.1", "::1", "localhost"):
                return
            self.blocked.append(f"getaddrinfo {host}:{args[1]}")
            raise socket.gaierror(f"test network guard: no lookups ({host})")


_GUARD = NetworkGuard()
if HAVE_EXTRA:
    sys.addaudithook(_GUARD)


@pytest.fixture(autouse=True)
def no_foreign_sockets() -> Iterator[NetworkGuard]:
    """Every llm test fails if anything tried a socket other than the allowed loopback ports."""
    _GUARD.blocked.clear()
    yield _GUARD
    assert not _GUARD.blocked, f"network access outside the stand-ins: {_GUARD.blocked}"


@pytest.fixture
def standin(no_foreign_sockets: NetworkGuard) -> Iterator[object]:
    """The OpenAI-compatible stand-in, its port allowed by the guard."""
    from tests.fakes.openai_server import OpenAIStandIn

    with OpenAIStandIn() as server:
        no_foreign_sockets.allowed_ports.add(server.port)
        yield server
        no_foreign_sockets.allowed_ports.discard(server.port)


def pytest_configure(config: pytest.Config) -> None:
    # crewAI warns about its own deprecated internals on every crew; not ours to fix.
    config.addinivalue_line("filterwarnings", "ignore::DeprecationWarning:crewai")
    config.addinivalue_line("filterwarnings", "ignore::PendingDeprecationWarning:crewai")
