"""health_snapshots.stale_components; indexes for the ticket and invoice feeds' newest day

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

A component whose input stopped arriving is left out of the score rather than read as zero
activity; each snapshot names those components (stale_components, comma-separated, NULL when
none) so explanations and the drop rule can tell a stale input from the account's own data.
Scoring asks each input for its newest day before it scores: the ticket and invoice feeds get an
index on that day, so the question is one index probe, not a scan.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stale_components", sa.Text(), nullable=True))
    op.create_index("ix_tickets_opened_at", "tickets", ["opened_at"])
    op.create_index("ix_invoices_issued_at", "invoices", ["issued_at"])
    op.create_index("ix_invoices_paid_at", "invoices", ["paid_at"])


def downgrade() -> None:
    op.drop_index("ix_invoices_paid_at", table_name="invoices")
    op.drop_index("ix_invoices_issued_at", table_name="invoices")
    op.drop_index("ix_tickets_opened_at", table_name="tickets")
    with op.batch_alter_table("health_snapshots", schema=None) as batch_op:
        batch_op.drop_column("stale_components")
