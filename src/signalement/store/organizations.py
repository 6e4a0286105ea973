"""Member organizations, their people, their tokens and the invitations that bring people in.

An invitation's link holds a keyed hash of the row's random nonce under the server secret (as report addresses
do): the mail job can make it again without it being stored, the database keeps only its SHA-256, and it works
once, until it expires."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, select, update
from sqlalchemy.exc import IntegrityError

from signalement.domain.accounts import Role, Scope
from signalement.domain.derived_keys import derive
from signalement.domain.members import Entitlements, OrgKind
from signalement.store import audit, versions
from signalement.store.accounts import create_user
from signalement.store.sql import utcnow
from signalement.store.tables import api_tokens, invitations, organizations, users

INVITATION_DAYS = 7
INVITATION_PREFIX = "inv_"


class NameTakenError(Exception):
    """Another organization has this name."""


@dataclass(frozen=True)
class Organization:
    id: int
    name: str
    kind: OrgKind
    entitlements: Entitlements
    created_at: datetime
    disabled: bool


def _organization(row: Any) -> Organization:
    entitlements = Entitlements.from_json(row.entitlements)
    return Organization(row.id, row.name, OrgKind(row.kind), entitlements, row.created_at, row.disabled_at is not None)


def create(conn: Connection, name: str, kind: OrgKind, entitlements: Entitlements | None = None) -> int:
    values = {"name": name, "kind": kind, "entitlements": (entitlements or Entitlements()).as_json()}
    try:
        with conn.begin_nested():
            query = organizations.insert().values(**values, created_at=utcnow()).returning(organizations.c.id)
            return int(conn.execute(query).scalar_one())
    except IntegrityError:
        raise NameTakenError(name) from None


def get(conn: Connection, organization_id: int) -> Organization | None:
    row = conn.execute(select(organizations).where(organizations.c.id == organization_id)).first()
    return _organization(row) if row is not None else None


def listed(conn: Connection, only: int | None = None) -> list[Organization]:
    query = select(organizations).order_by(organizations.c.name)
    if only is not None:
        query = query.where(organizations.c.id == only)
    return [_organization(row) for row in conn.execute(query)]


def update_organization(conn: Connection, organization_id: int, *, name: str | None, disabled: bool | None) -> None:
    values: dict[str, Any] = {}
    if name is not None:
        values["name"] = name
    if disabled is not None:
        values["disabled_at"] = utcnow() if disabled else None
    if values:
        try:
            with conn.begin_nested():
                conn.execute(update(organizations).where(organizations.c.id == organization_id).values(**values))
                versions.bump(conn)
        except IntegrityError:
            raise NameTakenError(name or "") from None


def set_entitlements(conn: Connection, organization_id: int, entitlements: Entitlements) -> None:
    query = update(organizations).where(organizations.c.id == organization_id)
    conn.execute(query.values(entitlements=entitlements.as_json()))


# -- people --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    id: int
    email: str
    display_name: str
    role: Role
    disabled: bool
    created_at: datetime


def members(conn: Connection, organization_id: int) -> list[Member]:
    rows = conn.execute(
        select(users.c.id, users.c.email, users.c.display_name, users.c.role, users.c.disabled, users.c.created_at)
        .where(users.c.organization_id == organization_id)
        .order_by(users.c.id)
    )
    return [Member(r.id, r.email, r.display_name, Role(r.role), r.disabled, r.created_at) for r in rows]


def update_member(
    conn: Connection, organization_id: int, user_id: int, *, role: Role | None, disabled: bool | None
) -> bool:
    """Change a member's role or disable them; False when no such member of this organization."""
    values: dict[str, Any] = {}
    if role is not None:
        values["role"] = role
    if disabled is not None:
        values["disabled"] = disabled
    query = update(users).where(users.c.id == user_id, users.c.organization_id == organization_id)
    return conn.execute(query.values(**values)).rowcount == 1


def admins_left(conn: Connection, organization_id: int) -> int:
    """Enabled member admins: an organization never loses its last one by its own hand."""
    query = select(func.count()).where(
        users.c.organization_id == organization_id, users.c.role == Role.MEMBER_ADMIN, users.c.disabled.is_(False)
    )
    return int(conn.execute(query).scalar_one())


# -- tokens --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgToken:
    id: int
    name: str
    scopes: tuple[Scope, ...]
    created_by: int
    created_at: datetime


def tokens(conn: Connection, organization_id: int) -> list[OrgToken]:
    rows = conn.execute(
        select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.user_id, api_tokens.c.created_at)
        .where(api_tokens.c.organization_id == organization_id, api_tokens.c.revoked_at.is_(None))
        .order_by(api_tokens.c.id.desc())
    )
    return [OrgToken(r.id, r.name, tuple(Scope(s) for s in r.scopes), r.user_id, r.created_at) for r in rows]


def revoke_token(conn: Connection, organization_id: int, token_id: int) -> bool:
    query = update(api_tokens).where(
        api_tokens.c.id == token_id, api_tokens.c.organization_id == organization_id, api_tokens.c.revoked_at.is_(None)
    )
    return conn.execute(query.values(revoked_at=utcnow())).rowcount == 1


# -- invitations ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Invitation:
    id: int
    organization_id: int | None
    email: str
    role: Role
    created_at: datetime
    expires_at: datetime
    accepted_at: datetime | None
    revoked_at: datetime | None

    @property
    def live(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None and self.expires_at > utcnow()


def invitation_token(server_secret: bytes, invitation_id: int, nonce: str) -> str:
    digest = derive(server_secret, "invitation", invitation_id, nonce)
    return f"{INVITATION_PREFIX}{invitation_id}.{base64.urlsafe_b64encode(digest).decode().rstrip('=')}"


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def invite(
    conn: Connection, server_secret: bytes, organization_id: int | None, email: str, role: Role, invited_by: int
) -> tuple[int, str]:
    """A new invitation and its link's token (shown to the inviter's mail job, never stored)."""
    nonce, now = secrets.token_hex(16), utcnow()
    row = {
        "organization_id": organization_id,
        "email": email.strip().lower(),
        "role": role,
        "nonce": nonce,
        "token_sha256": secrets.token_bytes(32),  # replaced below, once the id that the token names is known
        "invited_by": invited_by,
        "created_at": now,
        "expires_at": now + timedelta(days=INVITATION_DAYS),
    }
    invitation_id = int(conn.execute(invitations.insert().returning(invitations.c.id), row).scalar_one())
    token = invitation_token(server_secret, invitation_id, nonce)
    query = update(invitations).where(invitations.c.id == invitation_id)
    conn.execute(query.values(token_sha256=_digest(token)))
    return invitation_id, token


def _invitation(row: Any) -> Invitation:
    return Invitation(
        row.id,
        row.organization_id,
        row.email,
        Role(row.role),
        row.created_at,
        row.expires_at,
        row.accepted_at,
        row.revoked_at,
    )


def invitations_of(conn: Connection, organization_id: int) -> list[Invitation]:
    query = select(invitations).where(invitations.c.organization_id == organization_id).order_by(invitations.c.id)
    return [_invitation(row) for row in conn.execute(query)]


def token_for(conn: Connection, server_secret: bytes, invitation_id: int) -> tuple[Invitation, str] | None:
    """A live invitation and its link's token, made again for the mail job."""
    row = conn.execute(select(invitations).where(invitations.c.id == invitation_id)).first()
    if row is None or not _invitation(row).live:
        return None
    return _invitation(row), invitation_token(server_secret, row.id, row.nonce)


def revoke_invitation(conn: Connection, organization_id: int, invitation_id: int) -> bool:
    query = update(invitations).where(
        invitations.c.id == invitation_id,
        invitations.c.organization_id == organization_id,
        invitations.c.accepted_at.is_(None),
        invitations.c.revoked_at.is_(None),
    )
    return conn.execute(query.values(revoked_at=utcnow())).rowcount == 1


class InvitationError(Exception):
    """An unknown, used, revoked or expired link, or an address that already has an account elsewhere."""


def accept(conn: Connection, token: str, password: str, display_name: str, client: str) -> tuple[int, Invitation]:
    """Create the invited person's account (their address is proven by the link), or bring a reporter's existing
    account into the organization (its password unchanged); the link then stops working. Audited."""
    row = conn.execute(select(invitations).where(invitations.c.token_sha256 == _digest(token))).first()
    if row is None or not _invitation(row).live:
        raise InvitationError("this invitation is unknown, used, revoked or expired")
    invitation = _invitation(row)
    existing = conn.execute(
        select(users.c.id, users.c.role, users.c.organization_id).where(users.c.email == invitation.email)
    ).first()
    if existing is None:
        user_id = create_user(conn, invitation.email, invitation.role, password=password, display_name=display_name)
        conn.execute(update(users).where(users.c.id == user_id).values(organization_id=invitation.organization_id))
    elif existing.role == Role.REPORTER and existing.organization_id is None:
        user_id = existing.id
        values = {"role": invitation.role, "organization_id": invitation.organization_id}
        conn.execute(update(users).where(users.c.id == user_id).values(**values))
    else:
        raise InvitationError("this address already has an account with another role or organization")
    conn.execute(update(invitations).where(invitations.c.id == invitation.id).values(accepted_at=utcnow()))
    audit.record(conn, actor=invitation.email, action="organization.invitation.accept", target=f"user:{user_id}",
                 client=client, detail={"invitation_id": invitation.id})  # fmt: skip
    return user_id, invitation
