"""``config/product_events.yaml``: how Segment-compatible product events (``successcrew serve``,
``/v1/track``, ``/v1/group``...) become accounts and usage metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

MetricName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,99}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TrackMetric(_Strict):
    """One ``track`` event counted as a usage metric: 1 per event, or a numeric property."""

    metric: MetricName
    value_property: Annotated[str, Field(min_length=1)] | None = None


class ProductEvents(_Strict):
    """Event name -> metric, and which ``group`` traits fill the account."""

    track: dict[Annotated[str, Field(min_length=1, max_length=200)], TrackMetric] = Field(
        default_factory=dict
    )
    #: The ``group`` trait that names the account (Segment's reserved trait is ``name``).
    account_name_trait: str = "name"
    #: Optional traits copied onto the account.
    account_plan_trait: str | None = "plan"
    account_segment_trait: str | None = "industry"


def product_events_path() -> Path:
    """The mapping file in force."""
    from successcrew.paths import definition_path

    return definition_path("config", "product_events.yaml")


def load_product_events(path: Path | None = None) -> ProductEvents:
    """Load and validate the mapping; a broken file raises ConfigError naming file and key."""
    from successcrew.definitions.loading import load_model

    return load_model(path or product_events_path(), ProductEvents)
