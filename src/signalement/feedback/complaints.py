"""The job that turns an analyzed report into complaints: its identities are matched against the live claims of
the subscriptions its source approved (signalement.domain.matching); an authenticated match is a complaint to
deliver, anything else is counted as `unverified` and never delivered, so forged mail cannot send complaints to a
member. One complaint per report and subscription, whatever the re-runs.

A Feedback-ID or a List-Id counts as authenticated only when a passing signature of one of the subscription's own
claimed domains covers it: anyone can sign a header with a domain of their own.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exists, select

from signalement.domain.claims import ClaimKind
from signalement.domain.feedback import ASSOCIATION, ComplaintState, Delivery, GrantState, organization_source
from signalement.domain.matching import MATCHED_KINDS, ClaimIndex, Match, identities_from_facts
from signalement.domain.members import OrgKind
from signalement.domain.reports import ReportedCategory
from signalement.feedback.delivery import deliver_job
from signalement.mail.domains import is_subdomain
from signalement.mail.feedback_out import FEEDBACK_TYPES, complaint_category
from signalement.settings import Settings
from signalement.store import feedback as store
from signalement.store.sql import insert_ignore_many, utcnow
from signalement.store.tables import complaints, feedback_grants, feedback_subscriptions, organizations, reports, users
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

MATCH_TASK = "feedback_match"
_SIGNED = {ClaimKind.FEEDBACK_ID, ClaimKind.LIST_ID}


def match_job(report_id: int, analyzed_at: str) -> JobRequest:
    """Once per analysis of a report (a re-analysis matches again; complaints already made stay as they are)."""
    return JobRequest(MATCH_TASK, {"report_id": report_id}, key=f"{MATCH_TASK}:{report_id}:{analyzed_at}")


def any_grant(conn: Connection) -> bool:
    """Whether any loop is approved at all: until then no report needs matching."""
    return bool(conn.execute(select(exists().where(feedback_grants.c.state == GrantState.APPROVED))).scalar())


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


def match_complaints(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with ctx.engine.begin() as conn:
        row = conn.execute(
            select(
                reports.c.facts,
                reports.c.source,
                reports.c.feedback,
                reports.c.verdict_category,
                reports.c.reported_category,
                users.c.organization_id,
            )
            .outerjoin(users, users.c.id == reports.c.reporter_id)
            .where(reports.c.id == report_id)
        ).first()
        if row is None or not row.facts or not is_complaint(row):
            return
        source = report_source(conn, ctx.settings, row.organization_id, row.source)
        live = store.live_claims(conn, source)
        index = ClaimIndex((c.subscription_id, c.kind, c.value) for c in live if c.kind in MATCHED_KINDS)
        domains: dict[int, list[str]] = {}
        for claim in live:
            if claim.kind == ClaimKind.DOMAIN:
                domains.setdefault(claim.subscription_id, []).append(claim.value)
        best: dict[int, tuple[Match[int], bool]] = {}
        for match in index.match(identities_from_facts(row.facts)):
            authenticated = match.authenticated and _signed_by_own(match, domains.get(match.key, []))
            if match.key not in best or (authenticated and not best[match.key][1]):
                best[match.key] = (match, authenticated)
        now = utcnow()
        category = complaint_category(row.verdict_category, row.reported_category, report_kind=row.feedback)
        assert category is not None  # is_complaint
        insert_ignore_many(
            conn,
            complaints,
            [
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
            ],
        )
        ctx.queue.enqueue_many(conn, [deliver_job(i) for i in _to_deliver(conn, report_id)])


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


def _signed_by_own(match: Match[int], own_domains: list[str]) -> bool:
    if match.kind not in _SIGNED:
        return True
    return any(is_subdomain(signer, domain) for signer in match.signed_by for domain in own_domains)


MATCH = TaskSpec(MATCH_TASK, match_complaints)
