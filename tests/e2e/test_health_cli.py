"""``successcrew score / health / gates / backtest`` as a user runs them: output, JSON, exit codes."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert

from successcrew.store.db import transaction
from successcrew.store.models import Account, NpsResponse, UsageDaily
from successcrew.store.usage import mark_pending
from tests.clirunner import run_cli
from tests.rowcounts import row_counts

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)


def seed(engine: Engine) -> None:
    """Three accounts: one steady, one declining, one that churned in May."""
    with transaction(engine) as s:
        for i, (ext, churned) in enumerate(
            (("STEADY", None), ("FADING", None), ("GONE", date(2026, 5, 5))), start=1
        ):
            s.add(
                Account(
                    id=i,
                    external_id=ext,
                    name=ext.title(),
                    segment="smb",
                    arr=1000,
                    started_at=date(2025, 1, 1),
                    churned_at=churned,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
        s.flush()
        rows = []
        for d in range(120):
            day = date(2026, 6, 1) - timedelta(days=d)
            rows.append({"account_id": 1, "metric": "logins", "day": day, "value": 20.0})
            rows.append(
                {"account_id": 2, "metric": "logins", "day": day, "value": 20.0 if d > 30 else 4.0}
            )
            rows.append({"account_id": 3, "metric": "logins", "day": day, "value": 1.0})
        s.execute(insert(UsageDaily), [{**r, "event_count": 1} for r in rows])
        mark_pending(s.connection(), days=[r["day"] for r in rows])
        for i, (account, value) in enumerate(((1, 10), (1, 9), (2, 3))):
            s.add(
                NpsResponse(
                    natural_key=f"k{i}",
                    account_id=account,
                    score=value,
                    responded_at=NOW - timedelta(days=5 + i),
                )
            )


def test_score_then_health_listing_and_explanation(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    first = run_cli(capsys, "score", "--as-of", "2026-05-01", "--json")
    assert first.code == 0, first.err
    assert first.json()["scored"] == 3  # GONE still a customer on 05-01
    second = run_cli(capsys, "score", "--as-of", "2026-06-01")
    assert second.code == 0, second.err
    assert "scored 2 of 2 customers as of 2026-06-01" in second.out
    assert "Healthy" in second.out and "Critical" in second.out

    listing = run_cli(capsys, "health", "--json")
    assert listing.code == 0
    doc = listing.json()
    assert doc["as_of"] == "2026-06-01"
    by_account = {a["account"]: a for a in doc["accounts"]}
    assert set(by_account) == {"STEADY", "FADING"}
    assert by_account["STEADY"]["score"] > by_account["FADING"]["score"]
    assert "logins_trend" in by_account["FADING"]["components"]

    band = by_account["FADING"]["band"]
    only = run_cli(capsys, "health", "--band", band, "--json").json()
    assert [a["account"] for a in only["accounts"]] == ["FADING"]

    explained = run_cli(capsys, "health", "--account", "FADING")
    assert explained.code == 0, explained.err
    assert "since 2026-05-01" in explained.out
    assert "logins -79 % over 30 days" in explained.out

    as_json = run_cli(capsys, "health", "--account", "FADING", "--json").json()
    assert as_json["previous_as_of"] == "2026-05-01"
    assert as_json["movers"] and as_json["movers"][0]["delta_points"] < 0


def test_override_and_clear_from_the_command_line(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    now = "2026-06-01T08:00:00Z"
    result = run_cli(
        capsys,
        "health",
        "override",
        "FADING",
        "--score",
        "85",
        "--reason",
        "renewal signed",
        "--by",
        "lead@vendor",
        "--expires",
        "2026-07-01",
        "--now",
        now,
    )
    assert result.code == 0, result.err
    run_cli(capsys, "score", "--as-of", "2026-06-01")
    row = next(
        a
        for a in run_cli(capsys, "health", "--json").json()["accounts"]
        if a["account"] == "FADING"
    )
    assert row["score"] == 85 and row["override_id"] and row["computed_score"] < 85
    cleared = run_cli(
        capsys,
        "health",
        "clear",
        "FADING",
        "--by",
        "lead",
        "--now",
        "2026-06-02T08:00:00Z",
        "--json",
    )
    assert cleared.json() == {"account": "FADING", "cleared": 1}
    run_cli(capsys, "score", "--as-of", "2026-06-02")
    row = next(
        a
        for a in run_cli(capsys, "health", "--json").json()["accounts"]
        if a["account"] == "FADING"
    )
    assert row["override_id"] is None


@pytest.mark.parametrize(
    "args",
    [
        ("score", "--as-of", "2026-13-01"),
        ("health", "--band", "purple"),
        ("health", "--account", "NOPE"),
        ("health", "override", "NOPE", "--score", "50", "--reason", "r", "--by", "b"),
        ("health", "override", "STEADY", "--score", "150", "--reason", "r", "--by", "b"),
        ("backtest", "--from", "2026-05-01", "--to", "2026-01-01"),
    ],
)
def test_bad_input_exits_2_with_a_message(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str], args: tuple[str, ...]
) -> None:
    seed(engine)
    result = run_cli(capsys, *args)
    assert result.code == 2, (result.out, result.err)
    assert "error:" in result.err


def test_broken_health_model_stops_score_before_it_writes(
    env: dict[str, str],
    engine: Engine,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seed(engine)
    assert run_cli(capsys, "score", "--as-of", "2026-05-31").code == 0
    project = tmp_path / "project"
    (project / "config").mkdir(parents=True)
    (project / "config" / "health.yaml").write_text(
        "version: x\ncomponents:\n  a: {kind: usage_total, metric: logins, weight: -2,"
        " normalise: {method: percentile}}\n",
        encoding="utf-8",
    )
    monkeypatch.setenv("SUCCESSCREW_PROJECT_DIR", str(project))
    before = row_counts(engine)
    result = run_cli(capsys, "score", "--as-of", "2026-06-01")
    assert result.code == 2
    assert "health.yaml" in result.err and "components.a.weight" in result.err
    # Nothing written: no failure record, no stale scores carried forward, no audit entry.
    assert row_counts(engine) == before
    monkeypatch.delenv("SUCCESSCREW_PROJECT_DIR")
    latest = run_cli(capsys, "health", "--json").json()
    assert latest["as_of"] == "2026-05-31" and not any(a["stale"] for a in latest["accounts"])


def test_gates_report_numbers_and_exit_codes(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    failing = run_cli(capsys, "gates", "--as-of", "2026-06-01", "--json")
    # May lost GONE (2 of 3 kept) vs April 3 of 3: retention fell -> the gate fails (exit 1).
    assert failing.code == 1
    doc = failing.json()
    gates = {g["name"]: g for g in doc["gates"]}
    assert gates["retention_improving"]["passed"] is False
    assert gates["retention_improving"]["value"] == pytest.approx(-100 / 3)
    assert gates["nps_positive"]["passed"] is True  # 2 promoters, 1 detractor: +33.3
    assert doc["nps"]["rolling_90d"]["responses"] == 3
    assert doc["retention"]["current"]["logo_retention"]["denominator"] == 3

    # A month later nobody left (2 of 2) after a month that kept 2 of 3: +50 % -> both pass.
    passing = run_cli(capsys, "gates", "--as-of", "2026-07-01")
    assert passing.code == 0, passing.out
    assert "PASS retention_improving" in passing.out and "PASS nps_positive" in passing.out


def test_backtest_prints_auc_and_bands_without_touching_snapshots(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(engine)
    result = run_cli(capsys, "backtest", "--from", "2026-03-01", "--to", "2026-04-01", "--json")
    assert result.code == 0, result.err
    doc = result.json()
    assert [m["as_of"] for m in doc["months"]] == ["2026-03-01", "2026-04-01"]
    assert doc["churned"] == 2  # GONE churns within 90 days of both dates
    assert {b["band"] for b in doc["bands"]} == {"healthy", "at_risk", "critical"}
    assert run_cli(capsys, "health", "--json").json()["accounts"] == []
    text = run_cli(capsys, "backtest", "--from", "2026-03-01", "--to", "2026-04-01")
    assert "ROC AUC" in text.out and "top-decile lift" in text.out
