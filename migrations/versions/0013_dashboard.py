"""the dashboard: users who sign in (with a role), and tasks for people

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-15

users holds dashboard sign-ins (local Argon2 passwords, or none for reverse-proxy and OIDC
sign-in) with one role each; tasks holds the work triggers, playbook steps and decided
escalations give an account's owner (open, snoozed, done), also where no CRM is configured.
Sessions are signed cookies: nothing is stored for them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.store, so this revision never changes.
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("password_hash", sa.String(length=300), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.CheckConstraint(
            "role IN ('viewer','csm','lead','chairman','admin')", name=op.f("ck_users_role")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_users")),
        sa.UniqueConstraint("email", name=op.f("uq_users_email")),
    )
    op.create_table(
        "tasks",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("owner_email", sa.String(length=320), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("snoozed_until", sa.Date(), nullable=True),
        sa.Column("crm_outbox_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("updated_at", AT, nullable=False),
        sa.Column("done_at", AT, nullable=True),
        sa.Column("done_by", sa.String(length=320), nullable=True),
        sa.CheckConstraint("status IN ('open','snoozed','done')", name=op.f("ck_tasks_status")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_tasks_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tasks")),
        sa.UniqueConstraint("key", name=op.f("uq_tasks_key")),
    )
    op.create_index(
        "ix_tasks_owner_status", "tasks", ["owner_email", "status", "due_on"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_tasks_owner_status", table_name="tasks")
    op.drop_table("tasks")
    op.drop_table("users")
