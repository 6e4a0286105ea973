"""Alembic environment: the URL comes from the caller (signalement.store.migrate), never from a file."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from signalement.store.tables import metadata


def run(connection: Connection) -> None:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes["connection"]
run(connection)
