"""usage_daily keyed by day first; (account_id, metric, day) index replaces (metric, day)

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26

The primary key (account_id, metric, day) put each new day's rows all over the index: the
roll-up of one day probed and wrote a leaf page per row. Keyed (day, account_id, metric), a day's
rows are one key range at the end of the index: the roll-up finds the day's stored rows with a
range read, and scoring reads its window the same way (the (metric, day) index had no other use).
The last-activity lookup before the window keeps an (account_id, metric, day) index.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Batch mode: SQLite rebuilds the table (it cannot change a primary key in place);
    # PostgreSQL runs the statements as they are.
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.create_index(
            "ix_usage_daily_account_metric_day", ["account_id", "metric", "day"], unique=False
        )
        batch_op.drop_index("ix_usage_daily_metric_day")
        batch_op.drop_constraint("pk_usage_daily", type_="primary")
        batch_op.create_primary_key("pk_usage_daily", ["day", "account_id", "metric"])


def downgrade() -> None:
    with op.batch_alter_table("usage_daily", schema=None) as batch_op:
        batch_op.drop_constraint("pk_usage_daily", type_="primary")
        batch_op.create_primary_key("pk_usage_daily", ["account_id", "metric", "day"])
        batch_op.create_index("ix_usage_daily_metric_day", ["metric", "day"], unique=False)
        batch_op.drop_index("ix_usage_daily_account_metric_day")
