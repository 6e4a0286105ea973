"""The analysis job: understand the stored message (or SMS) and store what was found. Idempotent per report: a
second run replaces the first's results, so a re-analysis after a change is just another job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.reports import ReportKind, ReportStatus
from signalement.ingest.intake import ANALYZE_TASK
from signalement.mail.sms import understand_sms
from signalement.mail.understanding import understand
from signalement.store.analysis import save_analysis
from signalement.store.db import read
from signalement.store.tables import reports
from signalement.work.port import Payload, TaskContext, TaskSpec


def facts_for(kind: str, raw: bytes) -> dict[str, Any]:
    if kind == ReportKind.SMS:
        return understand_sms(raw)
    return understand(raw).as_json()


def analyze_report(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:  # no write lock for a read
        row = conn.execute(
            select(reports.c.sha256, reports.c.kind, reports.c.received_at).where(reports.c.id == report_id)
        ).first()
    if row is None:  # deleted since it was queued
        return
    facts = facts_for(row.kind, ctx.blobs.get(row.sha256))  # CPU work outside any transaction
    with ctx.engine.begin() as conn:
        save_analysis(conn, report_id, row.received_at, facts)


def mark_failed(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(reports)
        .where(reports.c.id == int(payload["report_id"]))
        .values(status=ReportStatus.FAILED, error=error.strip().splitlines()[-1][:500])
    )


ANALYZE = TaskSpec(ANALYZE_TASK, analyze_report, on_dead=mark_failed)
