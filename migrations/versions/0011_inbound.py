"""inbound endpoints (`successcrew serve`): receipts, e-mail events, suppressions, product users

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Webhooks are retried by their senders (SendGrid for 24 hours) and Slack bodies can be replayed:
``inbound_receipts`` holds every event id taken in, so a repeat changes nothing. Delivered, open
and click events are kept per message (``email_events``) for the programs' funnel; a hard bounce
puts the address in ``email_suppressions``, which the dispatcher checks before every e-mail.
``product_users`` remembers which account a Segment ``group`` call put a user in, so their
``track`` events find it. The outbox keeps the Slack channel id beside the ts, for
``chat.update``; escalations say how a decision came in.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out here, not imported from successcrew.store, so this revision never changes.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
JSON_T = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "inbound_receipts",
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("source", "event_id", name="pk_inbound_receipts"),
    )
    op.create_table(
        "email_events",
        sa.Column("id", BigId, primary_key=True),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("outbox_key", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("program", sa.String(50), nullable=True),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", name="fk_email_events_account_id_accounts", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column(
            "contact_id",
            sa.Integer(),
            sa.ForeignKey(
                "contacts.id", name="fk_email_events_contact_id_contacts", ondelete="SET NULL"
            ),
            nullable=True,
        ),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON_T, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_email_events"),
    )
    op.create_index("ix_email_events_outbox_key", "email_events", ["outbox_key"])
    op.create_index(
        "ix_email_events_program_kind", "email_events", ["program", "kind", "occurred_at"]
    )
    op.create_table(
        "email_suppressions",
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("reason", sa.String(30), nullable=False),
        sa.Column("provider", sa.String(20), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", JSON_T, nullable=True),
        sa.PrimaryKeyConstraint("email", name="pk_email_suppressions"),
    )
    op.create_table(
        "product_users",
        sa.Column("user_id", sa.String(200), nullable=False),
        sa.Column(
            "account_id",
            sa.Integer(),
            sa.ForeignKey(
                "accounts.id", name="fk_product_users_account_id_accounts", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_product_users"),
    )
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.add_column(sa.Column("provider_channel", sa.String(100), nullable=True))
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.add_column(sa.Column("decided_via", sa.String(20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("escalations") as batch_op:
        batch_op.drop_column("decided_via")
    with op.batch_alter_table("outbox") as batch_op:
        batch_op.drop_column("provider_channel")
    op.drop_table("product_users")
    op.drop_table("email_suppressions")
    op.drop_index("ix_email_events_program_kind", table_name="email_events")
    op.drop_index("ix_email_events_outbox_key", table_name="email_events")
    op.drop_table("email_events")
    op.drop_table("inbound_receipts")
