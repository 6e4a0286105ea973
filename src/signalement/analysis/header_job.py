"""The analysis job, for now: header facts (From, To, Subject, Date, Message-ID, sizes, MIME structure,
parse defects). The next stages of the analysis replace its body; its contract stays: idempotent per report.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.reports import ReportKind, ReportStatus
from signalement.ingest.intake import ANALYZE_TASK
from signalement.mail.facts import header_facts
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import reports
from signalement.work.port import Payload, TaskContext, TaskSpec


def facts_for(kind: str, raw: bytes) -> dict[str, Any]:
    if kind == ReportKind.SMS:
        sms = json.loads(raw)
        return {"size": len(raw), "sender": sms.get("sender"), "text_length": len(sms.get("text", ""))}
    return header_facts(raw).as_json()


def analyze_report(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:  # no write lock for a read
        row = conn.execute(select(reports.c.sha256, reports.c.kind).where(reports.c.id == report_id)).first()
    if row is None:  # deleted since it was queued
        return
    facts = facts_for(row.kind, ctx.blobs.get(row.sha256))  # CPU work outside any transaction
    with ctx.engine.begin() as conn:
        conn.execute(
            update(reports)
            .where(reports.c.id == report_id)
            .values(status=ReportStatus.ANALYZED, facts=facts, analyzed_at=utcnow(), error=None)
        )


def mark_failed(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(reports)
        .where(reports.c.id == int(payload["report_id"]))
        .values(status=ReportStatus.FAILED, error=error.strip().splitlines()[-1][:500])
    )


ANALYZE = TaskSpec(ANALYZE_TASK, analyze_report, on_dead=mark_failed)
