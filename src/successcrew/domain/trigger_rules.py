"""Trigger rules as pure logic: the definition model, comparators, episodes, actions, rollbacks.

Nothing here reads the database or the clock. The store hands in what it found (the subjects whose
condition holds now, the open events), this module decides what to fire, resolve and send, and
the store writes it. That keeps the rules testable in microseconds and identical on every backend.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from successcrew import numbers
from successcrew.definitions.trigger_specs import ACTIONS, COMPARATORS

PORTFOLIO_SUBJECT = "portfolio"


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
    evidence: dict[str, Any] = field(default_factory=dict[str, Any])


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


def value_text(metric: str, value: float | None, threshold: float | None) -> str:
    """An event's value as people write it; a health score never shows on the other side of
    the threshold it crossed (39.95 below 40 is ``39.9``)."""
    if value is None:
        return "n/a"
    if metric == "health_score":
        return numbers.score(value, () if threshold is None else (threshold,))
    if metric.startswith("logo_retention"):
        return numbers.percent(value)
    if metric.startswith("nps"):
        return f"{value:+.0f}"
    if metric == "consecutive_failures":
        return numbers.count(value)
    return f"{value:,.2f}"


#: Words a subject's name holds that people write in capitals (``crm_sync`` is "CRM sync").
ACRONYMS = {"crm": "CRM", "nps": "NPS", "api": "API", "csv": "CSV", "sql": "SQL"}


def subject_label(name: str) -> str:
    """A component or subject name as a title starts (``crm_sync`` -> ``CRM sync``); a name
    a person wrote (an account's) is left as it is."""
    if not (name.islower() or "_" in name):
        return name
    words = [ACRONYMS.get(w.lower(), w) for w in name.replace("_", " ").split(" ")]
    if words and words[0] not in ACRONYMS.values():
        words[0] = words[0][:1].upper() + words[0][1:]
    return " ".join(words)


def describe_value(metric: str, value: float | None, threshold: float | None) -> str:
    """The number of an event in words (``health 39.9``, ``NPS -4``), for titles people read."""
    shown = value_text(metric, value, threshold)
    if value is None:
        return "no value"
    if metric == "health_score":
        return f"health {shown}"
    if metric.startswith("logo_retention"):
        return f"one-month retention {shown}"
    if metric.startswith("nps"):
        return f"NPS {shown}"
    if metric == "consecutive_failures":
        return f"{shown} failed checks in a row"
    return f"{metric.replace('_', ' ')} {shown}"


def plan_actions(
    *,
    code: str,
    title: str,
    metric: str = "",
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
    out: a chairman notice only for a high-value account and not when the chairman's escalation
    card announces the event (``chairman_card``: one message per account and event), a CRM task
    only for an account that is linked to a CRM, a component pause only where the definition
    names a scope for the component.
    """
    planned: list[Action] = []
    what = describe_value(metric, value, threshold)
    shown = value_text(metric, value, threshold)
    limit = "n/a" if threshold is None else f"{threshold:g}"
    name = str(context.get("account_name") or context.get("component") or subject)
    fields = {"Value": shown, "Threshold": limit}
    # Plain words in the title (who, what, the number); the trigger code only in the context line.
    where = f"{code} · {title} · {severity}"
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
                f"{context.get('explanation', '')}".strip()
                + (
                    f"\n\nBrief (drafted by a model):\n{context['brief']}"
                    if context.get("brief")
                    else ""
                ),
                "due_date": due_date,
                "owner_email": context.get("owner_email"),
                **scope_hold,
            }
        elif action == "chairman_notice":
            if not context.get("high_value") or context.get("chairman_card"):
                continue
            payload = {
                "channel": channels["chairman"],
                "title": f"High-value account {name} at risk: {what}",
                "summary": context.get("explanation") or title,
                "fields": {**fields, "ARR": numbers.amount(float(context.get("arr") or 0))},
                "context": where,
                **scope_hold,
            }
        elif action in ("team_notice", "ops_alert"):
            payload = {
                "channel": channels["team"],
                "title": f"{subject_label(name)}: {what}",
                "summary": context.get("summary") or title,
                "fields": fields,
                "context": where,
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
