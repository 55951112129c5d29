"""retention programs, A/B assignments, campaign feedback, survey invitations

Revision ID: 0005
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.store, so this revision never changes.
JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "program_assignments",
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=50), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_program_assignments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("program", "account_id", name=op.f("pk_program_assignments")),
    )
    op.create_table(
        "program_enrolments",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=50), nullable=False),
        sa.Column("entry_rule", sa.String(length=50), nullable=False),
        sa.Column("entry_key", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("next_step", sa.Integer(), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("exit_reason", sa.String(length=50), nullable=True),
        sa.CheckConstraint(
            "status IN ('active','completed','exited')", name=op.f("ck_program_enrolments_status")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_program_enrolments_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_enrolments")),
        sa.UniqueConstraint(
            "program", "account_id", "entry_key", name="uq_program_enrolments_entry"
        ),
    )
    with op.batch_alter_table("program_enrolments", schema=None) as batch_op:
        batch_op.create_index("ix_program_enrolments_account", ["account_id"], unique=False)
        batch_op.create_index(
            "ix_program_enrolments_program_status", ["program", "status"], unique=False
        )

    op.create_table(
        "campaign_feedback",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON_T, nullable=True),
        sa.CheckConstraint(
            "kind IN ('reply','negative_reply','unsubscribe','spam_complaint')",
            name=op.f("ck_campaign_feedback_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_campaign_feedback_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_campaign_feedback_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_feedback")),
    )
    with op.batch_alter_table("campaign_feedback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_campaign_feedback_program_at", ["program", "occurred_at"], unique=False
        )

    op.create_table(
        "program_emails",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("program", sa.String(length=50), nullable=False),
        sa.Column(
            "enrolment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("outbox_key", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued','throttled','opted_out')", name=op.f("ck_program_emails_status")
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_program_emails_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["program_enrolments.id"],
            name=op.f("fk_program_emails_enrolment_id_program_enrolments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_emails")),
        sa.UniqueConstraint(
            "enrolment_id", "step_index", "contact_id", name="uq_program_emails_recipient"
        ),
    )
    with op.batch_alter_table("program_emails", schema=None) as batch_op:
        batch_op.create_index(
            "ix_program_emails_contact_created", ["contact_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_program_emails_program_created", ["program", "created_at"], unique=False
        )

    op.create_table(
        "program_step_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "enrolment_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("step_id", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("ran_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON_T, nullable=True),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["program_enrolments.id"],
            name=op.f("fk_program_step_runs_enrolment_id_program_enrolments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_program_step_runs")),
        sa.UniqueConstraint("enrolment_id", "step_index", name="uq_program_step_runs_step"),
    )
    op.create_table(
        "survey_invitations",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("nonce", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("response_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "channel IN ('email','in_app')", name=op.f("ck_survey_invitations_channel")
        ),
        sa.CheckConstraint(
            "kind IN ('nps','exit','feedback')", name=op.f("ck_survey_invitations_kind")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["accounts.id"],
            name=op.f("fk_survey_invitations_account_id_accounts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_survey_invitations_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["response_id"],
            ["nps_responses.id"],
            name=op.f("fk_survey_invitations_response_id_nps_responses"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_invitations")),
        sa.UniqueConstraint("nonce", name=op.f("uq_survey_invitations_nonce")),
    )
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_survey_invitations_contact_created", ["contact_id", "created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("survey_invitations", schema=None) as batch_op:
        batch_op.drop_index("ix_survey_invitations_contact_created")

    op.drop_table("survey_invitations")
    op.drop_table("program_step_runs")
    with op.batch_alter_table("program_emails", schema=None) as batch_op:
        batch_op.drop_index("ix_program_emails_program_created")
        batch_op.drop_index("ix_program_emails_contact_created")

    op.drop_table("program_emails")
    with op.batch_alter_table("campaign_feedback", schema=None) as batch_op:
        batch_op.drop_index("ix_campaign_feedback_program_at")

    op.drop_table("campaign_feedback")
    with op.batch_alter_table("program_enrolments", schema=None) as batch_op:
        batch_op.drop_index("ix_program_enrolments_program_status")
        batch_op.drop_index("ix_program_enrolments_account")

    op.drop_table("program_enrolments")
    op.drop_table("program_assignments")
