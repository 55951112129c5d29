"""Every kind of Slack message we build stays inside Slack's Block Kit limits, reads in plain
words (who, what happened, the number), and never shows a score across a band boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from successcrew.domain.block_kit import build_blocks, limit_problems, slack_message
from successcrew.domain.escalation_rules import EscalationView, block_kit, decided_card
from successcrew.domain.trigger_rules import plan_actions
from successcrew.numbers import amount, count, percent, score

LONG_NAME = "Northwind Traders International Holdings " * 5  # 205 characters of account name
CHANNELS = {"team": "#cs", "chairman": "#chair"}


def _trigger_messages(name: str) -> list[dict[str, Any]]:
    common: dict[str, Any] = {
        "event_id": 9,
        "channels": CHANNELS,
        "due_date": "2026-11-21",
    }
    account = plan_actions(
        code="RETENTION-001",
        title="Account health critical or dropping fast",
        metric="health_score",
        severity="critical",
        actions=["chairman_notice", "crm_task"],
        subject="account:7",
        value=39.95,
        threshold=40.0,
        context={"account_name": name, "high_value": True, "arr": 250_000, "explanation": ""},
        **common,
    )
    retention = plan_actions(
        code="RETENTION-002",
        title="One-month logo retention below target or declining",
        metric="logo_retention_1m",
        severity="warning",
        actions=["team_notice"],
        subject="portfolio",
        value=81.25,
        threshold=85.0,
        context={},
        **common,
    )
    component = plan_actions(
        code="RETENTION-004",
        title="Component failing its health checks",
        metric="consecutive_failures",
        severity="critical",
        actions=["ops_alert"],
        subject="component:crm_sync",
        value=3,
        threshold=3,
        context={"component": "crm_sync"},
        **common,
    )
    return [a.payload for a in [*account, *retention, *component] if a.channel == "slack"]


def _escalation_cards(name: str) -> list[dict[str, Any]]:
    full = EscalationView(
        id=4,
        title=f"{name}: health 39.9",
        kind="trigger:RETENTION-001",
        account_name=name,
        fields={f"Field {n}": "x" * 2500 for n in range(12)},  # too many and too long
        explanation=["health 39.9 (critical)"] * 12,
        proposed_action={"type": "special_offer", "discount_pct": 15, "months": 3},
        brief="y" * 5000,
        context="RETENTION-001 · Account health critical or dropping fast",
    )
    bare = EscalationView(
        id=5,
        title="Emergency review: NPS dropped 41.0 points",
        kind="emergency_review",
        account_name=None,
        fields={"Account": ""},  # nothing to show: no empty section either
        explanation=[],
        proposed_action=None,
    )
    cards = [
        block_kit(full),
        block_kit(bare),
        block_kit(EscalationView(**{**full.__dict__, "reminder": True})),
    ]
    at = datetime(2026, 11, 20, 9, tzinfo=UTC)
    cards.append(
        {
            "text": "approved",
            "blocks": decided_card(cards[0]["blocks"], status="approved", by="kim", at=at),
        }
    )
    return cards


@pytest.mark.parametrize("name", ["Acme Ltd", LONG_NAME])
def test_every_message_kind_is_inside_slacks_limits(name: str) -> None:
    messages = [slack_message(p) for p in _trigger_messages(name)]
    messages += _escalation_cards(name)
    messages.append(
        slack_message({"title": "successcrew setup review: 9 done", "summary": "z" * 4000})
    )
    messages.append(slack_message({"title": "x", "summary": "   ", "fields": {"Owner": ""}}))
    assert len(messages) == 9
    for message in messages:
        assert limit_problems(message) == [], message["blocks"][0]


def test_the_limit_check_names_each_broken_limit() -> None:
    too_many = {"type": "section", "fields": [{"type": "mrkdwn", "text": "a"}] * 11}
    message = {
        "text": "t" * 3001,
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "h" * 151}},
            {"type": "section", "text": {"type": "mrkdwn", "text": ""}},
            too_many,
            {"type": "section", "text": {"type": "mrkdwn", "text": "s" * 3001}},
        ],
    }
    assert limit_problems(message) == [
        "text is 3,001 characters (at most 3,000)",
        "block 1 (header): 151 characters (at most 150)",
        "block 2 (section): empty section (no text and no fields)",
        "block 3 (section): 11 fields (at most 10)",
        "block 4 (section): text is 3,001 characters (at most 3,000)",
    ]


def test_titles_say_who_what_and_the_number_and_codes_stay_in_the_context_line() -> None:
    chairman, retention, component = _trigger_messages("Acme Ltd")
    assert chairman["title"] == "High-value account Acme Ltd at risk: health 39.9"
    assert retention["title"] == "Portfolio: one-month retention 81.2 %"
    assert component["title"] == "CRM sync: 3 failed checks in a row"
    for payload in (chairman, retention, component):
        assert "RETENTION-" not in payload["title"]
        assert "RETENTION-" not in " ".join(map(str, payload["fields"]))
        blocks = build_blocks(payload["title"], context=payload["context"])
        assert blocks[-1]["type"] == "context"
        assert blocks[-1]["elements"][0]["text"].startswith("RETENTION-00")
    assert chairman["fields"] == {"Value": "39.9", "Threshold": "40", "ARR": "250,000"}


def test_a_long_account_name_is_cut_with_an_ellipsis_not_mid_limit() -> None:
    (chairman, *_) = _trigger_messages(LONG_NAME)
    header = slack_message(chairman)["blocks"][0]["text"]["text"]
    assert len(header) == 150 and header.endswith("…")


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (39.95, "39.9"),
        (39.99, "39.9"),
        (39.94, "39.9"),
        (40.0, "40.0"),
        (69.96, "69.9"),
        (70.04, "70.0"),
        (12.35, "12.3"),
        (55.55, "55.5"),
        (55.56, "55.6"),
        (None, "-"),
    ],
)
def test_a_score_never_crosses_a_band_boundary(value: float | None, shown: str) -> None:
    assert score(value, (40.0, 70.0)) == shown


def test_numbers_as_people_write_them() -> None:
    assert count(7650) == "7,650"
    assert amount(2_166_300.4) == "2,166,300"
    assert percent(12.34) == "12.3 %"
    assert percent(None) == "no data"
