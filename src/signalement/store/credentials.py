"""Checking credentials, shared by every way in (HTTP Basic and Bearer, SMTP AUTH): an API token, or an e-mail and
password (or any name and an API token as the password).

argon2 costs ~100 ms by design, so a successful password check is cached in memory for a few minutes: browser
add-ons send credentials with every report, mail clients at every connection. The cache is keyed by a hash of the
credentials, never the password. A token's principal is remembered for a few seconds only, so a revoked token
stops working soon after.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine

from signalement.store.accounts import (
    TOKEN_PREFIX,
    Principal,
    principal_for_password,
    principal_for_token,
    token_digest,
)
from signalement.store.db import read

TOKEN_CACHE_SECONDS = 5.0
MAX_CREDENTIALS = 1024  # characters: longer is refused before any hashing


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

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def put(self, key: bytes, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (time.monotonic() + self.ttl, principal)


@dataclass
class Credentials:
    engine: Engine
    basic_cache: BasicCache
    token_cache: BasicCache = field(default_factory=lambda: BasicCache(TOKEN_CACHE_SECONDS))

    def forget(self) -> None:
        """After a change of who may do what (a revoked token, new entitlements, a disabled member or
        organization): this process looks every caller up again; other processes within TOKEN_CACHE_SECONDS."""
        self.token_cache.clear()
        self.basic_cache.clear()

    def token(self, token: str) -> Principal | None:
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

    def password(self, user: str, password: str) -> Principal | None:
        """An e-mail and its password, or any name and an API token. Blocks for argon2 on a cache miss."""
        if len(user) + len(password) > MAX_CREDENTIALS or "\x00" in user + password:  # PostgreSQL text holds no NUL
            return None
        if password.startswith(TOKEN_PREFIX):
            return self.token(password)
        key = BasicCache.key(user, password)
        cached = self.basic_cache.get(key)
        if cached is not None:
            return cached
        with read(self.engine) as conn:
            principal = principal_for_password(conn, user, password)
        if principal is not None:
            self.basic_cache.put(key, principal)
        return principal
