"""members: organizations, their people and tokens, invitations, and claims of IP ranges and domains

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27

`users` and `api_tokens` gain a nullable reference to an organization (batch mode on SQLite, which cannot add a
foreign key otherwise: both tables are small).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("entitlements", sa.JSON(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("disabled_at", When, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_organizations")),
        sa.UniqueConstraint("name", name=op.f("uq_organizations_name")),
    )
    for table, ondelete in (("users", "RESTRICT"), ("api_tokens", "CASCADE")):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("organization_id", Id, nullable=True))
            batch.create_foreign_key(
                op.f(f"fk_{table}_organization_id_organizations"),
                "organizations",
                ["organization_id"],
                ["id"],
                ondelete=ondelete,
            )
            batch.create_index(op.f(f"ix_{table}_organization_id"), ["organization_id"], unique=False)
    op.create_table(
        "invitations",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=True),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("token_sha256", sa.LargeBinary(length=32), nullable=False),
        sa.Column("invited_by", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("expires_at", When, nullable=False),
        sa.Column("accepted_at", When, nullable=True),
        sa.Column("revoked_at", When, nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_invitations_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["invited_by"], ["users.id"], name=op.f("fk_invitations_invited_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invitations")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_invitations_token_sha256")),
    )
    op.create_index(op.f("ix_invitations_organization_id"), "invitations", ["organization_id"], unique=False)
    op.create_table(
        "claims",
        sa.Column("id", Id, autoincrement=True, nullable=False),
        sa.Column("organization_id", Id, nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("value", sa.String(length=255), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("proof", sa.String(length=16), nullable=True),
        sa.Column("statement", sa.Text(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("created_by", Id, nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("decided_by", Id, nullable=True),
        sa.Column("decided_at", When, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["organization_id"],
            ["organizations.id"],
            name=op.f("fk_claims_organization_id_organizations"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["users.id"], name=op.f("fk_claims_created_by_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["users.id"], name=op.f("fk_claims_decided_by_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_claims")),
    )
    op.create_index(op.f("ix_claims_organization_id"), "claims", ["organization_id"], unique=False)
    op.create_index("ix_claims_kind_value", "claims", ["kind", "value"], unique=False)


def downgrade() -> None:
    op.drop_table("claims")
    op.drop_table("invitations")
    for table in ("api_tokens", "users"):
        with op.batch_alter_table(table) as batch:
            batch.drop_index(op.f(f"ix_{table}_organization_id"))
            batch.drop_constraint(op.f(f"fk_{table}_organization_id_organizations"), type_="foreignkey")
            batch.drop_column("organization_id")
    op.drop_table("organizations")
