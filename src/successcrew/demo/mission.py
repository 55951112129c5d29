"""What the crew's simulated days amounted to, in the words a customer-success lead uses.

Read back from the database (trigger events and pause holds), not from the run that made them,
so a second ``successcrew demo``, which runs nothing, tells the same story. Each line puts the
words first and the code in brackets: "3 accounts became Critical ... (RETENTION-001, ...)".
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, select

from successcrew.store.models import PauseHold, TriggerEvent

TRIGGER_CODES = ("RETENTION-001", "RETENTION-002", "RETENTION-003", "RETENTION-004")
#: The rollback rules, by the name their holds carry; ``auto-pause`` is the program rule.
ROLLBACK_RULES = ("crm_sync_error_rate", "health_calculation_failure", "nps_drop", "auto-pause")

_COMPONENT_WORDS = {
    "crm_sync": "The CRM sync",
    "health_scoring": "Health scoring",
    "campaign_dispatch": "Sending messages",
    "nps_surveys": "The NPS surveys",
    "data_freshness": "The data feeds",
}
_SCOPE_WORDS = {
    "automation": "all outbound messages",
    "campaigns": "every campaign",
    "surveys": "the NPS surveys",
    "scoring": "automatic health scores",
}
_RULE_WORDS = {
    "crm_sync_error_rate": "too many CRM records failed to sync",
    "health_calculation_failure": "the health calculation failed",
    "nps_drop": "NPS fell fast",
    "auto-pause": "the campaign's recipients complained or unsubscribed",
}


@dataclass
class MissionSummary:
    """Per trigger code and per rollback rule: the lines to print (empty: it never happened)."""

    triggers: dict[str, list[str]] = field(default_factory=dict)
    rollbacks: dict[str, list[str]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"triggers": self.triggers, "rollback_rules": self.rollbacks}

    def lines(self) -> list[str]:
        """Every line, triggers first, with a line for each code or rule that never fired."""
        out = []
        for code in TRIGGER_CODES:
            out += self.triggers.get(code) or [f"{code} did not fire"]
        for rule in ROLLBACK_RULES:
            out += self.rollbacks.get(rule) or [f"rollback rule {rule} paused nothing"]
        return out


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else f"{moment:%b} {moment.day}"


def _accounts_line(events: list[Any]) -> list[str]:
    accounts = {e.account_id for e in events}
    critical = {e.account_id for e in events if e.value is not None and e.value < e.threshold}
    recovered = {e.account_id for e in events if e.status == "resolved"} - {
        e.account_id for e in events if e.status == "open"
    }
    return [
        f"{len(accounts)} account(s) became Critical or lost more than 20 health points in two "
        f"weeks, {len(critical)} of them scored below {events[0].threshold:g} "
        f"(RETENTION-001, {len(events)} alert(s)); each got the critical playbook and an owner "
        f"task; {len(recovered)} recovered"
    ]


def _portfolio_line(code: str, event: Any, latest: Any) -> str:
    """The first event tells when it fired; ``latest`` (the same subject's newest event, a
    re-raise after the first expired) tells how it ended."""
    evidence = event.evidence or {}
    when = _day(event.fired_at)
    if code == "RETENTION-002":
        current = evidence.get("current") or {}
        month = str(current.get("month") or "the last month")
        return (
            f"Logo retention for {month} fell to {event.value:.1f} % against a target of "
            f"{event.threshold:g} %: a cohort of small accounts left (RETENTION-002 on {when}); "
            "the team was told and the at-risk cohort re-targeted"
        )
    if code == "RETENTION-003":
        return (
            f"NPS over the last 90 days fell to {event.value:+.1f} (gate {event.threshold:+g}, "
            f"{evidence.get('responses', '?')} answers, {evidence.get('detractors', '?')} "
            f"detractors) (RETENTION-003 on {when}); the chairman was asked to act"
        )
    component = str(evidence.get("component") or event.subject.removeprefix("component:"))
    words = _COMPONENT_WORDS.get(component, component)
    ended = (
        f"working again on {_day(latest.resolved_at)}"
        if latest.status == "resolved"
        else "still failing"
    )
    return (
        f"{words} failed {event.value:.0f} checks in a row (RETENTION-004 for {component} on "
        f"{when}); operations were alerted; {ended}"
    )


def _hold_line(hold: Any) -> str:
    scope = str(hold.scope)
    what = (
        f"campaign {scope.removeprefix('campaign:')}"
        if scope.startswith("campaign:")
        else _SCOPE_WORDS.get(scope, scope)
    )
    held_by = str(hold.held_by)
    why = _RULE_WORDS.get(held_by, held_by)
    line = f"{why[0].upper()}{why[1:]}: {what} paused on {_day(hold.set_at)}"
    line += f" ({hold.held_by}: {hold.reason})"
    if hold.lifted_at is None:
        rule = f" --rule {hold.held_by}" if hold.held_by != "auto-pause" else ""
        command = (
            f"successcrew programs resume {scope.removeprefix('campaign:')} --rule auto-pause"
            if scope.startswith("campaign:")
            else f"successcrew resume {scope}{rule}"
        )
        return f"{line}; still paused (to lift: {command} --reason ...)"
    if hold.lifted_by == hold.held_by:
        # A rule that lifts itself when its condition clears (scores computed again).
        return f"{line}; lifted by itself on {_day(hold.lifted_at)}, once the cause had cleared"
    return f"{line}; resumed on {_day(hold.lifted_at)} by {hold.lifted_by}: {hold.lift_reason}"


def mission_summary(engine: Engine, since: datetime, until: datetime) -> MissionSummary:
    """The triggers that fired and the rollback holds set between ``since`` and ``until``."""
    with engine.connect() as conn:
        events = conn.execute(
            select(TriggerEvent.__table__)
            .where(TriggerEvent.fired_at >= since, TriggerEvent.fired_at < until)
            .order_by(TriggerEvent.id)
        ).all()
        holds = conn.execute(
            select(PauseHold.__table__)
            .where(PauseHold.kind == "rule", PauseHold.set_at >= since, PauseHold.set_at < until)
            .order_by(PauseHold.id)
        ).all()
    by_code: dict[str, list[Any]] = defaultdict(list)
    for event in events:
        by_code[event.code].append(event)
    summary = MissionSummary()
    for code, found in by_code.items():
        if code == "RETENTION-001":
            summary.triggers[code] = _accounts_line(found)
        else:
            # A portfolio trigger re-raised as a reminder tells the same story: its first event.
            seen: dict[str, Any] = {}
            last: dict[str, Any] = {}
            for event in found:
                seen.setdefault(event.subject, event)
                last[event.subject] = event
            summary.triggers[code] = [
                _portfolio_line(code, e, last[subject]) for subject, e in seen.items()
            ]
    for hold in holds:
        summary.rollbacks.setdefault(str(hold.held_by), []).append(_hold_line(hold))
    return summary
