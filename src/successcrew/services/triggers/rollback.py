"""Rollback rules: evaluated on every trigger evaluation, each adding or lifting its own hold.

- crm_sync_error_rate: the latest crm_sync check of the sync itself reports an error rate above
  ``rollback.crm_sync_error_rate_pct`` -> hold ``automation`` and ask for manual verification;
  lifted by hand (``successcrew resume automation --rule crm_sync_error_rate``) once someone
  checked the CRM data.
- health_calculation_failure: the latest health_scoring check failed, or the latest scoring run
  was held because its inputs were stale (its data_freshness check carried scores forward): no
  score was computed -> hold ``scoring`` (scores are manual); lifted automatically when a run
  scores again.
- nps_drop: rolling NPS fell more than ``rollback.nps_drop_points`` within
  ``nps_drop_window_days``, with ``nps_drop_min_answers`` in both windows and by more than
  ``nps_drop_z`` standard errors (a fall the number of answers cannot explain:
  ``domain.nps_drop_rules``) -> hold ``campaigns`` and open a chairman escalation (emergency
  review); lifted by hand after the review (``--rule nps_drop``).

Each rule holds under its own name (``store.pauses``), beside any hold a person or another rule
has on the scope, so a person's own resume never lifts it; every change lands in the audit log
with its reason. When a person lifts a rule's hold, that is honoured: the rule holds again only
on evidence newer than the lift (a later check, a later NPS answer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from successcrew.definitions.thresholds import Thresholds
from successcrew.domain.nps_drop_rules import judge_nps_drop
from successcrew.domain.trigger_rules import FlagState, rollback_decision
from successcrew.store import component_checks, pauses
from successcrew.store import trigger_events as store
from successcrew.store.models import NpsResponse
from successcrew.store.outbox import enqueue_many


@dataclass(frozen=True)
class _Finding:
    """What a rule saw: condition (None = no data), when the evidence was observed, and why."""

    condition: bool | None
    observed_at: datetime | None
    reason: str
    detail: dict[str, Any]


def _crm_error_rate(session: Session, thresholds: Thresholds, now: datetime) -> _Finding:
    # The sync's own record, not the hourly probe's check of the same moment.
    check = component_checks.latest_with(session, "crm_sync", "attempted", now)
    detail = (check.detail if check else None) or {}
    rate = detail.get("error_rate_pct")
    if rate is None and detail.get("attempted"):
        rate = 100.0 * float(detail.get("failed") or 0) / float(detail["attempted"])
    if check is None or rate is None:
        return _Finding(None, check.checked_at if check else None, "no CRM sync figures", {})
    limit = thresholds.rollback.crm_sync_error_rate_pct
    unreachable = detail.get("unreachable") or []
    what = (
        f"the sync could not reach the CRM ({', '.join(map(str, unreachable))})"
        if unreachable
        else f"{detail.get('failed', '?')} of {detail.get('attempted', '?')} records failed"
    )
    reason = (
        f"CRM sync error rate {float(rate):.1f} % > {limit:g} % ({what}): "
        "automation paused; verify the CRM data by hand, then "
        "`successcrew resume automation --rule crm_sync_error_rate`"
    )
    return _Finding(float(rate) > limit, check.checked_at, reason, {"error_rate_pct": rate})


def _health_failure(session: Session, thresholds: Thresholds, now: datetime) -> _Finding:
    outcome = component_checks.latest_scoring_outcome(session, now)
    if outcome is None:
        return _Finding(None, None, "no scoring runs", {})
    # Carried forward = no score computed: the run failed, or was held for stale inputs (that
    # one is recorded once, as the feed's data_freshness failure, so RETENTION-004 alerts once).
    failed = not outcome.ok and (
        outcome.component == "health_scoring" or "carried_forward" in (outcome.detail or {})
    )
    what = (
        "no health scores computed: the inputs are stale"
        if outcome.component == "data_freshness"
        else "health calculation failed"
    )
    reason = (
        f"{what} at {outcome.checked_at:%Y-%m-%d %H:%M} UTC "
        f"({outcome.error or 'no error text'}): scores are manual until a run scores again"
    )
    return _Finding(failed, outcome.checked_at, reason, {"error": outcome.error})


def _nps_drop(session: Session, thresholds: Thresholds, now: datetime) -> _Finding:
    from successcrew.store.metric_queries import nps_change

    rules = thresholds.rollback
    window = rules.nps_drop_window_days
    current, earlier = nps_change(session, now.date(), window)
    latest = session.scalar(
        select(func.max(NpsResponse.responded_at)).where(NpsResponse.responded_at <= now)
    )
    verdict = judge_nps_drop(
        earlier,
        current,
        drop_points=rules.nps_drop_points,
        z=rules.nps_drop_z,
        min_answers=rules.nps_drop_min_answers,
    )
    if verdict.fires is None or verdict.drop_points is None:
        return _Finding(None, latest, verdict.why, {})
    reason = (
        f"NPS dropped {verdict.drop_points:.1f} points within {window} days "
        f"({earlier.nps:+.1f} -> {current.nps:+.1f}; {earlier.responses} and {current.responses} "
        f"answers, where chance explains a fall of up to {verdict.noise_points:.1f}): "
        "campaigns paused for an emergency review by the chairman"
    )
    detail = {
        "before": earlier.as_dict(),
        "now": current.as_dict(),
        "drop_points": verdict.drop_points,
        "noise_points": verdict.noise_points,
    }
    return _Finding(verdict.fires, latest, reason, detail)


def _emergency_title(detail: dict[str, Any]) -> str:
    drop = detail.get("drop_points")
    return "Emergency review: NPS dropped" + (
        f" {float(drop):.1f} points" if drop is not None else ""
    )


#: name -> (reader, pause scope, lifted automatically when the condition clears)
RULES = {
    "crm_sync_error_rate": (_crm_error_rate, "automation", False),
    "health_calculation_failure": (_health_failure, "scoring", True),
    "nps_drop": (_nps_drop, "campaigns", False),
}


def apply_rollback_rules(
    session: Session,
    thresholds: Thresholds,
    now: datetime,
    channels: Mapping[str, str],
    *,
    cards: bool = False,
) -> list[dict[str, Any]]:
    """Evaluate every rule in the caller's transaction; returns the holds it added or lifted.

    ``cards``: the chairman's escalation cards are on, so the emergency review's card (raised
    by the escalation step) is the chairman's one message about it; otherwise a plain message
    tells the chairman at once.
    """
    changes = []
    for name, (read, scope, auto_clear) in RULES.items():
        finding = read(session, thresholds, now)
        # The rule's own hold only: a person's hold on the same scope is theirs to lift.
        mine = pauses.rule_hold(session, scope, name)
        state = None if mine is None else FlagState(mine.open, name, mine.changed_at)
        decision = rollback_decision(
            finding.condition,
            state,
            rule=name,
            observed_at=finding.observed_at,
            auto_clear=auto_clear,
        )
        if decision is None:
            continue
        if decision == "set":
            reason = finding.reason
            changed = pauses.hold(session, scope, by=name, kind="rule", reason=reason, now=now)
        else:
            reason = f"{name}: condition cleared"
            changed = pauses.lift(
                session, scope, held_by=name, kind="rule", by=name, reason=reason, now=now
            )
        if not changed:
            continue
        change: dict[str, Any] = {
            "rule": name,
            "scope": scope,
            "change": decision,
            "reason": reason,
        }
        if decision == "set" and name == "nps_drop":
            escalation_id = store.add_escalation(
                session,
                kind="emergency_review",
                title=_emergency_title(finding.detail),
                context={"reason": reason, **finding.detail},
                now=now,
            )
            if not cards:
                message = {
                    "key": f"ROLLBACK:nps_drop:escalation:{escalation_id}:slack",
                    "channel": "slack",
                    "payload": {
                        "channel": channels["chairman"],
                        "title": _emergency_title(finding.detail),
                        "summary": reason,
                    },
                }
                enqueue_many(session, [message], now=now)
            change["escalation_id"] = escalation_id
        changes.append(change)
    return changes
