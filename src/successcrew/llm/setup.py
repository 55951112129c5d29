"""Installing the model for a command: the command line calls ``install`` when a model is
configured, and the deterministic code finds it through ``services.model.assistant.current()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from successcrew.errors import ConfigError
from successcrew.llm import missing_packages
from successcrew.services.model import assistant as seat


def require(*modules: str) -> None:
    """ConfigError (exit 2) unless the extra's ``modules`` are installed."""
    missing = missing_packages(*modules)
    if missing:
        raise ConfigError(
            f"the llm extra is not installed ({', '.join(missing)} missing): "
            "pip install 'successcrew[llm]'"
        )


def ask_unavailable(settings: Any) -> str | None:
    """Why a question cannot be asked here (no model, or the extra missing), or None when it
    can: ``ask`` stops with it, the dashboard shows it in place of the Ask box."""
    if not settings.llm_model:
        return "no model is configured (SUCCESSCREW_LLM_MODEL is empty)"
    missing = missing_packages("langchain_openai", "crewai")
    if missing:
        return (
            f"the llm extra is not installed ({', '.join(missing)} missing): "
            "pip install 'successcrew[llm]'"
        )
    return None


def install(runtime: Any, *, crew_mode: str | None = None) -> Callable[[str], None]:
    """Install a ``ModelAssistant`` for this command; returns ``close(command)``, which records
    what the command spent (a run records its own at the end of the run) and uninstalls it.

    No model configured: nothing is installed. Configured but the extra is missing: a warning,
    and everything runs deterministically, as without the settings.
    """
    settings = runtime.settings
    if not settings.llm_model:
        if crew_mode == "crewai":
            raise ConfigError("--crew-mode crewai needs a model: set SUCCESSCREW_LLM_MODEL")
        return lambda _command: None
    if crew_mode == "crewai" or settings.crew_mode == "crewai":
        require("langchain_openai", "crewai")
    missing = missing_packages("langchain_openai")
    if missing:
        from successcrew.console import err_console, plain

        err_console.print(
            plain(
                "warning: SUCCESSCREW_LLM_MODEL is set but the llm extra is not installed "
                "(pip install 'successcrew[llm]'); using the deterministic text."
            )
        )
        return lambda _command: None
    from successcrew.llm.calls import ModelAssistant, ModelConfig

    assistant = ModelAssistant(
        ModelConfig.from_settings(settings, crew_mode=crew_mode), runtime.engine, settings
    )
    seat.install(assistant)

    def close(command: str) -> None:
        from successcrew.clock import utcnow

        try:
            if not assistant.spend.idle():
                assistant.finish(runtime.engine, now=utcnow(), crew_run_id=None, command=command)
        finally:
            seat.uninstall()

    return close


def use_crew_mode(runtime: Any, mode: str) -> None:
    """``run --crew-mode``: deterministic, or crewai (a model and the extra are needed)."""
    from dataclasses import replace

    from successcrew.errors import InputError
    from successcrew.llm.calls import ModelAssistant

    if mode not in ("deterministic", "crewai"):
        raise InputError(f"--crew-mode must be deterministic or crewai, not {mode!r}")
    current = seat.current()
    if mode == "crewai":
        if not runtime.settings.llm_model:
            raise ConfigError("--crew-mode crewai needs a model: set SUCCESSCREW_LLM_MODEL")
        require("langchain_openai", "crewai")
    if isinstance(current, ModelAssistant):
        current.config = replace(current.config, crew_mode=mode)
