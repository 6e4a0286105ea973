"""/api/v1/organizations: member organizations, their entitlements, people, invitations and tokens.

Who may do what: staff read every organization, admins create and change them, admins and abuse managers set
entitlements; a member reads its own organization, and its member admins manage its people, invitations and
tokens. Another organization's resources answer 404, as if they did not exist. Every change is audited in the
transaction that makes it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import Connection

from signalement.domain.accounts import DEFAULT_SCOPES, MEMBER_ROLES, Role, Scope
from signalement.domain.members import Entitlements, OrgKind, Tlp
from signalement.members.invitation_mail import invitation_mail_job
from signalement.store import audit
from signalement.store import organizations as orgs
from signalement.store.accounts import Principal, issue_token
from signalement.store.db import read
from signalement.web.auth import require, require_in_organization
from signalement.web.deps import IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["organizations"])

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=200)]
STAFF_ADMIN = frozenset({Role.ADMIN})
ENTITLERS = frozenset({Role.ADMIN, Role.ABUSE_MANAGER})
MANAGERS = frozenset({Role.ADMIN, Role.MEMBER_ADMIN})  # of an organization's people, invitations and tokens
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, to_lower=True, max_length=320, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$"),
]
MemberRole = Annotated[Role, Field(description="member_admin, member_analyst or member_abuse_manager")]


# -- bodies ------------------------------------------------------------------------------------------------------


class EntitlementsIn(BaseModel):
    max_tlp: Tlp = Field(default=Tlp.GREEN, description="The highest TLP 2.0 marking it may receive.")
    feeds: list[Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{0,62}$")]] = Field(
        default_factory=list, max_length=50, description="The feeds it may read."
    )
    lookup_urls: bool = Field(default=False, description="May look URLs up in clear (`lookup:urls`).")
    evidence_export: bool = Field(default=False, description="May export evidence (`evidence:export`).")

    def domain(self) -> Entitlements:
        return Entitlements(self.max_tlp, frozenset(self.feeds), self.lookup_urls, self.evidence_export)


class OrganizationIn(BaseModel):
    name: Name
    kind: OrgKind
    entitlements: EntitlementsIn = Field(default_factory=EntitlementsIn)


class OrganizationPatch(BaseModel):
    name: Name | None = None
    disabled: bool | None = Field(default=None, description="A disabled organization's people and tokens stop at once.")


class OrganizationOut(BaseModel):
    id: int
    name: str
    kind: OrgKind
    entitlements: EntitlementsIn
    created_at: datetime
    disabled: bool


class MemberOut(BaseModel):
    id: int
    email: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime


class MemberPatch(BaseModel):
    role: MemberRole | None = None
    disabled: bool | None = None


class InvitationIn(BaseModel):
    email: Email
    role: MemberRole


class InvitationOut(BaseModel):
    id: int
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    state: str = Field(description="pending, accepted, revoked or expired")


class AcceptIn(BaseModel):
    token: Annotated[str, StringConstraints(min_length=10, max_length=200)]
    password: Annotated[str, StringConstraints(min_length=12, max_length=200)] = Field(
        description="The new account's password (ignored when the address already has a reporter's account)."
    )
    display_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] = ""


class AcceptOut(BaseModel):
    user_id: int
    organization_id: int | None
    role: Role


class TokenIn(BaseModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    scopes: list[Scope] = Field(min_length=1, description="What the token may do, within the entitlements.")


class TokenOut(BaseModel):
    id: int
    name: str
    scopes: list[Scope]
    created_by: int
    created_at: datetime


class TokenCreated(BaseModel):
    token: str = Field(description="Shown only this once.")
    scopes: list[Scope]


# -- who may --------------------------------------------------------------------------------------------------


def _staff(principal: Principal | None, roles: frozenset[Role]) -> Principal:
    caller = require(principal, Scope.REPORTS_READ)
    if caller.role not in roles:
        raise ApiError(403, "forbidden", "staff only")
    return caller


def _existing(conn: Connection, organization_id: int) -> orgs.Organization:
    found = orgs.get(conn, organization_id)
    if found is None:
        raise not_found("organization")
    return found


def _out(found: orgs.Organization) -> OrganizationOut:
    e = found.entitlements
    entitlements = EntitlementsIn(max_tlp=e.max_tlp, feeds=sorted(e.feeds), lookup_urls=e.lookup_urls,
                                  evidence_export=e.evidence_export)  # fmt: skip
    return OrganizationOut(id=found.id, name=found.name, kind=found.kind, entitlements=entitlements,
                           created_at=found.created_at, disabled=found.disabled)  # fmt: skip


def _audit(conn: Connection, caller: Principal, request: Request, action: str, target: str, **detail: object) -> None:
    audit.record(conn, actor=caller.email, action=action, target=target, client=client_address(request), detail=detail)


# -- organizations -----------------------------------------------------------------------------------------------


@router.post("/organizations", status_code=201, response_model=OrganizationOut, summary="Create an organization")
def create_organization(
    body: OrganizationIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> OrganizationOut:
    caller = _staff(principal, STAFF_ADMIN)
    with platform.engine.begin() as conn:
        try:
            organization_id = orgs.create(conn, body.name, body.kind, body.entitlements.domain())
        except orgs.NameTakenError:
            raise ApiError(409, "name_taken", "another organization has this name") from None
        _audit(conn, caller, request, "organization.create", f"organization:{organization_id}", kind=body.kind)
        return _out(_existing(conn, organization_id))


@router.get("/organizations", response_model=list[OrganizationOut], summary="Organizations you may see")
def list_organizations(platform: PlatformDep, principal: PrincipalDep) -> list[OrganizationOut]:
    """Staff see them all; a member sees its own; a reporter none."""
    caller = require(principal, Scope.REPORTS_READ)
    if not caller.is_staff and caller.organization_id is None:
        return []
    with read(platform.engine) as conn:
        return [_out(o) for o in orgs.listed(conn, None if caller.is_staff else caller.organization_id)]


@router.get("/organizations/{organization_id}", response_model=OrganizationOut, summary="An organization")
def get_organization(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> OrganizationOut:
    require_in_organization(principal, organization_id)
    with read(platform.engine) as conn:
        return _out(_existing(conn, organization_id))


@router.patch("/organizations/{organization_id}", response_model=OrganizationOut, summary="Rename or disable one")
def patch_organization(
    organization_id: IdPath, body: OrganizationPatch, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> OrganizationOut:
    caller = require_in_organization(principal, organization_id, STAFF_ADMIN)
    with platform.engine.begin() as conn:
        _existing(conn, organization_id)
        try:
            orgs.update_organization(conn, organization_id, name=body.name, disabled=body.disabled)
        except orgs.NameTakenError:
            raise ApiError(409, "name_taken", "another organization has this name") from None
        _audit(conn, caller, request, "organization.update", f"organization:{organization_id}",
               **body.model_dump(exclude_none=True))  # fmt: skip
        found = _existing(conn, organization_id)
    platform.credentials.forget()
    return _out(found)


@router.put(
    "/organizations/{organization_id}/entitlements", response_model=OrganizationOut, summary="Set its entitlements"
)
def put_entitlements(
    organization_id: IdPath, body: EntitlementsIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> OrganizationOut:
    """The ceiling of everything shared with the organization, whatever its tokens say; effective at once."""
    caller = require_in_organization(principal, organization_id, ENTITLERS)
    with platform.engine.begin() as conn:
        _existing(conn, organization_id)
        orgs.set_entitlements(conn, organization_id, body.domain())
        _audit(conn, caller, request, "organization.entitlements", f"organization:{organization_id}",
               **body.domain().as_json())  # fmt: skip
        found = _existing(conn, organization_id)
    platform.credentials.forget()
    return _out(found)


# -- people ----------------------------------------------------------------------------------------------------


@router.get("/organizations/{organization_id}/members", response_model=list[MemberOut], summary="Its people")
def list_members(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> list[MemberOut]:
    require_in_organization(principal, organization_id, MANAGERS | ENTITLERS | {Role.ANALYST})
    with read(platform.engine) as conn:
        _existing(conn, organization_id)
        return [MemberOut(**m.__dict__) for m in orgs.members(conn, organization_id)]


@router.patch(
    "/organizations/{organization_id}/members/{user_id}", response_model=MemberOut, summary="Change a member's role"
)
def patch_member(
    organization_id: IdPath,
    user_id: IdPath,
    body: MemberPatch,
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
) -> MemberOut:
    """A member's role among the member roles, or disable them. The last member admin stays."""
    caller = require_in_organization(principal, organization_id, MANAGERS)
    if body.role is None and body.disabled is None:
        raise ApiError(422, "nothing_to_change", "give a role, or disabled")
    if body.role is not None and body.role not in MEMBER_ROLES:
        raise ApiError(422, "invalid_role", "a member's role is member_admin, member_analyst or member_abuse_manager")
    with platform.engine.begin() as conn:
        if not orgs.update_member(conn, organization_id, user_id, role=body.role, disabled=body.disabled):
            raise not_found("member")
        if orgs.admins_left(conn, organization_id) == 0:
            raise ApiError(409, "last_admin", "the organization's last member admin stays one: name another first")
        _audit(conn, caller, request, "organization.member.update", f"user:{user_id}",
               organization_id=organization_id, **body.model_dump(exclude_none=True))  # fmt: skip
        found = next(m for m in orgs.members(conn, organization_id) if m.id == user_id)
    platform.credentials.forget()
    return MemberOut(**found.__dict__)


# -- invitations -------------------------------------------------------------------------------------------------


def _invitation_out(invitation: orgs.Invitation) -> InvitationOut:
    state = (
        "accepted"
        if invitation.accepted_at
        else "revoked"
        if invitation.revoked_at
        else "pending"
        if invitation.live
        else "expired"
    )
    return InvitationOut(id=invitation.id, email=invitation.email, role=invitation.role,
                         created_at=invitation.created_at, expires_at=invitation.expires_at, state=state)  # fmt: skip


@router.post(
    "/organizations/{organization_id}/invitations",
    status_code=201,
    response_model=InvitationOut,
    summary="Invite a person by mail",
)
def create_invitation(
    organization_id: IdPath, body: InvitationIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> InvitationOut:
    """The person gets a link by mail, valid for seven days and once."""
    caller = require_in_organization(principal, organization_id, MANAGERS)
    if body.role not in MEMBER_ROLES:
        raise ApiError(422, "invalid_role", "invite as member_admin, member_analyst or member_abuse_manager")
    with platform.engine.begin() as conn:
        if _existing(conn, organization_id).disabled:
            raise ApiError(409, "organization_disabled", "the organization is disabled")
        invitation_id, _ = orgs.invite(conn, platform.secret, organization_id, body.email, body.role, caller.user_id)
        platform.queue.enqueue(conn, invitation_mail_job(invitation_id))
        _audit(conn, caller, request, "organization.invite", f"organization:{organization_id}",
               invitation_id=invitation_id, role=body.role)  # fmt: skip
        found = next(i for i in orgs.invitations_of(conn, organization_id) if i.id == invitation_id)
    return _invitation_out(found)


@router.get(
    "/organizations/{organization_id}/invitations", response_model=list[InvitationOut], summary="Its invitations"
)
def list_invitations(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> list[InvitationOut]:
    require_in_organization(principal, organization_id, MANAGERS | ENTITLERS | {Role.ANALYST})
    with read(platform.engine) as conn:
        _existing(conn, organization_id)
        return [_invitation_out(i) for i in orgs.invitations_of(conn, organization_id)]


@router.delete(
    "/organizations/{organization_id}/invitations/{invitation_id}", status_code=204, summary="Revoke an invitation"
)
def delete_invitation(
    organization_id: IdPath, invitation_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> Response:
    caller = require_in_organization(principal, organization_id, MANAGERS)
    with platform.engine.begin() as conn:
        if not orgs.revoke_invitation(conn, organization_id, invitation_id):
            raise not_found("pending invitation")
        _audit(conn, caller, request, "organization.invitation.revoke", f"organization:{organization_id}",
               invitation_id=invitation_id)  # fmt: skip
    return Response(status_code=204)


@router.post("/invitations:accept", response_model=AcceptOut, summary="Accept an invitation")
def accept_invitation(body: AcceptIn, request: Request, platform: PlatformDep) -> AcceptOut:
    """With the token of the link mailed to the person: their account is made (the link proves the address)."""
    with platform.engine.begin() as conn:
        try:
            user_id, invitation = orgs.accept(
                conn, body.token, body.password, body.display_name, client_address(request)
            )
        except orgs.InvitationError as error:
            raise ApiError(400, "invalid_invitation", str(error)) from None
    return AcceptOut(user_id=user_id, organization_id=invitation.organization_id, role=invitation.role)


# -- tokens ----------------------------------------------------------------------------------------------------


@router.get("/organizations/{organization_id}/tokens", response_model=list[TokenOut], summary="Its API tokens")
def list_tokens(organization_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> list[TokenOut]:
    require_in_organization(principal, organization_id, MANAGERS)
    with read(platform.engine) as conn:
        _existing(conn, organization_id)
        return [TokenOut(**t.__dict__) for t in orgs.tokens(conn, organization_id)]


@router.post(
    "/organizations/{organization_id}/tokens",
    status_code=201,
    response_model=TokenCreated,
    summary="Make an API token for the organization's systems",
)
def create_token(
    organization_id: IdPath, body: TokenIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> TokenCreated:
    """Only its member admins: the token acts for the organization, with scopes within its entitlements."""
    caller = require_in_organization(principal, organization_id, frozenset({Role.MEMBER_ADMIN}))
    with platform.engine.begin() as conn:
        entitlements = _existing(conn, organization_id).entitlements
        allowed = entitlements.bound(DEFAULT_SCOPES[Role.MEMBER_ADMIN])
        refused = sorted(set(body.scopes) - allowed)
        if refused:
            raise ApiError(422, "scope_not_allowed", f"not within the organization's entitlements: {refused}")
        token = issue_token(conn, caller.user_id, name=body.name, scopes=body.scopes, organization_id=organization_id)
        _audit(conn, caller, request, "organization.token.create", f"organization:{organization_id}",
               name=body.name, scopes=sorted(body.scopes))  # fmt: skip
    return TokenCreated(token=token, scopes=sorted(set(body.scopes)))


@router.delete(
    "/organizations/{organization_id}/tokens/{token_id}", status_code=204, summary="Revoke an organization's token"
)
def delete_token(
    organization_id: IdPath, token_id: IdPath, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> Response:
    caller = require_in_organization(principal, organization_id, MANAGERS)
    with platform.engine.begin() as conn:
        if not orgs.revoke_token(conn, organization_id, token_id):
            raise not_found("token")
        _audit(conn, caller, request, "organization.token.revoke", f"organization:{organization_id}",
               token_id=token_id)  # fmt: skip
    platform.credentials.forget()
    return Response(status_code=204)
