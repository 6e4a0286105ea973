"""feedback loops, continued: the category a complaint was made for, the one-click unsubscribes made on reporters'
behalf (RFC 8058), complaints to non-member senders' CFBL-Address (RFC 9477), and a version the claims index cache
of the workers follows

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("complaints") as batch:
        batch.add_column(sa.Column("category", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("unsubscribe_state", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("unsubscribe_error", sa.Text(), nullable=True))
        batch.add_column(sa.Column("unsubscribed_at", When, nullable=True))
    # The complaints made before: the category signalement.mail.feedback_out.complaint_category gave them.
    op.execute(
        """UPDATE complaints SET category = (
            SELECT CASE
                WHEN r.verdict_category IS NULL AND r.reported_category IN ('phishing', 'scam') THEN r.reported_category
                WHEN r.verdict_category IS NULL OR r.verdict_category = 'legitimate' THEN 'spam'
                ELSE r.verdict_category END
            FROM reports r WHERE r.id = complaints.report_id)"""
    )
    op.create_table(
        "cfbl_complaints",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("report_id", Id, nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("signer", sa.String(length=255), nullable=False),
        sa.Column("feedback_id", sa.String(length=255), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("feedback_type", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("delivered_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_cfbl_complaints_report_id_reports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cfbl_complaints")),
        sa.UniqueConstraint("report_id", "address", name="uq_cfbl_complaints_report_id_address"),
    )
    op.create_index("ix_cfbl_complaints_address_id", "cfbl_complaints", ["address", "id"], unique=False)
    op.create_table(
        "feedback_versions",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_feedback_versions")),
    )
    op.execute("INSERT INTO feedback_versions (name, version) VALUES ('claims', 1)")


def downgrade() -> None:
    op.drop_table("feedback_versions")
    op.drop_table("cfbl_complaints")
    with op.batch_alter_table("complaints") as batch:
        batch.drop_column("unsubscribed_at")
        batch.drop_column("unsubscribe_error")
        batch.drop_column("unsubscribe_state")
        batch.drop_column("category")
