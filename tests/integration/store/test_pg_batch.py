"""Batches of prepared statements on a real PostgreSQL: in order, prepared once per connection, values quoted by the
driver whatever they hold, errors as SQLAlchemy's, and a session that lost its prepared statements recovers."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, bindparam, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError, ProgrammingError

from signalement.store import pg_batch
from signalement.store.db import make_engine
from signalement.store.migrate import upgrade
from signalement.store.tables import blobs
from tests.pg import PostgresServer


@pytest.fixture
def engine(postgres: PostgresServer) -> Iterator[Engine]:
    """PostgreSQL only (on SQLite the campaigns run their statements in-process); one pooled connection."""
    engine = make_engine(postgres.create_database(f"batch{next(_databases)}"), pool_size=1)
    upgrade(engine)
    yield engine
    engine.dispose()


_databases = itertools.count()


ADD_BLOB = insert(blobs).values(
    sha256=bindparam("sha256"), size=bindparam("size"), stored_size=1, created_at=bindparam("at")
)
GROW = update(blobs).where(blobs.c.sha256 == bindparam("sha256")).values(size=blobs.c.size + bindparam("by"))
SIZE = select(blobs.c.size, func.length(blobs.c.sha256).label("length")).where(blobs.c.sha256 == bindparam("sha256"))
AT = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)
HOSTILE = "it's 100% \\ $1 '); DROP TABLE blobs; --"


def prepared_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(text("SELECT name FROM pg_prepared_statements")).scalars())


def test_statements_run_in_order_and_return_their_rows(engine: Engine) -> None:
    with engine.begin() as conn:
        results = pg_batch.run(
            conn,
            [
                (ADD_BLOB, {"sha256": HOSTILE, "size": 10, "at": AT}),
                (GROW, {"sha256": HOSTILE, "by": 5}),
                (SIZE, {"sha256": HOSTILE}),
            ],
        )
    assert results[:2] == [[], []]
    assert [(r.size, r.length) for r in results[2]] == [(15, len(HOSTILE))]
    with engine.connect() as conn:
        assert conn.execute(select(blobs.c.created_at).where(blobs.c.sha256 == HOSTILE)).scalar_one() == AT


def test_each_statement_is_prepared_once_per_connection(engine: Engine) -> None:
    for n in range(3):
        with engine.begin() as conn:
            pg_batch.run(conn, [(ADD_BLOB, {"sha256": f"s{n}", "size": n, "at": AT}), (SIZE, {"sha256": f"s{n}"})])
    ours = {name for name in prepared_names(engine) if name.startswith("sg_")}
    assert ours == {pg_batch.prepared(s, engine.dialect).name for s in (ADD_BLOB, SIZE)}


def test_errors_are_sqlalchemys_and_the_transaction_rolls_back(engine: Engine) -> None:
    with pytest.raises(IntegrityError), engine.begin() as conn:
        pg_batch.run(
            conn,
            [
                (ADD_BLOB, {"sha256": "twice", "size": 1, "at": AT}),
                (ADD_BLOB, {"sha256": "twice", "size": 2, "at": AT}),
            ],
        )
    with engine.begin() as conn:  # the connection is usable, and knows again what is prepared on it
        assert pg_batch.run(conn, [(SIZE, {"sha256": "twice"})]) == [[]]


def test_a_session_that_lost_its_statements_fails_one_batch_then_prepares_again(engine: Engine) -> None:
    with engine.begin() as conn:
        pg_batch.run(conn, [(SIZE, {"sha256": "x"})])
    with engine.connect() as conn:  # the pool's one connection, reset as a pooler or an admin would
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("DISCARD ALL")
    with pytest.raises(ProgrammingError), engine.begin() as conn:
        pg_batch.run(conn, [(SIZE, {"sha256": "x"})])
    with engine.begin() as conn:
        assert pg_batch.run(conn, [(SIZE, {"sha256": "x"})]) == [[]]


def test_a_statement_run_often_and_a_rollback_leave_the_batches_statements_alone(engine: Engine) -> None:
    """psycopg, left to prepare what runs often, deallocates every prepared statement when a command answers
    ROLLBACK (a savepoint's, here), the batches' too: the engine turns its preparing off (found by the erasure test,
    whose reports each leave their campaign and the statistics)."""
    with engine.begin() as conn:
        pg_batch.run(conn, [(SIZE, {"sha256": "x"})])
        for _ in range(8):  # past psycopg's default prepare threshold (5)
            conn.execute(select(blobs.c.size).where(blobs.c.sha256 == "y")).all()
        savepoint = conn.begin_nested()
        savepoint.rollback()
        assert pg_batch.run(conn, [(SIZE, {"sha256": "x"})]) == [[]]
