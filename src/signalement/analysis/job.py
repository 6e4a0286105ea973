"""The analysis job: understand the stored message (or SMS) and store what was found. Idempotent per report: a
second run replaces the first's results, so a re-analysis after a change is just another job.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, select, update

from signalement.analysis.match import any_claim, match_job
from signalement.analysis.reported import feedback_original, xarf_evidence
from signalement.domain.claims import ClaimKind
from signalement.domain.reports import ReportKind, ReportStatus
from signalement.feeds.reputation import judge_job
from signalement.ingest.intake import ANALYZE_TASK
from signalement.mail.trust import TrustContext
from signalement.settings import Settings
from signalement.store.analysis import save_analysis
from signalement.store.claims import verified
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import organizations, reports, users
from signalement.verdict.analysis import analyze_message, analyze_sms
from signalement.verdict.indicators import of_report
from signalement.work.port import Payload, TaskContext, TaskSpec, last_line


def facts_for(kind: str, raw: bytes, context: TrustContext | None = None) -> dict[str, Any]:
    if kind == ReportKind.SMS:
        return analyze_sms(raw)
    if kind == ReportKind.ARF:
        return _feedback_facts(raw, context)
    if kind == ReportKind.XARF:
        return _xarf_facts(raw, context)
    return analyze_message(raw, context)


def _feedback_facts(raw: bytes, context: TrustContext | None) -> dict[str, Any]:
    """A mailbox provider's feedback report: the message it is about is what gets analysed, with the report's
    fields beside it."""
    original, feedback = feedback_original(raw)
    facts = analyze_message(original, context)
    facts["feedback"] = [f.as_json() for f in feedback]
    return facts


def _xarf_facts(raw: bytes, context: TrustContext | None) -> dict[str, Any]:
    """An X-ARF report: its fields, and the analysis of the message it gives as evidence, if any."""
    message, report = xarf_evidence(raw)  # validated at intake; one stored before a schema change fails, visibly
    facts = analyze_message(message, context) if message else {}
    facts["xarf"] = {
        "category": report.category,
        "type": report.type,
        "report_id": report.report_id,
        "reported_at": report.reported_at.isoformat() if report.reported_at else None,
        "source_identifier": report.source_identifier,
        "source_port": report.source_port,
        "reporter_domain": report.reporter_domain,
        "sender_domain": report.sender_domain,
        "evidence": [
            {"content_type": e.content_type, "description": e.description, "size": len(e.payload), "hash": e.hash}
            for e in report.evidence
        ],
    }
    return facts


def analyze_report(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:  # no write lock for a read
        row = conn.execute(
            select(
                reports.c.sha256,
                reports.c.kind,
                reports.c.received_at,
                reports.c.source,
                users.c.mail_hosts,
                users.c.organization_id,
            )
            .outerjoin(users, users.c.id == reports.c.reporter_id)
            .where(reports.c.id == report_id)
        ).first()
        if row is None:  # deleted since it was queued
            return
        context = _trust(conn, ctx.settings, row)
    facts = facts_for(row.kind, ctx.blobs.get(row.sha256), context)  # CPU work outside any transaction
    with ctx.engine.begin() as conn:
        save_analysis(conn, report_id, row.received_at, facts)
        analyzed_at = utcnow().isoformat()
        if ctx.settings.cfbl or any_claim(conn):  # members' statistics and loops, CFBL: in a job of its own
            ctx.queue.enqueue(conn, match_job(report_id, analyzed_at))
        if facts.get("urls") or of_report(facts):  # the URLs' and the campaigns' indicators' reputation
            ctx.queue.enqueue(conn, judge_job(report_id, analyzed_at))


def _trust(conn: Connection, settings: Settings, row: Any) -> TrustContext:
    """Trust is decided per report: the reporter's own mail hosts are relays of theirs, and a mailbox provider's
    verified relay networks and authserv-ids (claims) are trusted in the reports of its people and its feedback
    loop."""
    organization_id = row.organization_id or _organization_of_source(conn, settings, row.source)
    claimed = (
        verified(conn, (ClaimKind.RELAY_NETWORK, ClaimKind.AUTHSERV_ID), organization_id) if organization_id else []
    )
    return TrustContext(
        networks=tuple(c.value for c in claimed if c.kind is ClaimKind.RELAY_NETWORK),
        hosts=tuple(row.mail_hosts or ()),
        authserv_ids=tuple(c.value for c in claimed if c.kind is ClaimKind.AUTHSERV_ID),
    )


def _organization_of_source(conn: Connection, settings: Settings, source: str | None) -> int | None:
    name = settings.feed_organization(source)
    if name is None:
        return None
    found: int | None = conn.execute(select(organizations.c.id).where(organizations.c.name == name)).scalar()
    return found


def mark_failed(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
    conn.execute(
        update(reports)
        .where(reports.c.id == int(payload["report_id"]))
        .values(status=ReportStatus.FAILED, error=last_line(error))
    )


ANALYZE = TaskSpec(ANALYZE_TASK, analyze_report, on_dead=mark_failed)
