"""/api/v1 feedback loops: a member subscribes to the complaints about its verified claims; each source of
complaints approves or refuses it apart, with a reason (docs/feedback-loops.md).

A member's admins and abuse managers make and suspend its subscriptions and see which sources granted each; the
association's abuse managers decide for its reporters' complaints, a mailbox provider's abuse managers for its
users'. Another organization's subscription answers 404. Every decision is audited.
"""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, HttpUrl, StringConstraints
from sqlalchemy import Connection, select

from signalement.domain.accounts import Role, Scope
from signalement.domain.feedback import (
    ASSOCIATION,
    ComplaintState,
    Content,
    Delivery,
    Format,
    GrantState,
    organization_source,
)
from signalement.domain.members import OrgKind
from signalement.feedback.delivery import build
from signalement.store import audit
from signalement.store import feedback as store
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.tables import cfbl_complaints, claims, complaints, feedback_subscriptions, organizations
from signalement.web.auth import require, require_in_organization, require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["feedback loops"])

SUBSCRIBERS = frozenset({Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER})
_EMAIL = r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"
HeaderName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9-]{1,64}$")]


class SubscriptionIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    claim_ids: list[int] = Field(min_length=1, max_length=1000, description="Verified claims of the organization.")
    delivery: Delivery
    address: Annotated[str, StringConstraints(max_length=320, pattern=_EMAIL)] | None = Field(
        default=None, description="Where the reports are mailed (delivery smtp)."
    )
    webhook_url: HttpUrl | None = Field(default=None, description="Where they are posted (delivery webhook).")
    format: Format = Format.ARF
    content: Content = Field(default=Content.FULL, description="The redacted original, or its headers only.")
    recipient_headers: list[HeaderName] = Field(
        default_factory=list, max_length=10, description="Headers of yours that identify the recipient: kept."
    )
    unsubscribe: bool = Field(default=False, description="Unsubscribe (RFC 8058) on the reporter's behalf.")


class SubscriptionOut(BaseModel):
    id: int
    organization_id: int
    name: str
    delivery: Delivery
    address: str | None
    webhook_url: str | None
    format: Format
    content: Content
    recipient_headers: list[str]
    unsubscribe: bool
    suspended: bool
    claim_ids: list[int]
    grants: dict[str, GrantState] = Field(
        description="Each source of complaints and its decision: `association` (its reporters), and each mailbox "
        "provider by name (its users)."
    )
    complaints: dict[str, int] = Field(
        default_factory=dict, description="Its complaints by state: queued, delivered, dead, unverified."
    )
    unsubscribes: dict[str, int] = Field(
        default_factory=dict, description="The one-click unsubscribes made on reporters' behalf: queued, done, failed."
    )
    created_at: datetime


class RequestClaim(BaseModel):
    kind: str
    value: str


class FeedbackRequest(BaseModel):
    """A subscription as a source of complaints sees it, to decide."""

    subscription_id: int
    organization: str
    name: str
    claims: list[RequestClaim]
    state: GrantState = Field(description="This source's decision so far.")
    created_at: datetime


class DecisionIn(BaseModel):
    decision: Literal["approve", "refuse", "suspend", "resume"]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class ComplaintOut(BaseModel):
    id: int = Field(description="Increasing: pass the last one as `cursor` to get what follows.")
    subscription_id: int
    feedback_type: str | None
    matched: str = Field(description="What of yours the report concerns: the IP, the domain, the sender id.")
    match_kind: str
    created_at: datetime
    content_type: str = Field(description="message/rfc822 (ARF) or application/json (X-ARF).")
    message_id: str = Field(description="Stable for this complaint: the same on every fetch.")
    payload: str = Field(description="The report, base64-encoded; the reporter's addresses are redacted.")


class ComplaintPage(BaseModel):
    items: list[ComplaintOut]
    next_cursor: int | None = Field(description="Pass as `cursor` to fetch what follows; null when nothing more.")


class DecisionOut(BaseModel):
    subscription_id: int
    source: str
    state: GrantState


# -- helpers -----------------------------------------------------------------------------------------------------


def _providers(conn: Connection) -> dict[str, str]:
    """Every source of complaints by key, with the name shown for it."""
    rows = conn.execute(
        select(organizations.c.id, organizations.c.name).where(organizations.c.kind == OrgKind.MAILBOX_PROVIDER)
    )
    return {ASSOCIATION: ASSOCIATION} | {organization_source(r.id): r.name for r in rows}


def _out(subscription: store.Subscription, sources: dict[str, str]) -> SubscriptionOut:
    grants = {name: subscription.grants.get(key, GrantState.PENDING) for key, name in sources.items()}
    return SubscriptionOut(
        **{k: v for k, v in subscription.__dict__.items() if k not in {"grants", "secret_nonce"}}, grants=grants
    )


def _own(principal: Principal | None, organization_id: int, roles: frozenset[Role] | None = None) -> Principal:
    return require_in_organization(principal, organization_id, roles, Scope.FEEDBACK_READ)


def _source_of(conn: Connection, me: Principal) -> str:
    """The source of complaints the caller decides for: the association (staff abuse managers and admins), or a
    mailbox provider (its member abuse managers and admins)."""
    if me.role in (Role.ABUSE_MANAGER, Role.ADMIN):
        return ASSOCIATION
    if me.role in (Role.MEMBER_ABUSE_MANAGER, Role.MEMBER_ADMIN) and me.organization_id is not None:
        kind = conn.execute(select(organizations.c.kind).where(organizations.c.id == me.organization_id)).scalar()
        if kind == OrgKind.MAILBOX_PROVIDER:
            return organization_source(me.organization_id)
    raise ApiError(403, "forbidden", "only the abuse managers of a source of complaints decide")


def _audit(
    conn: Connection, me: Principal, request: Request, action: str, subscription_id: int, **detail: object
) -> None:
    audit.record(conn, actor=me.email, action=action, target=f"subscription:{subscription_id}",
                 client=client_address(request), detail=detail)  # fmt: skip


# -- a member's subscriptions ------------------------------------------------------------------------------------


@router.post(
    "/organizations/{organization_id}/subscriptions",
    status_code=201,
    response_model=SubscriptionOut,
    summary="Ask for a feedback loop",
)
def create_subscription(
    organization_id: IdPath, body: SubscriptionIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> SubscriptionOut:
    """On verified claims of the organization; each source of complaints then approves or refuses it."""
    me = _own(principal, organization_id, SUBSCRIBERS)
    if body.delivery is Delivery.SMTP and not body.address:
        raise ApiError(422, "address_required", "a feedback loop by mail needs an address")
    if body.delivery is Delivery.WEBHOOK and not body.webhook_url:
        raise ApiError(422, "webhook_url_required", "a feedback loop by webhook needs a URL")
    with platform.engine.begin() as conn:
        try:
            subscription_id = store.create(
                conn,
                organization_id,
                name=body.name,
                claim_ids=body.claim_ids,
                delivery=body.delivery,
                address=body.address,
                webhook_url=str(body.webhook_url) if body.webhook_url else None,
                feedback_format=body.format,
                content=body.content,
                recipient_headers=body.recipient_headers,
                unsubscribe=body.unsubscribe,
                created_by=me.user_id,
            )
        except store.SubscriptionError as error:
            raise ApiError(422, "invalid_claims", str(error)) from None
        _audit(conn, me, request, "subscription.create", subscription_id, claim_ids=sorted(body.claim_ids))
        found = store.get(conn, subscription_id)
        assert found is not None
        return _out(found, _providers(conn))


@router.get(
    "/organizations/{organization_id}/subscriptions",
    response_model=list[SubscriptionOut],
    summary="Its feedback loops, and who granted each",
)
def list_subscriptions(
    organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep
) -> list[SubscriptionOut]:
    _own(principal, organization_id)
    with read(platform.engine) as conn:
        sources = _providers(conn)
        found = store.listed(conn, organization_id=organization_id)
        ids = [s.id for s in found]
        counts = store.complaint_counts(conn, ids)
        unsubscribes = store.complaint_counts(conn, ids, by=complaints.c.unsubscribe_state)
        return [
            _out(s, sources).model_copy(update={"complaints": counts[s.id], "unsubscribes": unsubscribes[s.id]})
            for s in found
        ]


def _suspend(
    subscription_id: int, suspended: bool, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> SubscriptionOut:
    with platform.engine.begin() as conn:
        found = store.get(conn, subscription_id)
        if found is None:
            raise not_found("subscription")
        me = _own(principal, found.organization_id, SUBSCRIBERS)
        store.set_suspended(conn, subscription_id, suspended)
        _audit(conn, me, request, "subscription.suspend" if suspended else "subscription.resume", subscription_id)
        updated = store.get(conn, subscription_id)
        assert updated is not None
        return _out(updated, _providers(conn))


@router.post("/subscriptions/{subscription_id}:suspend", response_model=SubscriptionOut, summary="Pause it")
def suspend_subscription(
    subscription_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> SubscriptionOut:
    return _suspend(subscription_id, True, request, platform, principal)


@router.post("/subscriptions/{subscription_id}:resume", response_model=SubscriptionOut, summary="Resume it")
def resume_subscription(
    subscription_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> SubscriptionOut:
    return _suspend(subscription_id, False, request, platform, principal)


# -- complaints, pulled -----------------------------------------------------------------------------------------


@router.get("/feedback", response_model=ComplaintPage, summary="Your complaints, in order, from a cursor")
def pull_complaints(
    platform: PlatformDep,
    principal: PrincipalDep,
    cursor: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
) -> ComplaintPage:
    """The complaints of your organization's `pull` loops after `cursor` (at least once: a client that lost its
    place asks again from its last cursor and gets the same complaints, with the same message ids)."""
    me = require(principal, Scope.FEEDBACK_READ)
    if me.organization_id is None:
        raise ApiError(403, "forbidden", "complaints go to member organizations")
    with read(platform.engine) as conn:
        ids = conn.execute(
            select(complaints.c.id, complaints.c.subscription_id, complaints.c.feedback_type, complaints.c.matched,
                   complaints.c.match_kind, complaints.c.created_at)
            .join(feedback_subscriptions, feedback_subscriptions.c.id == complaints.c.subscription_id)
            .where(feedback_subscriptions.c.organization_id == me.organization_id,
                   feedback_subscriptions.c.delivery == Delivery.PULL,
                   complaints.c.state.in_([ComplaintState.QUEUED, ComplaintState.DELIVERED]),
                   complaints.c.id > cursor)
            .order_by(complaints.c.id)
            .limit(limit + 1)
        ).all()  # fmt: skip
        items = []
        for row in ids[:limit]:
            built, _ = build(conn, platform.settings, platform.blobs, row.id)
            items.append(ComplaintOut(**row._asdict(), content_type=built.content_type, message_id=built.message_id,
                                      payload=base64.b64encode(built.body).decode()))  # fmt: skip
    return ComplaintPage(items=items, next_cursor=items[-1].id if len(ids) > limit else None)


# -- the sources' decisions --------------------------------------------------------------------------------------


@router.get("/feedback-requests", response_model=list[FeedbackRequest], summary="Feedback loops to decide, as a source")
def list_requests(platform: PlatformDep, principal: PrincipalDep) -> list[FeedbackRequest]:
    """Every subscription with the caller's source's decision so far, and the claims it covers, to check."""
    me = require(principal, Scope.REPORTS_READ)
    with read(platform.engine) as conn:
        source = _source_of(conn, me)
        found = store.listed(conn)
        members = {s.organization_id for s in found}
        query = select(organizations.c.id, organizations.c.name).where(organizations.c.id.in_(members))
        names = {r.id: r.name for r in conn.execute(query)}
        covered = {c for s in found for c in s.claim_ids}
        claim_rows = {
            r.id: r
            for r in conn.execute(select(claims.c.id, claims.c.kind, claims.c.value).where(claims.c.id.in_(covered)))
        }
    return [
        FeedbackRequest(
            subscription_id=s.id,
            organization=names.get(s.organization_id, ""),
            name=s.name,
            claims=[RequestClaim(kind=claim_rows[c].kind, value=claim_rows[c].value) for c in s.claim_ids],
            state=s.grants.get(source, GrantState.PENDING),
            created_at=s.created_at,
        )
        for s in found
        if source != organization_source(s.organization_id)  # a provider does not decide for itself
    ]


@router.post("/subscriptions/{subscription_id}:decide", response_model=DecisionOut, summary="Grant it or not")
def decide_subscription(
    subscription_id: IdPath, body: DecisionIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> DecisionOut:
    """Approve, refuse (with a reason), suspend (with a reason) or resume it, for the caller's source."""
    me = require(principal, Scope.REPORTS_READ)
    if body.decision in ("refuse", "suspend") and not body.reason:
        raise ApiError(422, "reason_required", f"say why you {body.decision} it: the member is shown the reason")
    with platform.engine.begin() as conn:
        source = _source_of(conn, me)
        found = store.get(conn, subscription_id)
        if found is None:
            raise not_found("subscription")
        if source == organization_source(found.organization_id):
            raise ApiError(403, "forbidden", "a mailbox provider does not decide on its own feedback loops")
        try:
            state = store.decide_grant(conn, subscription_id, source, body.decision, by=me.user_id, reason=body.reason)
        except ValueError as error:
            raise ApiError(409, "decision_not_applicable", str(error)) from None
        _audit(conn, me, request, f"subscription.{body.decision}", subscription_id, source=source)
    return DecisionOut(subscription_id=subscription_id, source=source, state=state)


# -- complaints to CFBL-Address senders (staff) ------------------------------------------------------------------


class CfblComplaintOut(BaseModel):
    id: int
    report_id: int
    address: str = Field(description="The sender's CFBL-Address (RFC 9477).")
    signer: str = Field(description="The d= of the passing signature that covers it.")
    feedback_id: str | None
    feedback_type: str | None
    state: ComplaintState
    attempts: int
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@router.get(
    "/cfbl-complaints",
    response_model=list[CfblComplaintOut],
    summary="Complaints sent to non-member senders' CFBL-Address (staff)",
)
def list_cfbl_complaints(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: ComplaintState | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[CfblComplaintOut]:
    """Oldest first from `after`; `state` queued, delivered or dead (a dead one says why in `last_error`)."""
    require_staff(principal)
    query = select(cfbl_complaints).where(cfbl_complaints.c.id > after).order_by(cfbl_complaints.c.id).limit(limit)
    if state is not None:
        query = query.where(cfbl_complaints.c.state == state)
    with read(platform.engine) as conn:
        return [CfblComplaintOut.model_validate(row._asdict()) for row in conn.execute(query)]
