"""Request-scoped access to the platform and the caller, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request

from signalement.platform import Platform
from signalement.store.accounts import Principal
from signalement.web.auth import Authenticator
from signalement.web.ratelimit import RateLimiter


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


def get_principal(request: Request) -> Principal | None:
    """Sync on purpose: FastAPI runs it in the thread pool, where a password check may block."""
    authenticator: Authenticator = request.app.state.authenticator
    return authenticator.authenticate(request)


def get_anonymous_limiter(request: Request) -> RateLimiter:
    limiter: RateLimiter = request.app.state.anonymous_limiter
    return limiter


def client_address(request: Request) -> str:
    return request.client.host if request.client else ""


PlatformDep = Annotated[Platform, Depends(get_platform)]
PrincipalDep = Annotated[Principal | None, Depends(get_principal)]
LimiterDep = Annotated[RateLimiter, Depends(get_anonymous_limiter)]


# Ids are 64-bit in the database: a larger number is a 422, not a database error.
MAX_ID = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
IdQuery = Annotated[int | None, Query(ge=1, le=MAX_ID)]
