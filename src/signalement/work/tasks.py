"""Every task the workers know, by name."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete

from signalement.analysis.header_job import ANALYZE
from signalement.store.sql import utcnow
from signalement.store.tables import job_keys
from signalement.work.port import Payload, TaskContext, TaskSpec

PERIODIC_KEY_RETENTION = timedelta(days=2)


def purge_periodic_keys(ctx: TaskContext, payload: Payload) -> None:
    """Periodic keys only need to outlive their period; the others are kept (they guard re-enqueueing)."""
    with ctx.engine.begin() as conn:
        conn.execute(
            delete(job_keys).where(
                job_keys.c.key.like("periodic:%"), job_keys.c.created_at < utcnow() - PERIODIC_KEY_RETENTION
            )
        )


HOUSEKEEPING = TaskSpec("housekeeping", purge_periodic_keys, every=timedelta(hours=1))


def all_tasks() -> dict[str, TaskSpec]:
    return {spec.name: spec for spec in (ANALYZE, HOUSEKEEPING)}
