"""The append-only audit log, written in the transaction of the action it records."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from sqlalchemy import Connection, select, text

from signalement.domain.audit import GENESIS, AuditEntry, entry_hash, verify_chain
from signalement.store.sql import utcnow
from signalement.store.tables import audit_log

_PG_AUDIT_LOCK = 0x5167_A0D1  # serializes appends on PostgreSQL; SQLite's BEGIN IMMEDIATE already does


def record(
    conn: Connection,
    *,
    actor: str,
    action: str,
    target: str = "",
    client: str = "",
    detail: Mapping[str, Any] | None = None,
) -> AuditEntry:
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_AUDIT_LOCK})
    last = conn.execute(select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)).first()
    seq, prev = (last.seq + 1, last.hash) if last else (1, GENESIS)
    at = utcnow().isoformat(timespec="microseconds")
    details = dict(detail or {})
    digest = entry_hash(prev, seq=seq, at=at, actor=actor, action=action, target=target, client=client, detail=details)
    entry = AuditEntry(seq, at, actor, action, target, client, details, prev, digest)
    conn.execute(audit_log.insert().values(**entry.__dict__))
    return entry


def entries(conn: Connection, *, after: int = 0, limit: int | None = None) -> Iterator[AuditEntry]:
    query = select(audit_log).where(audit_log.c.seq > after).order_by(audit_log.c.seq)
    if limit is not None:
        query = query.limit(limit)
    for row in conn.execute(query).mappings():
        yield AuditEntry(**row)


def first_broken(conn: Connection) -> int | None:
    """The seq of the first entry whose hash does not follow, or None if the whole chain holds."""
    return verify_chain(entries(conn))
