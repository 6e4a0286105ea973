"""Cases a member opens with staff about one of its customers (signalement.domain.cases), their events, and the
evidence frozen when a case is opened: the member's counts for the customer, its peak alerts on it, and the
member's own complaints it names."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, select, update

from signalement.domain.accounts import Role
from signalement.domain.cases import CaseState, EventKind
from signalement.domain.stats import Dimension, Period, bucket
from signalement.store import stats
from signalement.store.sql import utcnow
from signalement.store.tables import (
    case_events,
    cases,
    complaints,
    feedback_subscriptions,
    stat_alerts,
    users,
)

EVIDENCE_DAYS = 30
MAX_ALERTS = 20  # the most recent peak alerts on the customer kept in the evidence


@dataclass(frozen=True)
class Case:
    id: int
    organization_id: int
    dimension: str
    value: str
    subject: str
    state: CaseState
    evidence: dict[str, Any]
    opened_by: int | None
    assigned_to: int | None
    assigned_email: str | None
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True)
class Event:
    id: int
    kind: EventKind
    author_id: int | None
    author_email: str | None
    author_is_staff: bool
    created_at: datetime
    text: str | None = None  # a comment
    before: CaseState | None = None  # a state event (none before: the case was opened)
    after: CaseState | None = None
    resolution: str | None = None
    assigned_to: int | None = None  # an assign event (none: unassigned)


# -- the evidence -------------------------------------------------------------------------------------------------


def own_complaints(conn: Connection, organization_id: int, report_ids: Sequence[int]) -> list[dict[str, Any]]:
    """The member's complaints (one per report, its first) among these reports: a report the member was not sent
    is not found, exactly as a missing one."""
    if not report_ids:
        return []
    query = (
        select(complaints.c.report_id, complaints.c.id, complaints.c.match_kind, complaints.c.matched,
               complaints.c.authenticated, complaints.c.created_at)
        .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
        .where(feedback_subscriptions.c.organization_id == organization_id,
               complaints.c.report_id.in_(sorted(set(report_ids))))
        .order_by(complaints.c.report_id, complaints.c.id)
    )  # fmt: skip
    found: dict[int, dict[str, Any]] = {}
    for r in conn.execute(query):
        found.setdefault(int(r.report_id), {
            "report_id": int(r.report_id), "complaint_id": int(r.id), "match_kind": r.match_kind,
            "matched": r.matched, "authenticated": bool(r.authenticated), "created_at": r.created_at.isoformat(),
        })  # fmt: skip
    return list(found.values())


def evidence(
    conn: Connection,
    organization_id: int,
    dimension: Dimension,
    value: str,
    *,
    now: datetime,
    statement: str,
    complaints_named: list[dict[str, Any]],
) -> dict[str, Any]:
    """What the case is about, as it stood when opened: the last 30 days of the customer's counts per day
    (verified and unverified apart), their total, its recent peak alerts, and what the member wrote."""
    since = bucket(now, Period.DAY) - timedelta(days=EVIDENCE_DAYS - 1)
    daily = stats.counts(conn, organization_id, dimension, since, now, per=Period.DAY, values=[value])
    totals = stats.counts(conn, organization_id, dimension, since, now, values=[value])
    verified = sum(r.reports for r in totals if r.verified)
    unverified = sum(r.reports for r in totals if not r.verified)
    per_day = [
        {"day": r.bucket.isoformat() if r.bucket else None, "verified": r.verified, "reports": r.reports,
         "weight": r.weight}
        for r in daily
    ]  # fmt: skip
    total = {"reports": verified + unverified, "verified": verified, "unverified": unverified,
             "weight": sum(r.weight for r in totals)}  # fmt: skip
    return {
        "dimension": dimension.value,
        "value": value,
        "since": since.isoformat(),
        "until": now.isoformat(),
        "per_day": per_day,
        "total": total,
        "alerts": alerts_on(conn, organization_id, dimension, value, since),
        "statement": statement,
        "complaints": complaints_named,
    }


def alerts_on(
    conn: Connection, organization_id: int, dimension: Dimension, value: str, since: datetime
) -> list[dict[str, Any]]:
    """The member's peak alerts on this one series since `since`, newest first, with their own evidence. (The
    alerts' store lists them all from a cursor; this reads only the customer's, by the same index.)"""
    query = (
        select(stat_alerts)
        .where(stat_alerts.c.organization_id == organization_id, stat_alerts.c.dimension == dimension,
               stat_alerts.c.value == value, stat_alerts.c.at >= since)
        .order_by(stat_alerts.c.at.desc(), stat_alerts.c.id.desc())
        .limit(MAX_ALERTS)
    )  # fmt: skip
    return [
        {"id": r.id, "at": r.at.isoformat(), "verified": r.verified, "reports": r.reports, "expected": r.expected,
         "upper": r.upper, "score": r.score, "state": r.state, "evidence": r.evidence}
        for r in conn.execute(query)
    ]  # fmt: skip


# -- cases ----------------------------------------------------------------------------------------------------------


def create(
    conn: Connection,
    organization_id: int,
    dimension: Dimension,
    value: str,
    *,
    subject: str,
    evidence: dict[str, Any],
    opened_by: int | None,
) -> int:
    """A new open case, and its first event (opened, by whom)."""
    now = utcnow()
    case_id = int(
        conn.execute(
            cases.insert()
            .values(organization_id=organization_id, dimension=dimension.value, value=value, subject=subject,
                    state=CaseState.OPEN.value, evidence=evidence, opened_by=opened_by, created_at=now,
                    updated_at=now)
            .returning(cases.c.id)
        ).scalar_one()
    )  # fmt: skip
    record_state(conn, case_id, opened_by, None, CaseState.OPEN)
    return case_id


_ASSIGNEE = users.alias("assignee")
_CASE_COLUMNS = (*cases.c, _ASSIGNEE.c.email.label("assigned_email"))


def _case_query() -> Any:
    return select(*_CASE_COLUMNS).outerjoin(_ASSIGNEE, _ASSIGNEE.c.id == cases.c.assigned_to)


def _case(r: Any) -> Case:
    return Case(r.id, r.organization_id, r.dimension, r.value, r.subject, CaseState(r.state), r.evidence,
                r.opened_by, r.assigned_to, r.assigned_email, r.created_at, r.updated_at, r.closed_at)  # fmt: skip


def get(conn: Connection, case_id: int) -> Case | None:
    row = conn.execute(_case_query().where(cases.c.id == case_id)).first()
    return _case(row) if row is not None else None


def listed(
    conn: Connection,
    *,
    organization_id: int | None = None,
    state: CaseState | None = None,
    assigned_to: int | None = None,
    after: int = 0,
    limit: int = 100,
) -> list[Case]:
    """Cases oldest first from a cursor, of one organization (or all), in one state, assigned to one person."""
    where = [cases.c.id > after]
    if organization_id is not None:
        where.append(cases.c.organization_id == organization_id)
    if state is not None:
        where.append(cases.c.state == state.value)
    if assigned_to is not None:
        where.append(cases.c.assigned_to == assigned_to)
    query = _case_query().where(and_(*where)).order_by(cases.c.id).limit(limit)
    return [_case(r) for r in conn.execute(query)]


def set_state(conn: Connection, case_id: int, before: CaseState, after: CaseState) -> bool:
    """Move it, only if it is still in `before` (a concurrent move makes this False: nothing changed)."""
    now = utcnow()
    closed_at = now if after is CaseState.CLOSED else None
    query = (
        update(cases)
        .where(cases.c.id == case_id, cases.c.state == before.value)
        .values(state=after.value, updated_at=now, closed_at=closed_at)
    )
    return bool(conn.execute(query).rowcount)


def assign(conn: Connection, case_id: int, user_id: int | None) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(assigned_to=user_id, updated_at=utcnow()))


def touch(conn: Connection, case_id: int) -> None:
    conn.execute(update(cases).where(cases.c.id == case_id).values(updated_at=utcnow()))


def is_staff_user(conn: Connection, user_id: int) -> bool:
    """Whether a case may be assigned to this person: a live staff account."""
    row = conn.execute(select(users.c.role, users.c.disabled).where(users.c.id == user_id)).first()
    return row is not None and not row.disabled and Role(row.role).is_staff


def emails(conn: Connection, user_ids: Sequence[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    query = select(users.c.id, users.c.email).where(users.c.id.in_(sorted(set(user_ids))))
    return {int(r.id): r.email for r in conn.execute(query)}


def live_case(conn: Connection, organization_id: int, dimension: Dimension, value: str) -> int | None:
    """The organization's case about this customer that is not closed yet, if any: one at a time."""
    query = select(cases.c.id).where(
        cases.c.organization_id == organization_id,
        cases.c.dimension == dimension.value,
        cases.c.value == value,
        cases.c.state != CaseState.CLOSED.value,
    )
    found = conn.execute(query.limit(1)).scalar()
    return int(found) if found is not None else None


# -- events ---------------------------------------------------------------------------------------------------------


def _add(conn: Connection, case_id: int, author_id: int | None, kind: EventKind, body: str) -> None:
    conn.execute(case_events.insert().values(case_id=case_id, author_id=author_id, kind=kind.value, body=body,
                                             created_at=utcnow()))  # fmt: skip


def record_comment(conn: Connection, case_id: int, author_id: int | None, text: str) -> None:
    _add(conn, case_id, author_id, EventKind.COMMENT, text)


def record_state(
    conn: Connection,
    case_id: int,
    author_id: int | None,
    before: CaseState | None,
    after: CaseState,
    resolution: str | None = None,
) -> None:
    body = {"from": before.value if before else None, "to": after.value, "resolution": resolution}
    _add(conn, case_id, author_id, EventKind.STATE, json.dumps(body))


def record_assign(conn: Connection, case_id: int, author_id: int | None, assigned_to: int | None) -> None:
    _add(conn, case_id, author_id, EventKind.ASSIGN, json.dumps({"to": assigned_to}))


def events(conn: Connection, case_id: int) -> list[Event]:
    """The case's events in order, with their authors (whether staff: members never see a staff address)."""
    query = (
        select(case_events, users.c.email, users.c.role)
        .outerjoin(users, users.c.id == case_events.c.author_id)
        .where(case_events.c.case_id == case_id)
        .order_by(case_events.c.id)
    )
    return [_event(r) for r in conn.execute(query)]


def _event(r: Any) -> Event:
    kind = EventKind(r.kind)
    head = (r.id, kind, r.author_id, r.email, r.role is not None and Role(r.role).is_staff, r.created_at)
    if kind is EventKind.COMMENT:
        return Event(*head, text=r.body)
    body = json.loads(r.body)
    if kind is EventKind.ASSIGN:
        return Event(*head, assigned_to=body.get("to"))
    before = CaseState(body["from"]) if body.get("from") else None
    return Event(*head, before=before, after=CaseState(body["to"]), resolution=body.get("resolution"))
