"""A member gives one of its customers a view of that customer's own statistics and complaints, never more: a link
with a secret token for one key of the member's statistics (the customer's Feedback-ID, DKIM domain, IP or
network), that expires and can be revoked (docs/statistics.md).

Who holds the link reads, for that key only: its counts (`/api/v1/shared/{token}/stats`), the member's complaints
about reports that carry it, redacted as the member receives them (`/api/v1/shared/{token}/complaints`), and a page
(`/share/{token}`). An unknown, expired or revoked token is a 404, as if the page had never existed.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Connection, select

from signalement.domain.accounts import Role, Scope
from signalement.domain.feedback import ComplaintState
from signalement.domain.stats import Dimension, Period
from signalement.feedback.delivery import build
from signalement.store import audit, stats
from signalement.store import shares as store
from signalement.store.db import read
from signalement.store.tables import complaints, feedback_subscriptions, stat_contributions
from signalement.ui.pages import page
from signalement.web.auth import require_in_organization
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found
from signalement.web.stats_api import StatRow, StatsOut

router = APIRouter(tags=["statistics"])
SHARERS = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER})
SHAREABLE = frozenset({Dimension.FEEDBACK_ID, Dimension.DKIM, Dimension.SENDER_DOMAIN, Dimension.IP,
                       Dimension.NETWORK, Dimension.LIST_ID})  # fmt: skip
Token = Annotated[str, StringConstraints(max_length=100)]


class ShareIn(BaseModel):
    dimension: Dimension = Field(description="What the customer is in your statistics: feedback_id, dkim, ip ...")
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
    label: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    days: int = Field(default=30, ge=1, le=180, description="How long the link works.")


class ShareOut(BaseModel):
    id: int
    dimension: Dimension
    value: str
    label: str
    expires_at: datetime
    revoked: bool
    created_at: datetime


class ShareMade(ShareOut):
    token: str = Field(description="Shown once: the link is /share/<token>.")
    url: str


class SharedComplaint(BaseModel):
    id: int
    created_at: datetime
    feedback_type: str | None
    matched: str
    content_type: str
    payload: str = Field(description="The complaint as the member receives it (redacted), base64-encoded.")


class SharedComplaints(BaseModel):
    items: list[SharedComplaint]
    next_cursor: int | None


def _out(share: store.Share) -> ShareOut:
    revoked = share.revoked_at is not None
    return ShareOut(id=share.id, dimension=share.dimension, value=share.value, label=share.label,
                    expires_at=share.expires_at, revoked=revoked, created_at=share.created_at)  # fmt: skip


@router.post("/api/v1/organizations/{organization_id}/shares", status_code=201, response_model=ShareMade,
             summary="Give a customer a link to its own statistics and complaints")  # fmt: skip
def create_share(
    organization_id: IdPath, body: ShareIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ShareMade:
    me = require_in_organization(principal, organization_id, SHARERS, Scope.STATS_READ)
    if body.dimension not in SHAREABLE:
        raise ApiError(422, "not_a_customer", f"a customer is one of: {', '.join(sorted(SHAREABLE))}")
    with platform.engine.begin() as conn:
        share, token = store.create(conn, organization_id, body.dimension, body.value, body.label, body.days,
                                    me.user_id)  # fmt: skip
        detail = {"dimension": body.dimension, "days": body.days}
        audit.record(conn, actor=me.email, action="share.create", target=f"share:{share.id}",
                     client=client_address(request), detail=detail)  # fmt: skip
    url = f"{platform.settings.public_url.rstrip('/')}/share/{token}"
    return ShareMade(**_out(share).model_dump(), token=token, url=url)


@router.get("/api/v1/organizations/{organization_id}/shares", response_model=list[ShareOut],
            summary="Its customers' links")  # fmt: skip
def list_shares(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> list[ShareOut]:
    require_in_organization(principal, organization_id, SHARERS, Scope.STATS_READ)
    with read(platform.engine) as conn:
        return [_out(s) for s in store.listed(conn, organization_id)]


@router.post("/api/v1/organizations/{organization_id}/shares/{share_id}:revoke", response_model=ShareOut,
             summary="The link stops working at once")  # fmt: skip
def revoke_share(
    organization_id: IdPath, share_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ShareOut:
    me = require_in_organization(principal, organization_id, SHARERS, Scope.STATS_READ)
    with platform.engine.begin() as conn:
        if not store.revoke(conn, organization_id, share_id):
            raise not_found("share")
        audit.record(conn, actor=me.email, action="share.revoke", target=f"share:{share_id}",
                     client=client_address(request))  # fmt: skip
        (share,) = [s for s in store.listed(conn, organization_id) if s.id == share_id]
        return _out(share)


# -- what the link opens ------------------------------------------------------------------------------------------


def _opened(conn: Connection, token: str) -> store.Share:
    share = store.find(conn, token)
    if share is None:
        raise not_found("share")
    return share


@router.get("/api/v1/shared/{token}/stats", response_model=StatsOut, summary="The customer's counts (by its link)")
def shared_stats(
    token: Token,
    platform: PlatformDep,
    per: Period = Period.DAY,
    days: Annotated[int, Query(ge=1, le=90)] = 30,
) -> StatsOut:
    until = datetime.now(UTC)
    since = until - timedelta(days=days)
    with read(platform.engine) as conn:
        share = _opened(conn, token)
        rows = stats.counts(conn, share.organization_id, share.dimension, since, until, per=per, values=[share.value])
    found = [StatRow(bucket=r.bucket, value=r.value, verified=r.verified, reports=r.reports, weight=r.weight)
             for r in rows]  # fmt: skip
    return StatsOut(organization_id=share.organization_id, dimension=share.dimension, since=since, until=until,
                    per=per, rows=found)  # fmt: skip


@router.get("/api/v1/shared/{token}/complaints", response_model=SharedComplaints,
            summary="The member's complaints about the customer's messages (by its link)")  # fmt: skip
def shared_complaints(
    token: Token,
    platform: PlatformDep,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=50)] = 20,
) -> SharedComplaints:
    with read(platform.engine) as conn:
        share = _opened(conn, token)
        ids, more = _complaints_of(conn, share, cursor, limit)
        items = []
        for row in ids:
            built, _ = build(conn, platform.settings, platform.blobs, row.id)
            items.append(SharedComplaint(id=row.id, created_at=row.created_at, feedback_type=row.feedback_type,
                                         matched=row.matched, content_type=built.content_type,
                                         payload=base64.b64encode(built.body).decode()))  # fmt: skip
    return SharedComplaints(items=items, next_cursor=items[-1].id if more and items else None)


def _complaints_of(conn: Connection, share: store.Share, cursor: int, limit: int) -> tuple[list[Any], bool]:
    """The member's authenticated complaints after `cursor` whose report carries the share's key."""
    wanted = [share.dimension.value, share.value]
    query = (
        select(complaints.c.id, complaints.c.created_at, complaints.c.feedback_type, complaints.c.matched,
               stat_contributions.c["keys"])
        .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
        .join(stat_contributions, (stat_contributions.c.report_id == complaints.c.report_id)
              & (stat_contributions.c.organization_id == share.organization_id))
        .where(feedback_subscriptions.c.organization_id == share.organization_id,
               complaints.c.state.in_([ComplaintState.QUEUED, ComplaintState.DELIVERED]),
               complaints.c.id > cursor)
        .order_by(complaints.c.id)
        .limit(limit * 20)
    )  # fmt: skip
    found = [r for r in conn.execute(query) if wanted in r.keys]
    return list(found[:limit]), len(found) > limit


@router.get("/share/{token}", response_class=HTMLResponse, include_in_schema=False)
def shared_page(token: Token, request: Request, platform: PlatformDep) -> HTMLResponse:
    until = datetime.now(UTC)
    since = until - timedelta(days=30)
    with read(platform.engine) as conn:
        share = store.find(conn, token)
        if share is None:
            return page(request, "not_found.html", None, status=404)
        rows = stats.counts(conn, share.organization_id, share.dimension, since, until, per=Period.DAY,
                            values=[share.value])  # fmt: skip
    days: dict[str, dict[str, int]] = {}
    for r in rows:
        day = days.setdefault(f"{r.bucket:%Y-%m-%d}", {"verified": 0, "unverified": 0})
        day["verified" if r.verified else "unverified"] += r.reports
    response = page(request, "share.html", None, share=share, days=sorted(days.items(), reverse=True), token=token)
    response.headers["Referrer-Policy"] = "no-referrer"  # the token is in the address
    return response
