"""the optional model: action proposals, the output cache, usage per run, comment readers

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

What a model proposes waits in action_proposals for a person (the outbox rows approval queues
are fixed when it is stored); model_outputs keeps validated outputs by sha256 of model, prompt
version and inputs, so the same question is never paid for twice; model_usage records calls,
tokens and fallbacks per run for ``status``. nps_responses gains who read a comment last (the
lexicon or a model) and the model's confidence. Nothing here is used without a model.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.store, so this revision never changes.
JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "action_proposals",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("source", sa.String(length=50), nullable=False),
        sa.Column("action", sa.String(length=50), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("crew_run_id", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=True),
        sa.Column("proposal", JSON_T, nullable=False),
        sa.Column("messages", JSON_T, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("decided_at", AT, nullable=True),
        sa.Column("decided_by", sa.String(length=200), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "status IN ('drafting','pending','approved','declined','blocked','noted')",
            name=op.f("ck_action_proposals_status"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_action_proposals_account_id_accounts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["crew_run_id"],
            ["crew_runs.id"],
            name=op.f("fk_action_proposals_crew_run_id_crew_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_action_proposals")),
        sa.UniqueConstraint("key", name=op.f("uq_action_proposals_key")),
    )
    op.create_index(
        "ix_action_proposals_status", "action_proposals", ["status", "created_at"], unique=False
    )
    op.create_table(
        "model_outputs",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("purpose", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("prompt_version", sa.String(length=50), nullable=False),
        sa.Column("output", JSON_T, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_model_outputs")),
    )
    op.create_table(
        "model_usage",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("crew_run_id", sa.Integer(), nullable=True),
        sa.Column("command", sa.String(length=50), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("cache_hits", sa.Integer(), nullable=False),
        sa.Column("fallbacks", sa.Integer(), nullable=False),
        sa.Column("detail", JSON_T, nullable=True),
        sa.Column("recorded_at", AT, nullable=False),
        sa.ForeignKeyConstraint(
            ["crew_run_id"],
            ["crew_runs.id"],
            name=op.f("fk_model_usage_crew_run_id_crew_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_usage")),
    )
    op.create_index("ix_model_usage_recorded_at", "model_usage", ["recorded_at"], unique=False)
    # Nullable columns: an ALTER TABLE ADD COLUMN on both databases, no table rebuild.
    op.add_column("nps_responses", sa.Column("read_by", sa.String(length=200), nullable=True))
    op.add_column("nps_responses", sa.Column("read_confidence", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("nps_responses", schema=None) as batch_op:
        batch_op.drop_column("read_confidence")
        batch_op.drop_column("read_by")
    op.drop_index("ix_model_usage_recorded_at", table_name="model_usage")
    op.drop_table("model_usage")
    op.drop_table("model_outputs")
    op.drop_index("ix_action_proposals_status", table_name="action_proposals")
    op.drop_table("action_proposals")
