"""URL reputation: each URL's state, TLP, listing and change sequence; what happened to it and who did it; how each
reporter's reports of URLs were judged; site owners' delisting requests

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("urls") as batch:
        batch.add_column(sa.Column("state", sa.String(length=16), nullable=False, server_default="suspected"))
        batch.add_column(sa.Column("tlp", sa.String(length=16), nullable=False, server_default="green"))
        batch.add_column(sa.Column("level", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("listed", sa.Text(), nullable=True))
        batch.add_column(sa.Column("brand", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("reports", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("reporters", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("weight", sa.Float(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("confirmed_by", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("confirmed_at", When, nullable=True))
        batch.add_column(sa.Column("changed_at", When, nullable=True))
        batch.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch.create_index("ix_urls_seq", ["seq"], unique=False)
        batch.create_index("ix_urls_state", ["state"], unique=False)
    op.execute("INSERT INTO feedback_versions (name, version) VALUES ('urls', 0)")
    op.create_table(
        "url_events",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("url_id", Id, nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=True),
        sa.Column("at", When, nullable=False),
        sa.Column("actor", sa.String(length=320), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name="fk_url_events_url_id_urls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_url_events"),
    )
    op.create_index("ix_url_events_url_id_id", "url_events", ["url_id", "id"], unique=False)
    op.create_table(
        "url_judgements",
        sa.Column("url_id", Id, nullable=False),
        sa.Column("reporter", sa.String(length=80), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("early", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name="fk_url_judgements_url_id_urls", ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("url_id", "reporter", name="pk_url_judgements"),
    )
    op.create_index("ix_url_judgements_reporter", "url_judgements", ["reporter"], unique=False)
    op.create_table(
        "delisting_requests",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("url_id", Id, nullable=True),
        sa.Column("contact", sa.String(length=320), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("decided_by", Id, nullable=True),
        sa.Column("decided_at", When, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.ForeignKeyConstraint(["url_id"], ["urls.id"], name="fk_delisting_requests_url_id_urls", ondelete="SET NULL"),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name="fk_delisting_requests_decided_by_users", ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_delisting_requests"),
    )
    op.create_index("ix_delisting_requests_state", "delisting_requests", ["state"], unique=False)


def downgrade() -> None:
    op.drop_table("delisting_requests")
    op.drop_table("url_judgements")
    op.drop_table("url_events")
    op.execute("DELETE FROM feedback_versions WHERE name = 'urls'")
    with op.batch_alter_table("urls") as batch:
        batch.drop_index("ix_urls_state")
        batch.drop_index("ix_urls_seq")
        for column in ("seq", "changed_at", "confirmed_at", "confirmed_by", "weight", "reporters", "reports",
                       "brand", "listed", "level", "tlp", "state"):  # fmt: skip
            batch.drop_column(column)
