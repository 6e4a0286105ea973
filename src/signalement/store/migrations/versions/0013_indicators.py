"""Indicators of confirmed campaigns (origin IPs, authenticated sender domains) and what each report shows; a
campaign's confirmation; a URL's widest published TLP and whether it is still served

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("urls") as batch:
        batch.add_column(sa.Column("shown_tlp", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("checked_at", When, nullable=True))
        batch.add_column(sa.Column("gone_since", When, nullable=True))
        batch.add_column(sa.Column("gone_checks", sa.Integer(), nullable=False, server_default="0"))
    op.execute("UPDATE urls SET shown_tlp = tlp WHERE confirmed_at IS NOT NULL")
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("confirmed_at", When, nullable=True))
    op.execute("INSERT INTO feedback_versions (name, version) VALUES ('indicators', 0)")
    op.create_table(
        "report_indicators",
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("report_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_report_indicators_report_id_reports", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("kind", "value", "report_id", name="pk_report_indicators"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_report_indicators_report_id", "report_indicators", ["report_id"], unique=False)
    op.create_table(
        "indicators",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("tlp", sa.String(length=16), nullable=False, server_default="green"),
        sa.Column("first_seen", When, nullable=False),
        sa.Column("last_seen", When, nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("campaigns", sa.JSON(), nullable=False),
        sa.Column("confirmed_at", When, nullable=True),
        sa.Column("shown_tlp", sa.String(length=16), nullable=True),
        sa.Column("changed_at", When, nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_indicators"),
        sa.UniqueConstraint("kind", "value", name="uq_indicators_kind_value"),
    )
    op.create_index("ix_indicators_seq", "indicators", ["seq"], unique=False)
    op.create_table(
        "indicator_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("indicator_id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["indicator_id"], ["indicators.id"], name="fk_indicator_events_indicator_id_indicators", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_indicator_events"),
    )
    op.create_index("ix_indicator_events_indicator_id_id", "indicator_events", ["indicator_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("indicator_events")
    op.drop_table("indicators")
    op.drop_table("report_indicators")
    op.execute("DELETE FROM feedback_versions WHERE name = 'indicators'")
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("confirmed_at")
    with op.batch_alter_table("urls") as batch:
        for column in ("gone_checks", "gone_since", "checked_at", "shown_tlp"):
            batch.drop_column(column)
