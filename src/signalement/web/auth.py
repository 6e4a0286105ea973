"""Who is calling: a Bearer API token, or HTTP Basic (e-mail and password, or any name and an API token).

argon2 costs ~100 ms by design, so a successful Basic check is cached in memory for a few minutes: browser
add-ons send credentials with every report. The cache is keyed by a hash of the credentials, never the password.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import threading
import time
from dataclasses import dataclass, field

from fastapi import Request
from sqlalchemy import Engine

from signalement.domain.accounts import Scope
from signalement.store.accounts import (
    TOKEN_PREFIX,
    Principal,
    principal_for_password,
    principal_for_token,
    token_digest,
)
from signalement.store.db import read
from signalement.web.errors import ApiError

TOKEN_CACHE_SECONDS = 5.0
UNAUTHORIZED_HEADERS = {"WWW-Authenticate": 'Bearer realm="signalement", Basic realm="signalement", charset="UTF-8"'}


class BasicCache:
    def __init__(self, ttl_seconds: float, max_entries: int = 100_000) -> None:
        self.ttl = ttl_seconds
        self.max_entries = max_entries
        self._entries: dict[bytes, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(user: str, password: str) -> bytes:
        return hashlib.sha256(f"{user}\0{password}".encode()).digest()

    def get(self, key: bytes) -> Principal | None:
        with self._lock:
            hit = self._entries.get(key)
            if hit is None or hit[0] < time.monotonic():
                self._entries.pop(key, None)
                return None
            return hit[1]

    def put(self, key: bytes, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, principal)


@dataclass
class Authenticator:
    engine: Engine
    basic_cache: BasicCache
    # A token's principal is remembered briefly too: a revoked token stops working within this many seconds.
    token_cache: BasicCache = field(default_factory=lambda: BasicCache(TOKEN_CACHE_SECONDS))

    def authenticate(self, request: Request) -> Principal | None:
        """The caller, None if no credentials were given; raises 401 if credentials were given and are wrong."""
        header = request.headers.get("authorization")
        if not header:
            return None
        scheme, _, value = header.partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            principal = self._token(value.strip())
        elif scheme == "basic":
            principal = self._basic(value.strip())
        else:
            raise ApiError(401, "unauthorized", "unsupported authorization scheme", UNAUTHORIZED_HEADERS)
        if principal is None:
            raise ApiError(401, "unauthorized", "invalid credentials", UNAUTHORIZED_HEADERS)
        return principal

    def _token(self, token: str) -> Principal | None:
        if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
            return None
        key = token_digest(token)
        principal = self.token_cache.get(key)
        if principal is None:
            with read(self.engine) as conn:
                principal = principal_for_token(conn, token)
            if principal is not None:
                self.token_cache.put(key, principal)
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
        if not sep or len(decoded) > 1024 or "\x00" in decoded:  # PostgreSQL text cannot hold NUL
            return None
        if password.startswith(TOKEN_PREFIX):
            return self._token(password)
        key = BasicCache.key(user, password)
        cached = self.basic_cache.get(key)
        if cached is not None:
            return cached
        with read(self.engine) as conn:
            principal = principal_for_password(conn, user, password)
        if principal is not None:
            self.basic_cache.put(key, principal)
        return principal


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
