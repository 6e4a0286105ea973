"""Analysing stored reports again after the analysis changed: one job per report, in batches, audited."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from signalement.ingest.intake import analyze_job
from signalement.platform import Platform
from signalement.store import audit
from signalement.store.db import read
from signalement.store.tables import reports

BATCH = 1000


def requeue_analysis(
    platform: Platform,
    actor: str,
    *,
    statuses: tuple[str, ...] = (),
    since: datetime | None = None,
    report_ids: tuple[int, ...] = (),
) -> int:
    """Queue the analysis of every report matching the filters (all reports when none is given); returns how many.
    Each run gets its own job keys, so reports analysed before are analysed again."""
    query = select(reports.c.id).order_by(reports.c.id)
    if statuses:
        query = query.where(reports.c.status.in_(statuses))
    if since is not None:
        query = query.where(reports.c.received_at >= since)
    if report_ids:
        query = query.where(reports.c.id.in_(report_ids))
    with read(platform.engine) as conn:
        ids = list(conn.execute(query).scalars())
    with platform.engine.begin() as conn:
        entry = audit.record(
            conn,
            actor=actor,
            action="reports.reanalyze",
            target=f"reports:{len(ids)}",
            detail={"statuses": list(statuses), "since": since.isoformat() if since else None, "count": len(ids)},
        )
    for start in range(0, len(ids), BATCH):
        with platform.engine.begin() as conn:
            jobs = [analyze_job(i, rerun=entry.seq) for i in ids[start : start + BATCH]]
            platform.queue.enqueue_many(conn, jobs)
    return len(ids)
