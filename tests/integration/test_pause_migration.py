"""Upgrading a database paused under the old one-flag-per-scope schema keeps every pause, each
with its owner, and keeps a rule honouring a resume made before the upgrade. SQLite, PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from sqlalchemy import Engine, text

from successcrew.store.db import transaction
from successcrew.store.migrate import alembic_config
from successcrew.store.pauses import is_paused, paused_scopes, rule_hold

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
RESUMED = datetime(2026, 11, 29, 17, 0, tzinfo=UTC)


def test_existing_pause_flags_become_owned_holds(engine: Engine) -> None:
    config = alembic_config(engine)
    command.downgrade(config, "0008")
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO pause_flags (scope, paused, reason, set_by, set_at) VALUES "
                    "('campaigns', :t, 'NPS dropped 12 points', 'rollback:nps_drop', :now), "
                    "('surveys', :t, 'survey copy review', 'kim', :now), "
                    "('campaign:at_risk', :t, 'negative feedback 12 %', 'auto-pause', :now), "
                    "('automation', :f, 'CRM data checked', 'al', :resumed)"
                ),
                {"t": True, "f": False, "now": NOW, "resumed": RESUMED},
            )
    finally:
        command.upgrade(config, "head")

    with transaction(engine) as session:
        paused = paused_scopes(session)
        holds = {
            scope: [(h.held_by, h.kind, h.reason) for h in pause.holds]
            for scope, pause in paused.items()
        }
        assert holds == {
            "campaigns": [("nps_drop", "rule", "NPS dropped 12 points")],
            "surveys": [("kim", "person", "survey copy review")],
            "campaign:at_risk": [("auto-pause", "rule", "negative feedback 12 %")],
        }
        # Senders see the same pauses as before the upgrade.
        assert is_paused(session, "surveys") is not None
        assert is_paused(session) is None  # automation was resumed
        # The CRM rule's resume is remembered: it pauses again only on evidence after it.
        crm = rule_hold(session, "automation", "crm_sync_error_rate")
        assert crm is not None and not crm.open and crm.changed_at == RESUMED
