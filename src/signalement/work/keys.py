"""Idempotency keys, shared by both queue backends: a key is enqueued once, ever."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select

from signalement.store.sql import utcnow
from signalement.store.tables import job_keys
from signalement.work.port import JobRequest

_KNOWN = select(job_keys.c.key).where(job_keys.c.key.in_(bindparam("keys", expanding=True)))
_INSERT = job_keys.insert()


def register_keys(conn: Connection, requests: Sequence[JobRequest]) -> list[bool]:
    """Record the keys of these requests in the caller's transaction; for each request, whether to enqueue it.

    A request without a key is always enqueued. A concurrent transaction registering the same new key makes
    this one fail on the primary key (IntegrityError), so it cannot enqueue it twice either.
    """
    keys = [r.key for r in requests if r.key is not None]
    known = set(conn.execute(_KNOWN, {"keys": keys}).scalars()) if keys else set()
    decisions, new = [], []
    for request in requests:
        fresh = request.key is None or request.key not in known
        decisions.append(fresh)
        if request.key is not None and fresh:
            known.add(request.key)
            new.append({"key": request.key, "created_at": utcnow()})
    if new:
        conn.execute(_INSERT, new)
    return decisions
