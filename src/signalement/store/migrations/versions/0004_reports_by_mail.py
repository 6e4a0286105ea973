"""reports by mail: reporters' secret report addresses, acknowledgement by mail, forwarded and feedback reports

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27

New nullable columns and a column with a constant default: plain ALTER TABLE on both databases (no copy of
`reports`, see 0003 for why that matters on SQLite).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_addresses",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("user_id", Id, nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("secret_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_report_addresses_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_report_addresses")),
        sa.UniqueConstraint("secret_sha256", name=op.f("uq_report_addresses_secret_sha256")),
    )
    op.create_index(op.f("ix_report_addresses_user_id"), "report_addresses", ["user_id"], unique=False)
    op.add_column("users", sa.Column("ack_by_mail", sa.Boolean(), server_default=sa.false(), nullable=False))
    op.add_column("reports", sa.Column("forwarded", sa.String(length=16), nullable=True))
    op.add_column("reports", sa.Column("feedback", sa.String(length=16), nullable=True))
    op.create_index(op.f("ix_reports_feedback"), "reports", ["feedback"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_feedback"), table_name="reports")
    for column in ("feedback", "forwarded"):
        op.execute(f"ALTER TABLE reports DROP COLUMN {column}")
    op.execute("ALTER TABLE users DROP COLUMN ack_by_mail")
    op.drop_index(op.f("ix_report_addresses_user_id"), table_name="report_addresses")
    op.drop_table("report_addresses")
