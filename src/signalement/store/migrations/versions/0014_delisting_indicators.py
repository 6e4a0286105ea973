"""Delisting requests may name an origin IP or a sender domain (an indicator) instead of a URL

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("delisting_requests") as batch:
        batch.add_column(sa.Column("indicator_id", Id, nullable=True))
        batch.create_foreign_key(
            "fk_delisting_requests_indicator_id_indicators", "indicators", ["indicator_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("delisting_requests") as batch:
        batch.drop_constraint("fk_delisting_requests_indicator_id_indicators", type_="foreignkey")
        batch.drop_column("indicator_id")
