"""Feeds over the API, for the members entitled to them (docs/feeds.md): phishing URLs as JSON, CSV or STIX 2.1,
full or incremental from a cursor (withdrawals included), a MISP feed, the confirmed domains and hosts as an RPZ
zone, and the origin IPs and sender domains of confirmed campaigns as JSON, CSV and DNSBL zones; each only as far as
the organization's TLP ceiling allows, with an ETag (If-None-Match: 304)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Response
from sqlalchemy import Connection

from signalement.domain.accounts import Scope
from signalement.domain.members import Tlp
from signalement.feeds.build import (
    FORMATS,
    MEDIA,
    Feed,
    dnsbl_zone,
    etag,
    indicator_feed,
    misp_files,
    rpz_zone,
    url_feed,
    zones_of,
)
from signalement.feeds.stix import FeedValueError
from signalement.feeds.zonefile import ZoneError
from signalement.store import organizations
from signalement.store.accounts import Principal
from signalement.store.db import read
from signalement.verdict.indicators import Kind
from signalement.web.auth import require
from signalement.web.deps import MAX_ID, PlatformDep, PrincipalDep
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1/feeds", tags=["feeds"])
URLS, DOMAINS, INDICATORS = "urls", "domains", "indicators"  # the entitlements' feed names


def _ceiling(conn: Connection, principal: Principal | None, feed: str) -> Tlp:
    """The TLP ceiling of the caller for this feed: staff see everything; a member what its organization is
    entitled to, if the feed is among its entitlements."""
    me = require(principal, Scope.FEEDS_READ)
    if me.is_staff:
        return Tlp.RED
    found = organizations.get(conn, me.organization_id) if me.organization_id else None
    if found is None or feed not in found.entitlements.feeds:
        raise ApiError(403, "forbidden", f"your organization is not entitled to the {feed} feed")
    return found.entitlements.max_tlp


def _answer(feed: Feed, if_none_match: str | None) -> Response:
    headers = {"ETag": feed.etag, "Cache-Control": "private, no-cache"}
    if if_none_match and feed.etag in (tag.strip() for tag in if_none_match.split(",")):
        return Response(status_code=304, headers=headers)
    return Response(feed.body, media_type=feed.media_type, headers=headers)


FEED_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"content": {MEDIA[f]: {} for f in FORMATS}},
    304: {"description": "Not modified: the ETag given in If-None-Match is still current"},
}


@router.get("/urls", summary="Phishing URLs: full, or what changed after a cursor", responses=FEED_RESPONSES)
def urls_feed(
    platform: PlatformDep,
    principal: PrincipalDep,
    format: Literal["json", "csv", "stix"] = "json",
    cursor: Annotated[int, Query(ge=0, le=MAX_ID, description="The last `seq` you have; 0: the full feed")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Each entry: url, listed (what to block), level, state, first and last seen, brand, reports, tags, tlp, and
    `withdrawn` (remove it: delisted, cleared or down); `seq` orders the changes. Keep the last `seq` you got (the
    JSON's `cursor`) and ask from it next time."""
    with read(platform.engine) as conn:
        ceiling = _ceiling(conn, principal, URLS)
        try:
            feed = url_feed(conn, format, cursor, ceiling, limit, datetime.now(UTC))
        except FeedValueError as error:
            raise ApiError(500, "feed_error", f"an entry cannot be written in this format: {error}") from None
    return _answer(feed, if_none_match)


@router.get("/misp/{name}", summary="The MISP feed's files: manifest.json, hashes.csv, <event uuid>.json")
def misp_feed(
    name: Annotated[str, Path(max_length=64)],
    platform: PlatformDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    with read(platform.engine) as conn:
        ceiling = _ceiling(conn, principal, URLS)
        files = misp_files(conn, ceiling, datetime.now(UTC))
    if name not in files:
        raise not_found("feed file")
    media = "text/csv; charset=utf-8" if name.endswith(".csv") else "application/json"
    return _answer(Feed(files[name], media, etag(files[name])), if_none_match)


@router.get("/rpz", summary="Confirmed domains and hosts as a DNS Response Policy Zone")
def rpz_feed(
    platform: PlatformDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    with read(platform.engine) as conn:
        ceiling = _ceiling(conn, principal, DOMAINS)
        try:
            feed = rpz_zone(conn, ceiling, datetime.now(UTC), zones_of(platform.settings))
        except ZoneError as error:
            raise ApiError(500, "feed_error", f"the zone cannot be written: {error}") from None
    return _answer(feed, if_none_match)


@router.get("/indicators", summary="Origin IPs and sender domains of confirmed campaigns: full, or after a cursor",
            responses={200: {"content": {MEDIA[f]: {} for f in ("json", "csv", "txt")}},
                       304: FEED_RESPONSES[304]})  # fmt: skip
def indicators_feed(
    platform: PlatformDep,
    principal: PrincipalDep,
    kind: Kind | None = None,
    format: Literal["json", "csv", "txt"] = "json",
    cursor: Annotated[int, Query(ge=0, le=MAX_ID, description="The last `seq` you have; 0: the full feed")] = 0,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 10_000,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """Each entry: kind (ip or domain), value, state, first and last seen, reports, sources, campaigns, tlp, and
    `withdrawn` (remove it: cleared, expired); `seq` orders the changes, as in the URL feed. `format=txt`: what is
    listed now, one value a line (a map file for rspamd's multimap or Postfix; ask with `kind`), never incremental."""
    with read(platform.engine) as conn:
        ceiling = _ceiling(conn, principal, INDICATORS)
        feed = indicator_feed(conn, format, cursor, ceiling, limit, datetime.now(UTC), kind)
    return _answer(feed, if_none_match)


@router.get("/dnsbl/{kind}", summary="The listed IPs or sender domains as an RFC 5782 DNSBL zone")
def dnsbl_feed(
    kind: Kind,
    platform: PlatformDep,
    principal: PrincipalDep,
    if_none_match: Annotated[str | None, Header()] = None,
) -> Response:
    """`ip`: origin IPs (IPv4 and IPv6 in one zone); `domain`: sender domains. Serve it with any authoritative DNS
    server (docs/feeds.md); a listed name answers 127.0.0.2 and a TXT saying why."""
    with read(platform.engine) as conn:
        ceiling = _ceiling(conn, principal, INDICATORS)
        try:
            feed = dnsbl_zone(conn, kind, ceiling, datetime.now(UTC), zones_of(platform.settings))
        except ZoneError as error:
            raise ApiError(500, "feed_error", f"the zone cannot be written: {error}") from None
    return _answer(feed, if_none_match)
