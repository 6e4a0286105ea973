"""verdicts and campaigns: each report's verdict category and score, its campaign, and the campaign tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27

On SQLite, `reports.campaign_id` is added and removed with plain ALTER TABLE, never by recreating `reports`
(batch mode's copy): dropping the old `reports` with foreign keys on would cascade into report_urls, report_phones
and report_attachments, and a copy of every report is slow on a large database. Its foreign key is written into
the table's schema text as a table constraint (what SQLAlchemy reflects with its name), which SQLite documents as
the way to add or remove a constraint that changes nothing on disk (sqlite.org/lang_altertable.html): the column
is new, so every value is NULL.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_FK = "fk_reports_campaign_id_campaigns"
_SQLITE_FK_CLAUSE = f", CONSTRAINT {_FK} FOREIGN KEY(campaign_id) REFERENCES campaigns (id) ON DELETE SET NULL"


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("public_id", sa.String(length=16), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.Column("phishing", sa.Integer(), nullable=False),
        sa.Column("malware", sa.Integer(), nullable=False),
        sa.Column("scam", sa.Integer(), nullable=False),
        sa.Column("spam", sa.Integer(), nullable=False),
        sa.Column("legitimate", sa.Integer(), nullable=False),
        sa.Column("unclassified", sa.Integer(), nullable=False),
        sa.Column("brands", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
        sa.UniqueConstraint("public_id", name=op.f("uq_campaigns_public_id")),
    )
    with op.batch_alter_table("campaigns", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_campaigns_last_seen"), ["last_seen"], unique=False)

    op.create_table(
        "campaign_keys",
        sa.Column("key", sa.String(length=260), nullable=False),
        sa.Column("campaign_id", Id, autoincrement=False, nullable=False),
        sa.PrimaryKeyConstraint("key", "campaign_id", name=op.f("pk_campaign_keys")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "campaign_days",
        sa.Column("campaign_id", Id, autoincrement=False, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("reports", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["campaign_id"], ["campaigns.id"], name=op.f("fk_campaign_days_campaign_id_campaigns"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("campaign_id", "day", name=op.f("pk_campaign_days")),
        sqlite_with_rowid=False,
    )

    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE reports ADD COLUMN campaign_id INTEGER")
        _sqlite_edit_reports_schema(lambda sql: sql[: sql.rstrip().rfind(")")] + _SQLITE_FK_CLAUSE + ")")
    else:
        op.add_column("reports", sa.Column("campaign_id", Id, nullable=True))
        op.create_foreign_key(_FK, "reports", "campaigns", ["campaign_id"], ["id"], ondelete="SET NULL")
    with op.batch_alter_table("reports", schema=None) as batch_op:
        batch_op.add_column(sa.Column("verdict_category", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("verdict_score", sa.Float(), nullable=True))
        batch_op.create_index(batch_op.f("ix_reports_campaign_id"), ["campaign_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_reports_verdict_category"), ["verdict_category"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_reports_verdict_category"), table_name="reports")
    op.drop_index(op.f("ix_reports_campaign_id"), table_name="reports")
    if op.get_bind().dialect.name == "sqlite":
        _sqlite_edit_reports_schema(lambda sql: sql.replace(_SQLITE_FK_CLAUSE, ""))
        for column in ("verdict_score", "verdict_category", "campaign_id"):
            op.execute(f"ALTER TABLE reports DROP COLUMN {column}")
    else:
        op.drop_constraint(_FK, "reports", type_="foreignkey")
        for column in ("verdict_score", "verdict_category", "campaign_id"):
            op.drop_column("reports", column)

    op.drop_table("campaign_days")
    op.drop_table("campaign_keys")
    op.drop_index(op.f("ix_campaigns_last_seen"), table_name="campaigns")
    op.drop_table("campaigns")


def _sqlite_edit_reports_schema(edit: Callable[[str], str]) -> None:
    bind = op.get_bind()
    sql = bind.exec_driver_sql("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'reports'").scalar_one()
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    op.execute("PRAGMA writable_schema=ON")
    bind.execute(
        sa.text("UPDATE sqlite_master SET sql = :sql WHERE type = 'table' AND name = 'reports'"), {"sql": edit(sql)}
    )
    op.execute(f"PRAGMA schema_version={version + 1}")  # other connections read the new schema
    op.execute("PRAGMA writable_schema=OFF")
