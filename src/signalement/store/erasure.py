"""A person's right to erasure: their account and their reports deleted, in the caller's transaction.

Each report first leaves its campaign's counters and the members' statistics, then the rows go (their URL, phone
and attachment rows with them), then the account (its tokens, sessions and report addresses with it). A message's
bytes are shared by everyone who reported the same bytes: only those no remaining report refers to are returned,
for the caller to delete once the transaction has committed (a file deleted before a rollback would be lost). The
audit log keeps that the account was erased, and not its address: the caller records it.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select

from signalement.store import stats
from signalement.store.campaigns import leave_campaign
from signalement.store.tables import blobs, reports, users


def erase_account(conn: Connection, user_id: int) -> list[str]:
    """Delete the account and its reports; returns the SHA-256 of the blobs that nothing refers to any more."""
    mine = conn.execute(
        select(reports.c.id, reports.c.sha256, reports.c.received_at).where(reports.c.reporter_id == user_id)
    ).all()
    for report in mine:
        leave_campaign(conn, report.id, report.received_at)
        stats.record(conn, report.id, [])
    conn.execute(delete(reports).where(reports.c.reporter_id == user_id))
    candidates = sorted({r.sha256 for r in mine})
    kept = set(conn.execute(select(reports.c.sha256).where(reports.c.sha256.in_(candidates))).scalars())
    unreferenced = [sha for sha in candidates if sha not in kept]
    if unreferenced:
        conn.execute(delete(blobs).where(blobs.c.sha256.in_(unreferenced)))
    conn.execute(delete(users).where(users.c.id == user_id))
    return unreferenced
