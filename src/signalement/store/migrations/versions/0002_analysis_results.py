"""analysis results: URLs, phones, attachments and searchable identities of each report

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "urls",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("canonical", sa.Text(), nullable=False),
        sa.Column("host", sa.String(length=255), nullable=False),
        sa.Column("registered_domain", sa.String(length=255), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_urls")),
        sa.UniqueConstraint("sha256", name=op.f("uq_urls_sha256")),
    )
    with op.batch_alter_table("urls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_urls_host"), ["host"], unique=False)
        batch_op.create_index(batch_op.f("ix_urls_last_seen"), ["last_seen"], unique=False)
        batch_op.create_index(batch_op.f("ix_urls_registered_domain"), ["registered_domain"], unique=False)

    op.create_table(
        "report_attachments",
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("position", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=300), nullable=True),
        sa.Column("sniffed_type", sa.String(length=100), nullable=True),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("flags", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_attachments_report_id_reports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("report_id", "position", name=op.f("pk_report_attachments")),
    )
    with op.batch_alter_table("report_attachments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_attachments_sha256"), ["sha256"], unique=False)

    op.create_table(
        "report_phones",
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("e164", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_phones_report_id_reports"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("report_id", "e164", name=op.f("pk_report_phones")),
    )
    with op.batch_alter_table("report_phones", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_phones_e164"), ["e164"], unique=False)

    op.create_table(
        "report_urls",
        sa.Column("report_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("found_in", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_report_urls_report_id_reports"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name=op.f("fk_report_urls_url_id_urls"), ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("report_id", "url_id", name=op.f("pk_report_urls")),
    )
    with op.batch_alter_table("report_urls", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_report_urls_url_id"), ["url_id"], unique=False)

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("mail_hosts", sa.JSON(), nullable=True))

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("origin_ip", sa.String(length=45), nullable=True))
        batch_op.add_column(sa.Column("from_domain", sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f("ix_reports_from_domain"), ["from_domain"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_origin_ip"), ["origin_ip"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("mail_hosts")

    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reports_origin_ip"))
        batch_op.drop_index(batch_op.f("ix_reports_from_domain"))
        batch_op.drop_column("from_domain")
        batch_op.drop_column("origin_ip")

    with op.batch_alter_table("report_urls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_urls_url_id"))

    op.drop_table("report_urls")
    with op.batch_alter_table("report_phones", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_phones_e164"))

    op.drop_table("report_phones")
    with op.batch_alter_table("report_attachments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_report_attachments_sha256"))

    op.drop_table("report_attachments")
    with op.batch_alter_table("urls", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_urls_registered_domain"))
        batch_op.drop_index(batch_op.f("ix_urls_last_seen"))
        batch_op.drop_index(batch_op.f("ix_urls_host"))

    op.drop_table("urls")
