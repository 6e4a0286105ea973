"""The migrations build exactly the schema that tables.py declares, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from signalement.platform import Platform
from signalement.store.tables import metadata


def test_migrated_schema_matches_the_tables(platform: Platform) -> None:
    with platform.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        differences = compare_metadata(context, metadata)
    ours = [d for d in differences if "procrastinate" not in repr(d)]  # procrastinate owns its tables
    assert ours == []
