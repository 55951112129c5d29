"""The health model as code: ``config/health.yaml`` validated into pydantic models.

The file names a model version and weighted components; each component reads one kind of
imported data (usage, tickets, NPS, invoices) and says how its raw value becomes a 0-1 value.
Segments may adjust weights or add components. Anything the file gets wrong (an unknown key, a
negative weight, an unknown component kind) raises ConfigError naming the file and the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from successcrew.definitions.loading import read_yaml
from successcrew.errors import ConfigError
from successcrew.paths import definition_path

#: Component names end up in SQL aliases and JSON keys, so they are plain identifiers.
NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
Weight = Annotated[float, Field(ge=0, le=1000)]
WindowDays = Annotated[int, Field(gt=0, le=730)]
Direction = Literal["higher_is_better", "lower_is_better"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Percentile(_Strict):
    """Rank within the account's segment (mid-rank for ties): 0 worst, 1 best.

    A segment with fewer than ``min_segment_size`` customers on the scoring date is ranked
    within the whole book instead: among two or three accounts a rank says little, and the
    last of two active accounts would score below a silent account ranked in a segment of its
    own. For ``usage_total`` components an account with no activity in the window scores 0,
    never more than an account with some.
    """

    method: Literal["percentile"]
    min_segment_size: Annotated[int, Field(ge=1, le=1_000_000)] = 10


class MinMax(_Strict):
    """Position between the segment's lowest and highest raw value."""

    method: Literal["minmax"]


class Target(_Strict):
    """Linear from ``worst`` (0) to ``target`` (1), clamped; ``worst`` may be above ``target``."""

    method: Literal["target"]
    target: float
    worst: float = 0

    @model_validator(mode="after")
    def _distinct(self) -> Target:
        if self.target == self.worst:
            raise ValueError("target and worst must differ (the scale would have no length)")
        return self


Normalisation = Annotated[Percentile | MinMax | Target, Field(discriminator="method")]


class _Component(_Strict):
    weight: Weight
    normalise: Normalisation
    #: What explanations call the component; defaults to its name.
    label: str | None = None
    #: For percentile and min-max; ``target`` carries its direction in target vs worst.
    direction: Direction | None = None


class UsageTotal(_Component):
    """Total of a usage metric over the last ``window_days`` days (as_of included)."""

    kind: Literal["usage_total"]
    metric: str = Field(min_length=1, max_length=100)
    window_days: WindowDays = 30


class DaysSinceActivity(_Component):
    """Days since the last day with a positive value of ``metric``, looking ``lookback_days`` back.

    An account active before the lookback but not within it gets ``lookback_days`` as its raw
    value, meaning "at least that many" (explanations say "60+ days ago"): scoring reads only the
    recent days of usage, which is what keeps it fast. With ``target`` normalisation the lookback
    must reach ``worst``, so the cap never changes a score.
    """

    kind: Literal["days_since_activity"]
    metric: str = Field(min_length=1, max_length=100)
    lookback_days: WindowDays = 60

    @model_validator(mode="after")
    def _lookback_reaches_worst(self) -> DaysSinceActivity:
        rule = self.normalise
        if isinstance(rule, Target) and max(rule.worst, rule.target) > self.lookback_days:
            raise ValueError(
                f"lookback_days ({self.lookback_days}) must be at least the target scale's "
                f"far end ({max(rule.worst, rule.target):g}): beyond the lookback the raw value "
                "is capped, and a cap inside the scale would change scores"
            )
        return self


class Trend(_Component):
    """Relative change of ``metric``: last ``window_days`` against the ``window_days`` before."""

    kind: Literal["trend"]
    metric: str = Field(min_length=1, max_length=100)
    window_days: WindowDays = 30


class SupportLoad(_Component):
    """Tickets open at the end of as_of, each counted with its priority's weight."""

    kind: Literal["support_load"]
    priority_weights: dict[Literal["low", "normal", "high", "urgent"], Weight] = Field(
        default_factory=lambda: {"low": 0.5, "normal": 1.0, "high": 2.0, "urgent": 4.0}
    )


class LatestNps(_Component):
    """The account's most recent NPS answer (0-10) within ``max_age_days``."""

    kind: Literal["latest_nps"]
    max_age_days: WindowDays = 365


class Billing(_Component):
    """Invoices overdue on as_of (due before it, not paid by it, not void)."""

    kind: Literal["billing"]


Component = Annotated[
    UsageTotal | DaysSinceActivity | Trend | SupportLoad | LatestNps | Billing,
    Field(discriminator="kind"),
]

#: Which way is good for each kind when the config does not say (percentile and min-max).
DEFAULT_DIRECTION: dict[str, Direction] = {
    "usage_total": "higher_is_better",
    "days_since_activity": "lower_is_better",
    "trend": "higher_is_better",
    "support_load": "lower_is_better",
    "latest_nps": "higher_is_better",
    "billing": "lower_is_better",
}

ComponentName = Annotated[str, Field(pattern=NAME_PATTERN)]


class SegmentOverride(_Strict):
    """Per-segment changes: new weights for default components (0 drops one), extra components."""

    weights: dict[ComponentName, Weight] = Field(default_factory=dict)
    components: dict[ComponentName, Component] = Field(default_factory=dict)


class HealthModelFile(_Strict):
    """The whole ``config/health.yaml``."""

    version: str = Field(min_length=1, max_length=30)
    components: dict[ComponentName, Component]
    segments: dict[str, SegmentOverride] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _usable(self) -> HealthModelFile:
        if not self.components:
            raise ValueError("components: at least one component is needed")
        if sum(c.weight for c in self.components.values()) <= 0:
            raise ValueError("components: the weights add up to 0; at least one must be positive")
        for seg, override in self.segments.items():
            for name in override.weights:
                if name not in self.components and name not in override.components:
                    raise ValueError(
                        f"segments.{seg}.weights.{name}: no component of that name "
                        f"(known: {', '.join(sorted(self.components))})"
                    )
            merged = self.resolved_weights(seg)
            if sum(merged.values()) <= 0:
                raise ValueError(f"segments.{seg}: the weights add up to 0")
        return self

    def resolved_weights(self, segment: str) -> dict[str, float]:
        """Raw configured weights for ``segment`` after its override (before renormalising)."""
        override = self.segments[segment]
        weights = {name: c.weight for name, c in self.components.items()}
        weights.update({name: c.weight for name, c in override.components.items()})
        weights.update(override.weights)
        return weights


@dataclass(frozen=True)
class ResolvedComponent:
    """One component of a resolved model, its weight already renormalised to points of 100."""

    name: str
    spec: UsageTotal | DaysSinceActivity | Trend | SupportLoad | LatestNps | Billing
    weight: float

    @property
    def kind(self) -> str:
        """The component kind (``usage_total``, ``trend``, ...)."""
        return self.spec.kind

    @property
    def label(self) -> str:
        """What explanations call it."""
        return self.spec.label or self.name

    @property
    def higher_is_better(self) -> bool:
        """Direction for percentile and min-max normalisation."""
        return (self.spec.direction or DEFAULT_DIRECTION[self.spec.kind]) == "higher_is_better"


@dataclass(frozen=True)
class ResolvedModel:
    """The model that applies to one group of accounts (the default or one segment)."""

    version: str
    #: None for the default model (every segment without an override).
    segment: str | None
    components: tuple[ResolvedComponent, ...]


@dataclass(frozen=True)
class HealthModel:
    """The validated file, resolved into the default model and one per overridden segment."""

    version: str
    default: ResolvedModel
    segments: dict[str, ResolvedModel]
    source: Path | None = None

    def models(self) -> list[ResolvedModel]:
        """Every resolved model, the default first."""
        return [self.default, *self.segments.values()]

    def for_segment(self, segment: str | None) -> ResolvedModel:
        """The model that scores accounts of ``segment``."""
        if segment is not None and segment in self.segments:
            return self.segments[segment]
        return self.default


def _resolve(
    version: str, segment: str | None, specs: dict[str, Component], weights: dict[str, float]
) -> ResolvedModel:
    total = sum(weights.values())
    comps = tuple(
        ResolvedComponent(name=name, spec=specs[name], weight=weights[name] * 100.0 / total)
        for name in specs
        if weights[name] > 0
    )
    model_version = version if segment is None else f"{version}+{segment}"
    return ResolvedModel(version=model_version[:50], segment=segment, components=comps)


def build_model(data: HealthModelFile, source: Path | None = None) -> HealthModel:
    """Resolve the file into runnable models (weights renormalised to 100)."""
    default = _resolve(
        data.version,
        None,
        dict(data.components),
        {name: c.weight for name, c in data.components.items()},
    )
    segments: dict[str, ResolvedModel] = {}
    for seg, override in data.segments.items():
        specs = {**data.components, **override.components}
        segments[seg] = _resolve(data.version, seg, specs, data.resolved_weights(seg))
    return HealthModel(version=data.version, default=default, segments=segments, source=source)


_TAGS = frozenset(DEFAULT_DIRECTION) | {"percentile", "minmax", "target"}


def _key(loc: tuple[int | str, ...]) -> str:
    # pydantic puts the matched union tag into the location (components.x.trend.weight);
    # a person wrote components.x.weight, so drop the tag where a union was matched.
    parts = [
        str(part)
        for i, part in enumerate(loc)
        if not (
            part in _TAGS
            and i >= 1
            and (loc[i - 1] == "normalise" or (i >= 2 and loc[i - 2] == "components"))
        )
    ]
    return ".".join(parts) or "(top level)"


def parse_health_model(data: object, path: Path | str) -> HealthModel:
    """Validate parsed YAML; problems raise ConfigError, one line per problem naming the key."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: key (top level): expected a mapping of keys to values")
    try:
        parsed = HealthModelFile.model_validate(data)
    except ValidationError as err:
        lines: list[str] = []
        for problem in err.errors():
            loc = tuple(problem["loc"])
            msg = problem["msg"]
            if problem["type"] == "extra_forbidden":
                msg = "unknown key (check the spelling; see docs/health-model.md)"
            elif problem["type"] in ("union_tag_invalid", "union_tag_not_found"):
                # pydantic reports the bad discriminator at the component; name the key itself.
                tag = problem.get("ctx", {}).get("discriminator", "'kind'").strip("'")
                loc = (*loc, tag)
                expected = problem.get("ctx", {}).get("expected_tags", "")
                msg = f"unknown or missing {tag} (expected one of {expected})"
            elif msg.startswith("Value error, "):
                msg = msg[len("Value error, ") :]
            lines.append(f"{path}: key {_key(loc)}: {msg}")
        raise ConfigError("\n".join(lines)) from None
    return build_model(parsed, Path(path))


def health_model_path() -> Path:
    """The health model file in force."""
    return definition_path("config", "health.yaml")


def load_health_model(path: Path | None = None) -> HealthModel:
    """Read and validate ``config/health.yaml`` (or ``path``); a broken file raises ConfigError."""
    target = path or health_model_path()
    return parse_health_model(read_yaml(target), target)
