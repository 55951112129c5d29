"""The ``Agent`` base class in the crewAI vocabulary: role, goal, backstory and tools.

Role, goal, backstory and the list of tools come from ``agents/*.yaml``; the behaviour is the
agent class's tool methods. A tool is a typed method ``(self, ctx: TaskContext) -> dict`` with a
docstring, a thin composition of domain logic and store or integration calls. A tool whose
deeper work has not landed in this build is *absent*: the YAML still lists it, and the crew
reports it as ``not available: needs ...`` instead of running anything in its place.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

    from successcrew.definitions.escalation_policy import EscalationPolicy
    from successcrew.definitions.thresholds import Thresholds
    from successcrew.settings import Settings

#: What a tool returns: a JSON-ready mapping (a dict, or a TypedDict record), stored as JSON.
ToolResult = Mapping[str, Any]
F = TypeVar("F", bound=Callable[..., Any])


class ToolDefinition(BaseModel):
    """A tool as listed in an agent's YAML."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    description: str
    #: What the tool needs that may be missing from this build, for the "not available" message.
    needs: str | None = None


class AgentDefinition(BaseModel):
    """One ``agents/*.yaml`` file."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    class_path: str = Field(alias="class", pattern=r"^[\w.]+:\w+$")
    role: str
    goal: str
    backstory: str
    tools: tuple[ToolDefinition, ...] = ()


@dataclass
class TaskContext:
    """What a tool gets: its own session (one transaction), the clock, config, parameters.

    The session's transaction is committed by the crew after the tool returns, together with
    the task's record, so a tool's writes and its outbox messages land or vanish as one.
    """

    session: Session
    engine: Engine
    now: datetime
    settings: Settings
    thresholds: Thresholds
    policy: EscalationPolicy
    params: dict[str, Any] = field(default_factory=dict)
    crew_run_id: int | None = None
    #: A dry run (``successcrew run --dry-run``): the crew rolls the session back afterwards, and
    #: a tool marked ``preview`` returns what it would queue instead of what it did.
    dry_run: bool = False


#: Queued messages a previewing tool lists per program and step (or survey kind).
PREVIEW_SAMPLE = 3


def tool(*, requires: tuple[str, ...] = (), preview: bool = False) -> Callable[[F], F]:
    """Mark a method as a tool; ``requires`` names modules that must be importable for it.

    The modules are checked without importing them (``importlib.util.find_spec``), so listing the
    crew's tools stays cheap. ``preview`` says the tool may run in a dry run: it writes only
    through ``ctx.session`` (which the crew then rolls back), sends nothing itself, and with
    ``ctx.dry_run`` returns what it would queue.
    """

    def mark(fn: F) -> F:
        fn.__successcrew_tool__ = tuple(requires)
        fn.__successcrew_preview__ = preview
        return fn

    return mark


def _module_present(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


class Agent:
    """Base class for the crew's agents. Subclasses define tool methods with ``@tool``."""

    #: Fallback ``needs`` text when the YAML does not give one.
    default_needs: ClassVar[str] = "a later part of successcrew"

    def __init__(self, definition: AgentDefinition) -> None:
        self.definition = definition

    @property
    def name(self) -> str:
        """The agent's key, as the crew YAML names it."""
        return self.definition.name

    @property
    def role(self) -> str:
        """Who the agent is (crewAI ``role``)."""
        return self.definition.role

    @property
    def goal(self) -> str:
        """What it is for (crewAI ``goal``)."""
        return self.definition.goal

    @property
    def backstory(self) -> str:
        """Why it works the way it does (crewAI ``backstory``)."""
        return self.definition.backstory

    def tool_definition(self, name: str) -> ToolDefinition | None:
        """The YAML entry for ``name``."""
        return next((t for t in self.definition.tools if t.name == name), None)

    def unavailable_reason(self, name: str) -> str | None:
        """None when tool ``name`` can run in this build, else ``not available: needs ...``."""
        spec = self.tool_definition(name)
        if spec is None:
            return f"not available: {self.name} does not list a tool {name!r} in its YAML"
        needs = spec.needs or self.default_needs
        method = getattr(self, name, None)
        if method is None or not callable(method):
            return f"not available: needs {needs}"
        missing = [m for m in getattr(method, "__successcrew_tool__", ()) if not _module_present(m)]
        if missing:
            return f"not available: needs {needs} ({', '.join(missing)} not installed)"
        return None

    def previews(self, name: str) -> bool:
        """Whether tool ``name`` can say in a dry run what it would queue (``preview=True``)."""
        return bool(getattr(getattr(self, name, None), "__successcrew_preview__", False))

    def tools_status(self) -> list[dict[str, Any]]:
        """Every listed tool with its description and ``available`` or the reason it is not."""
        result = []
        for spec in self.definition.tools:
            reason = self.unavailable_reason(spec.name)
            method = getattr(self, spec.name, None)
            doc = (method.__doc__ or "").strip().splitlines()[0] if method else ""
            result.append(
                {
                    "name": spec.name,
                    "description": spec.description,
                    "status": reason or "available",
                    "doc": doc,
                }
            )
        return result

    def run_tool(self, name: str, ctx: TaskContext) -> dict[str, Any]:
        """Run tool ``name``; the caller has checked it is available."""
        reason = self.unavailable_reason(name)
        if reason is not None:
            raise RuntimeError(f"{self.name}.{name}: {reason}")
        result = getattr(self, name)(ctx)
        return dict(result or {})
