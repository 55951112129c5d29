"""Loading a YAML definition file into a pydantic model with errors that name file and key."""

from __future__ import annotations

from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from successcrew.errors import ConfigError

M = TypeVar("M", bound=BaseModel)

#: libyaml's safe loader where PyYAML was built with it: every command loads every definition
#: file before it starts, and the C parser does that several times faster than the Python one.
_SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _key(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + str(item))
    return "".join(parts) or "(top level)"


def describe_validation_error(path: Path | str, err: ValidationError) -> str:
    """One line per problem: ``FILE: key a.b: problem``."""
    lines: list[str] = []
    for problem in err.errors():
        msg = problem["msg"]
        if problem["type"] == "extra_forbidden":
            msg = "unknown key (check the spelling; see the documented keys)"
        elif msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        lines.append(f"{path}: key {_key(problem['loc'])}: {msg}")
    return "\n".join(lines)


def read_yaml(path: Path) -> object:
    """Parse a YAML file; a missing or unparsable file is a ConfigError naming it."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: line {line}: not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        return yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError:
        pass
    # Parse again with the Python parser only to explain the problem: its messages say what it
    # expected and what it found, where libyaml's often say only the first half.
    try:
        yaml.load(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}: not valid YAML{where}: {problem}") from None
    raise ConfigError(f"{path}: not valid YAML")


def load_model(path: Path, model: type[M]) -> M:
    """Read ``path`` and validate it as ``model``; any problem raises ConfigError (exit 2)."""
    data = read_yaml(path)
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key (top level): expected a mapping of keys to values")
    try:
        return model.model_validate(data)
    except ValidationError as err:
        raise ConfigError(describe_validation_error(path, err)) from None
