"""The crew definition file (``crews/customer_success.yaml``), validated by pydantic."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from successcrew.definitions.loading import load_model
from successcrew.paths import definition_path

Ident = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", max_length=100)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StepDef(_Strict):
    """One setup step: on day ``day`` (1 = the crew's first run), ``agent`` runs ``tool``."""

    id: Ident
    substage: str
    day: Annotated[int, Field(ge=1, le=365)]
    agent: Ident
    tool: Ident
    #: Steps that must be settled first; None means "the step before this one".
    after: tuple[Ident, ...] | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class OperationDef(_Strict):
    """A recurring operation after setup."""

    id: Ident
    cadence: Literal["hourly", "daily", "weekly"]
    agent: Ident
    tool: Ident
    after: tuple[Ident, ...] = ()
    requires_step: Ident | None = None
    params: dict[str, Any] = Field(default_factory=dict)


class SetupDef(_Strict):
    retry_initial_minutes: Annotated[float, Field(gt=0, le=24 * 60)] = 60
    retry_max_hours: Annotated[float, Field(gt=0, le=24 * 14)] = 24
    steps: tuple[StepDef, ...]


class OperationsDef(_Strict):
    max_workers: Annotated[int, Field(ge=1, le=64)] = 4
    tasks: tuple[OperationDef, ...] = ()


class CrewDefinition(_Strict):
    """The whole crew: the setup flow and the operations cadence."""

    name: Ident
    process: Literal["setup_then_operations"] = "setup_then_operations"
    setup: SetupDef
    operations: OperationsDef = OperationsDef()

    @model_validator(mode="after")
    def _references(self) -> CrewDefinition:
        seen: list[str] = []
        for step in self.setup.steps:
            if step.id in seen:
                raise ValueError(f"setup step id {step.id!r} is used twice")
            for dep in step.after or ():
                if dep not in seen:
                    raise ValueError(
                        f"setup step {step.id!r}: after names {dep!r}, which is not an earlier step"
                    )
            seen.append(step.id)
        days = [s.day for s in self.setup.steps]
        if days != sorted(days):
            raise ValueError("setup steps must be listed in order of their day")
        op_ids = [op.id for op in self.operations.tasks]
        for op in self.operations.tasks:
            if op.id in seen or op_ids.count(op.id) > 1:
                raise ValueError(f"operation id {op.id!r} is used twice (ids name task runs)")
            for dep in op.after:
                if dep not in op_ids:
                    raise ValueError(f"operation {op.id!r}: after names unknown operation {dep!r}")
            if op.requires_step is not None and op.requires_step not in seen:
                raise ValueError(
                    f"operation {op.id!r}: requires_step names unknown step {op.requires_step!r}"
                )
        return self

    def step_specs(self) -> list[StepSpec]:
        """Setup steps as planning values, with the default predecessor filled in."""
        specs: list[StepSpec] = []
        previous: str | None = None
        for step in self.setup.steps:
            after = step.after if step.after is not None else ((previous,) if previous else ())
            specs.append(StepSpec(step.id, step.substage, step.day, step.agent, step.tool, after))
            previous = step.id
        return specs

    def operation_specs(self) -> list[OperationSpec]:
        """Operations as planning values."""
        return [
            OperationSpec(op.id, op.cadence, op.agent, op.tool, op.after, op.requires_step)
            for op in self.operations.tasks
        ]


def crew_path() -> Path:
    """The crew definition in force."""
    return definition_path("crews", "customer_success.yaml")


def load_crew(path: Path | None = None) -> CrewDefinition:
    """Load and validate the crew definition; problems raise ConfigError naming file and key."""
    return load_model(path or crew_path(), CrewDefinition)


@dataclass(frozen=True)
class StepSpec:
    """One setup step as defined in the crew YAML."""

    id: str
    substage: str
    day: int
    agent: str
    tool: str
    after: tuple[str, ...]


@dataclass(frozen=True)
class OperationSpec:
    """One recurring operation as defined in the crew YAML."""

    id: str
    cadence: Cadence
    agent: str
    tool: str
    after: tuple[str, ...] = ()
    requires_step: str | None = None


Cadence = Literal["hourly", "daily", "weekly"]
