"""Finding the crew's agents: ``agents/*.yaml`` definitions and ``successcrew.agents`` plugins.

Definitions are read from the shipped defaults and then from ``SUCCESSCREW_PROJECT_DIR`` (a
project file with the same agent name wins), so a deployment can add a fifth agent with one YAML
file and a module on ``sys.path``. Installed packages add agents through the
``successcrew.agents`` entry-point group: the entry point names an ``Agent`` subclass carrying
its definition in ``DEFINITION``.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from successcrew import paths
from successcrew.agents.base import Agent, AgentDefinition
from successcrew.crew.plugins import discover
from successcrew.definitions.loading import describe_validation_error, read_yaml
from successcrew.errors import ConfigError


def definition_dirs() -> list[Path]:
    """Directories holding ``agents/*.yaml``: shipped defaults first, the project dir last."""
    dirs: list[Path] = []
    for root in (paths._CHECKOUT_DIR, paths._DEFAULTS_DIR, paths.project_dir()):
        candidate = root / "agents"
        if candidate.is_dir() and candidate.resolve() not in [d.resolve() for d in dirs]:
            dirs.append(candidate)
    # The checkout and the wheel defaults are the same files; keep only the first one found.
    if len(dirs) > 1 and paths._DEFAULTS_DIR / "agents" in dirs:
        dirs.remove(paths._DEFAULTS_DIR / "agents")
    return dirs


def _parse(path: Path) -> AgentDefinition:
    data = read_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key (top level): expected a mapping of keys to values")
    try:
        return AgentDefinition.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(path, err)) from None


def _class(path: Path, class_path: str) -> type[Agent]:
    module_name, _, attr = class_path.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"{path}: key class: {class_path!r} cannot be imported ({type(exc).__name__}: {exc})"
        ) from None
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ConfigError(f"{path}: key class: {class_path!r} is not a successcrew Agent subclass")
    return cls


def load_agents(extra_entry_points: Iterable[EntryPoint] = ()) -> dict[str, Agent]:
    """Every agent by name: YAML definitions, then entry-point plugins."""
    agents: dict[str, Agent] = {}
    for directory in definition_dirs():
        for path in sorted(directory.glob("*.yaml")):
            definition = _parse(path)
            agents[definition.name] = _class(path, definition.class_path)(definition)
    for name, cls in discover("successcrew.agents", extra_entry_points).items():
        agents[name] = _from_plugin(name, cls)
    return agents


def _from_plugin(name: str, cls: Any) -> Agent:
    where = f"entry point {name!r} (group successcrew.agents)"
    if not (isinstance(cls, type) and issubclass(cls, Agent)):
        raise ConfigError(f"{where}: {cls!r} is not a successcrew Agent subclass")
    data = dict(getattr(cls, "DEFINITION", None) or {})
    data.setdefault("name", name)
    data.setdefault("class", f"{cls.__module__}:{cls.__qualname__}")
    try:
        return cls(AgentDefinition.model_validate(data))
    except ValidationError as err:
        raise ConfigError(describe_validation_error(where + " DEFINITION", err)) from None
