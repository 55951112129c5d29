"""Trigger rules without a database: comparators, threshold references, episodes, actions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from successcrew.definitions.thresholds import load_thresholds
from successcrew.definitions.trigger_specs import TriggerSpec, load_specs, resolve_threshold
from successcrew.domain.trigger_rules import (
    FlagState,
    Observation,
    OpenEvent,
    action_key,
    compare,
    plan_actions,
    plan_episodes,
    requested,
    rollback_decision,
)
from successcrew.errors import ConfigError

NOW = datetime(2026, 11, 20, 9, tzinfo=UTC)
THRESHOLDS = load_thresholds()


def test_threshold_references_resolve_into_thresholds_yaml() -> None:
    assert resolve_threshold("health_bands.critical.max", THRESHOLDS) == 40
    assert resolve_threshold("retention.one_month_logo_target_pct", THRESHOLDS) == 85
    assert resolve_threshold("37.5", THRESHOLDS) == 37.5
    assert resolve_threshold(12, THRESHOLDS) == 12
    with pytest.raises(ValueError, match=r"'health_bands\.critical\.mx' is neither a number"):
        resolve_threshold("health_bands.critical.mx", THRESHOLDS)
    with pytest.raises(ValueError, match="is not a number"):
        resolve_threshold("health_bands.critical", THRESHOLDS)


@pytest.mark.parametrize(
    ("value", "comparator", "threshold", "expected"),
    [(40, "<", 40, False), (39.99, "<", 40, True), (3, ">=", 3, True), (2, ">=", 3, False)],
)
def test_comparator_boundaries(
    value: float, comparator: str, threshold: float, expected: bool
) -> None:
    assert compare(value, comparator, threshold) is expected


def _obs(subject: str) -> Observation:
    return Observation(subject, 10.0, 40.0)


def test_episode_fires_once_and_stays_quiet_while_open() -> None:
    first = plan_episodes({"a": _obs("a")}, {}, now=NOW, cooldown_hours=0)
    assert [o.subject for o in first.fire] == ["a"]
    again = plan_episodes(
        {"a": _obs("a")},
        {"a": OpenEvent(1, "a", NOW - timedelta(days=300))},
        now=NOW,
        cooldown_hours=0,
    )
    assert again.fire == [] and again.resolve == [] and again.expire == []


def test_episode_resolves_when_cleared_and_refires_after_cooldown() -> None:
    open_a = {"a": OpenEvent(1, "a", NOW - timedelta(hours=24))}
    assert plan_episodes({}, open_a, now=NOW, cooldown_hours=48).resolve == [1]
    assert plan_episodes({"a": _obs("a")}, open_a, now=NOW, cooldown_hours=48).fire == []
    late = plan_episodes({"a": _obs("a")}, open_a, now=NOW, cooldown_hours=24)
    assert late.expire == [1] and [o.subject for o in late.fire] == ["a"]


def test_episode_without_data_is_neither_fired_nor_resolved() -> None:
    open_a = {"a": OpenEvent(1, "a", NOW)}
    plan = plan_episodes({}, open_a, now=NOW, cooldown_hours=0, unknown=frozenset({"a"}))
    assert plan.resolve == [] and plan.fire == []


def test_actions_chairman_only_for_high_value_and_crm_only_when_linked() -> None:
    common = {
        "code": "RETENTION-001",
        "title": "Health",
        "severity": "critical",
        "actions": ["playbook_enrolment", "crm_task", "chairman_notice"],
        "subject": "account:7",
        "event_id": 42,
        "value": 39.0,
        "threshold": 40.0,
        "channels": {"team": "#cs", "chairman": "#chair"},
        "due_date": "2026-11-21",
    }
    linked = {"crm_provider": "hubspot", "crm_source_id": "hs-7", "high_value": True, "arr": 2e5}
    actions = plan_actions(context=linked, **common)
    assert [(a.name, a.channel, a.key) for a in actions] == [
        ("crm_task", "crm_task", "RETENTION-001:acct:7:event:42:crm_task"),
        ("chairman_notice", "slack", "RETENTION-001:acct:7:event:42:chairman_notice"),
    ]
    assert actions[1].payload["channel"] == "#chair"
    assert plan_actions(context={"high_value": False}, **common) == []
    assert requested(common["actions"], {}) == [
        {"action": "playbook_enrolment", "playbook": "critical"}
    ]
    assert action_key("RETENTION-003", "portfolio", 5, "x") == "RETENTION-003:portfolio:event:5:x"


def test_rollback_decision_honours_a_manual_resume_until_new_evidence() -> None:
    rule = "rollback:x"
    assert rollback_decision(True, None, rule=rule, observed_at=NOW, auto_clear=False) == "set"
    resumed = FlagState(paused=False, set_by="alice", set_at=NOW)
    assert rollback_decision(True, resumed, rule=rule, observed_at=NOW, auto_clear=False) is None
    later = NOW + timedelta(hours=1)
    assert rollback_decision(True, resumed, rule=rule, observed_at=later, auto_clear=False) == "set"
    ours = FlagState(paused=True, set_by=rule, set_at=NOW)
    assert rollback_decision(False, ours, rule=rule, observed_at=NOW, auto_clear=True) == "clear"
    assert rollback_decision(False, ours, rule=rule, observed_at=NOW, auto_clear=False) is None
    manual = FlagState(paused=True, set_by="alice", set_at=NOW)
    assert rollback_decision(False, manual, rule=rule, observed_at=NOW, auto_clear=True) is None
    assert rollback_decision(None, None, rule=rule, observed_at=None, auto_clear=True) is None


def test_shipped_definitions_validate_and_bad_files_name_file_and_key(tmp_path: Path) -> None:
    specs = load_specs()
    assert [s.code for s in specs] == [f"RETENTION-00{i}" for i in range(1, 5)]
    assert all(isinstance(s, TriggerSpec) for s in specs)
    bad = tmp_path / "x.yaml"
    bad.write_text(
        "code: RETENTION-009\ntitle: t\nscope: account\nmetric: health_score\ncomparator: '<'\n"
        "threshold: health_bands.critical.maxx\nseverity: critical\nactions: [crm_task]\n"
    )
    with pytest.raises(ConfigError, match=r"x.yaml: key threshold: threshold 'health_bands"):
        load_specs(tmp_path)
    bad.write_text(bad.read_text().replace("crm_task]", "fax]"))
    with pytest.raises(ConfigError, match=r"x.yaml: key actions: unknown action\(s\) \['fax'\]"):
        load_specs(tmp_path)


def test_checksum_ignores_comments_but_not_content() -> None:
    spec = load_specs()[0]
    same = TriggerSpec.model_validate(spec.model_dump())
    assert same.checksum() == spec.checksum()
    changed = TriggerSpec.model_validate({**spec.model_dump(), "cooldown_hours": 1})
    assert changed.checksum() != spec.checksum()
