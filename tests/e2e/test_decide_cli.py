"""`successcrew decide` with a clock before the escalation existed: refused (exit 2, saying why
and what to do), nothing recorded; accepted only with --allow-future."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select

from successcrew.store.db import transaction
from successcrew.store.models import AuditLog, Escalation
from tests.clirunner import run_cli

RAISED = datetime(2026, 6, 10, 9, 0, tzinfo=UTC)


def test_a_decision_dated_before_its_escalation_is_refused_unless_allowed(
    env: dict[str, str], engine: Engine, capsys: pytest.CaptureFixture[str]
) -> None:
    with transaction(engine) as s:
        s.add(
            Escalation(
                id=1,
                kind="nps_emergency",
                title="Emergency review: NPS dropped",
                context={},
                created_at=RAISED,
                expires_at=RAISED + timedelta(days=3),
            )
        )
    early = (RAISED - timedelta(days=1)).isoformat()
    refused = run_cli(capsys, "decide", "1", "approve", "--by", "Chair", "--now", early)
    assert refused.code == 2
    said = " ".join(refused.err.split())
    assert f"--now {early} is before escalation 1 was raised ({RAISED.isoformat()})" in said
    assert "Leave out --now to decide as of now, or add --allow-future" in said
    with engine.connect() as conn:
        assert conn.execute(select(Escalation.status)).scalar_one() == "open"
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar_one() == 0

    allowed = run_cli(
        capsys,
        "decide",
        "1",
        "approve",
        "--by",
        "Chair",
        "--now",
        early,
        "--allow-future",
        "--json",
    )
    assert allowed.code == 0, allowed.err
    assert allowed.json()["status"] == "approved"
