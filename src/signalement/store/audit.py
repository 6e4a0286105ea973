"""The append-only audit log, written in the transaction of the action it records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.audit import GENESIS, AuditEntry, entry_hash, verify_chain
from signalement.store.sql import utcnow
from signalement.store.tables import audit_head, audit_log

_HEAD = select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1)


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    client: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    head = conn.execute(_HEAD.with_for_update()).one()  # the row lock orders concurrent appends on PostgreSQL
    seq, prev = head.seq + 1, head.hash
    at = utcnow().isoformat(timespec="microseconds")
    details = dict(detail or {})
    digest = entry_hash(prev, seq=seq, at=at, actor=actor, action=action, target=target, client=client, detail=details)
    entry = AuditEntry(seq, at, actor, action, target, client, details, prev, digest)
    conn.execute(audit_log.insert().values(**entry.__dict__))
    conn.execute(update(audit_head).where(audit_head.c.id == 1).values(seq=seq, hash=digest))
    return entry


def entries(conn: Connection, *, after: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
    query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query).mappings():
        yield AuditEntry(**row)


def head(conn: Connection) -> tuple[int, str]:
    """The newest entry's seq and hash: an outside monitor that keeps them can tell if the log was rewritten."""
    row = conn.execute(_HEAD).one()
    return int(row.seq), str(row.hash)


def first_broken(conn: Connection) -> int | None:
    """The seq of the first entry whose hash does not follow, or None if the whole chain holds.

    Entries removed from the end break no hash: the head, written with each entry, shows them."""
    last: list[AuditEntry] = []

    def remember(stream: Iterator[AuditEntry]) -> Iterator[AuditEntry]:
        for entry in stream:
            last[:] = [entry]
            yield entry

    broken = verify_chain(remember(entries(conn)))
    if broken is not None:
        return broken
    last_seq, last_hash = (last[0].seq, last[0].hash) if last else (0, GENESIS)
    return None if head(conn) == (last_seq, last_hash) else last_seq + 1
