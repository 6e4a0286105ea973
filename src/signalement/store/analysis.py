"""Storing what the analysis found about a report: the JSON document on the report, and rows that make URLs,
phone numbers and attachments searchable across reports. Idempotent: analysing a report again replaces its rows.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, case, delete, literal, select, update

from signalement.domain.reports import ReportStatus
from signalement.store.campaigns import assign
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import UTCDateTime, report_attachments, report_phones, report_urls, reports, urls


def save_analysis(conn: Connection, report_id: int, received_at: datetime, facts: dict[str, Any]) -> None:
    """Store the document, the verdict's columns and the searchable rows, and assign the report's campaign (its
    public id and the evidence that joined it go into the document as `campaign`), all in the caller's
    transaction."""
    origin = facts.get("origin") or {}
    sender = facts.get("sender") or {}
    category, score = facts.get("category"), facts.get("score")
    assignment = assign(conn, report_id, facts, received_at)
    facts = {**facts, "campaign": assignment.as_json() if assignment else None}
    conn.execute(
        update(reports)
        .where(reports.c.id == report_id)
        .values(
            status=ReportStatus.ANALYZED,
            facts=facts,
            analyzed_at=utcnow(),
            error=None,
            origin_ip=origin.get("ip"),
            from_domain=sender.get("from_domain"),
            campaign_id=assignment.campaign_id if assignment else None,
            verdict_category=category if isinstance(category, str) else None,
            verdict_score=float(score) if isinstance(score, int | float) else None,
        )
    )
    for table in (report_urls, report_phones, report_attachments):
        conn.execute(delete(table).where(table.c.report_id == report_id))
    _save_urls(conn, report_id, received_at, facts.get("urls") or [])
    phones = {p["e164"] for p in facts.get("phones") or []}
    insert_ignore_many(conn, report_phones, [{"report_id": report_id, "e164": e164} for e164 in sorted(phones)])
    insert_ignore_many(
        conn, report_attachments, [_attachment(report_id, i, a) for i, a in enumerate(facts.get("attachments") or [])]
    )


def url_sha256(canonical: str) -> bytes:
    return hashlib.sha256(canonical.encode()).digest()


def _save_urls(conn: Connection, report_id: int, seen: datetime, found: list[dict[str, Any]]) -> None:
    if not found:
        return
    by_hash = {url_sha256(u["canonical"]): u for u in found}
    insert_ignore_many(
        conn,
        urls,
        [
            {
                "sha256": digest,
                "canonical": u["canonical"],
                "host": u["host"][:255],
                "registered_domain": u.get("registered_domain"),
                "first_seen": seen,
                "last_seen": seen,
            }
            for digest, u in by_hash.items()
        ],
    )
    ids = {r.sha256: r.id for r in conn.execute(select(urls.c.sha256, urls.c.id).where(urls.c.sha256.in_(by_hash)))}
    # A report analysed again, or an older report analysed late, only widens the seen interval.
    seen_at = literal(seen, UTCDateTime())
    conn.execute(
        update(urls)
        .where(urls.c.id.in_(ids.values()))
        .values(
            first_seen=case((urls.c.first_seen > seen_at, seen_at), else_=urls.c.first_seen),
            last_seen=case((urls.c.last_seen < seen_at, seen_at), else_=urls.c.last_seen),
        )
    )
    rows = [
        {"report_id": report_id, "url_id": ids[d], "found_in": list(u.get("where") or [])} for d, u in by_hash.items()
    ]
    insert_ignore_many(conn, report_urls, rows)


def _attachment(report_id: int, position: int, attachment: dict[str, Any]) -> dict[str, Any]:
    return {
        "report_id": report_id,
        "position": position,
        "sha256": attachment["sha256"],
        "name": (attachment.get("name") or "")[:300] or None,
        "sniffed_type": attachment.get("sniffed_type"),
        "size": attachment.get("size", 0),
        "flags": list(attachment.get("flags") or []),
    }
