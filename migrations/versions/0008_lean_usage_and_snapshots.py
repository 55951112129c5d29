"""usage_daily without FK or account index; first-activity table; snapshot layouts and value arrays

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-26

Rolling up one new day into usage_daily paid, per new row, a foreign-key check against accounts
and an insert at a random place in the (account_id, metric, day) index: three quarters of the
roll-up's time on 100,000 accounts. Both go. The index served one lookup, the last active day of
an account quiet for the whole scoring window; scoring now reads the last activity within a
lookback and tells "never used" from "not lately" by usage_first_activity, which scoring keeps up
from the days the roll-up marks in usage_pending_days.

Health snapshots stored every component as a JSON object with its name, kind, label, metric and
window repeated in each row; building it cost PostgreSQL more than computing the scores. The
static part moves to health_model_layouts (one row per resolved model), the numbers to one array
column. Existing snapshots keep their JSON (layout_id NULL) and are read as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.store, so this revision never changes.
JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FLOATS_T = sa.JSON().with_variant(postgresql.ARRAY(postgresql.DOUBLE_PRECISION()), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_index("ix_usage_daily_account_metric_day")
        batch_op.drop_constraint("fk_usage_daily_account_id_accounts", type_="foreignkey")

    op.create_table(
        "usage_first_activity",
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("first_day", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_usage_first_activity_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("account_id", "metric", name=op.f("pk_usage_first_activity")),
    )
    op.execute(
        "INSERT INTO usage_first_activity (account_id, metric, first_day) "
        "SELECT d.account_id, d.metric, min(d.day) FROM usage_daily d "
        "JOIN accounts a ON a.id = d.account_id "
        "WHERE d.value > 0 GROUP BY d.account_id, d.metric"
    )

    op.create_table(
        "usage_weekly",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("metric", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Float(), nullable=False),
        sa.Column("last_day", sa.Date(), nullable=True),
        sa.PrimaryKeyConstraint("week_start", "account_id", "metric", name=op.f("pk_usage_weekly")),
    )
    op.create_table(
        "usage_weekly_built",
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("week_start", name=op.f("pk_usage_weekly_built")),
    )
    op.create_table(
        "usage_pending_days",
        sa.Column("day", sa.Date(), nullable=False),
        sa.PrimaryKeyConstraint("day", name=op.f("pk_usage_pending_days")),
    )

    op.create_table(
        "health_model_layouts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("components", JSON_T, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_health_model_layouts")),
        sa.UniqueConstraint("digest", name=op.f("uq_health_model_layouts_digest")),
    )
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("layout_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("component_values", FLOATS_T, nullable=True))
        batch_op.alter_column("components", existing_type=JSON_T, nullable=True)
        batch_op.alter_column("missing_components", existing_type=JSON_T, nullable=True)
        # layout_id has no foreign key: a check per row cost a fifth of writing the snapshots;
        # the scoring run stores the layout first, in the same transaction, and never deletes one.


def downgrade() -> None:
    # Snapshots written with a layout have no JSON document to go back to: they are dropped.
    op.execute("DELETE FROM health_snapshots WHERE layout_id IS NOT NULL")
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.alter_column("missing_components", existing_type=JSON_T, nullable=False)
        batch_op.alter_column("components", existing_type=JSON_T, nullable=False)
        batch_op.drop_column("component_values")
        batch_op.drop_column("layout_id")
    op.drop_table("health_model_layouts")
    op.drop_table("usage_pending_days")
    op.drop_table("usage_weekly_built")
    op.drop_table("usage_weekly")
    op.drop_table("usage_first_activity")
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_usage_daily_account_id_accounts",
            "accounts",
            ["account_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch_op.create_index(
            "ix_usage_daily_account_metric_day", ["account_id", "metric", "day"], unique=False
        )
