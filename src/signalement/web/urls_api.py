"""The URLs' reputation over the API (docs/urls.md): staff list and judge them (confirm, clear, mark down, set the
TLP marking and the listing level, always with a reason: every change is an event and in the audit log); anyone
asks for a URL to be delisted, and an analyst decides (an accepted request clears the URL: the next feeds carry
its withdrawal)."""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field, StringConstraints
from sqlalchemy import select, update

from signalement.domain.accounts import Role, Scope
from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, UrlState, move
from signalement.feeds.indicators import confirm_campaigns
from signalement.mail.canonical import canonicalize
from signalement.mail.domains import normalize_host, registered_domain
from signalement.store import audit, indicators
from signalement.store import urls as store
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import delisting_requests
from signalement.verdict.indicators import IndicatorState
from signalement.verdict.listing import directory, listing, shared
from signalement.web.auth import require_staff
from signalement.web.deps import MAX_ID, IdPath, PlatformDep, PrincipalDep, client_address
from signalement.web.errors import ApiError, not_found

router = APIRouter(prefix="/api/v1", tags=["urls"])
JUDGES = frozenset({Role.ANALYST, Role.ABUSE_MANAGER, Role.ADMIN})
Reason = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]


class UrlOut(BaseModel):
    id: int
    url: str
    host: str
    state: UrlState
    tlp: Tlp
    level: Level | None = Field(description="How much is listed while confirmed: url, prefix, host or domain.")
    listed: str | None
    brand: str | None
    reports: int
    reporters: int = Field(description="Distinct sources: a flood from one counts once.")
    first_seen: datetime
    last_seen: datetime
    confirmed_by: str | None
    confirmed_at: datetime | None
    changed_at: datetime | None
    seq: int | None = Field(description="Its last change in the feeds' order.")


class UrlEventOut(BaseModel):
    at: datetime
    actor: str
    action: str
    detail: dict[str, Any]
    seq: int | None


class UrlDetail(UrlOut):
    events: list[UrlEventOut]


class UrlChangeIn(BaseModel):
    state: Literal["suspected", "confirmed", "cleared", "down"] | None = None
    tlp: Tlp | None = None
    level: Level | None = Field(default=None, description="Overrides the computed listing (never a shared platform).")
    reason: Reason


class DelistingIn(BaseModel):
    url: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=2000)] = Field(
        description="The listed page's http or https address, or a listed origin IP or sender domain."
    )
    contact: Annotated[str, StringConstraints(max_length=320, pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$")]
    reason: Reason


class DelistingOut(BaseModel):
    id: int
    url: str
    url_id: int | None
    indicator_id: int | None = None
    contact: str
    reason: str
    state: str
    decision: str | None
    decided_at: datetime | None
    created_at: datetime


class DecisionIn(BaseModel):
    decision: Literal["accept", "refuse"]
    reason: Reason


def web_url(text: str) -> str | None:
    """The canonical form of an http or https address, None for anything else."""
    canonical = canonicalize(text)
    return canonical if canonical and urlsplit(canonical).scheme in ("http", "https") else None


_HOSTNAME = re.compile(r"(?=.{4,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z0-9-]{2,63}")


def delisting_target(text: str) -> tuple[str, str] | None:
    """What a delisting request names: a page ("url", its canonical form), an origin IP ("ip") or a sender domain
    ("domain", its registered domain, as the DNSBL lists it); None for anything else."""
    text = text.strip()
    if "/" in text:  # a page, with or without its scheme
        canonical = web_url(text)
        return ("url", canonical) if canonical else None
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        host = normalize_host(text)
        return ("domain", registered_domain(host) or host) if _HOSTNAME.fullmatch(host) else None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    return "ip", str(mapped or address)


def _out(url: store.Url) -> UrlOut:
    fields = {k: v for k, v in url.__dict__.items() if k not in ("id", "canonical")}
    return UrlOut(id=url.id, url=url.canonical, **fields)


def judge(principal: Any) -> Any:
    me = require_staff(principal, Scope.REPORTS_WRITE)
    if me.role not in JUDGES:
        raise ApiError(403, "forbidden", "analysts, abuse managers and admins judge URLs")
    return me


@router.get("/urls", response_model=list[UrlOut], summary="URLs from the reports, by state (staff)")
def list_urls(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: UrlState | None = None,
    host: Annotated[str | None, Query(max_length=255)] = None,
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[UrlOut]:
    require_staff(principal)
    with read(platform.engine) as conn:
        return [_out(u) for u in store.listing(conn, state=state, host=host, after=after, limit=limit)]


@router.get("/urls/{url_id}", response_model=UrlDetail, summary="A URL and its history (staff)")
def get_url(url_id: IdPath, platform: PlatformDep, principal: PrincipalDep) -> UrlDetail:
    require_staff(principal)
    with read(platform.engine) as conn:
        url = store.get(conn, url_id)
        if url is None:
            raise not_found("URL")
        events = [UrlEventOut(at=e.at, actor=e.actor, action=e.action, detail=e.detail, seq=e.seq)
                  for e in store.events(conn, url_id)]  # fmt: skip
    return UrlDetail(**_out(url).model_dump(), events=events)


@router.post("/urls/{url_id}:change", response_model=UrlOut, summary="Judge a URL: state, TLP, level (staff)")
def change_url(
    url_id: IdPath, body: UrlChangeIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> UrlOut:
    me = judge(principal)
    if body.state is None and body.tlp is None and body.level is None:
        raise ApiError(422, "nothing_to_change", "give a state, a tlp or a level")
    with platform.engine.begin() as conn:
        url = store.get(conn, url_id, for_update=True)
        if url is None:
            raise not_found("URL")
        state = None
        if body.state is not None and UrlState(body.state) is not url.state:
            try:
                state = move(url.state, UrlState(body.state))
            except ValueError as error:
                raise ApiError(409, "url_state", str(error)) from None
        chosen = _listing(conn, url, body.level) if (body.level or state is UrlState.CONFIRMED) else None
        store.change(conn, url, actor=me.email, action="judge", reason=body.reason, state=state, tlp=body.tlp,
                     listing=chosen)  # fmt: skip
        if state is UrlState.CONFIRMED:
            confirm_campaigns(conn, platform.queue, indicators.campaigns_of_url(conn, url_id))
        audit.record(conn, actor=me.email, action="url.change", target=f"url:{url_id}",
                     client=client_address(request),
                     detail={"state": body.state, "tlp": body.tlp, "level": body.level})  # fmt: skip
        changed = store.get(conn, url_id)
        assert changed is not None
        return _out(changed)


def _listing(conn: Any, url: store.Url, level: Level | None) -> tuple[Level, str]:
    """The analyst's level, checked against what may be listed; or the one the evidence supports."""
    siblings = store.confirmed_on_host(conn, url.host, url.id)
    if level is None:
        found = listing(url.canonical, siblings)
        return found.level, found.listed
    if level in (Level.HOST, Level.DOMAIN) and shared(url.host):
        raise ApiError(422, "shared_platform", f"{url.host} is a shared platform: never listed whole")
    if level is Level.URL:
        return level, url.canonical
    if level is Level.HOST:
        return level, url.host
    if level is Level.DOMAIN:
        domain = registered_domain(url.host)
        if domain is None:
            raise ApiError(422, "no_domain", "this host has no registered domain")
        return level, domain
    prefix = directory(url.canonical)
    if prefix is None:
        raise ApiError(422, "no_prefix", "a URL at a site's root has no directory to list")
    return level, prefix


# -- delisting ---------------------------------------------------------------------------------------------------


@router.post("/delisting-requests", status_code=202, response_model=DelistingOut,
             summary="Ask for a URL, an origin IP or a sender domain to be delisted (anyone)")  # fmt: skip
def request_delisting(body: DelistingIn, request: Request, platform: PlatformDep) -> DelistingOut:
    """A site owner says why a listed URL is not (or no longer) phishing, or why a listed IP address or domain does
    not send it; an analyst decides, and the answer goes to `contact`."""
    platform_limiter = request.app.state.anonymous_limiter
    if not platform_limiter.allow(client_address(request)):
        raise ApiError(429, "too_many_requests", "too many requests from this address: try again in a minute")
    target = delisting_target(body.url)
    if target is None:
        raise ApiError(422, "not_a_url", "give the http or https address of the page, or the IP address or domain")
    with platform.engine.begin() as conn:
        return DelistingOut(**store.request_delisting(conn, target, body.contact, body.reason))


@router.get("/delisting-requests", response_model=list[DelistingOut], summary="Delisting requests (staff)")
def list_delistings(
    platform: PlatformDep,
    principal: PrincipalDep,
    state: Literal["pending", "accepted", "refused"] | None = "pending",
    after: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[DelistingOut]:
    require_staff(principal)
    query = select(delisting_requests).where(delisting_requests.c.id > after)
    if state is not None:
        query = query.where(delisting_requests.c.state == state)
    with read(platform.engine) as conn:
        rows = conn.execute(query.order_by(delisting_requests.c.id).limit(limit))
        return [DelistingOut.model_validate(r._asdict()) for r in rows]


@router.post("/delisting-requests/{request_id}:decide", response_model=DelistingOut,
             summary="Accept (the URL or indicator is cleared) or refuse a delisting (staff)")  # fmt: skip
def decide_delisting(
    request_id: IdPath, body: DecisionIn, request: Request, platform: PlatformDep, principal: PrincipalDep
) -> DelistingOut:
    me = judge(principal)
    with platform.engine.begin() as conn:
        found = conn.execute(select(delisting_requests).where(delisting_requests.c.id == request_id)).first()
        if found is None:
            raise not_found("delisting request")
        if found.state != "pending":
            raise ApiError(409, "already_decided", f"this request was {found.state}")
        if body.decision == "accept":
            _delist(conn, found, me.email, body.reason)
        state = "accepted" if body.decision == "accept" else "refused"
        decided = {"state": state, "decision": body.reason, "decided_by": me.user_id, "decided_at": utcnow()}
        conn.execute(update(delisting_requests).where(delisting_requests.c.id == request_id).values(**decided))
        audit.record(conn, actor=me.email, action=f"delisting.{state}", target=f"delisting:{request_id}",
                     client=client_address(request),
                     detail={"url_id": found.url_id, "indicator_id": found.indicator_id})  # fmt: skip
        row = conn.execute(select(delisting_requests).where(delisting_requests.c.id == request_id)).one()
        return DelistingOut.model_validate(row._asdict())


def _delist(conn: Any, found: Any, actor: str, reason: str) -> None:
    """Clear what an accepted request names: the next feeds and zones carry its withdrawal."""
    url = store.get(conn, found.url_id, for_update=True) if found.url_id else None
    if url is not None and url.state is not UrlState.CLEARED:
        store.change(conn, url, actor=actor, action="delist", reason=reason, state=UrlState.CLEARED)
    indicator = indicators.get(conn, found.indicator_id, for_update=True) if found.indicator_id else None
    if indicator is not None and indicator.state is not IndicatorState.CLEARED:
        indicators.change(conn, indicator, actor=actor, action="delist", reason=reason, state=IndicatorState.CLEARED)
