"""pause_flags -> pause_holds: each pause has its owner (a person or a rule) and reason

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

One flag per scope let whoever resumed a scope lift a pause someone else set for another reason
(a person's ``resume campaigns`` lifted the NPS emergency-review pause without a word). A scope
is now paused while any of its holds is open; each person or rule has at most one open hold per
scope and lifts only its own.

Existing flags become holds: a paused flag an open hold of whoever set it (a rule when the setter
was a rollback rule, the program auto-pause or a trigger code; a person otherwise). A cleared
flag of a scope a rollback rule pauses becomes that rule's lifted hold, stamped with the time of
the resume, so the rule keeps honouring a resume made before the upgrade: it pauses again only on
evidence newer than that (as it did with the flag).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.services.triggers.rollback, so this revision never
# changes: the scope each rollback rule pauses.
RULE_SCOPES = {
    "automation": "crm_sync_error_rate",
    "scoring": "health_calculation_failure",
    "campaigns": "nps_drop",
}
TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "pause_holds",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("scope", sa.String(length=50), nullable=False),
        sa.Column("held_by", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("set_at", TS, nullable=False),
        sa.Column("lifted_at", TS, nullable=True),
        sa.Column("lifted_by", sa.String(length=200), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("kind IN ('person','rule')", name=op.f("ck_pause_holds_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pause_holds")),
    )
    op.create_index(
        "uq_pause_holds_open",
        "pause_holds",
        ["scope", "kind", "held_by"],
        unique=True,
        sqlite_where=sa.text("lifted_at IS NULL"),
        postgresql_where=sa.text("lifted_at IS NULL"),
    )
    # Open holds from paused flags. 'rollback:<rule>' was the rollback rules' actor; a rule now
    # holds under its bare name, which is what `successcrew resume --rule` takes.
    op.execute(
        """
        INSERT INTO pause_holds (scope, held_by, kind, reason, set_at)
        SELECT scope,
               CASE WHEN set_by LIKE 'rollback:%' THEN substr(set_by, 10)
                    ELSE coalesce(set_by, 'unknown') END,
               CASE WHEN set_by LIKE 'rollback:%' OR set_by = 'auto-pause'
                         OR set_by IN (SELECT code FROM trigger_definitions)
                    THEN 'rule' ELSE 'person' END,
               coalesce(reason, ''),
               set_at
        FROM pause_flags WHERE paused
        """
    )
    # Lifted holds from cleared flags of the rollback rules' scopes (see the module docstring).
    for scope, rule in RULE_SCOPES.items():
        op.execute(
            sa.text(
                "INSERT INTO pause_holds "
                "(scope, held_by, kind, reason, set_at, lifted_at, lifted_by, lift_reason) "
                "SELECT scope, :rule, 'rule', 'paused before the upgrade', set_at, set_at, "
                "coalesce(set_by, 'unknown'), coalesce(reason, '') "
                "FROM pause_flags WHERE NOT paused AND scope = :scope"
            ).bindparams(rule=rule, scope=scope)
        )
    op.drop_table("pause_flags")


def downgrade() -> None:
    op.create_table(
        "pause_flags",
        sa.Column("scope", sa.String(length=50), nullable=False),
        sa.Column("paused", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("set_by", sa.String(length=200), nullable=True),
        sa.Column("set_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("scope", name=op.f("pk_pause_flags")),
    )
    # One flag per scope: paused while any hold is open (the newest open hold names it).
    op.execute(
        """
        INSERT INTO pause_flags (scope, paused, reason, set_by, set_at)
        SELECT h.scope, true, h.reason, h.held_by, h.set_at FROM pause_holds h
        WHERE h.lifted_at IS NULL AND h.id = (
            SELECT max(o.id) FROM pause_holds o WHERE o.scope = h.scope AND o.lifted_at IS NULL
        )
        """
    )
    op.drop_index("uq_pause_holds_open", table_name="pause_holds")
    op.drop_table("pause_holds")
