"""Users and API tokens. Tokens are 256-bit random values kept only as SHA-256; passwords with argon2."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Connection, func, select, update

from signalement.domain.accounts import DEFAULT_SCOPES, Role, Scope
from signalement.domain.members import Entitlements
from signalement.store.sql import utcnow
from signalement.store.tables import api_tokens, organizations, users

TOKEN_PREFIX = "sig_"  # noqa: S105 - a public prefix that lets secret scanners spot leaked tokens
_hasher = PasswordHasher()


@dataclass(frozen=True)
class Principal:
    """An authenticated caller."""

    user_id: int
    email: str
    role: Role
    scopes: frozenset[Scope]
    organization_id: int | None = None  # the member organization it acts for

    @property
    def is_staff(self) -> bool:
        return self.role.is_staff

    def sees(self, organization_id: int | None) -> bool:
        """Whether it may read what belongs to this organization: staff read all, members their own."""
        return self.is_staff or (organization_id is not None and organization_id == self.organization_id)

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(
    conn: Connection,
    email: str,
    role: Role,
    *,
    password: str | None = None,
    display_name: str = "",
    verified: bool = True,
) -> int:
    """An account; `verified=False` for one made by signing up, which cannot sign in before its address is proven."""
    now = utcnow()
    return int(
        conn.execute(
            users.insert()
            .values(
                email=email.strip().lower(),
                role=role,
                display_name=display_name,
                password_hash=hash_password(password) if password else None,
                disabled=False,
                created_at=now,
                email_verified_at=now if verified else None,
            )
            .returning(users.c.id)
        ).scalar_one()
    )


def issue_token(
    conn: Connection,
    user_id: int,
    *,
    name: str = "",
    scopes: Iterable[Scope] | None = None,
    organization_id: int | None = None,
) -> str:
    """Create a token and return it in clear: the only time it is ever seen. With `organization_id`, an
    organization's token: it acts for the organization (its scopes still bounded by its maker's role)."""
    role = Role(conn.execute(select(users.c.role).where(users.c.id == user_id)).scalar_one())
    granted = DEFAULT_SCOPES[role] if scopes is None else frozenset(scopes) & DEFAULT_SCOPES[role]
    token = new_token()
    conn.execute(
        api_tokens.insert().values(
            user_id=user_id,
            token_sha256=token_digest(token),
            name=name,
            scopes=sorted(granted),
            created_at=utcnow(),
            organization_id=organization_id,
        )
    )
    return token


def principal_for_token(conn: Connection, token: str) -> Principal | None:
    """The caller a live token stands for: an organization's token acts for it, whoever made it."""
    organization = func.coalesce(api_tokens.c.organization_id, users.c.organization_id)
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.role, api_tokens.c.scopes, organization.label("organization_id"))
        .join(users, users.c.id == api_tokens.c.user_id)
        .where(
            api_tokens.c.token_sha256 == token_digest(token),
            api_tokens.c.revoked_at.is_(None),
            users.c.disabled.is_(False),
        )
    ).first()
    if row is None:
        return None
    return principal(conn, row.id, row.email, Role(row.role), row.organization_id, row.scopes)


def principal(
    conn: Connection,
    user_id: int,
    email: str,
    role: Role,
    organization_id: int | None,
    scopes: Iterable[str] | None = None,
) -> Principal | None:
    """A caller with the scopes its role allows, bounded by its organization's entitlements; None when that
    organization is disabled (its people and tokens stop at once)."""
    granted = DEFAULT_SCOPES[role] if scopes is None else frozenset(Scope(s) for s in scopes) & DEFAULT_SCOPES[role]
    if organization_id is None:
        return Principal(user_id, email, role, granted)
    row = conn.execute(
        select(organizations.c.entitlements, organizations.c.disabled_at).where(organizations.c.id == organization_id)
    ).first()
    if row is None or row.disabled_at is not None:
        return None
    bounded = Entitlements.from_json(row.entitlements).bound(granted)
    return Principal(user_id, email, role, bounded, organization_id)


def principal_for_password(conn: Connection, email: str, password: str) -> Principal | None:
    """Check a password (slow by design: ~100 ms). Unknown users cost the same, so timing reveals nothing."""
    row = conn.execute(
        select(users.c.id, users.c.email, users.c.role, users.c.password_hash, users.c.organization_id).where(
            users.c.email == email.strip().lower(), users.c.disabled.is_(False), users.c.email_verified_at.is_not(None)
        )
    ).first()
    stored = row.password_hash if row is not None and row.password_hash else _DUMMY_HASH
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return None
    if row is None or not row.password_hash:
        return None
    return principal(conn, row.id, row.email, Role(row.role), row.organization_id)


def user_count(conn: Connection) -> int:
    return len(conn.execute(select(users.c.id).limit(1)).all())


_DUMMY_HASH = _hasher.hash(secrets.token_hex(16))


@dataclass(frozen=True)
class TokenInfo:
    id: int
    name: str
    scopes: tuple[str, ...]
    created_at: Any


def tokens_of(conn: Connection, user_id: int) -> list[TokenInfo]:
    """A person's live API tokens (never their value: only its hash is kept), newest first."""
    rows = conn.execute(
        select(api_tokens.c.id, api_tokens.c.name, api_tokens.c.scopes, api_tokens.c.created_at)
        .where(api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .order_by(api_tokens.c.id.desc())
    )
    return [TokenInfo(r.id, r.name, tuple(r.scopes), r.created_at) for r in rows]


def revoke_token(conn: Connection, user_id: int, token_id: int) -> bool:
    result = conn.execute(
        update(api_tokens)
        .where(api_tokens.c.id == token_id, api_tokens.c.user_id == user_id, api_tokens.c.revoked_at.is_(None))
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1
