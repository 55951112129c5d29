"""Trigger definitions (``triggers/*.yaml``): the file model, its vocabulary (metrics,
comparators, actions), threshold references into thresholds.yaml, and loading them all."""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from successcrew.definitions.loading import load_model
from successcrew.definitions.thresholds import Thresholds, load_thresholds
from successcrew.errors import ConfigError
from successcrew.paths import definition_path

#: Comparator spelling in YAML -> the Python operator; the SQL side uses the same operators
#: (so the result is a bool on numbers and a SQL expression on columns).
COMPARATORS: dict[str, Callable[[Any, Any], Any]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


#: The metrics evaluation knows how to read, by trigger scope.
METRICS = {
    "health_score": "account",
    "logo_retention_1m": "portfolio",
    "nps_rolling": "portfolio",
    "consecutive_failures": "portfolio",
}


#: Actions a definition may request -> the outbox channel that carries them. ``None``: an internal
#: request recorded on the event itself (the programs and campaigns code reads open events).
ACTIONS: dict[str, str | None] = {
    "playbook_enrolment": None,
    "retarget_cohort": None,
    "crm_task": "crm_task",
    "chairman_notice": "slack",
    "team_notice": "slack",
    # The escalation row is the request; the escalation flow sends the one Block Kit card with
    # approve/decline buttons (a plain message here as well would reach the chairman twice).
    "chairman_escalation": None,
    "ops_alert": "slack",
    "pause_component": None,
}


class TriggerSpec(BaseModel):
    """One ``triggers/*.yaml`` file, validated. ``params`` holds trigger-specific tuning."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(pattern=r"^[A-Z][A-Z0-9]*-[0-9]{3}$")
    title: str = Field(min_length=1, max_length=300)
    scope: Literal["account", "portfolio"]
    metric: str
    comparator: Literal["<", "<=", ">", ">="]
    threshold: float | str
    window_days: int | None = Field(default=None, gt=0, le=3650)
    cooldown_hours: int = Field(default=0, ge=0, le=24 * 365)
    severity: Literal["info", "warning", "critical"]
    enabled: bool = True
    actions: list[str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if value not in METRICS:
            raise ValueError(f"unknown metric {value!r}; expected one of {sorted(METRICS)}")
        return value

    @field_validator("actions")
    @classmethod
    def _known_actions(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ACTIONS]
        if unknown:
            raise ValueError(f"unknown action(s) {unknown}; expected some of {sorted(ACTIONS)}")
        return value

    def checksum(self) -> str:
        """SHA-256 of the canonical content: comments and key order in the YAML do not count."""
        canonical = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(canonical.encode()).hexdigest()


def resolve_threshold(reference: float | str, thresholds: Thresholds) -> float:
    """A number, or a dotted path into the thresholds (``health_bands.critical.max``).

    Raises ValueError naming the reference when it does not lead to a number, so a bad value an
    operator typed into the database is reported for that trigger instead of stopping the run.
    """
    if isinstance(reference, int | float) and not isinstance(reference, bool):
        return float(reference)
    text = str(reference).strip()
    try:
        return float(text)
    except ValueError:
        pass
    node: Any = thresholds
    for part in text.split("."):
        if not isinstance(node, BaseModel) or part not in type(node).model_fields:
            raise ValueError(f"threshold {text!r} is neither a number nor a thresholds.yaml key")
        node = getattr(node, part)
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise ValueError(f"threshold {text!r} is not a number in thresholds.yaml")
    return float(node)


def load_specs(
    directory: Path | None = None, thresholds: Thresholds | None = None
) -> list[TriggerSpec]:
    """Every ``*.yaml`` under ``triggers/``, validated; a problem raises ConfigError naming the
    file and key (including a threshold reference that does not exist in thresholds.yaml)."""
    directory = directory or definition_path("triggers")
    thresholds = thresholds or load_thresholds()
    specs: dict[str, TriggerSpec] = {}
    for path in sorted(directory.glob("*.yaml")):
        spec = load_model(path, TriggerSpec)
        if spec.code in specs:
            raise ConfigError(f"{path}: key code: {spec.code} is defined in another file as well")
        references = [("threshold", spec.threshold)] + [
            (f"params.{k}", v) for k, v in spec.params.items() if k.endswith("_pct")
        ]
        for key, reference in references:
            try:
                resolve_threshold(reference, thresholds)
            except ValueError as exc:
                raise ConfigError(f"{path}: key {key}: {exc}") from None
        specs[spec.code] = spec
    return list(specs.values())
