"""The job that turns an analyzed report into complaints: its identities are matched against the live claims of
the subscriptions its source approved (signalement.domain.matching); an authenticated match is a complaint to
deliver, anything else is counted as `unverified` and never delivered, so forged mail cannot send complaints to a
member. One complaint per report and subscription, whatever the re-runs.

A Feedback-ID or a List-Id counts as authenticated only when a passing signature of one of the subscription's own
claimed domains covers it: anyone can sign a header with a domain of their own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, exists, select, update

from signalement.analysis.reported import reported_message
from signalement.dns import txt_lookup
from signalement.domain.claims import ClaimKind
from signalement.domain.feedback import ASSOCIATION, ComplaintState, Delivery, GrantState, organization_source
from signalement.domain.matching import MATCHED_KINDS, ClaimIndex, Identities, Match, identities_from_facts
from signalement.domain.members import OrgKind
from signalement.domain.reports import ReportedCategory, VerdictCategory
from signalement.feedback.cfbl import ADDRESS_FIELD, queue_cfbl
from signalement.feedback.delivery import deliver_job
from signalement.feedback.unsubscribe import queue_unsubscribes
from signalement.mail import dkim
from signalement.mail.domains import is_subdomain
from signalement.mail.feedback_out import FEEDBACK_TYPES, complaint_category
from signalement.settings import Settings
from signalement.store import feedback as store
from signalement.store import versions
from signalement.store.db import read
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


@dataclass(frozen=True)
class Loops:
    """What a source's reports are matched against: the live claims indexed, each subscription's claimed domains."""

    index: ClaimIndex[int]
    domains: dict[int, tuple[str, ...]]

    def concerns(self, domain: str) -> bool:
        """Whether a passing signature of this domain could match a claim (and is worth a DNS query)."""
        return bool(self.index.match(Identities(dkim_pass_domains=(domain,))))


# Per engine and source: (the claims version it was built at, the loops). Rebuilt when the version moves, which
# every change of claims, grants, subscriptions or organizations does in its own transaction.
_LOOPS: WeakKeyDictionary[Engine, dict[str, tuple[int, Loops]]] = WeakKeyDictionary()


def loops_for(conn: Connection, source: str) -> Loops:
    version = versions.current(conn)  # first: a change committed after it is seen by the next job at the latest
    cached = _LOOPS.setdefault(conn.engine, {}).get(source)
    if cached is not None and cached[0] == version:
        return cached[1]
    live = store.live_claims(conn, source)
    domains: dict[int, tuple[str, ...]] = {}
    for claim in live:
        if claim.kind == ClaimKind.DOMAIN:
            domains[claim.subscription_id] = (*domains.get(claim.subscription_id, ()), claim.value)
    loops = Loops(ClaimIndex((c.subscription_id, c.kind, c.value) for c in live if c.kind in MATCHED_KINDS), domains)
    _LOOPS[conn.engine][source] = (version, loops)
    return loops


def match_complaints(ctx: TaskContext, payload: Payload) -> None:
    report_id = int(payload["report_id"])
    with read(ctx.engine) as conn:
        row = conn.execute(
            select(
                reports.c.kind,
                reports.c.sha256,
                reports.c.facts,
                reports.c.source,
                reports.c.trap,
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
        loops = loops_for(conn, report_source(conn, ctx.settings, row.organization_id, row.source))
    checked = with_verified_dkim(ctx, row, loops)  # DNS queries: outside any transaction
    facts = checked if checked is not None else row.facts
    category = complaint_category(row.verdict_category, row.reported_category, report_kind=row.feedback)
    assert category is not None  # is_complaint
    with ctx.engine.begin() as conn:
        if checked is not None:
            conn.execute(update(reports).where(reports.c.id == report_id).values(facts=checked))
        _insert(conn, report_id, _best_matches(loops, facts), category)
        ctx.queue.enqueue_many(conn, [deliver_job(i) for i in _to_deliver(conn, report_id)])
        queue_unsubscribes(conn, ctx.queue, report_id, facts, loops.domains)
        if ctx.settings.cfbl and not row.trap:  # a trap hit is no recipient's complaint
            queue_cfbl(conn, ctx.queue, report_id, facts, category, FEEDBACK_TYPES[category] or "abuse")


def with_verified_dkim(ctx: TaskContext, row: Any, loops: Loops) -> dict[str, Any] | None:
    """The facts with `authentication.verified_dkim`, when the platform itself verified the signatures that could
    make a complaint: those of claimed domains (and, when CFBL is on, those covering a CFBL-Address), when no
    trusted Authentication-Results said whether they passed.
    Only those: verifying every signature would tell any sender's DNS that its mail was reported. None when
    nothing was checked."""
    auth = row.facts.get("authentication") or {}
    if not ctx.settings.dkim_verify or auth.get("trusted_by") or "verified_dkim" in auth:
        return None
    signatures = [s for s in auth.get("signatures") or [] if isinstance(s, dict) and isinstance(s.get("domain"), str)]
    cfbl = ctx.settings.cfbl and bool((row.facts.get("sender") or {}).get("cfbl_address"))
    wanted = {
        s["domain"]
        for s in signatures
        if loops.concerns(s["domain"]) or (cfbl and ADDRESS_FIELD in (s.get("headers") or ()))
    }
    if not wanted:
        return None
    message = reported_message(row.kind, ctx.blobs.get(row.sha256))
    lookup = txt_lookup(ctx.settings.dns_resolver)
    passing = dkim.verify(message, lookup, wanted=wanted.__contains__) if message else []
    return {**row.facts, "authentication": {**auth, "verified_dkim": [p.as_json() for p in passing]}}


def _best_matches(loops: Loops, facts: dict[str, Any]) -> dict[int, tuple[Match[int], bool]]:
    """Per subscription, its match: an authenticated one if any."""
    best: dict[int, tuple[Match[int], bool]] = {}
    for match in loops.index.match(identities_from_facts(facts)):
        authenticated = match.authenticated and _signed_by_own(match, loops.domains.get(match.key, ()))
        if match.key not in best or (authenticated and not best[match.key][1]):
            best[match.key] = (match, authenticated)
    return best


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


def _signed_by_own(match: Match[int], own_domains: tuple[str, ...]) -> bool:
    if match.kind not in _SIGNED:
        return True
    return any(is_subdomain(signer, domain) for signer in match.signed_by for domain in own_domains)


MATCH = TaskSpec(MATCH_TASK, match_complaints)
