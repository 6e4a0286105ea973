"""statistics: counts per member, dimension, value and hour/day/month; what each report added; peak alerts and
where they go; customers' share links; cases opened with staff

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def _org(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["organization_id"], ["organizations.id"], name=f"fk_{table}_organization_id_organizations", ondelete="CASCADE"
    )


def _user(table: str, column: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], ["users.id"], name=f"fk_{table}_{column}_users", ondelete="SET NULL")


def upgrade() -> None:
    op.create_table(
        "stat_counts",
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("bucket", When, nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        _org("stat_counts"),
        sa.PrimaryKeyConstraint(
            "organization_id", "period", "dimension", "value", "bucket", "verified", name="pk_stat_counts"
        ),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_stat_counts_range",
        "stat_counts",
        ["organization_id", "period", "dimension", "bucket", "value", "verified", "reports", "weight"],
        unique=False,
    )
    op.create_table(
        "stat_contributions",
        sa.Column("report_id", Id, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("keys", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name="fk_stat_contributions_report_id_reports", ondelete="CASCADE"
        ),
        _org("stat_contributions"),
        sa.PrimaryKeyConstraint("report_id", "organization_id", name="pk_stat_contributions"),
    )
    op.create_index(
        "ix_stat_contributions_organization_id_at", "stat_contributions", ["organization_id", "at"], unique=False
    )
    op.create_table(
        "stat_volumes",
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("day", When, nullable=False),
        sa.Column("sent", sa.BigInteger(), nullable=False),
        _org("stat_volumes"),
        sa.PrimaryKeyConstraint("organization_id", "dimension", "value", "day", name="pk_stat_volumes"),
    )
    op.create_table(
        "alert_settings",
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("secret_nonce", sa.String(length=32), nullable=False),
        sa.Column("cooldown_hours", sa.Integer(), nullable=False),
        sa.Column("dimensions", sa.JSON(), nullable=False),
        sa.Column("updated_at", When, nullable=False),
        _org("alert_settings"),
        sa.PrimaryKeyConstraint("organization_id", name="pk_alert_settings"),
    )
    op.create_table(
        "stat_alerts",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("at", When, nullable=False),
        sa.Column("reports", sa.BigInteger(), nullable=False),
        sa.Column("expected", sa.Float(), nullable=False),
        sa.Column("upper", sa.Float(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("sent_at", When, nullable=True),
        _org("stat_alerts"),
        sa.PrimaryKeyConstraint("id", name="pk_stat_alerts"),
        sa.UniqueConstraint("organization_id", "dimension", "value", "verified", "at", name="uq_stat_alerts_series_at"),
    )
    op.create_index("ix_stat_alerts_organization_id_id", "stat_alerts", ["organization_id", "id"], unique=False)
    op.create_table(
        "stat_shares",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column("digest", sa.LargeBinary(length=32), nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("revoked_at", When, nullable=True),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        _org("stat_shares"),
        _user("stat_shares", "created_by"),
        sa.PrimaryKeyConstraint("id", name="pk_stat_shares"),
        sa.UniqueConstraint("digest", name="uq_stat_shares_digest"),
    )
    op.create_table(
        "cases",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("dimension", sa.String(length=16), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=False),
        sa.Column("opened_by", Id, nullable=True),
        sa.Column("assigned_to", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.Column("closed_at", When, nullable=True),
        _org("cases"),
        _user("cases", "opened_by"),
        _user("cases", "assigned_to"),
        sa.PrimaryKeyConstraint("id", name="pk_cases"),
    )
    op.create_index("ix_cases_organization_id_id", "cases", ["organization_id", "id"], unique=False)
    op.create_index("ix_cases_state", "cases", ["state"], unique=False)
    op.create_table(
        "case_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("case_id", Id, nullable=False),
        sa.Column("author_id", Id, nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"], name="fk_case_events_case_id_cases", ondelete="CASCADE"),
        _user("case_events", "author_id"),
        sa.PrimaryKeyConstraint("id", name="pk_case_events"),
    )
    op.create_index("ix_case_events_case_id_id", "case_events", ["case_id", "id"], unique=False)


def downgrade() -> None:
    for table in ("case_events", "cases", "stat_shares", "stat_alerts", "alert_settings", "stat_volumes"):
        op.drop_table(table)
    op.drop_table("stat_contributions")
    op.drop_table("stat_counts")
