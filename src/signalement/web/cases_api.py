"""/api/v1 cases: a member asks the association to intervene about one of its customers, with the evidence
attached, and follows the case with staff to its end (docs/cases.md, signalement.domain.cases).

A case belongs to its organization: its members and staff see it, anyone else gets 404 as for a missing one.
Members see staff as "the association", never a staff member's address. Every write is audited in the
transaction that makes it, and adds an event (comment, state or assign) with its author.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Connection

from signalement.domain import cases as rules
from signalement.domain.accounts import Scope
from signalement.domain.cases import CaseError, CaseState, EventKind
from signalement.domain.stats import Dimension
from signalement.store import audit
from signalement.store import cases as store
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.web.auth import require, require_in_organization, require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import PROBLEM, ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["cases"])
THE_ASSOCIATION = "the association"
FORMER_ACCOUNT = "a former account"

CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "description": "The case is not in a state this applies to, or one about this customer is still open",
        "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=rules.MAX_TEXT)]
ReportId = Annotated[int, Field(ge=1, le=MAX_ID)]


# -- bodies and answers ------------------------------------------------------------------------------------------


class CaseIn(BaseModel):
    dimension: Dimension = Field(description="What the customer is in the statistics: ip, network, dkim, "
                                 "sender_domain, feedback_id or list_id.")  # fmt: skip
    value: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)] = Field(
        description="The customer's value, as the statistics show it (e.g. esp1:cust7, customer.example)."
    )
    subject: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None = None
    statement: Annotated[str, StringConstraints(strip_whitespace=True, max_length=rules.MAX_TEXT)] = Field(
        default="", description="What the member wants the association to know and do."
    )
    report_ids: list[ReportId] = Field(
        default_factory=list, max_length=100, description="Reports of the member's own complaints to attach."
    )


class CommentIn(BaseModel):
    text: Text


class TransitionIn(BaseModel):
    state: CaseState
    resolution: Annotated[str, StringConstraints(max_length=rules.MAX_TEXT)] | None = Field(
        default=None, description="When closing: what was done (staff must say), or why it is withdrawn."
    )


class AssignIn(BaseModel):
    user_id: ReportId | None = Field(description="A staff member's user id, or null to unassign.")


class Assignee(BaseModel):
    id: int
    email: str | None


class EventOut(BaseModel):
    id: int
    kind: EventKind
    author: str = Field(description=f'An e-mail address; members see staff as "{THE_ASSOCIATION}".')
    author_id: int | None = Field(description="Shown to staff, and to members for their own people.")
    created_at: datetime
    text: str | None = Field(default=None, description="A comment's text.")
    from_state: CaseState | None = Field(default=None, description="A state event: before (null: opened).")
    to_state: CaseState | None = None
    resolution: str | None = None
    assigned: bool | None = Field(default=None, description="An assign event: whether someone has the case now.")
    assigned_to: Assignee | None = Field(default=None, description="An assign event, to staff: to whom.")


class CaseSummary(BaseModel):
    id: int
    organization_id: int
    dimension: Dimension
    value: str
    subject: str
    state: CaseState
    assigned: bool = Field(description="Whether a staff member has taken the case.")
    assigned_to: Assignee | None = Field(description="Who has it: shown to staff only.")
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


class CaseOut(CaseSummary):
    opened_by: str
    resolution: str | None = Field(description="How a closed case ended.")
    moves: list[CaseState] = Field(description="The states the caller may move it to now.")
    evidence: dict[str, Any] = Field(
        description="Frozen when opened: per_day counts of the last 30 days (verified apart), total, alerts on "
        "the customer, the member's statement and the complaints it named."
    )
    events: list[EventOut]


# -- views ----------------------------------------------------------------------------------------------------------


def _summary(case: store.Case, viewer: Principal) -> dict[str, Any]:
    assignee = Assignee(id=case.assigned_to, email=case.assigned_email) if case.assigned_to else None
    return {"id": case.id, "organization_id": case.organization_id, "dimension": Dimension(case.dimension),
            "value": case.value, "subject": case.subject, "state": case.state,
            "assigned": case.assigned_to is not None, "assigned_to": assignee if viewer.is_staff else None,
            "created_at": case.created_at, "updated_at": case.updated_at, "closed_at": case.closed_at}  # fmt: skip


def _author(event: store.Event, viewer: Principal) -> tuple[str, int | None]:
    if event.author_id is None:
        return FORMER_ACCOUNT, None
    if event.author_is_staff and not viewer.is_staff:
        return THE_ASSOCIATION, None
    return event.author_email or FORMER_ACCOUNT, event.author_id


def _event(event: store.Event, viewer: Principal, emails: dict[int, str]) -> EventOut:
    author, author_id = _author(event, viewer)
    out = EventOut(id=event.id, kind=event.kind, author=author, author_id=author_id, created_at=event.created_at,
                   text=event.text, from_state=event.before, to_state=event.after,
                   resolution=event.resolution)  # fmt: skip
    if event.kind is EventKind.ASSIGN:
        out.assigned = event.assigned_to is not None
        if viewer.is_staff and event.assigned_to is not None:
            out.assigned_to = Assignee(id=event.assigned_to, email=emails.get(event.assigned_to))
    return out


def _view(conn: Connection, case: store.Case, viewer: Principal) -> CaseOut:
    events = store.events(conn, case.id)
    emails = {e.author_id: e.author_email for e in events if e.author_id is not None and e.author_email}
    emails |= store.emails(conn, [e.assigned_to for e in events if e.assigned_to is not None])
    opened = next((e for e in events if e.kind is EventKind.STATE and e.before is None), None)
    closing = [e for e in events if e.kind is EventKind.STATE and e.after is CaseState.CLOSED]
    resolution = closing[-1].resolution if closing and case.state is CaseState.CLOSED else None
    return CaseOut(
        **_summary(case, viewer),
        opened_by=_author(opened, viewer)[0] if opened else FORMER_ACCOUNT,
        resolution=resolution,
        moves=sorted(rules.moves_for(case.state, viewer.role)),
        evidence=case.evidence,
        events=[_event(e, viewer, emails) for e in events],
    )


def _customer(dimension: Dimension, value: str) -> str:
    """The value as the statistics keep it: an address or network in canonical form, domains in lower case."""
    if dimension not in rules.CUSTOMER_DIMENSIONS:
        raise ApiError(422, "not_a_customer", "a case is about a customer: an ip, network, dkim, sender_domain, "
                       "feedback_id or list_id")  # fmt: skip
    try:
        if dimension is Dimension.IP:
            return str(ipaddress.ip_address(value))
        if dimension is Dimension.NETWORK:
            return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise ApiError(422, "invalid_value", f"not a valid {dimension.value}: {value!r}") from None
    if dimension is Dimension.LIST_ID:
        value = value.strip("<>").lower()
    elif dimension in (Dimension.DKIM, Dimension.SENDER_DOMAIN):
        value = value.lower().rstrip(".")
    if not value:
        raise ApiError(422, "invalid_value", f"not a valid {dimension.value}")
    return value


def _refused(error: CaseError) -> ApiError:
    return ApiError(error.status, error.code, str(error))


def _visible(conn: Connection, principal: Principal, case_id: int) -> store.Case:
    """The case, if the caller sees its organization: another's answers 404, exactly as a missing one."""
    case = store.get(conn, case_id)
    if case is None or not principal.sees(case.organization_id):
        raise not_found("case")
    return case


def _audit(conn: Connection, me: Principal, request: Request, action: str, case_id: int, **detail: Any) -> None:
    audit.record(conn, actor=me.email, action=action, target=f"case:{case_id}", client=client_address(request),
                 detail=detail)  # fmt: skip


# -- routes ---------------------------------------------------------------------------------------------------------


@router.post(
    "/organizations/{organization_id}/cases",
    status_code=201,
    response_model=CaseOut,
    responses=CONFLICT,
    summary="Ask the association to intervene about a customer, with the evidence attached",
)
def open_case(
    organization_id: IdPath, body: CaseIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> CaseOut:
    """By the organization's member admins and abuse managers (staff do not open a case in a member's name). The
    member's counts for the customer over the last 30 days, its peak alerts on it and the complaints named are
    frozen in the case's evidence."""
    me = require_in_organization(principal, organization_id, rules.OPENERS, Scope.STATS_READ)
    value = _customer(body.dimension, body.value)
    with platform.engine.begin() as conn:
        existing = store.live_case(conn, organization_id, body.dimension, value)
        if existing is not None:
            raise ApiError(409, "case_exists", f"case {existing} about this customer is not closed yet: comment on "
                           "it", case_id=existing)  # fmt: skip
        named = store.own_complaints(conn, organization_id, body.report_ids)
        missing = sorted(set(body.report_ids) - {c["report_id"] for c in named})
        if missing:
            raise ApiError(404, "not_found", "no such report among your complaints", report_ids=missing)
        evidence = store.evidence(conn, organization_id, body.dimension, value, now=utcnow(),
                                  statement=body.statement, complaints_named=named)  # fmt: skip
        subject = body.subject or f"{body.dimension.value} {value}"[:200]
        case_id = store.create(conn, organization_id, body.dimension, value, subject=subject, evidence=evidence,
                               opened_by=me.user_id)  # fmt: skip
        _audit(conn, me, request, "case.open", case_id, organization_id=organization_id,
               dimension=body.dimension.value, value=value, reports=len(named))  # fmt: skip
        return _view(conn, _visible(conn, me, case_id), me)


@router.get(
    "/organizations/{organization_id}/cases",
    response_model=list[CaseSummary],
    summary="The organization's cases, oldest first from a cursor",
)
def list_organization_cases(
    organization_id: IdPath,
    platform: PlatformDep,
    principal: PrincipalDep,
    state: CaseState | None = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    me = require_in_organization(principal, organization_id)
    with read(platform.engine) as conn:
        found = store.listed(conn, organization_id=organization_id, state=state, after=after, limit=limit)
    return [CaseSummary(**_summary(c, me)) for c in found]


@router.get("/cases", response_model=list[CaseSummary], summary="Every case, for staff, oldest first from a cursor")
def list_cases(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: CaseState | None = None,
    mine: Annotated[bool, Query(description="Only the cases assigned to the caller.")] = False,
    organization_id: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[CaseSummary]:
    me = require_staff(principal)
    with read(platform.engine) as conn:
        found = store.listed(conn, organization_id=organization_id, state=state,
                             assigned_to=me.user_id if mine else None, after=after, limit=limit)  # fmt: skip
    return [CaseSummary(**_summary(c, me)) for c in found]


@router.get("/cases/{case_id}", response_model=CaseOut, summary="A case, its evidence and its events")
def get_case(case_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> CaseOut:
    me = require(principal, Scope.REPORTS_READ)
    with read(platform.engine) as conn:
        return _view(conn, _visible(conn, me, case_id), me)


@router.post(
    "/cases/{case_id}/events",
    status_code=201,
    response_model=CaseOut,
    responses=CONFLICT,
    summary="Comment on a case (a member's comment answers a question: the case goes back in progress)",
)
def comment(
    case_id: IdPath, body: CommentIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> CaseOut:
    me = require(principal, Scope.REPORTS_READ)
    with platform.engine.begin() as conn:
        case = _visible(conn, me, case_id)
        try:
            rules.may_comment(case.state, me.role)
        except CaseError as error:
            raise _refused(error) from None
        store.record_comment(conn, case_id, me.user_id, body.text)
        store.touch(conn, case_id)
        _audit(conn, me, request, "case.comment", case_id, characters=len(body.text))
        answered = rules.after_comment(case.state, me.role)
        if answered is not None and store.set_state(conn, case_id, case.state, answered):
            store.record_state(conn, case_id, me.user_id, case.state, answered)
            _audit(conn, me, request, "case.state", case_id, to=answered.value, **{"from": case.state.value})
        return _view(conn, _visible(conn, me, case_id), me)


@router.post(
    "/cases/{case_id}:transition",
    response_model=CaseOut,
    responses=CONFLICT,
    summary="Move a case: take it, ask the member, close it with a resolution, withdraw it, reopen it",
)
def transition(
    case_id: IdPath, body: TransitionIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> CaseOut:
    me = require(principal, Scope.REPORTS_READ)
    with platform.engine.begin() as conn:
        case = _visible(conn, me, case_id)
        try:
            move = rules.move(case.state, body.state, me.role, body.resolution)
        except CaseError as error:
            raise _refused(error) from None
        if not store.set_state(conn, case_id, move.before, move.after):
            raise ApiError(409, "case_state", "the case moved meanwhile: read it again")
        store.record_state(conn, case_id, me.user_id, move.before, move.after, move.resolution)
        _audit(conn, me, request, "case.state", case_id, to=move.after.value, withdrawn=move.withdrawn,
               **{"from": move.before.value})  # fmt: skip
        return _view(conn, _visible(conn, me, case_id), me)


@router.post("/cases/{case_id}:assign", response_model=CaseOut, summary="Give a case to a staff member, or nobody")
def assign(
    case_id: IdPath, body: AssignIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> CaseOut:
    me = require(principal, Scope.REPORTS_READ)
    with platform.engine.begin() as conn:
        case = _visible(conn, me, case_id)
        if not rules.may_assign(me.role):
            raise ApiError(403, "forbidden", "staff assign cases")
        if body.user_id is not None and not store.is_staff_user(conn, body.user_id):
            raise ApiError(422, "not_staff", "a case is assigned to a staff member's account, or to nobody")
        store.assign(conn, case.id, body.user_id)
        store.record_assign(conn, case.id, me.user_id, body.user_id)
        _audit(conn, me, request, "case.assign", case.id, to=body.user_id)
        return _view(conn, _visible(conn, me, case_id), me)
