"""Every definition file a command may use, loaded and validated before the command starts.

A command that reads a broken file half-way through has already written something (a crew run,
its task runs, audit entries, a rollback pause); loading everything first turns any problem into
exit 2 with the file and key named, and nothing written. Problems in several files are reported
together, so one attempt shows everything to fix.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from successcrew.definitions.crew_definition import CrewDefinition, load_crew
from successcrew.definitions.escalation_policy import EscalationPolicy, load_policy
from successcrew.definitions.feedback_categories import Taxonomy, load_taxonomy
from successcrew.definitions.health_model import HealthModel, load_health_model
from successcrew.definitions.playbooks import (
    Playbook,
    ProgramSettings,
    load_playbooks,
    load_program_settings,
)
from successcrew.definitions.thresholds import Thresholds, load_thresholds
from successcrew.definitions.trigger_specs import TriggerSpec, load_specs
from successcrew.errors import ConfigError
from successcrew.paths import project_dir

if TYPE_CHECKING:
    from successcrew.agents.base import Agent

T = TypeVar("T")


@dataclass(frozen=True)
class Definitions:
    """The validated definitions in force for one command."""

    thresholds: Thresholds
    health_model: HealthModel
    triggers: list[TriggerSpec]
    playbooks: list[Playbook]
    program_settings: ProgramSettings
    crew: CrewDefinition
    agents: dict[str, Agent]
    policy: EscalationPolicy
    taxonomy: Taxonomy


def load_definitions() -> Definitions:
    """Load and validate every definition: thresholds, health model, triggers (with their
    threshold references), playbooks (with their templates) and program settings, the crew with
    its agents and their tool references, the escalation policy and the feedback categories.

    Raises one ConfigError listing every problem found, each naming the file and the key.
    """
    from successcrew.crew.agent_registry import load_agents
    from successcrew.crew.customer_success import check_references

    project_dir()  # a SUCCESSCREW_PROJECT_DIR that is not a directory stops here, said once
    problems: list[str] = []

    def attempt(load: Callable[[], T]) -> T | None:
        try:
            return load()
        except ConfigError as exc:
            if str(exc) not in problems:  # two loaders may meet the same file
                problems.append(str(exc))
            return None

    found: dict[str, Any] = {}
    found["thresholds"] = attempt(load_thresholds)
    found["health_model"] = attempt(load_health_model)
    # Trigger thresholds refer into thresholds.yaml: checked only against a valid one.
    if found["thresholds"] is not None:
        found["triggers"] = attempt(lambda: load_specs(thresholds=found["thresholds"]))
    found["playbooks"] = attempt(load_playbooks)
    found["program_settings"] = attempt(load_program_settings)
    found["crew"] = attempt(load_crew)
    found["agents"] = attempt(load_agents)
    if found["crew"] is not None and found["agents"] is not None:
        attempt(lambda: check_references(found["crew"], found["agents"]))
    found["policy"] = attempt(load_policy)
    found["taxonomy"] = attempt(load_taxonomy)
    if problems:
        raise ConfigError("\n".join(problems))
    return Definitions(**found)
