"""Several statements in one round trip to PostgreSQL, each prepared once per connection.

A hot path that runs a few small statements per call (campaign assignment: a lookup of two, then the writes) pays
mostly for the protocol, not the work: on the benchmark's machine each statement sent alone costs 0.15-0.3 ms even
when the server works for 0.05 ms, and psycopg's pipeline mode was slower still. A batch is one simple-protocol
message, `EXECUTE a(...); EXECUTE b(...)`, of statements built with SQLAlchemy, prepared on the connection the first
time it meets them (`PREPARE` in the same message): no planning per call, one round trip. Each statement still runs
after the one before, with its own snapshot under read committed, so a lock taken by one is held when the next
reads. Values are quoted by psycopg's client-side binding (ClientCursor), never by hand.

Prepared statements belong to the server session: a transaction-pooling proxy (PgBouncer in transaction mode)
cannot sit between the platform and PostgreSQL. Which names a connection holds is read from the server when the
connection is first used here and again after a batch that failed, so a session reset (DISCARD ALL) costs one batch.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import psycopg
from psycopg.rows import namedtuple_row
from psycopg.types.json import Json
from sqlalchemy import Connection, Select
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.dml import UpdateBase
from sqlalchemy.sql.elements import TextClause

Statement = UpdateBase | Select[Any] | TextClause
KNOWN = "signalement.prepared"  # in the DBAPI connection's info: the names prepared on it
_PLACEHOLDER = re.compile(r"%\((\w+)\)s")  # psycopg's named placeholders, as SQLAlchemy renders them


@dataclass(frozen=True)
class Prepared:
    name: str
    sql: str  # with $1, $2 ... for the parameters; a literal % doubled, as client-side binding expects
    order: tuple[str, ...]  # the parameters' names by position
    defaults: Mapping[str, Any]  # values SQLAlchemy bound itself (a LIMIT, a constant)


@cache
def prepared(statement: Statement, dialect: Dialect) -> Prepared:
    compiled = statement.compile(dialect=dialect)
    sql = str(compiled)
    order = tuple(dict.fromkeys(_PLACEHOLDER.findall(sql)))
    position = {name: i + 1 for i, name in enumerate(order)}
    numbered = _PLACEHOLDER.sub(lambda m: f"${position[m.group(1)]}", sql)
    name = "sg_" + hashlib.sha256(numbered.encode()).hexdigest()[:20]
    return Prepared(name, numbered, order, dict(compiled.params))


def run(conn: Connection, batch: Sequence[tuple[Statement, Mapping[str, Any]]]) -> list[list[Any]]:
    """Run the statements in order in the caller's transaction; the rows of each (named tuples), [] for a write.
    The driver's errors are raised as SQLAlchemy's (IntegrityError ...), as from `conn.execute`."""
    driver = conn.connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    info = conn.connection.info
    known: set[str] = info.get(KNOWN) or _known(driver)
    parts: list[str] = []
    values: list[Any] = []
    executes: list[bool] = []  # per statement sent: an EXECUTE (its rows are wanted) or a PREPARE
    for statement, params in batch:
        one = prepared(statement, conn.dialect)
        if one.name not in known:
            parts.append(f"PREPARE {one.name} AS {one.sql}")
            executes.append(False)
            known.add(one.name)
        given = {**one.defaults, **params}
        parts.append(
            f"EXECUTE {one.name}({', '.join(['%s'] * len(one.order))})" if one.order else f"EXECUTE {one.name}"
        )
        values.extend(_ready(given[name]) for name in one.order)
        executes.append(True)
    cursor = psycopg.ClientCursor(driver, row_factory=namedtuple_row)
    info.pop(KNOWN, None)  # until the batch succeeds: which PREPAREs ran is unknown after an error
    try:
        cursor.execute("; ".join(parts), values)
        results = []
        for wanted in executes:
            if wanted:
                results.append(cursor.fetchall() if cursor.description else [])
            cursor.nextset()
    except psycopg.Error as error:
        raise DBAPIError.instance(None, None, error, psycopg.Error) from error
    info[KNOWN] = known
    return results


def _known(driver: psycopg.Connection[Any]) -> set[str]:
    return {row[0] for row in driver.execute("SELECT name FROM pg_prepared_statements")}


def _ready(value: Any) -> Any:
    """A value as SQLAlchemy would have handed it to psycopg: JSON objects wrapped."""
    return Json(value) if isinstance(value, dict | list) else value
