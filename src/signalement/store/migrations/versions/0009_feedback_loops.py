"""feedback loops: members' subscriptions on their verified claims, the grants of each source, the complaints

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "feedback_subscriptions",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("delivery", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=True),
        sa.Column("webhook_url", sa.Text(), nullable=True),
        sa.Column("secret_nonce", sa.String(length=32), nullable=False),
        sa.Column("format", sa.String(length=8), nullable=False),
        sa.Column("content", sa.String(length=16), nullable=False),
        sa.Column("recipient_headers", sa.JSON(), nullable=False),
        sa.Column("unsubscribe", sa.Boolean(), nullable=False),
        sa.Column("suspended_at", When, nullable=True),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_feedback_subscriptions_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_feedback_subscriptions_created_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_subscriptions")),
    )
    op.create_index(
        op.f("ix_feedback_subscriptions_organization_id"), "feedback_subscriptions", ["organization_id"], unique=False
    )
    op.create_table(
        "feedback_subscription_claims",
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("claim_id", Id, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["feedback_subscriptions.id"],
            name=op.f("fk_feedback_subscription_claims_subscription_id_feedback_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["claim_id"],
            ["claims.id"],
            name=op.f("fk_feedback_subscription_claims_claim_id_claims"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("subscription_id", "claim_id", name=op.f("pk_feedback_subscription_claims")),
    )
    op.create_index(
        op.f("ix_feedback_subscription_claims_claim_id"), "feedback_subscription_claims", ["claim_id"], unique=False
    )
    op.create_table(
        "feedback_grants",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("source", sa.String(length=40), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("decided_by", Id, nullable=True),
        sa.Column("decided_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["feedback_subscriptions.id"],
            name=op.f("fk_feedback_grants_subscription_id_feedback_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_feedback_grants_decided_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_feedback_grants")),
        sa.UniqueConstraint("subscription_id", "source", name="uq_feedback_grants_subscription_id_source"),
    )
    op.create_index("ix_feedback_grants_source_state", "feedback_grants", ["source", "state"], unique=False)
    op.create_table(
        "complaints",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("report_id", Id, nullable=False),
        sa.Column("subscription_id", Id, nullable=False),
        sa.Column("match_kind", sa.String(length=32), nullable=False),
        sa.Column("matched", sa.String(length=255), nullable=False),
        sa.Column("authenticated", sa.Boolean(), nullable=False),
        sa.Column("feedback_type", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("delivered_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["report_id"], ["reports.id"], name=op.f("fk_complaints_report_id_reports"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["subscription_id"],
            ["feedback_subscriptions.id"],
            name=op.f("fk_complaints_subscription_id_feedback_subscriptions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaints")),
        sa.UniqueConstraint("report_id", "subscription_id", name="uq_complaints_report_id_subscription_id"),
    )
    op.create_index(op.f("ix_complaints_report_id"), "complaints", ["report_id"], unique=False)
    op.create_index("ix_complaints_subscription_id_id", "complaints", ["subscription_id", "id"], unique=False)


def downgrade() -> None:
    op.drop_table("complaints")
    op.drop_table("feedback_grants")
    op.drop_table("feedback_subscription_claims")
    op.drop_table("feedback_subscriptions")
