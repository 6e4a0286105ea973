"""A private URL lookup as Safe Browsing does it (docs/lookup.md): a client keeps the sorted list of 4-byte prefixes
of the listed expressions' SHA-256 (`GET /api/v1/lookup/prefixes`, whole or as a difference from its version), and
asks for the full hashes of a prefix only when one of a URL's expressions matches (`POST /api/v1/lookup/hashes`):
the platform never sees the URL a person opened. Anonymous callers (rate-limited) get the confirmed CLEAR and GREEN
entries; an organization's token up to its TLP ceiling. Tokens with `lookup:urls` may also send URLs in clear
(`POST /api/v1/lookup/urls`, 500 a request)."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints

from signalement.domain.accounts import Scope
from signalement.domain.members import Tlp
from signalement.lookup.index import PREFIX
from signalement.lookup.service import LookupService
from signalement.store import organizations
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.web.auth import require
from signalement.web.deps import MAX_ID, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError

router = APIRouter(prefix="/api/v1/lookup", tags=["lookup"])
THREAT = "SOCIAL_ENGINEERING"  # Safe Browsing's name for phishing
PUBLIC = Tlp.GREEN  # what anyone may check: confirmed CLEAR and GREEN entries
CACHE_SECONDS = 300  # how long a client may keep a full hash, or the absence of one
WAIT_SECONDS = 60  # the least time between two list updates of a client
MAX_PREFIXES = 500
MAX_URLS = 500


class PrefixList(BaseModel):
    version: int = Field(description="Send it back as `version` next time.")
    reset: bool = Field(description="True: replace your whole list with `additions` (your version is not known).")
    prefix_size: int = PREFIX
    additions: str = Field(description="Base64 of the added prefixes, 4 bytes each, in ascending order.")
    removals: list[int] = Field(description="Indices, into your list before this update, of the prefixes to drop.")
    checksum: str = Field(description="Base64 SHA-256 of the whole new list (its prefixes concatenated in order).")
    minimum_wait_seconds: int = WAIT_SECONDS


class HashesIn(BaseModel):
    prefixes: list[Annotated[str, StringConstraints(max_length=16)]] = Field(
        min_length=1, max_length=MAX_PREFIXES, description="Base64 of 4-byte prefixes."
    )


class FullHash(BaseModel):
    hash: str = Field(description="Base64 of the SHA-256 of a listed expression.")
    threat: str = THREAT
    cache_seconds: int = CACHE_SECONDS


class HashesOut(BaseModel):
    matches: list[FullHash]
    negative_cache_seconds: int = Field(CACHE_SECONDS, description="How long a prefix with no match stays so.")


class UrlsIn(BaseModel):
    urls: list[Annotated[str, StringConstraints(max_length=8192)]] = Field(min_length=1, max_length=MAX_URLS)


class UrlVerdict(BaseModel):
    url: str
    listed: bool
    threat: str | None = None
    expression: str | None = Field(None, description="The listed host-suffix/path-prefix expression it matched.")


class UrlsOut(BaseModel):
    results: list[UrlVerdict]
    version: int


def _service(request: Request) -> LookupService:
    service: LookupService = request.app.state.lookup
    return service


def _ceiling(request: Request, principal: Principal | None, platform: PlatformDep, scope: Scope) -> Tlp:
    """Anonymous callers (rate-limited): PUBLIC; staff: everything; members: up to their ceiling."""
    if principal is None:
        if not request.app.state.lookup_limiter.allow(client_address(request)):
            raise ApiError(429, "too_many_requests", "too many lookups from this address: try again in a minute")
        return PUBLIC
    me = require(principal, scope)
    if me.is_staff:
        return Tlp.RED
    with read(platform.engine) as conn:
        found = organizations.get(conn, me.organization_id) if me.organization_id else None
    ceiling = found.entitlements.max_tlp if found is not None else PUBLIC
    return ceiling if ceiling.rank > PUBLIC.rank else PUBLIC


@router.get("/prefixes", response_model=PrefixList, summary="The hash prefixes of listed URLs, or what changed")
def prefixes(
    request: Request,
    platform: PlatformDep,
    principal: PrincipalDep,
    version: Annotated[int, Query(ge=0, le=MAX_ID, description="The version you hold; 0: none")] = 0,
) -> PrefixList:
    rank = _ceiling(request, principal, platform, Scope.LOOKUP_HASHES).rank
    made = _service(request).update(version, rank)
    return PrefixList(version=made.version, reset=made.reset, additions=base64.b64encode(made.additions).decode(),
                      removals=made.removals, checksum=base64.b64encode(made.checksum).decode())  # fmt: skip


@router.post("/hashes", response_model=HashesOut, summary="The full hashes of listed URLs for some prefixes")
def hashes(body: HashesIn, request: Request, platform: PlatformDep, principal: PrincipalDep) -> HashesOut:
    rank = _ceiling(request, principal, platform, Scope.LOOKUP_HASHES).rank
    index = _service(request).current().index
    matches: dict[bytes, FullHash] = {}
    for text in body.prefixes:
        prefix = _prefix(text)
        for match in index.by_prefix(int.from_bytes(prefix, "big"), rank):
            matches[match.hash] = FullHash(hash=base64.b64encode(match.hash).decode())
    return HashesOut(matches=[matches[h] for h in sorted(matches)])


def _prefix(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != PREFIX:
        raise ApiError(422, "bad_prefix", f"each prefix is the base64 of {PREFIX} bytes")
    return raw


@router.post("/urls", response_model=UrlsOut, summary="Verdicts for URLs sent in clear (lookup:urls)")
def lookup_urls(body: UrlsIn, request: Request, platform: PlatformDep, principal: PrincipalDep) -> UrlsOut:
    """For a mail filter or a proxy that may send the URLs it sees: each URL canonicalized, its expressions looked
    up, the most specific match given."""
    if principal is None:
        require(principal, Scope.LOOKUP_URLS)
    rank = _ceiling(request, principal, platform, Scope.LOOKUP_URLS).rank
    snapshot = _service(request).current()
    hits = snapshot.check(body.urls, rank)
    results = [
        UrlVerdict(url=url, listed=True, threat=THREAT, expression=hit.expression)
        if hit is not None
        else UrlVerdict(url=url, listed=False)
        for url, hit in zip(body.urls, hits, strict=True)
    ]
    return UrlsOut(results=results, version=snapshot.version)
