"""more ways in: report sources and spam traps, the IMAP poller's folders, bulk import progress, SMS conversations

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

Two new columns on `reports` (a nullable one, and one with a constant default: plain ALTER TABLE, no copy) and
three small tables.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("reports", sa.Column("source", sa.String(length=64), nullable=True))
    op.add_column("reports", sa.Column("trap", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.create_index(op.f("ix_reports_source"), "reports", ["source"], unique=False)
    op.create_table(
        "imap_folders",
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("folder", sa.String(length=255), nullable=False),
        sa.Column("uidvalidity", sa.BigInteger(), nullable=False),
        sa.Column("last_uid", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("source", "folder", name=op.f("pk_imap_folders")),
    )
    op.create_table(
        "import_progress",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("submitter", sa.String(length=80), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("mtime_ns", sa.BigInteger(), nullable=False),
        sa.Column("done_messages", sa.BigInteger(), nullable=False),
        sa.Column("done_offset", sa.BigInteger(), nullable=False),
        sa.Column("finished_at", When, nullable=True),
        sa.Column("updated_at", When, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_progress")),
        sa.UniqueConstraint("submitter", "path", name="uq_import_progress_submitter_path"),
    )
    op.create_table(
        "sms_conversations",
        sa.Column("number_hash", sa.String(length=64), nullable=False),
        sa.Column("gateway_id", Id, nullable=False),
        sa.Column("sender", sa.String(length=100), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("text_received_at", When, nullable=True),
        sa.Column("started_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["gateway_id"], ["users.id"], name=op.f("fk_sms_conversations_gateway_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("number_hash", name=op.f("pk_sms_conversations")),
    )


def downgrade() -> None:
    op.drop_table("sms_conversations")
    op.drop_table("import_progress")
    op.drop_table("imap_folders")
    op.drop_index(op.f("ix_reports_source"), table_name="reports")
    for column in ("trap", "source"):
        op.execute(f"ALTER TABLE reports DROP COLUMN {column}")
