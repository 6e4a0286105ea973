"""The job after the analysis of a report: which members it concerns, and what follows from it.

Its identities (signalement.domain.matching) are matched against the members' verified claims: every member
concerned gets the report in its statistics (signalement.stats.counting, verified or not); each subscription its
source approved gets a complaint (signalement.feedback.complaints), with a one-click unsubscribe where the member
opted in; and a signed CFBL-Address gets one when the association enables it.

When no trusted Authentication-Results say whether a signature passed, the platform verifies the signatures of
claimed domains itself (and, with CFBL on, those covering a CFBL-Address), and keeps the result in the report's
analysis; only those: verifying every signature would tell every sender's DNS that its mail was reported.

The claims are indexed once per worker and kept until the claims version moves (signalement.store.versions).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine, exists, select, update

from signalement.analysis.reported import reported_message
from signalement.dns import txt_lookup
from signalement.domain.claims import ClaimKind, ClaimState
from signalement.domain.matching import MATCHED_KINDS, ClaimIndex, Identities, identities_from_facts
from signalement.domain.reports import statistical_weight
from signalement.feedback.cfbl import ADDRESS_FIELD, queue_cfbl
from signalement.feedback.complaints import is_complaint, make_complaints, report_source
from signalement.feedback.unsubscribe import queue_unsubscribes
from signalement.mail import dkim
from signalement.mail.feedback_out import FEEDBACK_TYPES, complaint_category
from signalement.stats.counting import count_report
from signalement.store import claims as claims_store
from signalement.store import feedback as store
from signalement.store import versions
from signalement.store.db import read
from signalement.store.tables import claims, reports, users
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

MATCH_TASK = "feedback_match"
T = TypeVar("T")


def match_job(report_id: int, analyzed_at: str) -> JobRequest:
    """Once per analysis of a report (a re-analysis matches again; complaints already made stay as they are)."""
    return JobRequest(MATCH_TASK, {"report_id": report_id}, key=f"{MATCH_TASK}:{report_id}:{analyzed_at}")


def any_claim(conn: Connection) -> bool:
    """Whether any member holds a claim reports can match: until then no report needs matching."""
    query = exists().where(claims.c.state == ClaimState.VERIFIED, claims.c.kind.in_(list(MATCHED_KINDS)))
    return bool(conn.execute(select(query)).scalar())


@dataclass(frozen=True)
class Indexed:
    """Claims indexed for matching, with each key's claimed domains (a Feedback-ID or List-Id counts only under a
    signature of those)."""

    index: ClaimIndex[int]
    domains: dict[int, tuple[str, ...]]

    def concerns(self, domain: str) -> bool:
        """Whether a passing signature of this domain could match a claim (and is worth a DNS query)."""
        return bool(self.index.match(Identities(dkim_pass_domains=(domain,))))


def _indexed(claimed: list[tuple[int, str, str]]) -> Indexed:
    """(key, kind, value) of each claim."""
    domains: dict[int, tuple[str, ...]] = {}
    for key, kind, value in claimed:
        if kind == ClaimKind.DOMAIN:
            domains[key] = (*domains.get(key, ()), value)
    return Indexed(ClaimIndex((k, kind, v) for k, kind, v in claimed if kind in MATCHED_KINDS), domains)


def members_index(conn: Connection) -> Indexed:
    """Every member's verified claims, keyed by organization: for the statistics."""
    return _cached(conn, "members", lambda: _indexed(
        [(c.organization_id, c.kind, c.value) for c in claims_store.verified(conn, MATCHED_KINDS)]
    ))  # fmt: skip


def loops_index(conn: Connection, source: str) -> Indexed:
    """The live claims of the subscriptions this source approved, keyed by subscription: for the complaints."""
    return _cached(conn, f"loops:{source}", lambda: _indexed(
        [(c.subscription_id, c.kind, c.value) for c in store.live_claims(conn, source)]
    ))  # fmt: skip


# Per engine: name -> (the claims version it was built at, the index). Rebuilt when the version moves, which every
# change of claims, grants, subscriptions or organizations does in its own transaction.
_CACHE: WeakKeyDictionary[Engine, dict[str, tuple[int, Any]]] = WeakKeyDictionary()


def _cached(conn: Connection, name: str, build: Callable[[], T]) -> T:
    version = versions.current(conn)  # first: a change committed after it is seen by the next job at the latest
    slot = _CACHE.setdefault(conn.engine, {})
    hit = slot.get(name)
    if hit is not None and hit[0] == version:
        found: T = hit[1]
        return found
    made = build()
    slot[name] = (version, made)
    return made


def match_report(ctx: TaskContext, payload: Payload) -> None:
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
                reports.c.received_at,
                reports.c.campaign_id,
                reports.c.verdict_category,
                reports.c.reported_category,
                users.c.organization_id,
            )
            .outerjoin(users, users.c.id == reports.c.reporter_id)
            .where(reports.c.id == report_id)
        ).first()
        if row is None or not row.facts:
            return
        source = report_source(conn, ctx.settings, row.organization_id, row.source)
        members = members_index(conn)
        loops = loops_index(conn, source) if is_complaint(row) else None
    checked = with_verified_dkim(ctx, row, members)  # DNS queries: outside any transaction
    facts = checked if checked is not None else row.facts
    who = identities_from_facts(facts)
    with ctx.engine.begin() as conn:
        if checked is not None:
            conn.execute(update(reports).where(reports.c.id == report_id).values(facts=checked))
        concerned = members.index.match(who)
        count_report(conn, report_id, row, facts, concerned, members.domains,
                     source=row.source if row.trap else source, weight=statistical_weight(row.trap))  # fmt: skip
        if loops is None:
            return
        category = complaint_category(row.verdict_category, row.reported_category, report_kind=row.feedback)
        assert category is not None  # is_complaint
        make_complaints(conn, ctx.queue, report_id, loops.index.match(who), loops.domains, category)
        queue_unsubscribes(conn, ctx.queue, report_id, facts, loops.domains)
        if ctx.settings.cfbl and not row.trap:  # a trap hit is no recipient's complaint
            queue_cfbl(conn, ctx.queue, report_id, facts, category, FEEDBACK_TYPES[category] or "abuse")


def with_verified_dkim(ctx: TaskContext, row: Any, members: Indexed) -> dict[str, Any] | None:
    """The facts with `authentication.verified_dkim` when the platform verified signatures itself (see the module);
    None when nothing was checked."""
    auth = row.facts.get("authentication") or {}
    if not ctx.settings.dkim_verify or auth.get("trusted_by") or "verified_dkim" in auth:
        return None
    signatures = [s for s in auth.get("signatures") or [] if isinstance(s, dict) and isinstance(s.get("domain"), str)]
    cfbl = ctx.settings.cfbl and bool((row.facts.get("sender") or {}).get("cfbl_address"))
    wanted = {
        s["domain"]
        for s in signatures
        if members.concerns(s["domain"]) or (cfbl and ADDRESS_FIELD in (s.get("headers") or ()))
    }
    if not wanted:
        return None
    message = reported_message(row.kind, ctx.blobs.get(row.sha256))
    lookup = txt_lookup(ctx.settings.dns_resolver)
    passing = dkim.verify(message, lookup, wanted=wanted.__contains__) if message else []
    return {**row.facts, "authentication": {**auth, "verified_dkim": [p.as_json() for p in passing]}}


MATCH = TaskSpec(MATCH_TASK, match_report)
