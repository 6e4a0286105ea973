"""Counters that move with what a worker caches: bumped in the transaction that changes the cached rows, read at
the start of each job, so a cache is rebuilt exactly when it must be (a revoked claim matches nothing from the
next job on, in every process)."""

from __future__ import annotations

from sqlalchemy import Connection, select, update

from signalement.store.tables import feedback_versions

CLAIMS = "claims"  # claims, feedback subscriptions and their grants, organizations' disabling


def bump(conn: Connection, name: str = CLAIMS) -> None:
    conn.execute(
        update(feedback_versions)
        .where(feedback_versions.c.name == name)
        .values(version=feedback_versions.c.version + 1)
    )


def current(conn: Connection, name: str = CLAIMS) -> int:
    return int(conn.execute(select(feedback_versions.c.version).where(feedback_versions.c.name == name)).scalar() or 0)


def bump_and_read(conn: Connection, name: str) -> int:
    """The counter's next value, allocated under its row's lock until the transaction ends: values are handed out
    in commit order, so a reader that saw value n will see every value below n."""
    query = (
        update(feedback_versions)
        .where(feedback_versions.c.name == name)
        .values(version=feedback_versions.c.version + 1)
        .returning(feedback_versions.c.version)
    )
    return int(conn.execute(query).scalar_one())
