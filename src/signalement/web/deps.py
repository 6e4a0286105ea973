"""Request-scoped access to the platform and the caller, as FastAPI dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from signalement.ingest.ratelimit import RateLimiter
from signalement.platform import Platform
from signalement.store.accounts import Principal
from signalement.web.auth import Authenticator

# Dependencies are async so that FastAPI calls them on the event loop: a sync one costs a thread hop each.


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


async def get_principal(request: Request) -> Principal | None:
    """The caller. Looked up in the thread pool: a token needs the database, a password argon2 (~100 ms)."""
    if "authorization" not in request.headers:
        return None
    authenticator: Authenticator = request.app.state.authenticator
    return await run_in_threadpool(authenticator.authenticate, request)


async def get_anonymous_limiter(request: Request) -> RateLimiter:
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
