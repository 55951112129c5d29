"""dashboard sessions kept server-side, and failed sign-ins counted for every worker

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-08

dashboard_sessions: each sign-in, by the SHA-256 of the random id its cookie carries; signing
out, disabling a user or changing their password revokes it, so a copied cookie stops working
at once. login_failures: failed password sign-ins per e-mail and per client address (hashed),
read by every `serve` worker, so the limit is one limit however many workers run.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "dashboard_sessions",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("sid_hash", sa.String(length=64), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("expires_at", AT, nullable=False),
        sa.Column("revoked_at", AT, nullable=True),
        sa.Column("revoked_why", sa.String(length=30), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_dashboard_sessions_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dashboard_sessions")),
        sa.UniqueConstraint("sid_hash", name=op.f("uq_dashboard_sessions_sid_hash")),
    )
    op.create_index("ix_dashboard_sessions_user", "dashboard_sessions", ["user_id"])
    op.create_table(
        "login_failures",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("scope", sa.String(length=10), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("failed_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_login_failures")),
    )
    op.create_index("ix_login_failures_key", "login_failures", ["scope", "key_hash", "failed_at"])
    op.create_index("ix_login_failures_failed_at", "login_failures", ["failed_at"])


def downgrade() -> None:
    op.drop_index("ix_login_failures_failed_at", table_name="login_failures")
    op.drop_index("ix_login_failures_key", table_name="login_failures")
    op.drop_table("login_failures")
    op.drop_index("ix_dashboard_sessions_user", table_name="dashboard_sessions")
    op.drop_table("dashboard_sessions")
