"""The metrics framework: canonical thresholds from ``config/thresholds.yaml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from successcrew.definitions.loading import load_model
from successcrew.paths import definition_path

Percent = Annotated[float, Field(ge=0, le=100)]
Score = Annotated[float, Field(ge=0, le=100)]
COMPONENTS = ("crm_sync", "health_scoring", "campaign_dispatch", "nps_surveys", "data_freshness")
#: An input's allowed age in days; None: never judged stale.
MaxAge = Annotated[int, Field(ge=0, le=3650)] | None


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Band(_Strict):
    """A half-open score interval ``[min, max)``; the top band also includes its max."""

    min: Score
    max: Score

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.min >= self.max:
            raise ValueError(f"min {self.min:g} must be below max {self.max:g}")
        return self


class HealthBands(_Strict):
    """Healthy / At-Risk / Critical; together they must cover 0-100 without gap or overlap."""

    healthy: Band
    at_risk: Band
    critical: Band

    @model_validator(mode="after")
    def _contiguous(self) -> HealthBands:
        if self.critical.min != 0:
            raise ValueError(
                f"critical.min is {self.critical.min:g}; the lowest band must start at 0"
            )
        if self.healthy.max != 100:
            raise ValueError(f"healthy.max is {self.healthy.max:g}; the top band must end at 100")
        for low_name, low, high_name, high in (
            ("critical", self.critical, "at_risk", self.at_risk),
            ("at_risk", self.at_risk, "healthy", self.healthy),
        ):
            if low.max < high.min:
                raise ValueError(
                    f"gap between {low_name} (ends {low.max:g}) and {high_name} "
                    f"(starts {high.min:g}): scores in between would have no band"
                )
            if low.max > high.min:
                raise ValueError(
                    f"{low_name} (ends {low.max:g}) overlaps {high_name} (starts {high.min:g})"
                )
        return self

    @property
    def boundaries(self) -> tuple[float, float]:
        """The scores where a band starts (40 and 70 by default): a shown score never crosses
        one (``successcrew.numbers.score``)."""
        return (self.at_risk.min, self.healthy.min)

    def band_of(self, score: float) -> str:
        """``healthy``, ``at_risk`` or ``critical`` for a 0-100 score."""
        if score >= self.healthy.min:
            return "healthy"
        if score >= self.at_risk.min:
            return "at_risk"
        return "critical"


class RetentionThresholds(_Strict):
    one_month_logo_target_pct: Percent = 85
    mom_decline_alert_pct: Percent = 15
    improvement_gate_pct: Percent = 5


class NpsThresholds(_Strict):
    gate: Annotated[float, Field(ge=-100, le=100)] = 0
    target: Annotated[float, Field(ge=-100, le=100)] = 30
    excellent: Annotated[float, Field(ge=-100, le=100)] = 50
    rolling_window_days: Annotated[int, Field(gt=0, le=3650)] = 90

    @model_validator(mode="after")
    def _ordered(self) -> NpsThresholds:
        if not self.gate <= self.target <= self.excellent:
            raise ValueError("must satisfy gate <= target <= excellent")
        return self


class RollbackThresholds(_Strict):
    crm_sync_error_rate_pct: Percent = 5
    campaign_negative_feedback_pct: Percent = 10
    nps_drop_points: Annotated[float, Field(gt=0, le=200)] = 10
    nps_drop_window_days: Annotated[int, Field(gt=0, le=3650)] = 30
    #: Fewer answers than this in either window: the fall is not judged.
    nps_drop_min_answers: Annotated[int, Field(ge=2, le=1_000_000)] = 30
    #: How many standard errors of the difference the fall must exceed. 2.58 (99 %), not 1.96:
    #: the rule looks again every day, and at 1.96 chance alone passes it about once a season.
    nps_drop_z: Annotated[float, Field(gt=0, le=10)] = 2.58


class SystemHealthThresholds(_Strict):
    check_interval_minutes: Annotated[int, Field(gt=0, le=1440)] = 60
    components: tuple[str, ...] = COMPONENTS
    consecutive_failures_alert: Annotated[int, Field(ge=1, le=100)] = 3
    uptime_slo_pct: Percent = 99.5
    uptime_window_days: Annotated[int, Field(gt=0, le=365)] = 30


class FeedAges(_Strict):
    """How many days old each input's newest data may be on the scoring date."""

    usage: MaxAge = 3
    tickets: MaxAge = 21
    invoices: MaxAge = 45
    nps: MaxAge = 90
    crm_sync: MaxAge = 2


class DataFreshness(_Strict):
    """When an input counts as stale, and how much stale weight stops a scoring run.

    A usage metric is judged on its own (``usage:<metric>``), with ``max_age_days.usage`` unless
    ``usage_metrics`` names it.
    """

    max_age_days: FeedAges = FeedAges()
    usage_metrics: dict[Annotated[str, Field(min_length=1, max_length=100)], MaxAge] = Field(
        default_factory=dict
    )
    hold_above_stale_weight_pct: Percent = 50

    def max_age(self, feed: str) -> int | None:
        """The allowed age of ``feed`` (``usage:<metric>``, ``tickets``, ...) in days."""
        kind, _, metric = feed.partition(":")
        if kind == "usage" and metric in self.usage_metrics:
            return self.usage_metrics[metric]
        return getattr(self.max_age_days, kind)


class RetryPolicy(_Strict):
    attempts: Annotated[int, Field(ge=1, le=20)] = 3
    backoff_initial_seconds: Annotated[float, Field(ge=0, le=600)] = 1
    backoff_max_seconds: Annotated[float, Field(ge=0, le=3600)] = 30
    jitter: bool = True


class Thresholds(_Strict):
    """The whole metrics framework."""

    health_bands: HealthBands
    retention: RetentionThresholds = RetentionThresholds()
    nps: NpsThresholds = NpsThresholds()
    rollback: RollbackThresholds = RollbackThresholds()
    system_health: SystemHealthThresholds = SystemHealthThresholds()
    retries: RetryPolicy = RetryPolicy()
    data_freshness: DataFreshness = DataFreshness()


def thresholds_path() -> Path:
    """The thresholds file in force."""
    return definition_path("config", "thresholds.yaml")


def load_thresholds(path: Path | None = None) -> Thresholds:
    """Load and validate the thresholds file; a broken file raises ConfigError (exit 2)."""
    return load_model(path or thresholds_path(), Thresholds)
