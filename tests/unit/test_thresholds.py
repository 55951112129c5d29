"""The metrics framework: defaults load, broken files stop every command with exit 2."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from successcrew.definitions.thresholds import load_thresholds
from successcrew.errors import ConfigError
from successcrew.paths import project_dir
from tests.clirunner import run_cli

DEFAULT = (project_dir() / "config" / "thresholds.yaml").read_text()


def test_defaults_match_architecture() -> None:
    t = load_thresholds()
    assert (t.health_bands.healthy.min, t.health_bands.at_risk.min) == (70, 40)
    assert t.retention.one_month_logo_target_pct == 85
    assert t.retention.mom_decline_alert_pct == 15
    assert t.retention.improvement_gate_pct == 5
    assert (t.nps.gate, t.nps.target, t.nps.excellent) == (0, 30, 50)
    assert t.rollback.crm_sync_error_rate_pct == 5
    assert t.rollback.campaign_negative_feedback_pct == 10
    assert t.rollback.nps_drop_points == 10
    assert (t.rollback.nps_drop_min_answers, t.rollback.nps_drop_z) == (30, 2.58)
    assert t.system_health.consecutive_failures_alert == 3
    assert t.system_health.uptime_slo_pct == 99.5
    assert t.retries.attempts == 3
    assert "data_freshness" in t.system_health.components
    assert t.data_freshness.max_age("usage:logins") == 3
    assert t.data_freshness.max_age("tickets") == 21


def test_freshness_per_usage_metric_and_never_judged(tmp_path: Path) -> None:
    path = _broken(
        tmp_path, "usage_metrics: {}", "usage_metrics: {reports_created: 14, logins: null}"
    )
    rules = load_thresholds(path).data_freshness
    assert rules.max_age("usage:reports_created") == 14
    assert rules.max_age("usage:logins") is None  # never judged stale
    assert rules.max_age("usage:api_calls") == 3


@pytest.mark.parametrize(
    ("score", "band"),
    [
        (100, "healthy"),
        (70, "healthy"),
        (69.99, "at_risk"),
        (40, "at_risk"),
        (39.99, "critical"),
        (0, "critical"),
    ],
)
def test_band_boundaries(score: float, band: str) -> None:
    assert load_thresholds().health_bands.band_of(score) == band


def _broken(tmp_path: Path, old: str, new: str) -> Path:
    assert old in DEFAULT
    path = tmp_path / "thresholds.yaml"
    path.write_text(DEFAULT.replace(old, new))
    return path


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            "at_risk: {min: 40, max: 70}",
            "at_risk: {min: 40, max: 75}",
            "key health_bands: at_risk (ends 75) overlaps healthy (starts 70)",
        ),
        (
            "at_risk: {min: 40, max: 70}",
            "at_risk: {min: 45, max: 70}",
            "key health_bands: gap between critical (ends 40) and at_risk (starts 45)",
        ),
        (
            "one_month_logo_target_pct: 85",
            "one_month_logo_target_pct: 140",
            "key retention.one_month_logo_target_pct: Input should be less than or equal to 100",
        ),
        (
            "improvement_gate_pct: 5",
            "improvement_gate_pct: 5\n  improvment_typo: 3",
            "key retention.improvment_typo: unknown key",
        ),
        ("gate: 0", "gate: zero", "key nps.gate: Input should be a valid number"),
        (
            "nps_drop_z: 2.58 ",
            "nps_drop_z: 0 ",
            "key rollback.nps_drop_z: Input should be greater than 0",
        ),
        (
            "nps_drop_min_answers: 30 ",
            "nps_drop_min_answers: 1 ",
            "key rollback.nps_drop_min_answers: Input should be greater than or equal to 2",
        ),
        (
            "    tickets: 21 ",
            "    tickets: -1 ",
            "key data_freshness.max_age_days.tickets: Input should be greater than or equal to 0",
        ),
        (
            "    usage: 3 ",
            "    usage: 3\n    usgae: 4 ",
            "key data_freshness.max_age_days.usgae: unknown key",
        ),
        (
            "hold_above_stale_weight_pct: 50",
            "hold_above_stale_weight_pct: 150",
            "key data_freshness.hold_above_stale_weight_pct: Input should be less than or equal "
            "to 100",
        ),
    ],
)
def test_broken_file_names_file_key_and_problem(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    path = _broken(tmp_path, old, new)
    with pytest.raises(ConfigError) as err:
        load_thresholds(path)
    assert f"{path}: {message}" in str(err.value)


def test_unparsable_yaml_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "thresholds.yaml"
    path.write_text("health_bands:\n  healthy: {min: 70\n")
    with pytest.raises(ConfigError, match=r"thresholds.yaml: not valid YAML at line 3"):
        load_thresholds(path)


def test_broken_config_stops_every_command_with_exit_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "project"
    shutil.copytree(project_dir() / "config", project / "config")
    (project / "config" / "thresholds.yaml").write_text(
        DEFAULT.replace("uptime_slo_pct: 99.5", "uptime_slo_pct: 140")
    )
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    monkeypatch.setenv("SUCCESSCREW_DATABASE_URL", f"sqlite:///{tmp_path / 'x.db'}")
    for command in (["init"], ["status"], ["demo"], ["import", "accounts", "x.csv"]):
        result = run_cli(capsys, *command)
        assert result.code == 2, command
        assert "thresholds.yaml: key system_health.uptime_slo_pct:" in result.err
        assert "less than or equal to 100" in result.err
    assert not (tmp_path / "x.db").exists(), "nothing may be written when the config is broken"
