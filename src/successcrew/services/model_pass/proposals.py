"""What a model proposed, waiting for a person: stored, listed, approved or declined, carried out.

Two kinds arrive here. **E-mail drafts**: with a model configured, an at-risk or critical
playbook's e-mail step stores its messages as a ``drafting`` proposal instead of queueing them;
the model's pass writes the draft (outside any transaction) and the proposal waits for the
owner's approval, unless the playbook says ``auto_send: true``; without a draft the playbook's
own text is queued as it would have been. **Crew proposals** (crew mode): the agents' allow-listed
actions, checked by ``domain.proposal_rules`` and stored ``pending`` or ``blocked``.

``decide`` is the one code path for a decision (the command line now, the dashboard later): it
refuses an unknown id or a second decision (exit 2), audits the decision, and carries out an
approval in the same transaction by queueing exactly the outbox rows the deterministic crew
would queue: the dispatcher then applies pause flags, opt-outs and credentials as for any other
message, and e-mails were throttled when their step ran.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, RowMapping, delete, select
from sqlalchemy.orm import Session

from successcrew.domain.proposal_rules import AccountState, check_proposal
from successcrew.domain.trigger_rules import plan_actions
from successcrew.errors import AlreadyDecided, InputError
from successcrew.services.model import assistant as seat
from successcrew.store import audit
from successcrew.store.account_list import in_book
from successcrew.store.db import transaction
from successcrew.store.dialect import insert_ignore
from successcrew.store.models import (
    Account,
    AccountSource,
    ActionProposal,
    ProgramEmail,
    ProgramEnrolment,
    TriggerDefinition,
    TriggerEvent,
)
from successcrew.store.outbox import enqueue_many
from successcrew.store.snapshots import latest_as_of

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from successcrew.definitions.escalation_policy import EscalationPolicy
    from successcrew.definitions.playbooks import Playbook
    from successcrew.settings import Settings

DECISIONS = ("approve", "decline")
#: Drafting proposals handled per model pass (the rest wait for the next run).
DRAFT_BATCH = 200


# --- e-mail drafts -----------------------------------------------------------------------------


def drafts_held(book: Playbook) -> bool:
    """True when this playbook's e-mails are model drafts (a model is configured, at-risk or
    critical playbook)."""
    return seat.current() is not None and book.serves_risk


def hold_email_drafts(
    session: Session,
    book: Playbook,
    *,
    variant: str,
    step_index: int,
    step_id: str,
    messages: Sequence[Mapping[str, Any]],
    unsubscribe: Mapping[int, str],
    now: datetime,
) -> int:
    """Store one step's e-mails as ``drafting`` proposals, one per enrolment; returns how many.

    The program_emails rows stay ``queued`` with the keys approval will use, so throttling counts
    a draft waiting for approval as a message on its way (and a declined one is removed).
    """
    by_enrolment: dict[str, list[Mapping[str, Any]]] = {}
    for m in messages:
        prefix = m["key"].rsplit(":", 1)[0]  # program:<book>:<enrolment>:<step>
        by_enrolment.setdefault(prefix, []).append(m)
    model = getattr(seat.current(), "model", None)
    rows = []
    for prefix, group in by_enrolment.items():
        first = group[0]["payload"]
        body = first["text"]
        if first.get("to_name"):
            body = body.replace(first["to_name"], "[contact]")
        rows.append(
            {
                "key": f"draft:{prefix}",
                "source": "playbook",
                "action": "email_draft",
                "account_id": group[0]["account_id"],
                "status": "drafting",
                "model": model,
                "proposal": {
                    "program": book.id,
                    "variant": variant,
                    "step": step_id,
                    "step_index": step_index,
                    "auto_send": book.spec.auto_send,
                    "subject": first["subject"],
                    "body": body,
                    "unsubscribe": {
                        str(m["payload"]["contact_id"]): unsubscribe[m["payload"]["contact_id"]]
                        for m in group
                    },
                },
                "messages": [dict(m) for m in group],
                "created_at": now,
            }
        )
    if rows:
        session.execute(insert_ignore(session.connection(), ActionProposal.__table__), rows)
    return len(rows)


def _framed(
    message: Mapping[str, Any], subject: str, body: str, unsubscribe: str
) -> dict[str, Any]:
    """The model's words inside our frame: our greeting, our unsubscribe line."""
    payload = dict(message["payload"])
    name = payload.get("to_name") or "there"
    payload["subject"] = subject.strip()
    payload["text"] = f"Hi {name},\n\n{body.strip()}\n\nUnsubscribe: {unsubscribe}\n"
    return {**message, "payload": payload}


def draft_emails(engine: Engine, assistant: seat.Assistant, *, now: datetime) -> dict[str, int]:
    """Let the model write the drafts waiting for it: read, ask (no transaction open), write.

    A draft waits for the owner (``pending``), or is queued at once when the playbook says
    ``auto_send: true``. Without a draft (budget spent, the model failed) the playbook's own text
    is queued as it would have been without a model, and the proposal says so.
    """
    with engine.connect() as conn:
        waiting = conn.execute(
            select(ActionProposal.key, ActionProposal.account_id, ActionProposal.proposal)
            .where(ActionProposal.status == "drafting")
            .order_by(ActionProposal.id)
            .limit(DRAFT_BATCH)
        ).all()
    if not waiting:
        return {}
    with Session(engine) as session:
        as_of = latest_as_of(session, now.date())
        ids = [w.account_id for w in waiting if w.account_id is not None]
        facts = seat.account_facts(session, ids, as_of) if as_of is not None else {}
    requests = [
        seat.DraftRequest(
            key=w.key,
            account=facts.get(w.account_id) or seat.AccountFacts(w.account_id or 0, {}),
            subject=w.proposal["subject"],
            body=w.proposal["body"],
        )
        for w in waiting
    ]
    drafts = assistant.email_drafts(requests)
    counts = {"held": 0, "auto_sent": 0, "fallback": 0}
    with transaction(engine) as session:
        rows = session.scalars(
            select(ActionProposal)
            .where(
                ActionProposal.key.in_([w.key for w in waiting]),
                ActionProposal.status == "drafting",
            )
            .with_for_update()
        ).all()
        for p in rows:
            draft = drafts.get(p.key)
            spec = dict(p.proposal)
            if draft is not None:
                p.messages = [
                    _framed(
                        m,
                        draft.subject,
                        draft.body,
                        spec["unsubscribe"][str(m["payload"]["contact_id"])],
                    )
                    for m in p.messages or []
                ]
                p.model = draft.model
                spec["draft"] = {"subject": draft.subject, "body": draft.body}
                p.proposal = spec
                if spec.get("auto_send"):
                    _approve(session, p, by="playbook (auto_send: true)", note=None, now=now)
                    counts["auto_sent"] += 1
                else:
                    p.status = "pending"
                    counts["held"] += 1
            else:
                p.reason = "the model gave no draft; the playbook's own text was queued"
                _approve(session, p, by="playbook (no model draft)", note=None, now=now)
                counts["fallback"] += 1
    return {k: v for k, v in counts.items() if v}


# --- crew proposals ----------------------------------------------------------------------------


def _account_states(session: Session, ids: Sequence[int]) -> dict[int, AccountState]:
    if not ids:
        return {}
    accounts = session.execute(
        select(Account.id, Account.churned_at, Account.owner_email).where(Account.id.in_(ids))
    ).all()
    open_health = set(
        session.scalars(
            select(TriggerEvent.account_id)
            .join(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
            .where(
                TriggerEvent.account_id.in_(ids),
                TriggerEvent.status == "open",
                TriggerDefinition.metric == "health_score",
            )
        )
    )
    return {
        a.id: AccountState(
            active=a.churned_at is None,
            has_owner=bool(a.owner_email),
            open_health_event=a.id in open_health,
        )
        for a in accounts
    }


def _crm_task(session: Session, account: Account, settings: Settings) -> dict[str, Any]:
    """The CRM task the account's open health event asks for, built as the trigger builds it."""
    from successcrew.integrations.providers import CRM_PROVIDERS

    event, definition = session.execute(
        select(TriggerEvent, TriggerDefinition)
        .join(TriggerDefinition, TriggerDefinition.code == TriggerEvent.code)
        .where(
            TriggerEvent.account_id == account.id,
            TriggerEvent.status == "open",
            TriggerDefinition.metric == "health_score",
        )
        .order_by(TriggerEvent.id.desc())
        .limit(1)
    ).one()
    links = dict(
        session.execute(
            select(AccountSource.source, AccountSource.source_id).where(
                AccountSource.account_id == account.id, AccountSource.source.in_(CRM_PROVIDERS)
            )
        ).all()
    )
    provider = next((p for p in CRM_PROVIDERS if p in links), None)
    if provider is None:
        raise InputError(f"account {account.name} is not linked to a CRM; propose internal_task")
    evidence = event.evidence or {}
    context = {
        "account_name": account.name,
        "arr": float(account.arr) if account.arr is not None else None,
        "owner_email": account.owner_email,
        "crm_provider": provider,
        "crm_source_id": links[provider],
        "high_value": evidence.get("high_value"),
        "pause_scope": "scoring",
        "explanation": (evidence.get("explanation") or {}).get("summary", ""),
    }
    (action,) = plan_actions(
        code=event.code,
        title=definition.title,
        metric=definition.metric,
        severity=definition.severity,
        actions=["crm_task"],
        subject=event.subject,
        event_id=event.id,
        value=event.value,
        threshold=event.threshold,
        context=context,
        channels={"team": settings.slack_channel, "chairman": settings.slack_chairman_channel},
        due_date=(event.fired_at + timedelta(days=1)).date().isoformat(),
    )
    return {
        "key": action.key,
        "channel": action.channel,
        "payload": action.payload,
        "account_id": account.id,
        "trigger_event_id": event.id,
    }


def _internal_mail(key: str, account: Account, subject: str, text: str) -> dict[str, Any]:
    return {
        "key": key,
        "channel": "email",
        "account_id": account.id,
        "payload": {
            "kind": "internal",
            "to": account.owner_email,
            "subject": subject,
            "text": text,
        },
    }


def _messages(
    session: Session, key: str, item: Mapping[str, Any], account: Account, settings: Settings
) -> list[dict[str, Any]]:
    """The outbox rows approval will queue, fixed now so the approver sees them."""
    action = item["action"]
    note = f"Proposed by the model: {item.get('reason') or ''}\n" + "".join(
        f"- {e}\n" for e in item.get("evidence") or []
    )
    if action == "crm_task":
        return [_crm_task(session, account, settings)]
    if action == "internal_task":
        subject = f"Task for {account.name}: {item.get('task') or 'see below'}"[:200]
        return [_internal_mail(f"{key}:internal_task", account, subject, note)]
    if action == "draft_email":
        draft = item.get("draft") or {}
        text = (
            f"A suggested e-mail to {account.name}, drafted by a model and not sent. Send it "
            "yourself if it is right.\n\n"
            f"Subject: {draft.get('subject', '')}\n\n{draft.get('body', '')}\n\n{note}"
        )
        return [
            _internal_mail(f"{key}:draft_email", account, f"Suggested e-mail: {account.name}", text)
        ]
    return []  # escalate and enrol_playbook act through their own services at approval


def store_crew_proposals(
    session: Session,
    items: Sequence[Mapping[str, Any]],
    *,
    under_review: Sequence[int],
    playbooks: Sequence[str],
    model: str,
    crew_run_id: int | None,
    settings: Settings,
    now: datetime,
) -> dict[str, int]:
    """Store the crew's proposals: ``pending`` when the policy lets them stand, ``blocked``
    (with the reason) when not, ``noted`` for "nothing". Each item is a validated
    ``ActionProposal`` as a dict, or ``{"action": ..., "blocked": reason}`` from the guardrail."""
    ids = sorted({int(i["account_id"]) for i in items if i.get("account_id") is not None})
    states = _account_states(session, ids)
    accounts = {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))}
    run = crew_run_id if crew_run_id is not None else now.strftime("%Y%m%dT%H%M%S")
    counts = {"pending": 0, "blocked": 0, "noted": 0}
    for index, item in enumerate(items):
        key = f"crew:{run}:{index}"
        account_id = item.get("account_id")
        texts = [str(item.get(k) or "") for k in ("reason", "task")]
        texts += [str(e) for e in item.get("evidence") or []]
        texts += [str(v) for v in (item.get("draft") or {}).values()]
        reason = item.get("blocked") or check_proposal(
            str(item.get("action")),
            account_id,
            texts=texts,
            playbook=item.get("playbook"),
            under_review=under_review,
            accounts=states,
            playbooks=playbooks,
        )
        messages: list[dict[str, Any]] = []
        if reason is None and item["action"] != "nothing":
            assert account_id is not None  # check_proposal refused any other action without one
            try:
                messages = _messages(session, key, item, accounts[account_id], settings)
            except InputError as exc:
                reason = str(exc)
        status = "blocked" if reason else "noted" if item.get("action") == "nothing" else "pending"
        session.add(
            ActionProposal(
                key=key,
                source="crew",
                action=str(item.get("action"))[:50],
                account_id=account_id if account_id in accounts else None,
                crew_run_id=crew_run_id,
                status=status,
                model=model,
                proposal={k: v for k, v in item.items() if k != "blocked"},
                messages=messages or None,
                reason=reason,
                created_at=now,
            )
        )
        counts[status] += 1
        if status == "blocked":
            audit.record(
                session,
                at=now,
                actor="model",
                action="proposal.blocked",
                subject=key,
                detail={"action": item.get("action"), "account_id": account_id, "reason": reason},
            )
    session.flush()
    return {k: v for k, v in counts.items() if v}


# --- decisions ---------------------------------------------------------------------------------


def _approve(
    session: Session,
    p: ActionProposal,
    *,
    by: str,
    note: str | None,
    now: datetime,
    settings: Settings | None = None,
    policy: EscalationPolicy | None = None,
) -> dict[str, Any]:
    """Carry out ``p`` and mark it approved (the caller's transaction)."""
    done: dict[str, Any] = {}
    if p.action in ("escalate", "enrol_playbook") and p.account_id is None:
        # The account was deleted after the proposal was made (the column is SET NULL).
        raise InputError(f"the account of proposal {p.id} no longer exists: decline it")
    if p.action == "escalate":
        assert p.account_id is not None
        from successcrew.services.escalations.lifecycle import raise_for_account

        if settings is None or policy is None:
            raise InputError("an escalation needs the settings and the escalation policy")
        esc = raise_for_account(
            session,
            p.account_id,
            reason=str(p.proposal.get("reason") or ""),
            policy=policy,
            settings=settings,
            now=now,
        )
        done["escalation_id"] = esc.id
    elif p.action == "enrol_playbook":
        assert p.account_id is not None
        from successcrew.definitions.playbooks import load_playbooks
        from successcrew.services.programs.runs import enrol_accounts

        wanted = p.proposal.get("playbook")
        book = next((b for b in load_playbooks() if b.id == wanted and b.spec.enabled), None)
        if book is None:
            raise InputError(f"playbook {wanted!r} is not an enabled playbook")
        active = session.execute(
            select(ProgramEnrolment.id).where(
                ProgramEnrolment.program == book.id,
                ProgramEnrolment.account_id == p.account_id,
                ProgramEnrolment.status == "active",
            )
        ).first()
        if active:
            raise InputError(f"the account is already in the {book.id} playbook")
        done["enrolled"] = enrol_accounts(
            session, book, {p.account_id: ("proposal", f"proposal:{p.id}")}, now=now
        )
    done["queued"] = enqueue_many(session, p.messages or [], now=now)
    p.status, p.decided_at, p.decided_by, p.decision_note = "approved", now, by, note
    audit.record(
        session,
        at=now,
        actor=by,
        action="proposal.approve",
        subject=f"proposal:{p.id}",
        detail={"action": p.action, "account_id": p.account_id, **done},
    )
    return done


def decide(
    session: Session,
    proposal_id: int,
    decision: str,
    *,
    by: str,
    note: str | None,
    now: datetime,
    settings: Settings,
    policy: EscalationPolicy,
) -> dict[str, Any]:
    """Approve or decline a pending proposal; the one code path for every way of deciding.

    Unknown id, a decision that is not approve/decline, or a proposal that is not pending:
    InputError (exit 2), nothing written.
    """
    if decision not in DECISIONS:
        raise InputError(f"decision must be one of {', '.join(DECISIONS)}, not {decision!r}")
    if not by.strip():
        raise InputError("--by: say who decides")
    p = session.scalars(
        select(ActionProposal).where(ActionProposal.id == proposal_id).with_for_update()
    ).one_or_none()
    if p is None:
        raise InputError(f"no proposal with id {proposal_id}")
    if p.status != "pending":
        who = f" by {p.decided_by}" if p.decided_by else ""
        when = f" at {p.decided_at.isoformat()}" if p.decided_at else ""
        raise AlreadyDecided(f"proposal {proposal_id} is {p.status}{who}{when}; nothing to decide")
    if decision == "approve":
        done = _approve(session, p, by=by, note=note, now=now, settings=settings, policy=policy)
    else:
        done = {}
        p.status, p.decided_at, p.decided_by, p.decision_note = "declined", now, by, note
        keys = [m["key"] for m in p.messages or []]
        if p.action == "email_draft" and keys:
            # Nothing was sent: throttling must not count it.
            session.execute(delete(ProgramEmail).where(ProgramEmail.outbox_key.in_(keys)))
        audit.record(
            session,
            at=now,
            actor=by,
            action="proposal.decline",
            subject=f"proposal:{p.id}",
            detail={"action": p.action, "account_id": p.account_id, "note": note},
        )
    session.flush()
    return {"id": p.id, "status": p.status, "action": p.action, **done}


def _summary(row: RowMapping) -> str:
    proposal = row["proposal"] or {}
    if row["action"] == "email_draft":
        draft = proposal.get("draft") or {}
        return f"{proposal.get('program')} step {proposal.get('step')}: " + str(
            draft.get("subject") or proposal.get("subject") or ""
        )
    extra = proposal.get("playbook") or proposal.get("task") or ""
    return (f"{extra}: " if extra else "") + str(proposal.get("reason") or "")


def list_proposals(
    conn: Connection, *, status: str | None = None, limit: int = 200, owner: str | None = None
) -> list[dict[str, Any]]:
    """Proposals newest first (``status`` filters), for ``successcrew proposals`` and the
    Decisions page (``owner``: only those about that CSM's accounts, and the company's)."""
    p = ActionProposal.__table__.c
    query = (
        select(
            ActionProposal.__table__,
            Account.name.label("account"),
            Account.external_id.label("account_external_id"),
        )
        .outerjoin(Account, Account.id == p.account_id)
        .where(in_book(p.account_id, owner))
        .order_by(p.id.desc())
        .limit(limit)
    )
    if status:
        query = query.where(p.status == status)
    out = []
    for row in conn.execute(query).mappings():
        out.append(
            {
                "id": row["id"],
                "source": row["source"],
                "action": row["action"],
                "status": row["status"],
                "account_id": row["account_id"],
                "account": row["account"],
                "account_external_id": row["account_external_id"],
                "summary": _summary(row)[:300],
                "reason": row["reason"],
                "model": row["model"],
                "messages": [
                    {
                        "key": m["key"],
                        "channel": m["channel"],
                        "subject": m["payload"].get("subject") or m["payload"].get("title"),
                        "text": m["payload"].get("text") or m["payload"].get("body"),
                    }
                    for m in row["messages"] or []
                ],
                "created_at": row["created_at"].isoformat(),
                "decided_at": row["decided_at"].isoformat() if row["decided_at"] else None,
                "decided_by": row["decided_by"],
                "note": row["decision_note"],
            }
        )
    return out
