"""Health-score explanations: what moved a snapshot since the previous one, in plain words.

Snapshots carry per component its kind, label, raw value, normalised value, effective weight and
contribution in points (they sum to the computed score; the store puts the words and the numbers
back together from the snapshot's layout), so the diff needs nothing but the two snapshots: no
configuration, no database.

Two snapshots scored by different model versions are not compared component by component: the
difference is the model's, not the account's, and the explanation says so. Components left out
because their input was stale are named as such, never as the account's missing data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any


@dataclass(frozen=True)
class SnapshotView:
    """The parts of a stored health snapshot an explanation reads."""

    account_id: int
    as_of: date
    score: float
    computed_score: float | None
    band: str
    components: dict[str, dict[str, Any]]
    missing_components: list[str]
    model_version: str
    override_id: int | None = None
    stale: bool = False
    #: Components left out because their input was stale on as_of.
    stale_components: list[str] = field(default_factory=list[str])


@dataclass(frozen=True)
class Mover:
    """One component's change in contribution, with a sentence saying why."""

    component: str
    delta_points: float
    text: str


@dataclass(frozen=True)
class Explanation:
    """What moved an account's health score between two snapshots."""

    account_id: int
    as_of: date
    score: float
    band: str
    previous_as_of: date | None
    previous_score: float | None
    previous_band: str | None
    delta_points: float | None
    movers: list[Mover] = field(default_factory=list[Mover])
    notes: list[str] = field(default_factory=list[str])
    #: (previous version, current version) when a model change lies between the two snapshots.
    model_change: tuple[str, str] | None = None

    def summary(self) -> str:
        """One line: score, change and the biggest movers."""
        head = f"{self.score:.1f} ({self.band})"
        if self.model_change is not None and self.previous_score is not None:
            before, after = self.model_change
            return (
                f"{head}; health model changed {before} -> {after} since {self.previous_as_of} "
                f"(then {self.previous_score:.1f} under {before}): the difference is the "
                "model's, not a change in the account"
            )
        if self.previous_score is None or self.delta_points is None:
            return f"{head}; first snapshot"
        change = f"{self.delta_points:+.1f} points since {self.previous_as_of}"
        movers = "; ".join(m.text for m in self.movers)
        return f"{head}, {change}" + (f": {movers}" if movers else "")


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _fmt(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.2g}"


def describe_component(
    comp: dict[str, Any],
    previous: dict[str, Any] | None,
    previous_as_of: date | None,
    *,
    stale: bool = False,
) -> str:
    """Plain words for a component's current raw value and how it compares with the previous.

    ``stale``: the component was left out because its input was not fresh on the date.
    """
    label = comp.get("label") or "component"
    kind = comp.get("kind")
    raw = _num(comp.get("raw"))
    prev_raw = _num(previous.get("raw")) if previous else None
    if stale:
        return f"{label}: input not fresh (left out, other weights renormalised)"
    if raw is None:
        return f"{label}: no data (left out, other weights renormalised)"
    if previous is not None and prev_raw is None:
        return describe_component(comp, None, None) + " (no data before)"
    if kind == "trend":
        window = comp.get("window_days")
        return f"{label} {raw * 100:+.0f} % over {window} days"
    if kind == "usage_total":
        window = comp.get("window_days")
        text = f"{label} {_fmt(raw)} in {window} days"
        if prev_raw:
            text += f" ({(raw - prev_raw) / prev_raw * 100:+.0f} % since {previous_as_of})"
        return text
    was = "" if prev_raw is None or prev_raw == raw else f" (was {_fmt(prev_raw)})"
    if kind == "days_since_activity":
        # At the lookback the value means "at least": nothing later was looked at.
        lookback = comp.get("lookback_days")
        if lookback is not None and raw >= lookback:
            return f"{label} {lookback}+ days ago" + was
        return f"{label} {raw:.0f} days ago" + was
    if kind == "support_load":
        return f"{label} weighing {_fmt(raw)}" + was
    if kind == "latest_nps":
        return f"{label} {raw:.0f}" + was
    if kind == "billing":
        return f"{label}: {raw:.0f}" + was
    return f"{label} {_fmt(raw)}" + was


def explain_change(
    current: SnapshotView, previous: SnapshotView | None, *, top: int = 3, min_points: float = 0.5
) -> Explanation:
    """The ``top`` components whose contribution changed most (at least ``min_points``)."""
    notes: list[str] = []
    if current.override_id is not None:
        computed = "n/a" if current.computed_score is None else f"{current.computed_score:.1f}"
        notes.append(f"manual override in force (computed score {computed})")
    if current.stale:
        notes.append(
            "stale: no fresh score for this date (the calculation failed or its input data was "
            "not fresh); this is the last good score, carried forward"
        )
    if current.stale_components:
        notes.append("left out, input not fresh: " + ", ".join(current.stale_components))
    if current.missing_components:
        notes.append("no data for: " + ", ".join(current.missing_components))
    if previous is None:
        return Explanation(
            account_id=current.account_id,
            as_of=current.as_of,
            score=current.score,
            band=current.band,
            previous_as_of=None,
            previous_score=None,
            previous_band=None,
            delta_points=None,
            notes=notes,
        )
    if previous.model_version != current.model_version:
        # Unlike with unlike: components, weights and scales may all differ. Say what the
        # score was and under which model, and move no component.
        change = (previous.model_version, current.model_version)
        notes.append(
            f"health model changed {change[0]} -> {change[1]} since {previous.as_of}: "
            f"{current.score - previous.score:+.1f} points come from the model, not the account"
        )
        return Explanation(
            account_id=current.account_id,
            as_of=current.as_of,
            score=current.score,
            band=current.band,
            previous_as_of=previous.as_of,
            previous_score=previous.score,
            previous_band=previous.band,
            delta_points=None,
            notes=notes,
            model_change=change,
        )
    stale = set(current.stale_components)
    movers: list[Mover] = []
    for name in dict.fromkeys([*current.components, *previous.components]):
        now = current.components.get(name) or {}
        before = previous.components.get(name)
        delta = float(now.get("contribution") or 0) - float((before or {}).get("contribution") or 0)
        if abs(delta) < min_points:
            continue
        text = describe_component(
            now or {**(before or {}), "raw": None}, before, previous.as_of, stale=name in stale
        )
        text = f"{text}: {delta:+.0f} points"
        movers.append(Mover(component=name, delta_points=delta, text=text))
    movers.sort(key=lambda m: (-abs(m.delta_points), m.component))
    return Explanation(
        account_id=current.account_id,
        as_of=current.as_of,
        score=current.score,
        band=current.band,
        previous_as_of=previous.as_of,
        previous_score=previous.score,
        previous_band=previous.band,
        delta_points=current.score - previous.score,
        movers=movers[:top],
        notes=notes,
    )
