"""Data freshness: which inputs are stale on a scoring date, and what scoring does about it.

Each health component reads one input ("feed"): a usage metric (``usage:<metric>``, judged per
metric), ``tickets``, ``invoices`` or ``nps``. A feed is stale when its newest data is older than
its allowed age on the scoring date; its components are then left out of the score, as if the
account had no data for them, because a feed that stopped arriving would otherwise read as "no
logins for 30 days" for everyone. When the stale components carry more than the configured
share of a model's weight, nothing is scored: the last good scores stand, flagged stale.

``crm_sync`` is judged too (for ``status`` and the ``data_freshness`` check) but feeds no
component. Pure: the newest days are read by the store and handed in.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from successcrew.definitions.health_model import (
    Billing,
    DaysSinceActivity,
    HealthModel,
    LatestNps,
    SupportLoad,
    Trend,
    UsageTotal,
)
from successcrew.definitions.thresholds import DataFreshness

#: Feeds that are not usage metrics, in the order ``status`` lists them.
OTHER_FEEDS = ("tickets", "invoices", "nps", "crm_sync")


def component_feed(spec: object) -> str:
    """The feed a component definition reads (``usage:logins``, ``tickets``, ...)."""
    if isinstance(spec, UsageTotal | Trend | DaysSinceActivity):
        return f"usage:{spec.metric}"
    if isinstance(spec, SupportLoad):
        return "tickets"
    if isinstance(spec, Billing):
        return "invoices"
    if isinstance(spec, LatestNps):
        return "nps"
    raise TypeError(f"unknown component {spec!r}")  # pragma: no cover - the config admits no other


def model_feeds(model: HealthModel) -> list[str]:
    """Every feed the model's components read (all resolved models), sorted."""
    return sorted({component_feed(c.spec) for m in model.models() for c in m.components})


def feed_label(feed: str) -> str:
    """How a person calls the feed: ``usage of logins``, ``tickets``, ``NPS answers``."""
    kind, _, metric = feed.partition(":")
    if kind == "usage":
        return f"usage of {metric}"
    return {"nps": "NPS answers", "crm_sync": "CRM sync"}.get(kind, kind)


@dataclass(frozen=True)
class NothingSince:
    """A feed that delivered before but nothing from ``since`` to the date asked about (how far
    back its newest day lies was not looked up: that would read every row in between)."""

    since: date


@dataclass(frozen=True)
class FeedState:
    """One feed on one date: its newest day, how old that is, and whether that is too old.

    ``last_day`` None means the feed never delivered anything up to the date: every account has
    "no data" for its components anyway, so there is nothing a stale feed could distort.
    """

    feed: str
    last_day: date | None
    max_age_days: int | None
    age_days: int | None
    #: Set when the feed delivered before but nothing on or after this day (``NothingSince``).
    nothing_since: date | None = None

    @property
    def stale(self) -> bool:
        """Older than allowed (never when the age is not judged or there is no data at all)."""
        if self.max_age_days is None:
            return False
        if self.nothing_since is not None:
            return True
        return self.age_days is not None and self.age_days > self.max_age_days

    def describe(self) -> str:
        """``usage of logins: last 2026-10-11, 20 days old (expected within 3)``."""
        label = feed_label(self.feed)
        expected = "" if self.max_age_days is None else f" (expected within {self.max_age_days})"
        if self.nothing_since is not None:
            return f"{label}: nothing since {self.nothing_since.isoformat()}{expected}"
        if self.last_day is None:
            if self.feed == "crm_sync":
                return f"{label}: no account synced from a CRM yet"
            return f"{label}: no data yet"
        days = "day" if self.age_days == 1 else "days"
        text = f"{label}: last {self.last_day.isoformat()}, {self.age_days} {days} old"
        if self.max_age_days is None:
            return text + " (not judged)"
        return text + f" (expected within {self.max_age_days})"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "feed": self.feed,
            "label": feed_label(self.feed),
            "last_day": self.last_day.isoformat() if self.last_day else None,
            "nothing_since": self.nothing_since.isoformat() if self.nothing_since else None,
            "age_days": self.age_days,
            "max_age_days": self.max_age_days,
            "stale": self.stale,
        }


def judge_feeds(
    last_days: Mapping[str, date | NothingSince | None], rules: DataFreshness, on: date
) -> list[FeedState]:
    """Each feed's state on ``on`` from its newest day (on or before ``on``)."""
    states: list[FeedState] = []
    for feed, last in last_days.items():
        if isinstance(last, NothingSince):
            states.append(FeedState(feed, None, rules.max_age(feed), None, last.since))
        else:
            age = None if last is None else (on - last).days
            states.append(FeedState(feed, last, rules.max_age(feed), age))
    return states


def usage_lookback_days(feeds: Iterable[str], rules: DataFreshness) -> int:
    """How far back to look for a usage metric's newest day: far enough to tell its age in any
    case that matters (four times its allowed age, at least 30 days), no further, since each
    day looked at without finding the metric costs a day's rows."""
    ages = [rules.max_age(f) for f in feeds if f.startswith("usage:")]
    return max([30, *(4 * a for a in ages if a is not None)])


@dataclass(frozen=True)
class StaleVerdict:
    """What the stale feeds mean for one scoring run."""

    feeds: tuple[FeedState, ...]
    #: Names of the components left out (in any resolved model).
    components: tuple[str, ...]
    #: The largest share of one resolved model's weight the stale components carry (0-100).
    weight_pct: float
    limit_pct: float
    hold: bool
    #: The segment whose model that share is of (None: the default model).
    worst_segment: str | None = None

    @property
    def stale_feeds(self) -> tuple[FeedState, ...]:
        """The feeds that are stale."""
        return tuple(f for f in self.feeds if f.stale)

    @property
    def ok(self) -> bool:
        """No feed is stale."""
        return not self.stale_feeds

    def stale_feed_names(self) -> frozenset[str]:
        """Names of the stale feeds."""
        return frozenset(f.feed for f in self.stale_feeds)

    def describe(self) -> str:
        """One sentence naming each stale feed, its newest day and its allowed age."""
        return "; ".join(f.describe() for f in self.stale_feeds)

    def share(self) -> str:
        """``65 % of the weight`` (``... of the enterprise model's weight`` for a segment)."""
        whose = "the" if self.worst_segment is None else f"the {self.worst_segment} model's"
        return f"{self.weight_pct:.0f} % of {whose} weight"

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (the ``data_freshness`` check's detail and the run summary)."""
        return {
            "feeds": [f.as_dict() for f in self.feeds],
            "stale_feeds": [f.feed for f in self.stale_feeds],
            "stale_components": list(self.components),
            "stale_weight_pct": round(self.weight_pct, 2),
            "stale_weight_segment": self.worst_segment,
            "hold_above_stale_weight_pct": self.limit_pct,
            "held": self.hold,
        }


def stale_verdict(
    model: HealthModel,
    feeds: Iterable[FeedState],
    rules: DataFreshness,
    segments: Collection[str | None] | None = None,
) -> StaleVerdict:
    """Which components scoring leaves out, and whether it scores at all.

    The share is judged per resolved model (the default and each overridden segment; weights in
    points of 100) that scores any of ``segments`` (the customers' segments; None: every model),
    and the largest counts: a segment whose model stands mostly on a stale feed holds the run as
    well. A model left with no fresh component holds it whatever the limit.
    """
    states = tuple(feeds)
    stale = {f.feed for f in states if f.stale}
    names: dict[str, None] = {}
    worst, worst_segment = 0.0, None
    in_use = [
        m
        for m in model.models()
        if segments is None
        or (
            m.segment in segments
            if m.segment is not None
            else any(s is None or s not in model.segments for s in segments)
        )
    ]
    for resolved in in_use or model.models():
        share = 0.0
        for c in resolved.components:
            if component_feed(c.spec) in stale:
                names[c.name] = None
                share += c.weight
        if share > worst + 1e-9:
            worst, worst_segment = share, resolved.segment
    limit = rules.hold_above_stale_weight_pct
    # Weights are renormalised floats: "everything stale" may add up to 99.999...
    hold = bool(stale) and (worst > limit or worst >= 100.0 - 1e-6)
    return StaleVerdict(
        feeds=states,
        components=tuple(names),
        weight_pct=worst,
        limit_pct=limit,
        hold=hold,
        worst_segment=worst_segment,
    )
