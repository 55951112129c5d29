"""Evaluation of the trigger definitions stored in the database, and their sync from YAML.

``evaluate_triggers`` reads every definition from ``trigger_definitions`` at run time (so a
definition an operator disabled or re-tuned in the database is honoured by the next run), reads
each trigger's metric set-based, lets ``domain.triggers`` decide the episodes and actions, and
writes events, escalations and outbox rows in one transaction, followed by the rollback rules.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any, TypedDict

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from successcrew.definitions.escalation_policy import EscalationPolicy
from successcrew.definitions.thresholds import Thresholds
from successcrew.definitions.trigger_specs import TriggerSpec, load_specs, resolve_threshold
from successcrew.domain.escalation_rules import should_escalate
from successcrew.domain.trigger_rules import (
    PORTFOLIO_SUBJECT,
    EpisodePlan,
    Observation,
    compare,
    is_high_value,
    plan_actions,
    plan_episodes,
    requested,
)
from successcrew.integrations.providers import CRM_PROVIDERS
from successcrew.redaction import sanitise
from successcrew.services.escalations.lifecycle import cards_on, high_value_cutoff
from successcrew.services.model.assistant import brief_texts
from successcrew.settings import Settings, load_settings
from successcrew.store import component_checks, pauses
from successcrew.store import trigger_events as store
from successcrew.store.db import transaction
from successcrew.store.models import TriggerDefinition
from successcrew.store.outbox import enqueue_many
from successcrew.store.tasks import add_tasks

#: The text a trigger's summary carries when its metric cannot be computed.
NOT_AVAILABLE = "metric not available"


# --- definitions from YAML ---------------------------------------------------------------------


def sync_trigger_definitions(session: Session, now: datetime) -> str:
    """``init`` step: sync ``triggers/*.yaml`` into the database; returns a line for the report.

    Unchanged YAML leaves the stored row alone, so an operator's edit of ``enabled`` or
    ``threshold`` in the database survives ``init``; a changed file replaces the row (version + 1).
    """
    results = store.sync_definitions(session, load_specs(), now)
    parts = [f"{r.code} v{r.version} {r.action}" for r in results]
    return f"trigger definitions: {', '.join(parts) or 'none found'}"


def unsynced_trigger_files(engine: Engine, specs: Sequence[TriggerSpec]) -> list[str]:
    """Codes whose ``triggers/*.yaml`` differs from the definition stored in the database, or is
    not stored yet: edited, but ``successcrew init`` not run, so runs still use the stored one.

    A definition stored without a file is left out: ``init`` never removes one, so no command
    could clear that warning.
    """
    with transaction(engine) as session:
        return _unsynced(session, specs)


def _unsynced(session: Session, specs: Sequence[TriggerSpec]) -> list[str]:
    stored = store.stored_checksums(session)
    return sorted(s.code for s in specs if stored.get(s.code) != s.checksum())


class TriggerFilesSection(TypedDict):
    """``status``'s trigger codes whose file differs from the stored definition."""

    trigger_files_not_synced: list[str]


def trigger_files_section(conn: Any, runtime: Any, now: datetime) -> TriggerFilesSection:
    """``status`` section: the trigger codes whose file differs from the database."""
    specs = runtime.definitions.triggers if runtime.definitions else load_specs()
    with Session(bind=conn) as session:
        return {"trigger_files_not_synced": _unsynced(session, specs)}


def unsynced_warning(codes: Sequence[str]) -> str | None:
    """The warning ``run`` and ``status`` print for ``unsynced_trigger_files`` (None: none)."""
    if not codes:
        return None
    return (
        f"triggers/*.yaml for {', '.join(codes)} differ from the definitions stored in the "
        "database (or are not stored yet); runs use the stored definitions until you run "
        "`successcrew init`"
    )


# --- the summary -------------------------------------------------------------------------------


@dataclass
class TriggerResult:
    """One definition's evaluation: ``status`` is evaluated, disabled, metric not available or
    error; counts of events fired, resolved and expired (cooldown), and outbox rows added."""

    code: str
    version: int
    status: str
    metric: str = ""
    value: float | None = None
    threshold: float | None = None
    fired: int = 0
    resolved: int = 0
    expired: int = 0
    open: int = 0
    outbox: int = 0
    detail: str | None = None


@dataclass
class TriggerSummary:
    """What ``evaluate_triggers`` did, for the run summary and ``successcrew triggers evaluate``."""

    now: datetime
    triggers: list[TriggerResult] = field(default_factory=list)
    rollbacks: list[dict[str, Any]] = field(default_factory=list)

    @property
    def fired(self) -> int:
        """Events opened in this evaluation."""
        return sum(t.fired for t in self.triggers)

    @property
    def failed(self) -> bool:
        """True when a definition could not be evaluated (the run should exit 1)."""
        return any(t.status == "error" for t in self.triggers)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {
            "now": self.now.isoformat(),
            "fired": self.fired,
            "triggers": [asdict(t) for t in self.triggers],
            "rollbacks": self.rollbacks,
        }


# --- evaluation --------------------------------------------------------------------------------


@dataclass
class _Context:
    session: Session
    thresholds: Thresholds
    settings: Settings
    now: datetime
    #: The chairman's escalation policy while its cards are on (None: no cards).
    policy: EscalationPolicy | None = None

    @property
    def channels(self) -> dict[str, str]:
        return {
            "team": self.settings.slack_channel,
            "chairman": self.settings.slack_chairman_channel,
        }

    @cached_property
    def cutoff(self) -> float | None:
        """The policy's high-value ARR cut-off: read once per evaluation, only when asked."""
        return None if self.policy is None else high_value_cutoff(self.session, self.policy)

    def on_card(self, code: str, arr: float | None) -> bool:
        """Whether the escalation step brings this event to the chairman on a card (which then
        is the chairman's one message about it)."""
        if self.policy is None:
            return False
        cutoff = self.cutoff
        high = is_high_value(arr, cutoff)
        return should_escalate(self.policy, code, high_value=high)


@dataclass
class _Reading:
    """A metric read for one definition: who fires, with what, and who cannot be judged."""

    firing: dict[str, Observation]
    contexts: dict[str, dict[str, Any]]
    value: float | None
    threshold: float | None
    unknown: frozenset[str] = frozenset()
    detail: str | None = None
    available: bool = True


def _params(definition: TriggerDefinition) -> dict[str, Any]:
    return dict((definition.definition or {}).get("params") or {})


def _read_health(ctx: _Context, d: TriggerDefinition) -> _Reading:
    """RETENTION-001: latest score under the threshold, or a drop of over N points in M days."""
    threshold = resolve_threshold(d.threshold, ctx.thresholds)
    params = _params(d)
    drop = params.get("drop_points")
    high_value_arr = params.get("high_value_arr")
    as_of = store.latest_scoring_date(ctx.session, ctx.now.date())
    if as_of is None:
        return _Reading({}, {}, None, threshold, available=False, detail="no health snapshots yet")
    freshness = store.score_freshness(ctx.session, as_of, d.code)
    if freshness.fresh == 0:
        # Carried-forward scores say nothing new about anyone: fire nothing, resolve nothing.
        return _Reading(
            {},
            {},
            None,
            threshold,
            available=False,
            detail=(
                f"the scores of {as_of} are the last good ones carried forward (the input data "
                "was not fresh or scoring failed); waiting for fresh scores"
            ),
        )
    candidates = store.health_candidates(
        ctx.session,
        as_of,
        comparator=d.comparator,
        threshold=threshold,
        drop_points=None if drop is None else float(drop),
        window_days=d.window_days,
        crm_sources=CRM_PROVIDERS,
    )
    firing: dict[str, Observation] = {}
    contexts: dict[str, dict[str, Any]] = {}
    for c in candidates:
        subject = f"account:{c.account_id}"
        dropped = None if c.peak is None else c.peak - c.score
        reasons = []
        if compare(c.score, d.comparator, threshold):
            reasons.append(f"score {c.score:.2f} {d.comparator} {threshold:g}")
        if dropped is not None and drop is not None and dropped > float(drop):
            reasons.append(f"dropped {dropped:.2f} points within {d.window_days} days")
        high_value = is_high_value(c.arr, None if high_value_arr is None else float(high_value_arr))
        firing[subject] = Observation(
            subject=subject,
            value=c.score,
            threshold=threshold,
            account_id=c.account_id,
            evidence={
                "as_of": as_of.isoformat(),
                "score": c.score,
                "peak_in_window": c.peak,
                "drop_points": dropped,
                "reasons": reasons,
                "high_value": high_value,
            },
        )
        contexts[subject] = {
            "account_name": c.name,
            "arr": c.arr,
            "owner_email": c.owner_email,
            "crm_provider": c.crm_provider,
            "crm_source_id": c.crm_source_id,
            "high_value": high_value,
            "playbook": "critical",
            # Interventions computed from automatic scores wait while scoring is manual.
            "pause_scope": "scoring",
        }
    detail = f"scores as of {as_of}"
    if drop is not None and d.window_days:
        detail += _model_change_note(ctx, as_of, d.window_days)
    unknown = frozenset(f"account:{a}" for a in freshness.stale_accounts)
    return _Reading(firing, contexts, None, threshold, unknown=unknown, detail=detail)


def _model_change_note(ctx: _Context, as_of: Any, window_days: int) -> str:
    """Said on RETENTION-001's result while a model change lies inside the drop window."""
    from successcrew.store.snapshots import model_changes

    changes = model_changes(ctx.session, as_of - timedelta(days=window_days), as_of)
    if not changes:
        return ""
    last = changes[-1]
    return (
        f"; health model changed {last.get('from_version')} -> {last.get('to_version')} on "
        f"{last.get('as_of')}: the drop rule compares only scores of the same model, so scores "
        "from before the change are left out of its window"
    )


def _read_retention(ctx: _Context, d: TriggerDefinition) -> _Reading:
    """RETENTION-002: 1-month logo retention below target, or a relative MoM decline too large."""
    from successcrew.store.metric_queries import portfolio_retention

    threshold = resolve_threshold(d.threshold, ctx.thresholds)
    decline_ref = _params(d).get("mom_decline_pct")
    decline = None if decline_ref is None else resolve_threshold(decline_ref, ctx.thresholds)
    figures = portfolio_retention(ctx.session, ctx.now.date(), cohort_months=1)
    value = figures.logo_retention_pct
    if value is None:
        return _Reading(
            {},
            {},
            None,
            threshold,
            unknown=frozenset({PORTFOLIO_SUBJECT}),
            available=False,
            detail="no accounts were customers at the start of the last complete month",
        )
    mom = figures.mom_change_pct
    reasons = []
    if compare(value, d.comparator, threshold):
        reasons.append(f"1-month logo retention {value:.2f} % {d.comparator} {threshold:g} %")
    if decline is not None and mom is not None and mom < -decline:
        reasons.append(
            f"month-over-month change {mom:+.2f} % is a decline of more than {decline:g} %"
        )
    firing = {}
    contexts = {}
    if reasons:
        firing[PORTFOLIO_SUBJECT] = Observation(
            PORTFOLIO_SUBJECT,
            value,
            threshold,
            evidence={
                "reasons": reasons,
                "current": figures.current.as_dict(),
                "previous": figures.previous.as_dict(),
                "mom_change_pct": mom,
                "mom_decline_alert_pct": decline,
            },
        )
        contexts[PORTFOLIO_SUBJECT] = {"summary": "; ".join(reasons), "cohort": "at_risk"}
    return _Reading(firing, contexts, value, threshold)


def _read_nps(ctx: _Context, d: TriggerDefinition) -> _Reading:
    """RETENTION-003: rolling-window NPS below the gate, given enough answers to mean anything."""
    from successcrew.store.metric_queries import nps_figures

    threshold = resolve_threshold(d.threshold, ctx.thresholds)
    window = d.window_days or ctx.thresholds.nps.rolling_window_days
    minimum = int(_params(d).get("min_responses", 1))
    figures = nps_figures(ctx.session, ctx.now.date(), window)
    if figures.nps is None or figures.responses < minimum:
        return _Reading(
            {},
            {},
            figures.nps,
            threshold,
            unknown=frozenset({PORTFOLIO_SUBJECT}),
            available=False,
            detail=f"{figures.responses} answers in {window} days, fewer than {minimum}",
        )
    firing = {}
    contexts = {}
    if compare(figures.nps, d.comparator, threshold):
        summary = (
            f"Rolling {window}-day NPS is {figures.nps:+.1f} from {figures.responses} answers "
            f"({figures.promoters} promoters, {figures.detractors} detractors)"
        )
        firing[PORTFOLIO_SUBJECT] = Observation(
            PORTFOLIO_SUBJECT, figures.nps, threshold, evidence=figures.as_dict()
        )
        contexts[PORTFOLIO_SUBJECT] = {"summary": summary}
    return _Reading(firing, contexts, figures.nps, threshold)


def _read_system_health(ctx: _Context, d: TriggerDefinition) -> _Reading:
    """RETENTION-004: per component, failed checks in a row against the alert threshold."""
    threshold = resolve_threshold(d.threshold, ctx.thresholds)
    pause_scopes = dict(_params(d).get("pause_scopes") or {})
    sh = ctx.thresholds.system_health
    states = component_checks.component_states(
        ctx.session, sh.components, ctx.now, sh.uptime_window_days
    )
    firing = {}
    contexts = {}
    worst = 0
    for comp, state in states.items():
        worst = max(worst, state.consecutive_failures)
        if not compare(state.consecutive_failures, d.comparator, threshold):
            continue
        subject = f"component:{comp}"
        summary = (
            f"{comp} failed {state.consecutive_failures} checks in a row; "
            f"last error: {state.last_error or 'none recorded'}"
        )
        firing[subject] = Observation(
            subject,
            float(state.consecutive_failures),
            threshold,
            evidence={
                "component": comp,
                "consecutive_failures": state.consecutive_failures,
                "last_error": state.last_error,
                "last_checked_at": state.last_checked_at.isoformat()
                if state.last_checked_at
                else None,
            },
        )
        contexts[subject] = {
            "component": comp,
            "summary": summary,
            "component_pause_scope": pause_scopes.get(comp),
        }
    return _Reading(firing, contexts, float(worst), threshold)


READERS: dict[str, Callable[[_Context, TriggerDefinition], _Reading]] = {
    "health_score": _read_health,
    "logo_retention_1m": _read_retention,
    "nps_rolling": _read_nps,
    "consecutive_failures": _read_system_health,
}


def _apply(ctx: _Context, d: TriggerDefinition, reading: _Reading, result: TriggerResult) -> None:
    """Write one definition's episode plan: close, open, escalate, enqueue, pause."""
    session, now = ctx.session, ctx.now
    existing = store.open_events(session, d.code)
    # Without the metric nobody can be judged: open episodes stay open, none is resolved.
    unknown = reading.unknown if reading.available else frozenset(existing)
    plan: EpisodePlan = plan_episodes(
        reading.firing, existing, now=now, cooldown_hours=d.cooldown_hours, unknown=unknown
    )
    store.close_events(session, plan.resolve, status="resolved", now=now)
    store.close_events(session, plan.expire, status="expired", now=now)
    if "pause_component" in (d.actions or []):
        _lift_component_pauses(ctx, d, existing, plan)

    fired = plan.fire
    if d.scope == "account" and fired:
        # The score explanation is the evidence an owner needs; read only for the new episodes.
        as_of = (fired[0].evidence or {}).get("as_of")
        if as_of is not None:
            found = store.explanations(
                session,
                [o.account_id for o in fired if o.account_id is not None],
                datetime.fromisoformat(as_of).date(),
            )
            for obs in fired:
                if obs.account_id in found:
                    obs.evidence["explanation"] = found[obs.account_id]
                    reading.contexts[obs.subject]["explanation"] = found[obs.account_id]["summary"]
            if "crm_task" in (d.actions or []):
                # With a model configured, the owner's task also carries its account brief.
                linked = [o for o in fired if reading.contexts[o.subject].get("crm_provider")]
                briefs = brief_texts(
                    session,
                    [o.account_id for o in linked if o.account_id is not None],
                    datetime.fromisoformat(as_of).date(),
                    purpose="crm_task",
                )
                for obs in linked:
                    if obs.account_id in briefs:
                        reading.contexts[obs.subject]["brief"] = briefs[obs.account_id]
    rows = []
    for obs in fired:
        evidence = dict(obs.evidence)
        context = reading.contexts.get(obs.subject, {})
        asks = requested(list(d.actions or []), context)
        if asks:
            evidence["requests"] = asks
        if (
            "chairman_notice" in (d.actions or [])
            and context.get("high_value")
            and ctx.on_card(d.code, context.get("arr"))
        ):
            # One message per account and event: the card carries the trigger's context.
            context["chairman_card"] = True
            evidence["chairman_notice"] = "announced on the chairman's escalation card"
        if "crm_task" in (d.actions or []) and obs.account_id and not context.get("crm_provider"):
            # Said on the event so an operator sees why no CRM task went out for this account.
            evidence["skipped"] = ["crm_task: the account is not linked to a CRM"]
        rows.append(
            {
                "code": d.code,
                "account_id": obs.account_id,
                "subject": obs.subject,
                "status": "open",
                "value": obs.value,
                "threshold": obs.threshold,
                "definition_version": d.version,
                "evidence": evidence,
                "fired_at": now,
                "resolved_at": None,
            }
        )
    ids = store.insert_events(session, rows)

    messages = []
    owner_tasks: list[dict[str, Any]] = []
    crm_keys: dict[int, str] = {}
    due = (now + timedelta(days=1)).date().isoformat()
    for obs, event_id in zip(fired, ids, strict=True):
        context = reading.contexts.get(obs.subject, {})
        actions = list(d.actions or [])
        if "chairman_escalation" in actions:
            store.add_escalation(
                session,
                kind="trigger",
                title=f"{d.code}: {d.title}",
                context={
                    "summary": context.get("summary"),
                    "value": obs.value,
                    "threshold": obs.threshold,
                    "evidence": obs.evidence,
                },
                now=now,
                trigger_event_id=event_id,
                account_id=obs.account_id,
            )
        if "pause_component" in actions and context.get("component_pause_scope"):
            pauses.hold(
                session,
                context["component_pause_scope"],
                by=d.code,
                kind="rule",
                reason=f"{d.code}: {context.get('summary')}",
                now=now,
            )
        for action in plan_actions(
            code=d.code,
            title=d.title,
            metric=d.metric,
            severity=d.severity,
            actions=actions,
            subject=obs.subject,
            event_id=event_id,
            value=obs.value,
            threshold=obs.threshold,
            context=context,
            channels=ctx.channels,
            due_date=due,
        ):
            messages.append(
                {
                    "key": action.key,
                    "channel": action.channel,
                    "payload": action.payload,
                    "account_id": obs.account_id,
                    "trigger_event_id": event_id,
                }
            )
            if action.channel == "crm_task":
                crm_keys[event_id] = action.key
        if "crm_task" in actions and obs.account_id is not None:
            # The owner's task lives in My work too, CRM or not (the CRM copy is the outbox row).
            owner_tasks.append(
                {
                    "key": f"trigger:{event_id}",
                    "account_id": obs.account_id,
                    "title": f"{d.title} ({d.code})",
                    "reason": _task_reason(d.title, obs.evidence, context),
                    "source": "trigger",
                    "due_on": (now + timedelta(days=1)).date(),
                    "event_id": event_id,
                }
            )
    for task in owner_tasks:
        task["crm_outbox_key"] = crm_keys.get(task.pop("event_id"))
    add_tasks(session, owner_tasks, now=now)
    result.outbox = enqueue_many(session, messages, now=now)
    result.fired = len(fired)
    result.resolved = len(plan.resolve)
    result.expired = len(plan.expire)
    result.open = len(existing) - len(plan.resolve) - len(plan.expire) + len(fired)


def _task_reason(title: str, evidence: dict[str, Any], context: dict[str, Any]) -> str:
    """Why the owner has the task, in the words the event's evidence already has."""
    parts = [str(r) for r in evidence.get("reasons") or []]
    explanation = evidence.get("explanation") or {}
    if isinstance(explanation, dict) and explanation.get("summary"):
        parts.append(str(explanation["summary"]))
    if context.get("summary"):
        parts.insert(0, str(context["summary"]))
    return "; ".join(parts) or title


def _lift_component_pauses(
    ctx: _Context, d: TriggerDefinition, existing: dict[str, Any], plan: EpisodePlan
) -> None:
    """A component that passes its checks again gets back the pause this trigger set (only that
    one: a pause a person or another rule set stays)."""
    scopes = dict(_params(d).get("pause_scopes") or {})
    resolved = {e.subject for e in existing.values() if e.id in set(plan.resolve)}
    for subject in resolved:
        scope = scopes.get(subject.split(":", 1)[-1])
        if scope:
            pauses.lift(
                ctx.session,
                scope,
                held_by=d.code,
                kind="rule",
                by=d.code,
                reason=f"{d.code}: {subject.split(':', 1)[-1]} passed its health check again",
                now=ctx.now,
            )


def evaluate_triggers(
    engine: Engine,
    thresholds: Thresholds,
    now: datetime,
    *,
    settings: Settings | None = None,
    policy: EscalationPolicy | None = None,
) -> TriggerSummary:
    """Evaluate every enabled definition in the database, then the rollback rules.

    ``policy`` is the chairman's escalation policy: while its cards are on (``cards_on``), an
    event the policy brings to the chairman gets no separate chairman notice; the card is the
    one message (the event's evidence says so).

    One transaction: events, escalations, outbox rows and pause flags commit together or not at
    all. A definition that cannot be evaluated (say a threshold an operator mistyped in the
    database) is reported with status ``error`` and rolled back to a savepoint; the others go on.
    Evaluating again at the same ``now`` adds nothing.
    """
    from successcrew.services.triggers.rollback import apply_rollback_rules

    settings = settings or load_settings()
    summary = TriggerSummary(now=now)
    with transaction(engine) as session:
        store.lock_evaluation(session)
        cards = policy if policy is not None and cards_on(session) else None
        ctx = _Context(session, thresholds, settings, now, cards)
        for d in store.load_definitions(session):
            result = TriggerResult(
                code=d.code, version=d.version, status="evaluated", metric=d.metric
            )
            summary.triggers.append(result)
            if not d.enabled:
                result.status = "disabled"
                continue
            reader = READERS.get(d.metric)
            if reader is None:
                result.status, result.detail = "error", f"unknown metric {d.metric!r}"
                continue
            try:
                with session.begin_nested():
                    reading = reader(ctx, d)
                    result.value, result.threshold = reading.value, reading.threshold
                    result.detail = reading.detail
                    if not reading.available:
                        result.status = NOT_AVAILABLE
                    _apply(ctx, d, reading, result)
            except (ValueError, KeyError, TypeError) as exc:
                result.status, result.detail = "error", sanitise(f"{type(exc).__name__}: {exc}")
        summary.rollbacks = apply_rollback_rules(
            session, thresholds, now, ctx.channels, cards=cards is not None
        )
    return summary
