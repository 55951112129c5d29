"""The crew's planning and the escalation policy as pure functions (no database)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from successcrew.definitions.crew_definition import OperationSpec, StepSpec, load_crew
from successcrew.definitions.escalation_policy import EscalationPolicy, load_policy
from successcrew.domain.crewplan import (
    NOTHING_TO_DO,
    StepState,
    next_due_step,
    nothing_to_do,
    operation_due,
    period_start,
    retry_delay,
    step_blocker,
    waves,
)
from successcrew.domain.escalation_rules import (
    EscalationView,
    arr_cutoff,
    block_kit,
    lifecycle_step,
    should_escalate,
    top_count,
)
from successcrew.errors import ConfigError

START = date(2026, 11, 1)
STEPS = [
    StepSpec("a", "32.1", 1, "x", "t", ()),
    StepSpec("b", "32.1", 3, "x", "t", ("a",)),
    StepSpec("c", "32.2", 11, "x", "t", ("b",)),
]


def at(day: int, hour: int = 6) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=UTC)


def test_a_step_waits_for_its_day_and_its_predecessor() -> None:
    states: dict[str, StepState] = {}
    assert next_due_step(STEPS, states, start=START, now=at(1), availability={}) == STEPS[0]
    # Day 3 has come but "a" has not succeeded: "b" waits.
    assert step_blocker(STEPS[1], states, start=START, now=at(3), available=True) == (
        "waiting for a"
    )
    states = {"a": StepState("done", 1)}
    assert next_due_step(STEPS, states, start=START, now=at(2), availability={}) is None
    assert next_due_step(STEPS, states, start=START, now=at(3), availability={}) == STEPS[1]
    assert (
        step_blocker(STEPS[2], states, start=START, now=at(3), available=True)
        == "scheduled for 2026-11-11 (day 11)"
    )


def test_a_success_never_runs_again_and_a_failure_waits_for_its_backoff() -> None:
    done = {"a": StepState("done", 1)}
    assert step_blocker(STEPS[0], done, start=START, now=at(30), available=True) == "done"
    failed = {"a": StepState("failed", 1, at(1, 8))}
    assert step_blocker(STEPS[0], failed, start=START, now=at(1, 7), available=True).startswith(
        "retry after"
    )
    assert step_blocker(STEPS[0], failed, start=START, now=at(1, 8), available=True) is None


def test_a_skipped_step_lets_successors_go_and_runs_when_its_tool_lands() -> None:
    states = {"a": StepState("skipped")}
    assert (
        next_due_step(STEPS, states, start=START, now=at(3), availability={"a": False})
        == (STEPS[1])
    )
    assert next_due_step(STEPS, states, start=START, now=at(3), availability={}) == STEPS[0]


def test_backoff_doubles_and_is_capped() -> None:
    one_hour, day = timedelta(hours=1), timedelta(hours=24)
    assert [retry_delay(n, initial=one_hour, maximum=day) for n in (1, 2, 3, 6)] == [
        one_hour,
        2 * one_hour,
        4 * one_hour,
        day,
    ]


def test_operations_run_once_per_period_counted_from_their_last_success() -> None:
    daily = OperationSpec("scoring", "daily", "x", "t", requires_step="a")
    steps = {"a": StepState("done")}
    assert operation_due(daily, now=at(5), last_success=None, steps={}) == (
        "starts after setup step a (pending)"
    )
    assert operation_due(daily, now=at(5), last_success=at(4), steps=steps) is None
    assert operation_due(daily, now=at(5, 20), last_success=at(5, 1), steps=steps) is not None
    weekly = OperationSpec("nps", "weekly", "x", "t")
    # 2026-11-02 is a Monday: a success on Monday covers the whole ISO week.
    assert period_start("weekly", at(8)) == datetime(2026, 11, 2, tzinfo=UTC)
    assert operation_due(weekly, now=at(8), last_success=at(2), steps={}) is not None
    assert operation_due(weekly, now=at(9), last_success=at(2), steps={}) is None
    assert period_start("hourly", at(3, 7).replace(minute=59)) == at(3, 7)


def test_waves_put_dependencies_first_and_ignore_ones_not_due() -> None:
    ops = [
        OperationSpec("dispatch", "hourly", "x", "t", after=("alerts",)),
        OperationSpec("sync", "daily", "x", "t"),
        OperationSpec("scoring", "daily", "x", "t", after=("sync",)),
        OperationSpec("alerts", "daily", "x", "t", after=("scoring", "triggers")),
        OperationSpec("followup", "hourly", "x", "t"),
    ]
    assert [[o.id for o in w] for w in waves(ops)] == [
        ["sync", "followup"],
        ["scoring"],
        ["alerts"],
        ["dispatch"],
    ]
    cyclic = [
        OperationSpec("a", "daily", "x", "t", after=("b",)),
        OperationSpec("b", "daily", "x", "t", after=("a",)),
    ]
    with pytest.raises(ValueError, match="cycle"):
        waves(cyclic)


def test_the_shipped_crew_definition_covers_thirty_days_in_three_substages() -> None:
    crew = load_crew()
    substages = {s.substage: [] for s in crew.setup.steps}
    for step in crew.setup.steps:
        substages[step.substage].append(step.day)
    assert list(substages) == ["32.1", "32.2", "32.3"]
    assert max(substages["32.1"]) <= 10 and min(substages["32.2"]) >= 11
    assert max(substages["32.2"]) <= 20 and min(substages["32.3"]) >= 21
    assert max(substages["32.3"]) <= 30
    cadences = {op.cadence for op in crew.operations.tasks}
    assert cadences == {"hourly", "daily", "weekly"}


def test_a_broken_crew_file_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "crew.yaml"
    bad.write_text(
        "name: c\nsetup:\n  steps:\n    - {id: a, substage: x, day: 0, agent: b, tool: t}\n"
    )
    with pytest.raises(ConfigError) as err:
        load_crew(bad)
    assert f"{bad}: key setup.steps[0].day" in str(err.value)


def test_high_value_is_a_fixed_arr_or_the_top_percent() -> None:
    policy = EscalationPolicy()
    assert top_count(20, 5) == 1 and top_count(21, 5) == 2 and top_count(0, 5) == 0
    assert arr_cutoff(policy, 80_000) == 80_000  # top 5 % reaches lower than the fixed amount
    assert arr_cutoff(policy, 250_000) == 100_000
    assert should_escalate(policy, "RETENTION-003", high_value=False)
    assert should_escalate(policy, "RETENTION-001", high_value=True)
    assert not should_escalate(policy, "RETENTION-001", high_value=False)
    assert not should_escalate(policy, "RETENTION-002", high_value=True)


def test_an_unanswered_escalation_is_reminded_once_then_expires() -> None:
    policy = EscalationPolicy(remind_after_hours=24, expire_after_hours=48)
    created = at(1)
    expires = policy.expires_at(created)
    assert expires == created + timedelta(hours=72)
    common = {"status": "open", "created_at": created, "expires_at": expires, "policy": policy}
    assert lifecycle_step(reminded_at=None, now=at(1, 23), **common) is None
    assert lifecycle_step(reminded_at=None, now=at(2, 6), **common) == "remind"
    assert lifecycle_step(reminded_at=at(2, 6), now=at(3, 6), **common) is None
    assert lifecycle_step(reminded_at=at(2, 6), now=at(4, 6), **common) == "expire"
    assert lifecycle_step(**{**common, "status": "approved"}, reminded_at=None, now=at(9)) is None


def test_the_escalation_message_is_block_kit_with_buttons_and_fallback_text() -> None:
    view = EscalationView(
        id=7,
        title="High-value account Acme is Critical (31)",
        kind="critical_high_value",
        account_name="Acme",
        fields={"Account": "Acme", "ARR": "240,000", "Health": "31 (critical)"},
        explanation=["usage fell 40 % in 30 days", "2 urgent tickets open"],
        proposed_action={"type": "special_offer", "discount_pct": 15, "months": 3},
    )
    message = block_kit(view)
    kinds = [b["type"] for b in message["blocks"]]
    assert kinds[0] == "header" and kinds[-1] == "actions" and "section" in kinds
    fields = message["blocks"][1]["fields"]
    assert {"type": "mrkdwn", "text": "*ARR*\n240,000"} in fields
    buttons = message["blocks"][-1]["elements"]
    assert [(b["action_id"], b["value"], b["style"]) for b in buttons] == [
        ("escalation_approve", "7:approve", "primary"),
        ("escalation_decline", "7:decline", "danger"),
    ]
    assert "special offer: 15 % for 3 months" in message["text"]
    assert "successcrew decide 7" in message["text"]
    assert "usage fell 40 %" in str(message["blocks"])


def test_a_broken_escalation_policy_names_the_file_and_key(tmp_path: Path) -> None:
    bad = tmp_path / "escalation.yaml"
    bad.write_text("high_value:\n  top_percent_by_arr: 150\nremind_after_hourz: 3\n")
    with pytest.raises(ConfigError) as err:
        load_policy(bad)
    message = str(err.value)
    assert f"{bad}: key high_value.top_percent_by_arr" in message
    assert f"{bad}: key remind_after_hourz: unknown key" in message
    bad.write_text("propose_for_critical: pricing_adjustment\nstrategic_decisions: {}\n")
    with pytest.raises(ConfigError, match="strategic_decisions does not define"):
        load_policy(bad)
    assert load_policy().remind_after_hours > 0


def test_a_step_with_nothing_to_do_is_skipped_with_its_why_and_looks_again_later() -> None:
    assert nothing_to_do({"crm": "outbox only", NOTHING_TO_DO: "no CRM configured"}) == (
        "no CRM configured"
    )
    assert nothing_to_do({"synced": 3}) is None and nothing_to_do(None) is None
    states = {"a": StepState("skipped", 1, at(4, 6))}
    # Settled: the next step goes on; the skipped one waits for its next look.
    assert next_due_step(STEPS, states, start=START, now=at(3), availability={}) == STEPS[1]
    assert step_blocker(STEPS[0], states, start=START, now=at(3), available=True) == (
        "skipped, nothing to do; looks again after 2026-11-04T06:00:00+00:00"
    )
    assert step_blocker(STEPS[0], states, start=START, now=at(4, 6), available=True) is None
