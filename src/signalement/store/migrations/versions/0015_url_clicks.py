"""Protected clicks: how many times a day the warning page was shown for a listed URL (never who clicked)

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-28
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "url_clicks",
        sa.Column("url_id", Id, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name="fk_url_clicks_url_id_urls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("url_id", "day", name="pk_url_clicks"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("url_clicks")
