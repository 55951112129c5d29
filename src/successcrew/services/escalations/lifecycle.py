"""Chairman escalations: raise, remind, expire, decide, carry out, and the policy's announcement.

Decisions about *what* reaches the chairman are in ``domain.escalation_rules``; this module
reads accounts, snapshots and trigger events in a few set-based queries and writes escalation
rows, outbox messages and audit entries in the caller's transaction. Runs are serialised by the
run lock, so "is there already an escalation for this?" checks cannot race another run.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, exists, func, or_, select
from sqlalchemy.orm import Session

from successcrew import numbers
from successcrew.definitions.escalation_policy import EscalationPolicy
from successcrew.domain.escalation_rules import (
    EscalationView,
    arr_cutoff,
    block_kit,
    describe_action,
    lifecycle_step,
    should_escalate,
    top_count,
)
from successcrew.domain.explanations import describe_component
from successcrew.domain.trigger_rules import describe_value, is_high_value
from successcrew.errors import AlreadyDecided, InputError
from successcrew.services.model.assistant import brief_texts
from successcrew.settings import Settings
from successcrew.store import audit
from successcrew.store.account_list import in_book
from successcrew.store.models import (
    Account,
    AccountSource,
    AuditLog,
    Escalation,
    HealthSnapshot,
    OutboxMessage,
    TriggerDefinition,
    TriggerEvent,
)
from successcrew.store.outbox import enqueue
from successcrew.store.snapshots import explain
from successcrew.store.tasks import add_tasks

ACTOR = "crew"
DECISIONS = ("approve", "decline")
#: The audit action of the policy's introduction to the chairman.
POLICY_ACTION = "setup.escalation_policy"


def high_value_cutoff(session: Session, policy: EscalationPolicy) -> float | None:
    """The lowest ARR that makes an active account high-value (two queries, no per-account loop)."""
    a = Account.__table__.c
    active = and_(a.churned_at.is_(None), a.arr.is_not(None))
    boundary = None
    pct = policy.high_value.top_percent_by_arr
    if pct is not None:
        n = top_count(session.execute(select(func.count()).where(active)).scalar_one(), pct)
        if n:
            value = session.execute(
                select(a.arr).where(active).order_by(a.arr.desc()).offset(n - 1).limit(1)
            ).scalar_one_or_none()
            boundary = float(value) if value is not None else None
    return arr_cutoff(policy, boundary)


def cards_on(session: Session) -> bool:
    """Whether escalation cards go out: the policy was introduced to the chairman (the
    ``configure_escalation`` setup step), so the escalation step runs and raises them."""
    found = session.execute(
        select(AuditLog.id).where(AuditLog.action == POLICY_ACTION).limit(1)
    ).first()
    return found is not None


def _latest_snapshot_date(session: Session, now: datetime) -> Any:
    return session.execute(
        select(func.max(HealthSnapshot.as_of)).where(HealthSnapshot.as_of <= now.date())
    ).scalar_one()


def _explanation(session: Session, snapshot: HealthSnapshot | None) -> list[str]:
    """Lines that say why the score is what it is, in the health engine's own words."""
    if snapshot is None:
        return ["no health score yet"]
    found = explain(session, snapshot.account_id, snapshot.as_of)
    lines = [found.summary()] if found is not None else []
    if found is not None:
        lines += list(found.notes)
    components = snapshot.components or {}
    lines += [
        describe_component(comp, None, None)
        for _, comp in sorted(components.items())
        if isinstance(comp, dict)
    ]
    return lines


def _context(
    session: Session, account: Account | None, snapshot: HealthSnapshot | None
) -> dict[str, Any]:
    if account is None:
        return {}
    return {
        "account": account.name,
        "external_id": account.external_id,
        "segment": account.segment,
        "arr": float(account.arr) if account.arr is not None else None,
        "owner": account.owner_email,
        "renewal_date": account.renewal_date.isoformat() if account.renewal_date else None,
        "score": snapshot.score if snapshot else None,
        "band": snapshot.band if snapshot else None,
        "scored_on": snapshot.as_of.isoformat() if snapshot else None,
        "explanation": _explanation(session, snapshot),
    }


def context_fields(context: dict[str, Any]) -> dict[str, str]:
    """The facts an escalation shows its decider (Slack card, dashboard), label -> text."""
    shown = {
        "Account": context.get("account"),
        "ARR": f"{context['arr']:,.0f}" if context.get("arr") is not None else None,
        "Segment": context.get("segment"),
        "Health": (
            f"{context.get('score_text') or numbers.score(context['score'])} "
            f"({str(context['band']).replace('_', '-')})"
            if context.get("score") is not None
            else None
        ),
        "Owner": context.get("owner"),
        "Renewal": context.get("renewal_date"),
    }
    return {k: str(v) for k, v in shown.items() if v not in (None, "")}


def send(
    session: Session, esc: Escalation, *, settings: Settings, now: datetime, reminder: bool
) -> bool:
    """Queue the Slack message for ``esc`` (first notice or reminder); True when newly queued."""
    view = EscalationView(
        id=esc.id,
        title=esc.title,
        kind=esc.kind,
        account_name=esc.context.get("account"),
        fields=context_fields(esc.context),
        # The reason an escalation was raised (an emergency review's finding, a proposal's
        # ground) is part of why; the card is the chairman's one message about it.
        explanation=([str(esc.context["reason"])] if esc.context.get("reason") else [])
        + list(esc.context.get("explanation") or []),
        proposed_action=esc.proposed_action,
        reminder=reminder,
        brief=esc.context.get("brief"),
        # Trigger codes are for the people who configure triggers: the small line under the card.
        context=" · ".join(
            str(esc.context[k]) for k in ("trigger", "trigger_title") if esc.context.get(k)
        )
        or None,
    )
    message = block_kit(view)
    payload = {
        "channel": settings.slack_chairman_channel,
        "title": view.title,
        "text": message["text"],
        "blocks": message["blocks"],
        "kind": "escalation",
        "escalation_id": esc.id,
    }
    return enqueue(
        session,
        key=f"escalation:{esc.id}:{'reminder' if reminder else 'notice'}",
        channel="slack",
        payload=payload,
        now=now,
        account_id=esc.account_id,
        trigger_event_id=esc.trigger_event_id,
    )


def _create(
    session: Session,
    *,
    kind: str,
    title: str,
    account: Account | None,
    snapshot: HealthSnapshot | None,
    trigger_event_id: int | None,
    proposed_action: dict[str, Any] | None,
    extra_context: dict[str, Any],
    policy: EscalationPolicy,
    settings: Settings,
    now: datetime,
    boundaries: Sequence[float] = (),
) -> Escalation:
    context = {**_context(session, account, snapshot), **extra_context}
    if snapshot is not None:
        context["score_text"] = numbers.score(snapshot.score, boundaries)
    if account is not None and snapshot is not None:
        # With a model configured, the card carries its brief beside the engine's explanation.
        brief = brief_texts(session, [account.id], snapshot.as_of, purpose="escalation")
        if account.id in brief:
            context["brief"] = brief[account.id]
    esc = Escalation(
        kind=kind,
        account_id=account.id if account else None,
        trigger_event_id=trigger_event_id,
        title=title,
        context=context,
        proposed_action=proposed_action,
        status="open",
        created_at=now,
        expires_at=policy.expires_at(now),
    )
    session.add(esc)
    session.flush()
    send(session, esc, settings=settings, now=now, reminder=False)
    audit.record(
        session,
        at=now,
        actor=ACTOR,
        action="escalation.raise",
        subject=f"escalation:{esc.id}",
        detail={"kind": kind, "account_id": esc.account_id, "proposed": proposed_action},
    )
    return esc


def raise_escalations(
    session: Session,
    *,
    policy: EscalationPolicy,
    settings: Settings,
    now: datetime,
    boundaries: Sequence[float] = (),
) -> dict[str, Any]:
    """Raise what the policy sends to the chairman and is not escalated yet; returns counts.

    ``boundaries`` are the health bands' edges: a score on a card never shows across one."""
    cutoff = high_value_cutoff(session, policy)
    raised = {"trigger_events": 0, "critical_high_value": 0}
    raised["adopted"] = _adopt(session, policy=policy, settings=settings, now=now)
    e = Escalation.__table__.c

    # Trigger events (RETENTION-003, emergency reviews, RETENTION-001 on high-value accounts).
    codes = set(policy.always_escalate) | set(policy.high_value_escalate)
    # Filtered in SQL: only events the policy sends on (every RETENTION-001 event of a small
    # account would otherwise be loaded just to be dropped).
    wanted = TriggerEvent.code.in_(sorted(policy.always_escalate))
    if cutoff is not None and policy.high_value_escalate:
        wanted = wanted | (
            TriggerEvent.code.in_(sorted(policy.high_value_escalate)) & (Account.arr >= cutoff)
        )
    events = session.execute(
        select(TriggerEvent, Account, TriggerDefinition.metric, TriggerDefinition.title)
        .outerjoin(Account, Account.id == TriggerEvent.account_id)
        .outerjoin(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
        .where(
            TriggerEvent.code.in_(sorted(codes)),
            wanted,
            TriggerEvent.status == "open",
            TriggerEvent.fired_at <= now,
            ~exists().where(e.trigger_event_id == TriggerEvent.id),
        )
        .order_by(TriggerEvent.id)
    ).all()
    as_of = _latest_snapshot_date(session, now)
    for event, account, metric, trigger_title in events:
        high = account is not None and is_high_value(account.arr, cutoff)
        if not should_escalate(policy, event.code, high_value=high):
            continue
        snapshot = (
            session.get(HealthSnapshot, _snapshot_id(session, account.id, as_of))
            if account is not None and as_of is not None
            else None
        )
        who = account.name if account is not None else event.subject
        proposal = None
        if high and event.code in policy.high_value_escalate and policy.propose_for_critical:
            kind = policy.propose_for_critical
            proposal = {"type": kind, **policy.strategic_decisions[kind].model_dump()}
        _create(
            session,
            kind=f"trigger:{event.code}",
            # Who, what happened and the number; the code goes to the card's context line.
            title=f"{who}: {describe_value(metric or '', event.value, event.threshold)}",
            account=account,
            snapshot=snapshot,
            trigger_event_id=event.id,
            proposed_action=proposal,
            extra_context={
                "trigger": event.code,
                "trigger_title": trigger_title,
                "value": event.value,
                "threshold": event.threshold,
                "high_value": high,
            },
            policy=policy,
            settings=settings,
            now=now,
            boundaries=boundaries,
        )
        raised["trigger_events"] += 1

    # High-value accounts in the Critical band on the latest scores.
    if policy.escalate_critical_high_value and cutoff is not None and as_of is not None:
        recent = now - timedelta(days=policy.cooldown_days)
        rows = session.execute(
            select(Account, HealthSnapshot)
            .join(HealthSnapshot, HealthSnapshot.account_id == Account.id)
            .where(
                HealthSnapshot.as_of == as_of,
                HealthSnapshot.band == "critical",
                # A carried-forward score is no news about the account.
                HealthSnapshot.stale.is_(False),
                Account.churned_at.is_(None),
                Account.arr >= cutoff,
                # One escalation per account per episode, whoever raised it (a RETENTION-001
                # event escalated just above, or the trigger engine).
                ~exists().where(
                    e.account_id == Account.id,
                    or_(e.status == "open", e.created_at > recent),
                ),
            )
            .order_by(Account.arr.desc(), Account.id)
        ).all()
        kind = policy.propose_for_critical
        for account, snapshot in rows:
            proposal = None
            if kind is not None:
                terms = policy.strategic_decisions[kind]
                proposal = {"type": kind, **terms.model_dump()}
            _create(
                session,
                kind="critical_high_value",
                title=(
                    f"High-value account {account.name} is Critical: "
                    f"health {numbers.score(snapshot.score, boundaries)}"
                ),
                account=account,
                snapshot=snapshot,
                trigger_event_id=None,
                proposed_action=proposal,
                extra_context={"high_value": True, "arr_cutoff": cutoff},
                policy=policy,
                settings=settings,
                now=now,
                boundaries=boundaries,
            )
            raised["critical_high_value"] += 1
    return {"raised": raised, "high_value_arr_cutoff": cutoff, "scores_as_of": _iso(as_of)}


def raise_for_account(
    session: Session,
    account_id: int,
    *,
    reason: str,
    policy: EscalationPolicy,
    settings: Settings,
    now: datetime,
) -> Escalation:
    """Escalate one account to the chairman because a person approved it (a model's proposal).

    The card is the policy's: the account's context and explanation, and the policy's strategic
    decision when the account is high-value and Critical; ``reason`` is shown, nothing in it is
    carried out. One open escalation per account: a second one is refused.
    """
    account = session.get(Account, account_id)
    if account is None:
        raise InputError(f"no account with id {account_id}")
    e = Escalation.__table__.c
    if session.execute(select(e.id).where(e.account_id == account_id, e.status == "open")).first():
        raise InputError(f"account {account.name} already has an open escalation")
    as_of = _latest_snapshot_date(session, now)
    snapshot = None
    if as_of is not None:
        snap_id = _snapshot_id(session, account_id, as_of)
        snapshot = session.get(HealthSnapshot, snap_id) if snap_id else None
    cutoff = high_value_cutoff(session, policy)
    high = is_high_value(account.arr, cutoff)
    proposal = None
    kind = policy.propose_for_critical
    if high and kind is not None and snapshot is not None and snapshot.band == "critical":
        proposal = {"type": kind, **policy.strategic_decisions[kind].model_dump()}
    return _create(
        session,
        kind="proposal",
        title=f"Proposed escalation: {account.name}",
        account=account,
        snapshot=snapshot,
        trigger_event_id=None,
        proposed_action=proposal,
        extra_context={"high_value": high, "reason": reason[:500]},
        policy=policy,
        settings=settings,
        now=now,
    )


def _adopt(session: Session, *, policy: EscalationPolicy, settings: Settings, now: datetime) -> int:
    """Give escalations opened elsewhere (the trigger engine, the rollback rules) what the
    chairman needs to decide: the account's context and score explanation, an expiry, and the
    Block Kit message with approve/decline buttons. Returns how many were adopted.
    """
    noticed = {
        key
        for key in session.scalars(
            select(OutboxMessage.idempotency_key).where(
                OutboxMessage.idempotency_key.like("escalation:%:notice")
            )
        )
    }
    rows = session.scalars(
        select(Escalation).where(Escalation.status == "open").order_by(Escalation.id)
    ).all()
    adopted = 0
    as_of = _latest_snapshot_date(session, now)
    for esc in rows:
        if f"escalation:{esc.id}:notice" in noticed:
            continue
        account = session.get(Account, esc.account_id) if esc.account_id else None
        snapshot = None
        if account is not None and as_of is not None:
            snap_id = _snapshot_id(session, account.id, as_of)
            snapshot = session.get(HealthSnapshot, snap_id) if snap_id else None
        esc.context = {**_context(session, account, snapshot), **(esc.context or {})}
        if esc.expires_at is None:
            esc.expires_at = policy.expires_at(esc.created_at)
        session.flush()
        send(session, esc, settings=settings, now=now, reminder=False)
        audit.record(
            session,
            at=now,
            actor=ACTOR,
            action="escalation.adopt",
            subject=f"escalation:{esc.id}",
            detail={"kind": esc.kind},
        )
        adopted += 1
    return adopted


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _snapshot_id(session: Session, account_id: int, as_of: Any) -> int | None:
    return session.execute(
        select(HealthSnapshot.id).where(
            HealthSnapshot.account_id == account_id, HealthSnapshot.as_of == as_of
        )
    ).scalar_one_or_none()


def follow_up(
    session: Session, *, policy: EscalationPolicy, settings: Settings, now: datetime
) -> dict[str, int]:
    """Remind the chairman of open escalations past the reminder time; expire overdue ones."""
    counts = {"reminded": 0, "expired": 0}
    open_rows = session.scalars(
        select(Escalation).where(Escalation.status == "open").order_by(Escalation.id)
    ).all()
    for esc in open_rows:
        step = lifecycle_step(
            status=esc.status,
            created_at=esc.created_at,
            reminded_at=esc.reminded_at,
            expires_at=esc.expires_at or policy.expires_at(esc.created_at),
            policy=policy,
            now=now,
        )
        if step == "remind":
            send(session, esc, settings=settings, now=now, reminder=True)
            esc.reminded_at = now
            counts["reminded"] += 1
        elif step == "expire":
            esc.status = "expired"
            counts["expired"] += 1
        if step is not None:
            audit.record(
                session,
                at=now,
                actor=ACTOR,
                action=f"escalation.{step}",
                subject=f"escalation:{esc.id}",
            )
    session.flush()
    return counts


def decide(
    session: Session,
    escalation_id: int,
    decision: str,
    *,
    by: str,
    note: str | None,
    now: datetime,
    policy: EscalationPolicy | None = None,
    allow_future: bool = False,
    via: str = "cli",
) -> Escalation:
    """Record the chairman's decision; InputError (exit 2) when it cannot be taken.

    The one decision path: ``successcrew decide``, a Slack button (``via="slack"``) and later
    the dashboard call this. The row is locked first, so of two decisions at the same moment
    one is taken and the other finds it final. A decision dated before the escalation was
    raised (a mistyped ``--now``) is refused unless ``allow_future``: it would put the answer
    before the question in the audit log.
    """
    if decision not in DECISIONS:
        raise InputError(f"decision {decision!r}: expected approve or decline")
    if not by.strip():
        raise InputError("--by: say who decides (a name)")
    esc = session.get(Escalation, escalation_id, with_for_update=True)
    if esc is None:
        raise InputError(
            f"escalation {escalation_id} does not exist (see `successcrew escalations`)"
        )
    if esc.status in ("approved", "declined"):
        raise AlreadyDecided(
            f"escalation {escalation_id} was already {esc.status} by {esc.decided_by} "
            f"at {esc.decided_at.isoformat() if esc.decided_at else '?'}; a decision is final"
        )
    if now < esc.created_at and not allow_future:
        raise InputError(
            f"--now {now.isoformat()} is before escalation {escalation_id} was raised "
            f"({esc.created_at.isoformat()}): a decision cannot come before its escalation. "
            "Leave out --now to decide as of now, or add --allow-future if this date is meant"
        )
    expires_at = esc.expires_at or (policy.expires_at(esc.created_at) if policy else None)
    if esc.status == "expired" or (expires_at is not None and now >= expires_at):
        # The hourly follow-up marks it expired; refusing here is enough (and rolls back).
        raise AlreadyDecided(
            f"escalation {escalation_id} expired at "
            f"{expires_at.isoformat() if expires_at else '?'}; it can no longer be decided"
        )
    esc.status = "approved" if decision == "approve" else "declined"
    esc.decided_at, esc.decided_by, esc.decision_note = now, by.strip(), note
    esc.decided_via = via
    audit.record(
        session,
        at=now,
        actor=by.strip(),
        action=f"escalation.{esc.status}",
        subject=f"escalation:{esc.id}",
        detail={"note": note, "proposed": esc.proposed_action, "via": via},
    )
    session.flush()
    return esc


def carry_out(
    session: Session, *, settings: Settings, crm: str | None, email: str | None, now: datetime
) -> dict[str, int]:
    """Carry out approved decisions not yet carried out: tell the owner (email), open a CRM task
    for them, confirm in the chairman's channel. Each effect is an outbox message with a key, so
    a crash between here and the commit repeats nothing.
    """
    done = 0
    rows = session.scalars(
        select(Escalation)
        .where(Escalation.status == "approved", Escalation.carried_out_at.is_(None))
        .order_by(Escalation.id)
    ).all()
    for esc in rows:
        action = describe_action(esc.proposed_action)
        account = session.get(Account, esc.account_id) if esc.account_id else None
        text = f"{esc.title}: the chairman ({esc.decided_by}) approved {action}." + (
            f" Note: {esc.decision_note}" if esc.decision_note else ""
        )
        if account is not None and account.owner_email:
            enqueue(
                session,
                key=f"escalation:{esc.id}:owner-email",
                channel="email",
                payload={
                    "to": account.owner_email,
                    "subject": f"Approved for {account.name}: {action}",
                    "text": text,
                    "kind": "internal",
                    "provider": email,
                },
                now=now,
                account_id=account.id,
            )
        crm_key = None
        if account is not None and crm is not None:
            source_id = session.execute(
                select(AccountSource.source_id).where(
                    AccountSource.account_id == account.id, AccountSource.source == crm
                )
            ).scalar_one_or_none()
            if source_id is not None:
                enqueue(
                    session,
                    key=f"escalation:{esc.id}:crm-task",
                    channel="crm_task",
                    payload={
                        "provider": crm,
                        "account_source_id": source_id,
                        "subject": f"Carry out approved {action}",
                        "body": text,
                        "due_date": (now + timedelta(days=2)).date().isoformat(),
                        "owner_email": account.owner_email,
                    },
                    now=now,
                    account_id=account.id,
                )
                crm_key = f"escalation:{esc.id}:crm-task"
        if account is not None:
            # The owner's task in My work (the CRM copy, where there is one, is the row above).
            add_tasks(
                session,
                [
                    {
                        "key": f"escalation:{esc.id}:task",
                        "account_id": account.id,
                        "title": f"Carry out approved {action}",
                        "reason": text,
                        "source": "escalation",
                        "due_on": (now + timedelta(days=2)).date(),
                        "crm_outbox_key": crm_key,
                    }
                ],
                now=now,
            )
        enqueue(
            session,
            key=f"escalation:{esc.id}:carried-out",
            channel="slack",
            payload={
                "channel": settings.slack_chairman_channel,
                "title": f"Carried out: {action}" + (f" for {account.name}" if account else ""),
                "summary": text,
            },
            now=now,
            account_id=esc.account_id,
        )
        esc.carried_out_at = now
        audit.record(
            session,
            at=now,
            actor=ACTOR,
            action="escalation.carry_out",
            subject=f"escalation:{esc.id}",
            detail={"action": esc.proposed_action},
        )
        done += 1
    session.flush()
    return {"carried_out": done}


def list_escalations(conn: Connection, *, limit: int = 200) -> list[dict[str, Any]]:
    """Escalations newest first, for ``successcrew escalations``."""
    e = Escalation.__table__.c
    rows = conn.execute(select(Escalation.__table__).order_by(e.id.desc()).limit(limit)).mappings()
    result = []
    for row in rows:
        result.append(
            {
                "id": row["id"],
                "kind": row["kind"],
                "status": row["status"],
                "title": row["title"],
                "account": (row["context"] or {}).get("account"),
                "proposed": describe_action(row["proposed_action"]),
                "created_at": _iso(row["created_at"]),
                "reminded_at": _iso(row["reminded_at"]),
                "expires_at": _iso(row["expires_at"]),
                "decided_at": _iso(row["decided_at"]),
                "decided_by": row["decided_by"],
                "note": row["decision_note"],
                "carried_out_at": _iso(row["carried_out_at"]),
            }
        )
    return result


def announce_policy(
    session: Session, *, policy: EscalationPolicy, settings: Settings, actor: str, now: datetime
) -> dict[str, Any]:
    """Check the escalation policy against today's accounts and introduce it to the chairman."""
    cutoff = high_value_cutoff(session, policy)
    offer = (
        describe_action(
            {"type": policy.propose_for_critical}
            | policy.strategic_decisions[policy.propose_for_critical].model_dump()
        )
        if policy.propose_for_critical
        else "none"
    )
    value = f"ARR from {cutoff:,.0f}" if cutoff is not None else "no account qualifies yet"
    text = (
        "successcrew will bring you: "
        f"{', '.join(policy.always_escalate) or 'no trigger codes'} always; "
        f"{', '.join(policy.high_value_escalate) or 'nothing more'} for high-value accounts "
        f"({value}); Critical high-value accounts with a proposed {offer}. "
        f"Unanswered escalations are re-sent after {policy.remind_after_hours:g} h and expire "
        f"{policy.expire_after_hours:g} h later."
    )
    enqueue(
        session,
        key="setup:escalation:announce",
        channel="slack",
        payload={
            "channel": settings.slack_chairman_channel,
            "title": "Chairman escalations are on",
            "summary": text,
        },
        now=now,
    )
    audit.record(
        session,
        at=now,
        actor=actor,
        action=POLICY_ACTION,
        subject="chairman",
        detail={"high_value_arr_cutoff": cutoff, **policy.model_dump(mode="json")},
    )
    return {"high_value_arr_cutoff": cutoff, "proposal_for_critical": offer}


def open_escalations(
    session: Session, *, limit: int = 100, owner: str | None = None
) -> list[dict[str, Any]]:
    """Escalations waiting for the chairman, oldest first, with the facts to decide on
    (``owner``: only those about that CSM's accounts, and the company's)."""
    rows = session.scalars(
        select(Escalation)
        .where(Escalation.status == "open", in_book(Escalation.account_id, owner))
        .order_by(Escalation.id)
        .limit(limit)
    ).all()
    ids = sorted({esc.account_id for esc in rows if esc.account_id is not None})
    # Keyed by int | None: an escalation without an account looks up None and finds nothing.
    external: dict[int | None, str] = dict(
        session.execute(select(Account.id, Account.external_id).where(Account.id.in_(ids))).all()
    )
    return [
        {
            "id": esc.id,
            "title": esc.title,
            "kind": esc.kind,
            "account_id": esc.account_id,
            "account_external_id": external.get(esc.account_id),
            "fields": context_fields(esc.context or {}),
            "summary": (esc.context or {}).get("summary"),
            "explanation": list((esc.context or {}).get("explanation") or []),
            "proposed": describe_action(esc.proposed_action),
            "created_at": esc.created_at,
            "expires_at": esc.expires_at,
        }
        for esc in rows
    ]


def recent_decisions(
    session: Session, *, limit: int = 20, owner: str | None = None
) -> list[dict[str, Any]]:
    """The latest decided escalations (who, how, when; ``owner`` as ``open_escalations``)."""
    rows = session.scalars(
        select(Escalation)
        .where(Escalation.decided_at.is_not(None), in_book(Escalation.account_id, owner))
        .order_by(Escalation.decided_at.desc(), Escalation.id.desc())
        .limit(limit)
    ).all()
    return [
        {
            "id": esc.id,
            "title": esc.title,
            "status": esc.status,
            "decided_by": esc.decided_by,
            "decided_via": esc.decided_via,
            "decided_at": esc.decided_at,
            "note": esc.decision_note,
        }
        for esc in rows
    ]
