"""the dashboard: account notes, and the indexes its pages read by

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02

account_notes holds what a CSM writes on the account page. The indexes serve the pages'
reads: a CSM's book and the accounts filters (owner, plan, renewal date), and the account
page's timeline (trigger events, escalations, e-mail events and audit entries per account), and
one date's scores in score order (covering on PostgreSQL): the accounts table's first page
without reading the whole date, and the pages that compare two dates from the index alone.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)

INDEXES = (
    ("ix_accounts_owner_email", "accounts", ["owner_email"]),
    ("ix_accounts_plan", "accounts", ["plan"]),
    ("ix_accounts_renewal_date", "accounts", ["renewal_date"]),
    ("ix_trigger_events_account_fired", "trigger_events", ["account_id", "fired_at"]),
    ("ix_escalations_account", "escalations", ["account_id", "created_at"]),
    ("ix_audit_log_subject_at", "audit_log", ["subject", "at"]),
    ("ix_email_events_account_occurred", "email_events", ["account_id", "occurred_at"]),
)


def upgrade() -> None:
    op.create_table(
        "account_notes",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("author", sa.String(length=320), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_account_notes_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_notes")),
    )
    op.create_index(
        "ix_account_notes_account_created", "account_notes", ["account_id", "created_at"]
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    # Covering on PostgreSQL (INCLUDE): a date's scores read from the index alone.
    op.create_index(
        "ix_health_snapshots_as_of_score",
        "health_snapshots",
        ["as_of", "score"],
        postgresql_include=["account_id", "band", "model_version", "override_id"],
    )


def downgrade() -> None:
    op.drop_index("ix_health_snapshots_as_of_score", table_name="health_snapshots")
    for name, table, _ in reversed(INDEXES):
        op.drop_index(name, table_name=table)
    op.drop_index("ix_account_notes_account_created", table_name="account_notes")
    op.drop_table("account_notes")
