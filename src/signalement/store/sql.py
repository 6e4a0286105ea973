"""Small SQL helpers that differ between SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def utcnow() -> datetime:
    return datetime.now(UTC)


def insert_ignore(conn: Connection, table: Table, values: dict[str, Any]) -> bool:
    """INSERT ... ON CONFLICT DO NOTHING; True if a row was inserted."""
    return insert_new(conn, table, values) is not None


def insert_new(conn: Connection, table: Table, values: dict[str, Any]) -> Any:
    """INSERT ... ON CONFLICT DO NOTHING: the new row's (first) key, None when it conflicted."""
    # RETURNING rather than rowcount, which drivers do not all report for ON CONFLICT DO NOTHING
    key = next(iter(table.primary_key.columns))
    row = conn.execute(_on_conflict_do_nothing(conn, table).returning(key), values).first()
    return None if row is None else row[0]


def insert_ignore_many(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """INSERT ... ON CONFLICT DO NOTHING for many rows at once (executemany)."""
    if rows:
        conn.execute(_on_conflict_do_nothing(conn, table), rows)


@cache
def _statement(dialect_name: str, table: Table) -> Insert:
    dialect = postgresql if dialect_name == "postgresql" else sqlite
    statement: Insert = dialect.insert(table).on_conflict_do_nothing()
    return statement


def _on_conflict_do_nothing(conn: Connection, table: Table) -> Insert:
    # Built once per table: constructing statements costs more than running them on the intake path.
    return _statement(conn.dialect.name, table)
