"""The core's side of the optional model, on SQLite and PostgreSQL, without the llm extra: what
changes when an assistant is installed (briefs on the owner's CRM task and the chairman's card,
e-mail drafts held for the owner, comment readings), what does not (everything, without one),
and proposals: policy checks, decisions through one service, and approval queueing exactly what
the deterministic crew queues. The model itself is driven over HTTP in tests/llm."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select, update

from successcrew.definitions.escalation_policy import load_policy
from successcrew.definitions.feedback_categories import load_taxonomy
from successcrew.definitions.playbooks import Playbook, load_playbooks, load_program_settings
from successcrew.domain.comment_analysis import effective_categories
from successcrew.errors import InputError
from successcrew.services.escalations.lifecycle import raise_escalations
from successcrew.services.model import assistant as seat
from successcrew.services.model_pass.proposals import decide, list_proposals, store_crew_proposals
from successcrew.services.programs.runs import run_programs
from successcrew.services.voice.feedback import (
    categorise_responses,
    correct_categories,
    read_comments_with_model,
)
from successcrew.store.db import make_engine, transaction
from successcrew.store.models import (
    ActionProposal,
    AuditLog,
    Escalation,
    NpsResponse,
    OutboxMessage,
    ProgramEmail,
    TriggerDefinition,
)
from tests.clirunner import run_cli
from tests.modelhelpers import NOW, SETTINGS, CannedAssistant, build_book, evaluate

POLICY = load_policy()


@pytest.fixture
def canned() -> Iterator[CannedAssistant]:
    """A canned assistant installed for the test, removed after."""
    assistant = CannedAssistant()
    seat.install(assistant)
    yield assistant
    seat.uninstall()


def outbox(engine: Engine, channel: str | None = None) -> list[OutboxMessage]:
    with transaction(engine) as session:
        query = select(OutboxMessage).order_by(OutboxMessage.id)
        if channel:
            query = query.where(OutboxMessage.channel == channel)
        return list(session.scalars(query))


def programs(engine: Engine, now: Any, books: list[Playbook] | None = None) -> Any:
    with transaction(engine) as session:
        return run_programs(
            session,
            books or load_playbooks(),
            settings=load_program_settings(),
            threshold_pct=10,
            base_url="https://cs.example",
            link_secret="test-link-secret",
            now=now,
        )


def proposals(engine: Engine, **kw: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return list_proposals(conn, **kw)


def decided(engine: Engine, proposal_id: int, decision: str, by: str = "lead") -> dict[str, Any]:
    with transaction(engine) as session:
        return decide(
            session,
            proposal_id,
            decision,
            by=by,
            note=None,
            now=NOW,
            settings=SETTINGS,
            policy=POLICY,
        )


def test_without_a_model_the_texts_and_the_sends_are_the_deterministic_ones(engine: Engine) -> None:
    build_book(engine)
    evaluate(engine)
    tasks = outbox(engine, "crm_task")
    assert {t.payload["account_source_id"] for t in tasks} == {"hs-acme", "hs-beta"}
    assert all("Brief" not in t.payload["body"] for t in tasks)
    programs(engine, NOW)
    programs(engine, NOW + timedelta(days=2))
    emails = [m for m in outbox(engine, "email") if m.payload.get("kind") == "campaign"]
    assert {m.payload["to"] for m in emails} == {
        "ada@acme.example",
        "bob@acme.example",
        "cy@beta.example",
        "dee@delta.example",  # Delta, At-Risk: the at-risk playbook's first e-mail
    }
    assert proposals(engine) == []


def test_the_owners_task_and_the_chairmans_card_carry_the_models_brief(
    engine: Engine, canned: CannedAssistant
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    acme = next(t for t in outbox(engine, "crm_task") if t.account_id == ids["ACME"])
    assert acme.payload["body"].startswith(
        "Account health critical or dropping fast. Value 30.0 against"
    )
    assert "Brief (drafted by a model):\nWhy: Acme is critical at 30.0" in acme.payload["body"]
    # The model saw figures and fenced-apart comments, never an address or a phone number.
    facts = canned.asked["brief"][0][0]
    assert facts.figures["change_points"] == -32.0 and "owner_email" not in facts.figures
    assert facts.comments and "@" not in str(facts.figures)

    with transaction(engine) as session:
        raise_escalations(session, policy=POLICY, settings=SETTINGS, now=NOW)
    card = next(m for m in outbox(engine, "slack") if m.payload.get("kind") == "escalation")
    texts = [
        b["text"]["text"]
        for b in card.payload["blocks"]
        if b.get("type") == "section" and "text" in b
    ]
    assert any(t.startswith("*Brief (drafted by a model)*\nWhy: Acme") for t in texts)


def test_risk_emails_wait_as_drafts_for_the_model_then_the_owner(
    engine: Engine, canned: CannedAssistant
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    programs(engine, NOW)
    later = NOW + timedelta(days=2)
    programs(engine, later)
    # Held: no campaign e-mail in the outbox, one drafting proposal per enrolment.
    assert not [m for m in outbox(engine, "email") if m.payload.get("kind") == "campaign"]
    assert {p["status"] for p in proposals(engine)} == {"drafting"}

    result = seat.model_pass(engine, canned, now=later, crew_run_id=None)
    assert result.drafts == {"held": 3}
    request = canned.asked["draft"][0][0]
    assert "[contact]" in request.body and "Ada" not in request.body  # the contact stays ours
    pending = {p["account_id"]: p for p in proposals(engine, status="pending")}
    acme = pending[ids["ACME"]]
    assert acme["summary"] == "critical step exec-email: Acme: a quick call?"
    assert [m["text"].splitlines()[0] for m in acme["messages"]] == [
        "Hi Ada Admin,",
        "Hi Bob Buyer,",
    ]

    done = decided(engine, acme["id"], "approve")
    assert done == {"id": acme["id"], "status": "approved", "action": "email_draft", "queued": 2}
    sent = [m for m in outbox(engine, "email") if m.payload.get("kind") == "campaign"]
    assert [m.payload["to"] for m in sent] == ["ada@acme.example", "bob@acme.example"]
    assert sent[0].payload["text"] == (
        "Hi Ada Admin,\n\nWe saw exports failing and want to fix that with you this week.\n\n"
        f"Unsubscribe: {sent[0].payload['unsubscribe_url']}\n"
    )
    assert sent[0].payload["unsubscribe_url"].startswith("https://cs.example/unsubscribe/")
    assert [k.split(":")[:2] for k in (m.idempotency_key for m in sent)] == [
        ["program", "critical"]
    ] * 2

    with pytest.raises(InputError, match=rf"proposal {acme['id']} is approved by lead at "):
        decided(engine, acme["id"], "approve")
    with pytest.raises(InputError, match="no proposal with id 999"):
        decided(engine, 999, "decline")
    beta = pending[ids["BETA"]]
    decided(engine, beta["id"], "decline", by="owner.beta")
    with engine.connect() as conn:
        # A declined draft was never sent: throttling must not count it.
        kept = conn.execute(select(ProgramEmail.outbox_key)).scalars().all()
        actions = conn.execute(
            select(AuditLog.action, AuditLog.actor).where(AuditLog.action.like("proposal.%"))
        ).all()
    assert {m.idempotency_key for m in sent} <= set(kept)
    assert not {m["key"] for m in beta["messages"]} & set(kept)
    assert sorted(actions) == [("proposal.approve", "lead"), ("proposal.decline", "owner.beta")]


def test_auto_send_playbooks_send_the_draft_and_a_missing_draft_sends_the_playbooks_text(
    engine: Engine,
) -> None:
    build_book(engine)
    evaluate(engine)
    books = [
        Playbook(spec=b.spec.model_copy(update={"auto_send": True}), path=b.path)
        if b.id == "critical"
        else b
        for b in load_playbooks()
    ]
    assistant = CannedAssistant(fail=["draft"])
    seat.install(assistant)
    try:
        programs(engine, NOW, books)
        programs(engine, NOW + timedelta(days=2), books)
        result = seat.model_pass(engine, assistant, now=NOW + timedelta(days=2), crew_run_id=None)
    finally:
        seat.uninstall()
    # The model gave nothing: the playbook's own text went out, as it would without a model.
    assert result.drafts == {"fallback": 3}
    sent = [m for m in outbox(engine, "email") if m.payload.get("kind") == "campaign"]
    ada = next(m for m in sent if m.payload["to"] == "ada@acme.example")
    assert len(sent) == 4
    assert ada.payload["text"].startswith("Hi Ada Admin,\n\nWe want to make sure Acme")
    assert {p["decided_by"] for p in proposals(engine)} == {"playbook (no model draft)"}


def test_a_confident_model_reading_replaces_the_lexicons_and_a_correction_still_wins(
    engine: Engine,
) -> None:
    build_book(engine)
    categoriser = load_taxonomy().categoriser()
    with transaction(engine) as session:
        categorise_responses(session, categoriser)
    first = categoriser.names[0]
    assistant = CannedAssistant(confidence=0.9)
    assert read_comments_with_model(engine, assistant, categoriser.names) == {
        "read": 4,
        "by_model": 4,
        "unsure": 0,
        "left": 0,
    }
    with transaction(engine) as session:
        rows = session.scalars(select(NpsResponse).order_by(NpsResponse.id)).all()
        assert {(r.read_by, tuple(r.categories), r.sentiment) for r in rows} == {
            ("canned-1", (first,), -0.5)
        }
        correct_categories(session, rows[0].id, [], known=categoriser.names, actor="lead", now=NOW)
    with transaction(engine) as session:
        row = session.get(NpsResponse, rows[0].id)
        assert effective_categories(row.categories, row.categories_manual) == []
    # Read once: nothing left for the next run.
    assert read_comments_with_model(engine, assistant, categoriser.names) == {}

    with transaction(engine) as session:
        categorise_responses(session, categoriser, everything=True)  # the taxonomy changed
        lexicon = {r.id: r.categories for r in session.scalars(select(NpsResponse))}
    unsure = CannedAssistant(confidence=0.3)
    assert read_comments_with_model(engine, unsure, categoriser.names)["unsure"] == 4
    with transaction(engine) as session:
        rows = session.scalars(select(NpsResponse)).all()
        assert {r.read_by for r in rows} == {"lexicon"}
        assert {r.id: r.categories for r in rows} == lexicon


def crew_items(ids: dict[str, int]) -> list[dict[str, Any]]:
    base = {"playbook": None, "task": None, "draft": None, "evidence": ["score 30.0"]}
    return [
        {
            **base,
            "action": "crm_task",
            "account_id": ids["ACME"],
            "reason": "Score fell 32 points.",
        },
        {**base, "action": "issue_refund", "account_id": ids["ACME"], "reason": "Make it right."},
        {
            **base,
            "action": "draft_email",
            "account_id": ids["GAMMA"],
            "reason": "Say thanks.",
            "draft": {"subject": "Thanks", "body": "Thank you."},
        },
        {
            **base,
            "action": "internal_task",
            "account_id": ids["BETA"],
            "task": "Offer a 50 % discount",
            "reason": "The customer asked for it.",
        },
        {
            **base,
            "action": "escalate",
            "account_id": ids["BETA"],
            "reason": "Critical and falling.",
        },
        {
            **base,
            "action": "enrol_playbook",
            "account_id": ids["BETA"],
            "playbook": "critical",
            "reason": "Critical.",
        },
        {**base, "action": "nothing", "account_id": None, "reason": "Nothing else today."},
    ]


def test_crew_proposals_are_checked_by_policy_and_approval_uses_the_deterministic_paths(
    engine: Engine,
) -> None:
    ids = build_book(engine)
    with transaction(engine) as session:
        session.execute(
            update(TriggerDefinition)
            .where(TriggerDefinition.code == "RETENTION-001")
            .values(actions=["playbook_enrolment"])
        )
    evaluate(engine)
    with transaction(engine) as session:
        counts = store_crew_proposals(
            session,
            crew_items(ids),
            under_review=[ids["ACME"], ids["BETA"]],
            playbooks=["at_risk", "critical", "win_back"],
            model="m",
            crew_run_id=None,
            settings=SETTINGS,
            now=NOW,
        )
    assert counts == {"pending": 3, "blocked": 3, "noted": 1}
    rows = {(p["action"], p["account"]): p for p in proposals(engine)}
    assert rows["issue_refund", "Acme"]["reason"].startswith("action 'issue_refund' is not allowed")
    assert (
        rows["draft_email", "Gamma"]["reason"]
        == f"account {ids['GAMMA']} is not among the accounts under review"
    )
    assert rows["internal_task", "Beta"]["reason"].startswith("text changes what the customer pays")
    with engine.connect() as conn:
        assert (
            conn.execute(
                select(func.count()).where(AuditLog.action == "proposal.blocked")
            ).scalar_one()
            == 3
        )

    assert decided(engine, rows["escalate", "Beta"]["id"], "approve")["escalation_id"]
    with transaction(engine) as session:
        esc = session.scalars(select(Escalation)).one()
        assert (esc.kind, esc.account_id, esc.proposed_action) == ("proposal", ids["BETA"], None)
    assert decided(engine, rows["enrol_playbook", "Beta"]["id"], "approve")["enrolled"]
    with pytest.raises(InputError, match="is blocked"):
        decided(engine, rows["issue_refund", "Acme"]["id"], "approve")


def test_approving_a_proposal_whose_account_was_deleted_says_so_and_changes_nothing(
    engine: Engine,
) -> None:
    ids = build_book(engine)
    with transaction(engine) as session:
        store_crew_proposals(
            session,
            crew_items(ids),
            under_review=[ids["ACME"], ids["BETA"]],
            playbooks=["at_risk", "critical", "win_back"],
            model="m",
            crew_run_id=None,
            settings=SETTINGS,
            now=NOW,
        )
    rows = {(p["action"], p["account"]): p for p in proposals(engine)}
    waiting = [rows["escalate", "Beta"]["id"], rows["enrol_playbook", "Beta"]["id"]]
    with transaction(engine) as session:
        # What deleting the account does to its proposals (the foreign key is SET NULL).
        session.execute(
            update(ActionProposal).where(ActionProposal.id.in_(waiting)).values(account_id=None)
        )
    for proposal_id in waiting:
        with pytest.raises(InputError, match=f"account of proposal {proposal_id} no longer exists"):
            decided(engine, proposal_id, "approve")
    with engine.connect() as conn:
        statuses = conn.execute(
            select(ActionProposal.status).where(ActionProposal.id.in_(waiting))
        ).scalars()
        assert list(statuses) == ["pending", "pending"]
        assert conn.execute(select(func.count()).select_from(Escalation)).scalar_one() == 0


def _copy_of(template: Path, tmp_path: Path, name: str) -> Engine:
    path = tmp_path / name
    shutil.copy(template, path)
    return make_engine(f"sqlite:///{path}")


def test_an_approved_crm_task_is_the_row_the_trigger_would_have_queued(
    sqlite_template: Path, tmp_path: Path
) -> None:
    deterministic = _copy_of(sqlite_template, tmp_path, "a.db")
    proposed = _copy_of(sqlite_template, tmp_path, "b.db")
    ids = build_book(deterministic)
    build_book(proposed)
    evaluate(deterministic)
    # The operator turned automatic CRM tasks off: the model may propose one for approval.
    with transaction(proposed) as session:
        session.execute(
            update(TriggerDefinition)
            .where(TriggerDefinition.code == "RETENTION-001")
            .values(actions=["playbook_enrolment", "chairman_notice"])
        )
    evaluate(proposed)
    assert outbox(proposed, "crm_task") == []
    with transaction(proposed) as session:
        store_crew_proposals(
            session,
            crew_items(ids)[:1],
            under_review=[ids["ACME"]],
            playbooks=[],
            model="m",
            crew_run_id=None,
            settings=SETTINGS,
            now=NOW + timedelta(hours=1),
        )
    (pending,) = proposals(proposed, status="pending")
    decided(proposed, pending["id"], "approve")

    def rows(engine: Engine) -> list[tuple[Any, ...]]:
        return [
            (m.idempotency_key, m.channel, m.payload, m.status, m.account_id, m.trigger_event_id)
            for m in outbox(engine, "crm_task")
            if m.account_id == ids["ACME"]
        ]

    assert rows(proposed) == rows(deterministic) and len(rows(proposed)) == 1
    deterministic.dispose()
    proposed.dispose()


def test_proposals_on_the_command_line(
    engine: Engine, env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    ids = build_book(engine)
    evaluate(engine)
    with transaction(engine) as session:
        store_crew_proposals(
            session,
            crew_items(ids)[:2],
            under_review=[ids["ACME"]],
            playbooks=[],
            model="m",
            crew_run_id=None,
            settings=SETTINGS,
            now=NOW,
        )
    listed = run_cli(capsys, "proposals", "--json")
    assert listed.code == 0
    by_action = {p["action"]: p for p in listed.json()["proposals"]}
    assert by_action["crm_task"]["status"] == "pending"
    assert by_action["crm_task"]["messages"][0]["channel"] == "crm_task"
    pending = str(by_action["crm_task"]["id"])
    # The deterministic CRM task is already queued: approval adds nothing twice.
    ok = run_cli(capsys, "proposals", "approve", pending, "--by", "lead", "--now", NOW.isoformat())
    assert ok.code == 0 and ok.out.startswith(
        f"proposal {pending} (crm_task) approved: 0 message(s)"
    )
    again = run_cli(capsys, "proposals", "approve", pending, "--by", "lead")
    assert again.code == 2 and f"proposal {pending} is approved by lead" in again.err
    assert run_cli(capsys, "proposals", "decline", "999", "--by", "lead").code == 2
    blocked = run_cli(capsys, "proposals", "--status", "blocked")
    assert blocked.code == 0 and "issue_refund" in blocked.out
    status = run_cli(capsys, "status", "--json").json()
    assert status["model"]["configured"] is None
    assert status["model"]["proposals"] == {"approved": 1, "blocked": 1}
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ActionProposal)).scalar_one() == 2


def test_the_models_lookups_cannot_write(engine: Engine) -> None:
    from sqlalchemy import insert
    from sqlalchemy.exc import DBAPIError

    from successcrew.services.views.lookups import find_accounts, read_only
    from successcrew.store.models import PauseHold

    ids = build_book(engine)
    with read_only(engine) as session:
        found = find_accounts(session, NOW.date(), band="critical", compare_days=7)
        assert [a["account_id"] for a in found["accounts"]] == [ids["ACME"], ids["BETA"]]
        assert found["accounts"][0]["change_points"] == -32.0
        with pytest.raises(DBAPIError):
            session.execute(
                insert(PauseHold).values(
                    scope="automation", held_by="model", kind="person", reason="x", set_at=NOW
                )
            )
    # The connection went back to the pool writable again.
    with transaction(engine) as session:
        session.execute(
            insert(PauseHold).values(
                scope="campaigns", held_by="lead", kind="person", reason="y", set_at=NOW
            )
        )
