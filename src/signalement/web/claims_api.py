"""/api/v1 claims: what a member organization claims as its own (docs/claims.md), and the page a domain's
postmaster confirms a claim on.

A member's people see their organization's claims; staff see all. Another organization's claim answers 404, never
403: its existence is not revealed. Overlaps with other organizations are shown: to staff with whose they are, to
members only that one exists. Every act that changes a claim is audited in the transaction that makes it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from html import escape
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from signalement.domain.accounts import Scope
from signalement.domain.claims import (
    ClaimKind,
    ClaimState,
    InvalidClaimError,
    Proof,
    normalize,
    proofs,
    proving_domain,
    txt_name,
)
from signalement.members import evidence as evidence_of
from signalement.members import postmaster, txt_proof
from signalement.platform import Platform
from signalement.store import audit
from signalement.store import claims as store
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.web.auth import require, require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import PROBLEM, ApiError, not_found

API = "/api/v1"
router = APIRouter(tags=["claims"])


def _problem(description: str) -> dict[str, Any]:
    return {"description": description, "content": {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


CONFLICT: dict[int | str, dict[str, Any]] = {
    409: _problem("The claim is not in a state this applies to, or its proof failed")
}


# -- bodies and answers ------------------------------------------------------------------------------------------


class ClaimIn(BaseModel):
    kind: ClaimKind
    value: str = Field(
        min_length=1,
        max_length=255,
        description="A CIDR range (192.0.2.0/24, 2001:db8::/48), a domain, a Feedback-ID sender id, a List-Id or an "
        "authserv-id, as `kind` says.",
    )
    statement: str | None = Field(
        default=None, max_length=4000, description="What staff should know to approve it (who holds the range...)."
    )


class TxtRecord(BaseModel):
    name: str = Field(description="Where to publish the record.")
    value: str = Field(description="The record's text.")
    zone_line: str = Field(description="The same as a line of a BIND zone file.")


class HowToProve(BaseModel):
    proofs: list[Proof]
    dns_txt: TxtRecord | None = None
    postmaster: str | None = Field(default=None, description="Who gets the confirmation link by mail.")


class OrganizationRef(BaseModel):
    id: int
    name: str


class ConflictOut(BaseModel):
    """An overlapping live claim of another organization. Whose it is (and its id) is shown to staff only."""

    kind: ClaimKind
    value: str
    state: ClaimState
    claim_id: int | None = None
    organization: OrganizationRef | None = None


class ReverseDns(BaseModel):
    address: str
    names: list[str]
    error: str | None = None


class Evidence(BaseModel):
    gathered_at: str
    reverse_dns: list[ReverseDns]


class ClaimOut(BaseModel):
    id: int
    organization_id: int
    kind: ClaimKind
    value: str
    state: ClaimState
    proof: Proof | None = Field(description="How it was proven, once verified.")
    statement: str | None
    evidence: Evidence | None = Field(description="What staff decide on: reverse DNS of sample addresses.")
    created_at: datetime
    decided_at: datetime | None
    reason: str | None = Field(description="Why it was rejected or revoked (or the approver's note).")
    how_to_prove: HowToProve | None = Field(description="While pending: what proves it.")
    conflicts: list[ConflictOut]


class ClaimList(BaseModel):
    items: list[ClaimOut]
    next_cursor: int | None = Field(default=None, description="Pass as `after` for the next page; none at the end.")


class VerifyIn(BaseModel):
    proof: Literal["dns_txt", "postmaster"]


class PostmasterSent(BaseModel):
    postmaster: str = Field(description="Where the confirmation link is being mailed.")
    expires_in_hours: int


class ReasonIn(BaseModel):
    reason: str = Field(min_length=1, max_length=2000)


class ApproveIn(BaseModel):
    reason: str | None = Field(default=None, max_length=2000, description="A note kept with the decision.")


# -- shaping -----------------------------------------------------------------------------------------------------


def how_to_prove(claim: store.Claim) -> HowToProve | None:
    if claim.state is not ClaimState.PENDING:
        return None
    domain = proving_domain(claim.kind, claim.value)
    if domain is None:
        return HowToProve(proofs=list(proofs(claim.kind)))
    name, value = txt_name(domain), txt_proof.expected_record(claim.token)
    return HowToProve(
        proofs=list(proofs(claim.kind)),
        dns_txt=TxtRecord(name=name, value=value, zone_line=f'{name}. 3600 IN TXT "{value}"'),
        postmaster=postmaster.postmaster_of(claim),
    )


def _conflicts(conn: Connection, me: Principal, claim: store.Claim) -> list[ConflictOut]:
    found = store.conflicts(conn, claim)
    if not me.is_staff:
        return [ConflictOut(kind=c.kind, value=c.value, state=c.state) for c in found]
    names = store.organization_names(conn, (c.organization_id for c in found))
    return [
        ConflictOut(
            kind=c.kind,
            value=c.value,
            state=c.state,
            claim_id=c.id,
            organization=OrganizationRef(id=c.organization_id, name=names.get(c.organization_id, "")),
        )
        for c in found
    ]


def _out(conn: Connection, me: Principal, claim: store.Claim) -> ClaimOut:
    return ClaimOut(
        id=claim.id,
        organization_id=claim.organization_id,
        kind=claim.kind,
        value=claim.value,
        state=claim.state,
        proof=claim.proof,
        statement=claim.statement,
        evidence=Evidence.model_validate(claim.evidence) if claim.evidence else None,
        created_at=claim.created_at,
        decided_at=claim.decided_at,
        reason=claim.reason,
        how_to_prove=how_to_prove(claim),
        conflicts=_conflicts(conn, me, claim),
    )


# -- who may do what ---------------------------------------------------------------------------------------------


def _reader(principal: Principal | None) -> Principal:
    """Anyone who reads reports may ask; what they are shown is then scoped to their organization."""
    return require(principal, Scope.REPORTS_READ)


def _visible(conn: Connection, me: Principal, claim_id: int, *, for_update: bool = False) -> store.Claim:
    """The claim if the caller's organization holds it (or the caller is staff); 404 alike for missing and not
    theirs."""
    claim = store.get(conn, claim_id, for_update=for_update)
    if claim is None or not me.sees(claim.organization_id):
        raise not_found("claim")
    return claim


def _organization(conn: Connection, me: Principal, organization_id: int) -> None:
    if not me.sees(organization_id) or store.organization_kind(conn, organization_id) is None:
        raise not_found("organization")


def _audit(conn: Connection, actor: str, action: str, claim: store.Claim, client: str, **detail: Any) -> None:
    base = {"organization_id": claim.organization_id, "kind": claim.kind.value, "value": claim.value}
    audit.record(conn, actor=actor, action=action, target=f"claim:{claim.id}", client=client, detail={**base, **detail})


def _state_error(error: store.ClaimStateError) -> ApiError:
    return ApiError(409, "claim_state", str(error))


# -- routes ------------------------------------------------------------------------------------------------------


@router.post(
    f"{API}/organizations/{{organization_id}}/claims",
    status_code=201,
    response_model=ClaimOut,
    responses=CONFLICT,
    summary="Claim an IP range, a domain, a sender id, a List-Id or an authserv-id",
)
def create_claim(
    organization_id: IdPath, body: ClaimIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ClaimOut:
    """Made pending, with what proves it. An address range's reverse DNS is gathered now for the staff who will
    decide. Needs `claims:write`, as a member of the organization or staff."""
    me = require(principal, Scope.CLAIMS_WRITE)
    try:
        value = normalize(body.kind, body.value)
    except InvalidClaimError as error:
        raise ApiError(422, "invalid_claim", str(error)) from None
    with read(platform.engine) as conn:
        _organization(conn, me, organization_id)
    gathered = None
    if Proof.STAFF_APPROVAL in proofs(body.kind):  # before the transaction: DNS must not hold it open
        gathered = evidence_of.gather(body.kind, value, platform.settings.dns_resolver)
    with platform.engine.begin() as conn:
        try:
            claim = store.create(
                conn,
                organization_id,
                body.kind,
                value,
                created_by=me.user_id,
                statement=body.statement,
                evidence=gathered,
            )
        except store.ClaimNotAllowedError as error:
            raise ApiError(409, "claim_not_allowed", str(error)) from None
        _audit(conn, me.email, "claim.create", claim, client_address(request))
        return _out(conn, me, claim)


@router.get(
    f"{API}/organizations/{{organization_id}}/claims", response_model=ClaimList, summary="An organization's claims"
)
def list_organization_claims(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> ClaimList:
    """Every claim of the organization, whatever its state, for its people and staff."""
    me = _reader(principal)
    with read(platform.engine) as conn:
        _organization(conn, me, organization_id)
        return ClaimList(items=[_out(conn, me, c) for c in store.of_organization(conn, organization_id)])


@router.get(f"{API}/claims", response_model=ClaimList, summary="The claims of every organization (staff)")
def list_claims(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: Annotated[ClaimState | None, Query(description="Only claims in this state (pending: the queue).")] = None,
    kind: Annotated[ClaimKind | None, Query()] = None,
    after: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="Cursor: `next_cursor` of the previous page.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ClaimList:
    """Oldest first, each with its conflicts and whose they are. Staff only."""
    me = require_staff(principal)
    with read(platform.engine) as conn:
        found = store.listing(conn, state=state, kind=kind, after=after, limit=limit)
        cursor = found[-1].id if len(found) == limit else None
        return ClaimList(items=[_out(conn, me, c) for c in found], next_cursor=cursor)


@router.get(f"{API}/claims/{{claim_id}}", response_model=ClaimOut, summary="A claim")
def get_claim(claim_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> ClaimOut:
    me = _reader(principal)
    with read(platform.engine) as conn:
        return _out(conn, me, _visible(conn, me, claim_id))


@router.post(
    f"{API}/claims/{{claim_id}}:verify",
    response_model=ClaimOut,
    responses={
        202: {"model": PostmasterSent, "description": "The postmaster's link is being mailed."},
        **CONFLICT,
        503: _problem("This platform sends no mail"),
    },
    summary="Prove a domain or List-Id claim: check its DNS TXT record now, or mail its postmaster a link",
)
def verify_claim(
    claim_id: IdPath, body: VerifyIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> Any:
    """`dns_txt` answers the verified claim, or 409 with what was looked up and found. `postmaster` answers 202:
    the link goes by mail (at most one an hour per claim) and confirms the claim when followed."""
    me = require(principal, Scope.CLAIMS_WRITE)
    with read(platform.engine) as conn:
        claim = _visible(conn, me, claim_id)
    domain = proving_domain(claim.kind, claim.value)
    if domain is None:
        raise ApiError(409, "staff_approval", f"a {claim.kind} is approved by staff, not proven by its owner")
    if claim.state is not ClaimState.PENDING:
        raise ApiError(409, "claim_state", f"the claim is {claim.state}, not pending")
    if body.proof == "postmaster":
        return _mail_postmaster(platform, me, claim, client_address(request))
    check = txt_proof.check(domain, claim.token, platform.settings.dns_resolver)
    if not check.proven:
        raise ApiError(
            409,
            "not_proven",
            check.why,
            looked_up=check.name,
            expected=check.expected,
            found=check.found,
            dns_error=check.error,
        )
    with platform.engine.begin() as conn:
        try:
            claim = store.mark_verified(
                conn, _visible(conn, me, claim_id, for_update=True), Proof.DNS_TXT, by=me.user_id
            )
        except store.ClaimStateError as error:
            raise _state_error(error) from None
        _audit(conn, me.email, "claim.verify", claim, client_address(request), proof=Proof.DNS_TXT.value)
        return _out(conn, me, claim)


def _mail_postmaster(platform: Platform, me: Principal, claim: store.Claim, client: str) -> JSONResponse:
    if not platform.settings.mail_relay:
        raise ApiError(503, "no_mail_relay", "this platform sends no mail: prove the claim by DNS")
    to = postmaster.postmaster_of(claim)
    assert to is not None
    with platform.engine.begin() as conn:
        if not platform.queue.enqueue(conn, postmaster.mail_job(claim.id)):
            raise ApiError(429, "postmaster_mailed", f"{to} was mailed a link within the hour: follow it")
        _audit(conn, me.email, "claim.postmaster_mail", claim, client, postmaster=to)
    sent = PostmasterSent(postmaster=to, expires_in_hours=postmaster.LINK_HOURS)
    return JSONResponse(sent.model_dump(mode="json"), status_code=202)


@router.post(
    f"{API}/claims/{{claim_id}}:evidence",
    response_model=ClaimOut,
    summary="Gather an address range's reverse DNS again (staff abuse managers)",
)
def refresh_evidence(claim_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> ClaimOut:
    me = require_staff(principal, Scope.CLAIMS_WRITE)
    with read(platform.engine) as conn:
        claim = _visible(conn, me, claim_id)
    gathered = evidence_of.gather(claim.kind, claim.value, platform.settings.dns_resolver)
    with platform.engine.begin() as conn:
        store.set_evidence(conn, claim.id, gathered)
        return _out(conn, me, _visible(conn, me, claim_id))


@router.post(
    f"{API}/claims/{{claim_id}}:approve",
    response_model=ClaimOut,
    responses=CONFLICT,
    summary="Approve an IP range, relay network, sender id or authserv-id claim (staff abuse managers)",
)
def approve_claim(
    claim_id: IdPath, body: ApproveIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ClaimOut:
    me = require_staff(principal, Scope.CLAIMS_WRITE)
    return _decide(platform, me, claim_id, request, "approve", store.approve, body.reason)


@router.post(
    f"{API}/claims/{{claim_id}}:reject",
    response_model=ClaimOut,
    responses=CONFLICT,
    summary="Reject a claim that needs staff approval, saying why (staff abuse managers)",
)
def reject_claim(
    claim_id: IdPath, body: ReasonIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ClaimOut:
    me = require_staff(principal, Scope.CLAIMS_WRITE)
    return _decide(platform, me, claim_id, request, "reject", store.reject, body.reason)


@router.post(
    f"{API}/claims/{{claim_id}}:revoke",
    response_model=ClaimOut,
    responses=CONFLICT,
    summary="Revoke a claim, at once",
)
def revoke_claim(
    claim_id: IdPath, body: ReasonIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> ClaimOut:
    """Nothing is shared because of it from the next request on. Its organization's people with `claims:write`,
    or staff abuse managers."""
    me = require(principal, Scope.CLAIMS_WRITE)
    return _decide(platform, me, claim_id, request, "revoke", store.revoke, body.reason)


def _decide(
    platform: Platform,
    me: Principal,
    claim_id: int,
    request: Request,
    action: str,
    decide: Callable[..., store.Claim],
    reason: str | None,
) -> ClaimOut:
    """A decision on a claim (store.approve, reject or revoke), in one transaction with its audit entry."""
    with platform.engine.begin() as conn:
        try:
            claim = decide(conn, _visible(conn, me, claim_id, for_update=True), by=me.user_id, reason=reason)
        except store.ClaimStateError as error:
            raise _state_error(error) from None
        _audit(conn, me.email, f"claim.{action}", claim, client_address(request), reason=reason)
        return _out(conn, me, claim)


# -- the postmaster's page ---------------------------------------------------------------------------------------

# The link's token is in the address: no referrer may carry it away, and no search engine keep it.
_PAGE_HEADERS = {"Referrer-Policy": "no-referrer", "X-Robots-Tag": "noindex", "Cache-Control": "no-store"}


def _page(title: str, body: str, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<title>{escape(title)} · signalement</title><link rel="stylesheet" href="/static/style.css"></head>'
        f'<body><main id="main"><h1>{escape(title)}</h1>{body}</main></body></html>\n'
    )
    return HTMLResponse(html, status_code=status, headers=_PAGE_HEADERS)


def _invalid_link() -> HTMLResponse:
    text = (
        "<p>This link is invalid, expired or already used.</p>"
        '<p lang="fr">Ce lien est invalide, expiré ou déjà utilisé.</p>'
    )
    return _page("Invalid link / Lien invalide", text, status=400)


def _what(conn: Connection, claim: store.Claim) -> str:
    name = store.organization_names(conn, [claim.organization_id]).get(claim.organization_id, "")
    return f"<strong>{escape(name)}</strong> claims the {escape(claim.kind)} <code>{escape(claim.value)}</code>"


@router.get(postmaster.CONFIRM_PATH, include_in_schema=False)
def confirm_page(request: Request, token: Annotated[str, Query(max_length=300)] = "") -> HTMLResponse:
    """Shows what is claimed and a button: fetching the link (as a mail scanner does) confirms nothing."""
    platform: Platform = request.app.state.platform
    with read(platform.engine) as conn:
        claim = postmaster.claim_of_link(conn, platform.secret, token)
        if claim is None:
            return _invalid_link()
        what = _what(conn, claim)
    form = (
        f"<p>{what}, and says it is theirs.</p>"
        f'<form method="post" action="{postmaster.CONFIRM_PATH}">'
        f'<input type="hidden" name="token" value="{escape(token)}">'
        '<button type="submit">Confirm / Confirmer</button></form>'
        "<p>If you do not know this organization, close this page: nothing is confirmed.</p>"
        '<p lang="fr">Si vous ne connaissez pas cette organisation, fermez cette page : rien n\'est confirmé.</p>'
    )
    return _page("Confirm a claim / Confirmer une déclaration", form)


@router.post(postmaster.CONFIRM_PATH, include_in_schema=False)
def confirm(request: Request, token: Annotated[str, Form(max_length=300)] = "") -> HTMLResponse:
    """The link is the proof: no session is needed, and it works once."""
    platform: Platform = request.app.state.platform
    with platform.engine.begin() as conn:
        claim = postmaster.claim_of_link(conn, platform.secret, token, for_update=True)
        if claim is None:
            return _invalid_link()
        try:
            claim = store.mark_verified(conn, claim, Proof.POSTMASTER, by=None)
        except store.ClaimStateError:  # confirmed by another click meanwhile
            return _invalid_link()
        actor = postmaster.postmaster_of(claim) or "postmaster"
        _audit(conn, actor, "claim.confirm", claim, client_address(request), proof=Proof.POSTMASTER.value)
        what = _what(conn, claim)
    return _page(
        "Confirmed / Confirmé", f'<p>Thank you: {what}, confirmed.</p><p lang="fr">Merci : c\'est confirmé.</p>'
    )
