"""Who is calling: a Bearer API token, or HTTP Basic (e-mail and password, or any name and an API token), checked
by store/credentials.py (with its caches)."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

from fastapi import Request

from signalement.domain.accounts import Role, Scope
from signalement.store.accounts import Principal
from signalement.store.credentials import BasicCache, Credentials
from signalement.web.errors import ApiError

UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="signalement", Basic realm="signalement", charset="UTF-8"'}


@dataclass
class Authenticator:
    credentials: Credentials

    @property
    def basic_cache(self) -> BasicCache:
        return self.credentials.basic_cache

    @property
    def token_cache(self) -> BasicCache:
        return self.credentials.token_cache

    def authenticate(self, request: Request) -> Principal | None:
        """The caller, None if no credentials were given; raises 401 if credentials were given and are wrong."""
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            principal = self.credentials.token(value.strip())
        elif scheme == "basic":
            principal = self._basic(value.strip())
        else:
            raise ApiError(401, "unauthorized", "unsupported authorization scheme", UNAUTHORIZED_HEADERS)
        if principal is None:
            raise ApiError(401, "unauthorized", "invalid credentials", UNAUTHORIZED_HEADERS)
        return principal

    def _basic(self, value: str) -> Principal | None:
        try:
            raw = base64.b64decode(value, validate=True)
        except binascii.Error:
            return None
        try:
            decoded = raw.decode("utf-8")
        except UnicodeDecodeError:  # requests and btoa() send ISO-8859-1 (RFC 7617 allows either)
            decoded = raw.decode("latin-1")
        user, sep, password = decoded.partition(":")
        return self.credentials.password(user, password) if sep else None


def require(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise ApiError(401, "unauthorized", "credentials are required", UNAUTHORIZED_HEADERS)
    if not principal.can(scope):
        raise ApiError(403, "forbidden", f"this credential lacks the {scope} scope")
    return principal


def require_staff(principal: Principal | None, scope: Scope = Scope.REPORTS_READ) -> Principal:
    principal = require(principal, scope)
    if not principal.is_staff:
        raise ApiError(403, "forbidden", "staff only")
    return principal


def require_in_organization(
    principal: Principal | None,
    organization_id: int,
    roles: frozenset[Role] | None = None,
    scope: Scope = Scope.REPORTS_READ,
) -> Principal:
    """Staff, or a member of this organization, with one of `roles` when given. Anyone else gets 404: another
    organization's existence is not theirs to learn."""
    caller = require(principal, scope)
    if not caller.sees(organization_id):
        raise ApiError(404, "not_found", "no such organization")
    if roles is not None and caller.role not in roles:
        raise ApiError(403, "forbidden", "your role may not do this for the organization")
    return caller
