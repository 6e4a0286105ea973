"""The analysis job: understand the stored message (or SMS) and store what was found. Idempotent per report: a
second run replaces the first's results, so a re-analysis after a change is just another job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.reports import ReportKind, ReportStatus
from signalement.ingest.intake import ANALYZE_TASK
from signalement.mail.trust import TrustContext
from signalement.store.analysis import save_analysis
from signalement.store.db import read
from signalement.store.tables import reports, users
from signalement.verdict.analysis import analyze_message, analyze_sms
from signalement.work.port import Payload, TaskContext, TaskSpec


def facts_for(kind: str, raw: bytes, context: TrustContext | None = None) -> dict[str, Any]:
    if kind == ReportKind.SMS:
        return analyze_sms(raw)
    return analyze_message(raw, context)


def analyze_report(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:  # no write lock for a read
        row = conn.execute(
            select(reports.c.sha256, reports.c.kind, reports.c.received_at, users.c.mail_hosts)
            .outerjoin(users, users.c.id == reports.c.reporter_id)
            .where(reports.c.id == report_id)
        ).first()
    if row is None:  # deleted since it was queued
        return
    # Trust is decided per report: the reporter's own mail hosts are relays of theirs.
    context = TrustContext(hosts=tuple(row.mail_hosts or ()))
    facts = facts_for(row.kind, ctx.blobs.get(row.sha256), context)  # CPU work outside any transaction
    with ctx.engine.begin() as conn:
        save_analysis(conn, report_id, row.received_at, facts)


def mark_failed(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(reports)
        .where(reports.c.id == int(payload["report_id"]))
        .values(status=ReportStatus.FAILED, error=error.strip().splitlines()[-1][:500])
    )


ANALYZE = TaskSpec(ANALYZE_TASK, analyze_report, on_dead=mark_failed)
