"""Trigger rules as pure logic: the definition model, comparators, episodes, actions, rollbacks.

Nothing here reads the database or the clock. The store hands in what it found (the subjects whose
condition holds now, the open events), this module decides what to fire, resolve and send, and
the store writes it. That keeps the rules testable in microseconds and identical on every backend.
"""

from __future__ import annotations

import hashlib
import json
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from successcrew.thresholds import Thresholds

#: Comparator spelling in YAML -> the Python operator; the SQL side uses the same operators.
COMPARATORS: dict[str, Callable[[Any, Any], bool]] = {
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

PORTFOLIO_SUBJECT = "portfolio"


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


def compare(value: float, comparator: str, threshold: float) -> bool:
    """``value <comparator> threshold``; an unknown comparator is a ValueError."""
    try:
        return COMPARATORS[comparator](value, threshold)
    except KeyError:
        raise ValueError(f"unknown comparator {comparator!r}") from None


# --- episodes ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """A subject whose condition holds now, with the value, threshold and evidence to store."""

    subject: str
    value: float | None
    threshold: float | None
    account_id: int | None = None
    evidence: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenEvent:
    """An event still open, as the episode logic needs it."""

    id: int
    subject: str
    fired_at: datetime


@dataclass(frozen=True)
class EpisodePlan:
    """What to write: new events, events to resolve (condition cleared) or expire (cooldown)."""

    fire: list[Observation]
    resolve: list[int]
    expire: list[int]


def plan_episodes(
    firing: Mapping[str, Observation],
    open_events: Mapping[str, OpenEvent],
    *,
    now: datetime,
    cooldown_hours: int,
    unknown: frozenset[str] = frozenset(),
) -> EpisodePlan:
    """The episode state machine.

    A subject fires when its condition holds and it has no open event. While the condition keeps
    holding, the open event stands; once ``cooldown_hours`` (> 0) have passed since it fired, it
    is closed as ``expired`` and a new event fires, so a long-lasting problem is raised again.
    A subject whose condition no longer holds has its open event resolved. Subjects in
    ``unknown`` (metric not available) are left alone: no data is not the same as all clear.
    """
    fire: list[Observation] = []
    expire: list[int] = []
    cooldown = timedelta(hours=cooldown_hours)
    for subject, obs in firing.items():
        event = open_events.get(subject)
        if event is None:
            fire.append(obs)
        elif cooldown_hours > 0 and now - event.fired_at >= cooldown:
            expire.append(event.id)
            fire.append(obs)
    resolve = [e.id for s, e in open_events.items() if s not in firing and s not in unknown]
    return EpisodePlan(fire=fire, resolve=sorted(resolve), expire=sorted(expire))


# --- actions -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Action:
    """One outbox message an event asks for."""

    name: str
    channel: str
    key: str
    payload: dict[str, Any]


def action_key(code: str, subject: str, event_id: int, action: str) -> str:
    """Deterministic idempotency key, e.g. ``RETENTION-001:acct:7:event:42:crm_task``."""
    if subject.startswith("account:"):
        subject = "acct:" + subject.split(":", 1)[1]
    return f"{code}:{subject}:event:{event_id}:{action}"


def is_high_value(arr: float | None, high_value_arr: float | None) -> bool:
    """High-value = ARR at or above the configured threshold (unknown ARR is not high-value)."""
    return arr is not None and high_value_arr is not None and float(arr) >= high_value_arr


def plan_actions(
    *,
    code: str,
    title: str,
    severity: str,
    actions: list[str],
    subject: str,
    event_id: int,
    value: float | None,
    threshold: float | None,
    context: Mapping[str, Any],
    channels: Mapping[str, str],
    due_date: str,
) -> list[Action]:
    """The effects an event requests, with payloads the dispatcher understands.

    ``context`` carries what the store found about the subject (account name, owner, ARR, CRM link,
    high-value flag, component, pause scope). Actions that do not apply to this subject are left
    out: a chairman notice only for a high-value account, a CRM task only for an account that is
    linked to a CRM, a component pause only where the definition names a scope for the component.
    """
    planned: list[Action] = []
    shown = "n/a" if value is None else f"{value:.2f}"
    limit = "n/a" if threshold is None else f"{threshold:g}"
    name = context.get("account_name") or context.get("component") or subject
    fields = {"trigger": code, "subject": str(name), "value": shown, "threshold": limit}
    # While scores are set by hand (rollback: health calculation failure) interventions computed
    # from automatic scores wait; the dispatcher holds messages whose pause scope is paused.
    scope_hold = {"pause_scope": context["pause_scope"]} if context.get("pause_scope") else {}
    for action in actions:
        key = action_key(code, subject, event_id, action)
        channel = ACTIONS[action]
        if channel is None:
            continue  # internal requests: see ``requested``
        if action == "crm_task":
            if not context.get("crm_provider"):
                continue
            payload: dict[str, Any] = {
                "provider": context["crm_provider"],
                "account_source_id": context["crm_source_id"],
                "subject": f"[{code}] {title}: {name}",
                "body": f"{title}. Value {shown} against threshold {limit}. "
                f"{context.get('explanation', '')}".strip(),
                "due_date": due_date,
                "owner_email": context.get("owner_email"),
                **scope_hold,
            }
        elif action == "chairman_notice":
            if not context.get("high_value"):
                continue
            payload = {
                "channel": channels["chairman"],
                "title": f"High-value account at risk: {name}",
                "summary": context.get("explanation") or title,
                "fields": {**fields, "arr": f"{float(context.get('arr') or 0):,.0f}"},
                **scope_hold,
            }
        elif action in ("team_notice", "ops_alert"):
            payload = {
                "channel": channels["team"],
                "title": f"[{severity}] {code}: {title}",
                "summary": context.get("summary") or title,
                "fields": fields,
            }
        else:
            raise ValueError(f"action {action!r} has no outbox payload")
        planned.append(Action(action, channel, key, payload))
    return planned


def requested(actions: list[str], context: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The internal requests an event carries in its evidence (``requests``): enrolment in a
    playbook, re-targeting a cohort, pausing a component. Other parts act on open events."""
    out: list[dict[str, Any]] = []
    for action in actions:
        if ACTIONS[action] is not None:
            continue
        if action == "playbook_enrolment":
            out.append({"action": action, "playbook": context.get("playbook", "critical")})
        elif action == "retarget_cohort":
            out.append({"action": action, "cohort": context.get("cohort", "at_risk")})
        elif action == "pause_component" and context.get("component_pause_scope"):
            out.append({"action": action, "scope": context["component_pause_scope"]})
    return out


# --- rollback rules ----------------------------------------------------------------------------


@dataclass(frozen=True)
class FlagState:
    """The pause flag as a rollback rule sees it."""

    paused: bool
    set_by: str | None
    set_at: datetime


def rollback_decision(
    condition: bool | None,
    flag: FlagState | None,
    *,
    rule: str,
    observed_at: datetime | None,
    auto_clear: bool,
) -> Literal["set", "clear"] | None:
    """Whether a rollback rule sets or clears its pause flag this run.

    ``condition`` None means the rule has no data: nothing changes. A rule sets the flag when its
    condition holds, unless a person cleared the flag after the evidence was observed (their
    ``resume`` is honoured until new evidence arrives). It clears only a flag it set itself and only
    when ``auto_clear``: a pause someone set by hand is never lifted by automation.
    """
    if condition is None:
        return None
    if condition:
        if flag is None:
            return "set"
        if flag.paused:
            return None
        return "set" if observed_at is not None and observed_at > flag.set_at else None
    if auto_clear and flag is not None and flag.paused and flag.set_by == rule:
        return "clear"
    return None


def uptime_pct(ok: int, total: int) -> float | None:
    """Share of successful checks in percent; None without checks."""
    return None if total == 0 else 100.0 * ok / total
