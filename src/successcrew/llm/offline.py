"""Making LangChain and crewAI behave: no telemetry, no tracing, no ``.env``, no stray writes.

crewAI, at ``import crewai``, creates ``~/.config/crewai``, a credentials key under
``~/.local/share/crewai`` and a data folder named after the working directory, loads any
``.env`` it finds (adding variables that are not set yet) and, unless told before the import,
sends anonymous telemetry. So before the first import: the switches below; ``HOME`` and the XDG
directories point into successcrew's data directory for the length of the import (crewAI
computes its paths then); and every ``SUCCESSCREW_*`` variable is put back as it was, so no
``.env`` can change successcrew's settings. LangChain sends traces only when LangSmith tracing
is switched on in the environment: it is switched off for this process.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from types import ModuleType

#: Set before crewAI is imported (crewai 1.15.30; see /docs/llm.md for where each is read).
CREWAI_SWITCHES = {
    "OTEL_SDK_DISABLED": "true",
    "CREWAI_DISABLE_TELEMETRY": "true",
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",
    "CREWAI_DISABLE_VERSION_CHECK": "true",
    "PYTHON_DOTENV_DISABLED": "1",
}
LANGCHAIN_SWITCHES = {
    "LANGSMITH_TRACING": "false",
    "LANGCHAIN_TRACING_V2": "false",
    "LANGCHAIN_TRACING": "false",
}
_SANDBOXED = ("HOME", "XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME")


def prepare_langchain() -> None:
    """No LangSmith traces and no gateway from this process."""
    os.environ.update(LANGCHAIN_SWITCHES)
    os.environ.pop("LANGSMITH_GATEWAY", None)


def _restore(saved: dict[str, str | None]) -> None:
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


def import_crewai(data_dir: Path) -> ModuleType:
    """``import crewai`` with its storage in ``data_dir/crewai`` and nothing written elsewhere."""
    if "crewai" in sys.modules:
        _quiet()
        return sys.modules["crewai"]
    prepare_langchain()
    os.environ.update(CREWAI_SWITCHES)
    storage = (data_dir / "crewai").resolve()
    home = storage / "home"
    home.mkdir(parents=True, exist_ok=True)
    # An absolute CREWAI_STORAGE_DIR is used as the data directory itself (crewai_core.paths).
    os.environ["CREWAI_STORAGE_DIR"] = str(storage)
    saved = {k: os.environ.get(k) for k in _SANDBOXED}
    ours = {k: v for k, v in os.environ.items() if k.startswith("SUCCESSCREW_")}
    os.environ.update(
        HOME=str(home),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
    )
    try:
        import crewai
    finally:
        _restore(saved)
        for key in [k for k in os.environ if k.startswith("SUCCESSCREW_") and k not in ours]:
            del os.environ[key]
        os.environ.update(ours)
    _quiet()
    return crewai


def _quiet() -> None:
    # crewAI logs through the root logger (and would install a stderr handler of its own) and
    # warns on every call for models it does not know; its failures reach us as exceptions and
    # are recorded as fallbacks.
    if not logging.getLogger().handlers:
        logging.getLogger().addHandler(logging.NullHandler())
    for name in ("crewai", "LiteLLM", "httpx", "openai"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def data_dir(database_url: str) -> Path:
    """successcrew's data directory: beside an SQLite file, else the user data directory."""
    from platformdirs import user_data_dir
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
        return Path(url.database).expanduser().resolve().parent
    return Path(user_data_dir("successcrew", appauthor=False))
