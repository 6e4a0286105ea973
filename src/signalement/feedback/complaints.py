"""Complaints: a report's matches with the live claims of the subscriptions its source approved become one
complaint each (signalement.analysis.match runs this after the analysis); an authenticated match is a complaint to
deliver, anything else is counted as `unverified` and never delivered, so forged mail cannot send complaints to a
member. One complaint per report and subscription, whatever the re-runs.

A Feedback-ID or a List-Id counts as authenticated only when a passing signature of one of the subscription's own
claimed domains covers it: anyone can sign a header with a domain of their own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, select

from signalement.domain.feedback import ASSOCIATION, ComplaintState, Delivery, organization_source
from signalement.domain.matching import Match, authenticated_for
from signalement.domain.members import OrgKind
from signalement.domain.reports import ReportedCategory, VerdictCategory
from signalement.feedback.delivery import deliver_job
from signalement.mail.feedback_out import FEEDBACK_TYPES, complaint_category
from signalement.settings import Settings
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import complaints, feedback_subscriptions, organizations
from signalement.work.port import JobQueue


def report_source(conn: Connection, settings: Settings, reporter_org: int | None, source: str | None) -> str:
    """Whose complaint a report is: a mailbox provider's (its people's pushes, its feedback loop's reports), or the
    association's (its own reporters, anonymous reporters, spam traps)."""
    feed_org = settings.feed_organization(source)
    query = select(organizations.c.id).where(organizations.c.kind == OrgKind.MAILBOX_PROVIDER)
    if reporter_org is not None:
        query = query.where(organizations.c.id == reporter_org)
    elif feed_org is not None:
        query = query.where(organizations.c.name == feed_org)
    else:
        return ASSOCIATION
    provider = conn.execute(query).scalar()
    return organization_source(provider) if provider is not None else ASSOCIATION


def is_complaint(row: Any) -> bool:
    """A report that says the message was unwanted (signalement.mail.feedback_out's table): never a feedback report
    of another kind than a complaint, never a message the analysis found genuine unless its reporter called it
    spam; a report with neither a verdict nor its reporter's word is no complaint either."""
    if row.verdict_category is None and row.reported_category in (None, ReportedCategory.UNKNOWN):
        return False
    return complaint_category(row.verdict_category, row.reported_category, report_kind=row.feedback) is not None


def make_complaints(
    conn: Connection,
    queue: JobQueue,
    report_id: int,
    matches: Iterable[Match[int]],
    own_domains: Mapping[int, tuple[str, ...]],
    category: VerdictCategory,
) -> None:
    """The report's complaints for the subscriptions it matched (one each, authenticated if any of its matches is),
    and their deliveries, in the caller's transaction. Idempotent."""
    best: dict[int, tuple[Match[int], bool]] = {}
    for match in matches:
        authenticated = authenticated_for(match, own_domains.get(match.key, ()))
        if match.key not in best or (authenticated and not best[match.key][1]):
            best[match.key] = (match, authenticated)
    _insert(conn, report_id, best, category)
    queue.enqueue_many(conn, [deliver_job(i) for i in _to_deliver(conn, report_id)])


def _insert(
    conn: Connection, report_id: int, best: dict[int, tuple[Match[int], bool]], category: VerdictCategory
) -> None:
    now = utcnow()
    rows = [
        {
            "report_id": report_id,
            "subscription_id": subscription_id,
            "match_kind": match.kind,
            "matched": match.found[:255],
            "authenticated": authenticated,
            "category": category,
            "feedback_type": FEEDBACK_TYPES[category],
            "state": ComplaintState.QUEUED if authenticated else ComplaintState.UNVERIFIED,
            "attempts": 0,
            "created_at": now,
        }
        for subscription_id, (match, authenticated) in sorted(best.items())
    ]
    insert_ignore_many(conn, complaints, rows)


def _to_deliver(conn: Connection, report_id: int) -> list[int]:
    """The report's complaints that go out by mail or webhook (a pull subscription's wait to be fetched)."""
    query = (
        select(complaints.c.id)
        .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
        .where(
            complaints.c.report_id == report_id,
            complaints.c.state == ComplaintState.QUEUED,
            feedback_subscriptions.c.delivery.in_([Delivery.SMTP, Delivery.WEBHOOK]),
        )
    )
    return list(conn.execute(query).scalars())
