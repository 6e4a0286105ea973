"""Engines for SQLite and PostgreSQL, configured for durability first.

SQLite: WAL with synchronous=FULL, so a commit survives power loss; every transaction starts with
BEGIN IMMEDIATE, so writers queue on busy_timeout instead of failing when a read turns into a write.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str, *, pool_size: int = 10, durable: bool = True) -> Engine:
    """`durable=False` is for writers whose every change can be recomputed (the workers): on SQLite their commits
    skip the fsync, hold the write lock far shorter, and a power loss only makes their last jobs run again."""
    if url.startswith("sqlite"):
        return _sqlite_engine(url, durable)
    # No automatic server-side preparing by psycopg: its statements would turn into generic plans that misjudge
    # skewed data (a submitter's reports), and on a ROLLBACK it deallocates every prepared statement, the batches'
    # own (signalement.store.pg_batch) included, which they would then call by a name that no longer exists.
    connect_args: dict[str, Any] = {"prepare_threshold": None}
    if not durable:
        connect_args["options"] = "-c synchronous_commit=off"
    return create_engine(
        url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True, connect_args=connect_args
    )


def _sqlite_engine(url: str, durable: bool) -> Engine:
    memory = ":memory:" in url or url.rstrip("/") == "sqlite:"
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}}
    if not memory:
        kwargs["pool_size"] = 20
        kwargs["max_overflow"] = 20
    engine = create_engine(url, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below
        cur = dbapi_conn.cursor()
        if not memory:
            cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if not conn.get_execution_options().get("readonly") else "BEGIN")

    return engine


@contextmanager
def read(engine: Engine) -> Iterator[Connection]:
    """A read-only transaction: on SQLite it takes no write lock, so it never waits for writers."""
    with engine.connect() as conn:
        conn = conn.execution_options(readonly=True)
        with conn.begin():
            yield conn
