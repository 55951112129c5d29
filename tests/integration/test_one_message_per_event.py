"""One message per account and event: a high-value account that turns Critical reaches the
chairman once, on the escalation card, while the team still hears of every Critical account;
an NPS emergency review reaches the chairman once, on its card. SQLite and PostgreSQL."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, select

from successcrew.agents.base import TaskContext
from successcrew.definitions.escalation_policy import HighValue, load_policy
from successcrew.services.escalations.lifecycle import announce_policy, raise_escalations
from successcrew.services.triggers.evaluation import evaluate_triggers, sync_trigger_definitions
from successcrew.settings import Settings
from successcrew.store.db import transaction
from successcrew.store.models import Account, OutboxMessage, TriggerEvent
from tests.crewhelpers import DAY1, day, make_crew, plant_snapshot, seed_accounts
from tests.integration.test_triggers import NOW, THRESHOLDS, TODAY, _answers, add_accounts

# High-value for the chairman from ARR 150,000 (T-015 .. T-020); the RETENTION-001 definition
# calls ARR from 100,000 high-value, so T-012 (ARR 120,000) has a notice and no card.
POLICY = load_policy().model_copy(
    update={"high_value": HighValue(arr_at_least=150_000, top_percent_by_arr=None)}
)


def _one_day(engine: Engine, *, cards: bool) -> None:
    """What a run on a scoring day does, in the crew's order. The escalation step runs once the
    policy was introduced to the chairman (its setup step), which ``cards`` stands for."""
    crew = make_crew(engine, policy=POLICY)
    steps = [
        ("health_monitoring_specialist", "evaluate_triggers"),
        ("health_monitoring_specialist", "generate_alerts"),
    ]
    if cards:
        steps.insert(0, ("retention_program_designer", "configure_escalation"))
        steps.append(("retention_program_designer", "escalate_to_chairman"))
    with transaction(engine) as session:
        sync_trigger_definitions(session, day(1))
    for agent, tool in steps:
        with transaction(engine) as session:
            ctx = TaskContext(
                session=session,
                engine=engine,
                now=day(2),
                settings=crew.settings,
                thresholds=crew.thresholds,
                policy=crew.policy,
            )
            crew.agents[agent].run_tool(tool, ctx)


def _slack_by_account(engine: Engine) -> Counter[tuple[str, str]]:
    """(account, channel) of every Slack message queued about an account."""
    with transaction(engine) as session:
        rows = session.execute(
            select(Account.external_id, OutboxMessage.payload)
            .join(Account, Account.id == OutboxMessage.account_id)
            .where(OutboxMessage.channel == "slack")
        ).all()
    return Counter((external_id, payload["channel"]) for external_id, payload in rows)


def _titles(engine: Engine, channel: str) -> list[str]:
    with transaction(engine) as session:
        payloads: list[Any] = list(
            session.scalars(
                select(OutboxMessage.payload)
                .where(OutboxMessage.channel == "slack", OutboxMessage.account_id.is_not(None))
                .order_by(OutboxMessage.id)
            )
        )
    return [p["title"] for p in payloads if p["channel"] == channel]


def _critical_today(engine: Engine) -> None:
    seed_accounts(engine)  # T-001 .. T-020, ARR 10,000 .. 200,000
    for external_id, score in (("T-020", 28.0), ("T-012", 31.0), ("T-003", 20.0)):
        plant_snapshot(engine, external_id, DAY1, 75.0)
        plant_snapshot(engine, external_id, day(2).date(), score)


def test_a_high_value_account_turning_critical_reaches_the_chairman_once_on_the_card(
    engine: Engine, env: dict[str, str]
) -> None:
    _critical_today(engine)
    _one_day(engine, cards=True)

    sent = _slack_by_account(engine)
    # The chairman: one card for T-020 (no separate notice), the notice for T-012 (no card).
    assert sent[("T-020", "#chairman")] == 1
    assert sent[("T-012", "#chairman")] == 1
    assert sent[("T-003", "#chairman")] == 0
    # The team channel hears of each account turning Critical, high-value or not.
    assert [sent[(a, "#customer-success")] for a in ("T-020", "T-012", "T-003")] == [1, 1, 1]
    assert _titles(engine, "#chairman") == [
        "High-value account Test Co 12 at risk: health 31.0",
        "Test Co 20: health 28.0",
    ]
    with transaction(engine) as session:
        evidence = {
            external_id: event_evidence
            for external_id, event_evidence in session.execute(
                select(Account.external_id, TriggerEvent.evidence).join(
                    Account, Account.id == TriggerEvent.account_id
                )
            )
        }
    assert evidence["T-020"]["chairman_notice"] == "announced on the chairman's escalation card"
    assert "chairman_notice" not in evidence["T-012"]


def test_before_the_chairmans_escalations_are_on_the_notice_still_goes(
    engine: Engine, env: dict[str, str]
) -> None:
    _critical_today(engine)
    _one_day(engine, cards=False)

    assert _titles(engine, "#chairman") == [
        "High-value account Test Co 12 at risk: health 31.0",
        "High-value account Test Co 20 at risk: health 28.0",
    ]


def test_an_nps_drop_reaches_the_chairman_once_on_the_emergency_review_card(
    engine: Engine,
) -> None:
    settings = Settings(slack_token=None)
    policy = load_policy()
    with transaction(engine) as session:
        sync_trigger_definitions(session, NOW)
        announce_policy(session, policy=policy, settings=settings, actor="test", now=NOW)
    (acct,) = add_accounts(engine, [{}])
    _answers(engine, acct, [10] * 60 + [8] * 30 + [2] * 10, TODAY - timedelta(days=40))  # +50
    _answers(engine, acct, [10] * 50 + [8] * 20 + [2] * 30, TODAY - timedelta(days=1))  # +20

    summary = evaluate_triggers(engine, THRESHOLDS, NOW, settings=settings, policy=policy)
    assert [r["rule"] for r in summary.rollbacks] == ["nps_drop"]
    with transaction(engine) as session:
        raise_escalations(session, policy=policy, settings=settings, now=NOW)
        chairman = [
            (m.idempotency_key, m.payload)
            for m in session.scalars(select(OutboxMessage).order_by(OutboxMessage.id))
            if m.channel == "slack"
            and m.payload.get("channel") == "#chairman"
            and not m.idempotency_key.startswith("setup:")
        ]
    ((key, card),) = chairman  # the card only: no plain message beside it
    assert key.startswith("escalation:") and key.endswith(":notice")
    assert card["title"] == "Emergency review: NPS dropped 30.0 points"
    why = next(b["text"]["text"] for b in card["blocks"] if "*Why*" in str(b))
    assert "campaigns paused for an emergency review by the chairman" in why
