"""The warning page and /go (docs/warning.md).

`GET /warning?url=` tells anyone why a listed page is dangerous (what it impersonates, how often it was reported,
since when), offers a way back, and lets the person go on only through a collapsed, discouraged link. Only what
anyone may see is shown (PUBLIC: confirmed CLEAR and GREEN entries).

`GET /go?url=&org=&sig=` is where a member's webmail or filter points the links it rewrites (signed as
signalement.web.links_api says): a validly signed link redirects at once unless it is listed at the
organization's TLP ceiling, which shows the warning; any other link shows a neutral "you are leaving for <host>"
page, so the platform never redirects on its own to an address someone else chose (never an open redirector).

Each showing of the warning for a listed URL counts one protected click for that URL and day; nothing about the
person is kept, and nothing here logs the URL or the client's address (uvicorn's access log is off, see
signalement.web.server)."""

from __future__ import annotations

import logging
import re
import secrets
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import quote, urlencode, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError
from starlette.concurrency import run_in_threadpool

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, listed
from signalement.lookup.service import Hit, LookupService
from signalement.mail.canonical import canonicalize, split
from signalement.store import clicks, organizations
from signalement.store import urls as store
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.ui import i18n
from signalement.ui.pages import page, platform_of
from signalement.web.deps import MAX_ID
from signalement.web.links_api import link_key, signed
from signalement.web.lookup_api import PUBLIC

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)

MAX_URL = 8192  # longer is no link a person clicks
CEILING_SECONDS = 5.0  # how long a signer's ceiling is kept: a disabled organization's links stop within it
SHOWN = 300  # characters of the address written out on the page
# Characters a browser would drop or read otherwise than urlsplit does (a tab inside the host, `\` for `/`...):
# such a link is refused rather than shown under a host it would not reach.
_AMBIGUOUS = re.compile(r"[\x00-\x20\x7f\\]")
_URL_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))  # what stays as written in the Location header
_HEADERS = {
    "Referrer-Policy": "no-referrer",  # the page the person leaves, or this one, tells the next site nothing
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex",
    "X-Frame-Options": "DENY",  # the "continue" link must not be clicked through someone else's frame
    "X-Content-Type-Options": "nosniff",
}
_CSP = (
    "default-src 'none'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'nonce-{nonce}'; img-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


@dataclass(frozen=True)
class Target:
    """A link to an http or https page: as given (what is signed), as a link's href, and its host as a browser
    reaches it (the canonical host: lower case, IDNA, numeric IP addresses normalized)."""

    url: str
    href: str
    host: str


def target_of(url: str) -> Target | None:
    if not url or len(url) > MAX_URL or _AMBIGUOUS.search(url):
        return None
    try:
        parts = urlsplit(url)
    except ValueError:  # an unclosed `[` of an IPv6 address
        return None
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return None
    canonical = canonicalize(url)
    if canonical is None:
        return None
    return Target(url, quote(url, safe=_URL_SAFE), split(canonical)[1])


# -- the routes ---------------------------------------------------------------------------------------------------


@router.get("/warning")
def warning(request: Request, url: str = "") -> Response:
    target = target_of(url)
    if target is None:
        return _shown(request, "link_refused.html", 400)
    hit = _hit(request, target, PUBLIC)
    found = _listed(request, hit, PUBLIC) if hit is not None else None
    if found is None:
        return _leaving(request, target, checked=True)
    return _warn(request, target, found)


@router.get("/go")
async def go(request: Request, url: str = "", org: str = "", sig: str = "") -> Response:
    """Asynchronous: the common case (a signed link, not listed) needs no database and no thread (the signer's
    ceiling is cached, the index is in memory); every page (a warning reads and writes, any page may read the
    visitor's session) is made in the thread pool."""
    target = target_of(url)
    if target is None:
        return await run_in_threadpool(_shown, request, "link_refused.html", 400)
    ceiling = await _signer_ceiling(request, url, org, sig)
    hit = _hit(request, target, ceiling or PUBLIC)
    if hit is not None:
        found = await run_in_threadpool(_listed, request, hit, ceiling or PUBLIC)
        if found is not None:
            return await run_in_threadpool(_warn, request, target, found)
    if ceiling is None:  # not signed by a member: the person decides, knowing where the link goes
        return await run_in_threadpool(lambda: _leaving(request, target, checked=False))
    response = RedirectResponse(target.href, status_code=303)
    response.headers.update(_HEADERS)
    return response


# -- what they check ----------------------------------------------------------------------------------------------


async def _signer_ceiling(request: Request, url: str, org: str, sig: str) -> Tlp | None:
    """The TLP ceiling of the organization whose key signed the link (at least PUBLIC); None when the link is not
    validly signed by an organization that exists and is enabled."""
    if not (org.isascii() and org.isdigit()) or len(org) > 19 or not 0 < int(org) <= MAX_ID:
        return None
    platform = platform_of(request)
    if not signed(link_key(platform.secret, int(org)), url, sig):  # first: no database read for a forged link
        return None
    ceilings: dict[int, tuple[float, Tlp | None]] = request.app.state.link_ceilings
    kept = ceilings.get(int(org))
    if kept is None or time.monotonic() - kept[0] > CEILING_SECONDS:
        kept = (time.monotonic(), await run_in_threadpool(_ceiling_of, platform.engine, int(org)))
        ceilings[int(org)] = kept
    return kept[1]


def _ceiling_of(engine: Engine, organization_id: int) -> Tlp | None:
    with read(engine) as conn:
        found = organizations.get(conn, organization_id)
    if found is None or found.disabled:
        return None
    ceiling = found.entitlements.max_tlp
    return ceiling if ceiling.rank > PUBLIC.rank else PUBLIC


def _hit(request: Request, target: Target, ceiling: Tlp) -> Hit | None:
    """What the in-memory index finds listed for the link, within the ceiling."""
    service: LookupService = request.app.state.lookup
    return service.current().check([target.url], ceiling.rank)[0]


def _listed(request: Request, hit: Hit, ceiling: Tlp) -> store.Url | None:
    """The listed URL the index found: the database has the last word, so a URL delisted since the index's last
    refresh is no longer shown as listed."""
    with read(platform_of(request).engine) as conn:
        found = store.get(conn, hit.url_id)
    if found is None or not listed(found.state) or not ceiling.allows(found.tlp):
        return None
    return found


def _warn(request: Request, target: Target, found: store.Url) -> Response:
    if request.method == "GET":  # a HEAD is a link checker, not a person
        _count(request, found.id)
    lang = i18n.negotiate(request.cookies.get(i18n.COOKIE), request.headers.get("accept-language"))
    public = PUBLIC.allows(found.tlp)  # details of an entry above PUBLIC stay with the member who protects
    whole_site = found.level in (Level.HOST, Level.DOMAIN) and bool(found.listed)
    context: dict[str, object] = {
        "target": target,
        "shown_url": _shortened(target.url),
        "public": public,
        "brand": found.brand if public else None,
        "reports": found.reports if public else None,
        "since": _date(found.first_seen, lang) if public else None,
        "site": found.listed if public and whole_site else None,
        "delisting": "/delisting?" + urlencode({"url": target.url}),
    }
    return _shown(request, "warning.html", 200, **context)


def _leaving(request: Request, target: Target, *, checked: bool) -> Response:
    """Where the link goes, and the choice to go there: `checked`, the page says the link is not listed (or no
    longer); else only where it leads (a link nobody we know signed)."""
    return _shown(request, "leaving.html", target=target, shown_url=_shortened(target.url), checked=checked)


def _count(request: Request, url_id: int) -> None:
    """One protected click; the warning is shown even if the count cannot be written."""
    try:
        with platform_of(request).engine.begin() as conn:
            clicks.count(conn, url_id, utcnow().date())
    except SQLAlchemyError:
        log.warning("a protected click could not be counted")


# -- the pages ----------------------------------------------------------------------------------------------------


def _shown(request: Request, name: str, status: int = 200, **context: object) -> Response:
    """One of these pages, with its headers; language links come back to the same address."""
    nonce = secrets.token_urlsafe(16)
    path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    response = page(request, name, None, status, nonce=nonce, path=path, **context)
    response.headers.update(_HEADERS)
    response.headers["Content-Security-Policy"] = _CSP.format(nonce=nonce)
    return response


def _shortened(url: str) -> str:
    return url if len(url) <= SHOWN else url[: SHOWN - 1] + "…"


def _date(when: datetime, lang: str) -> str:
    """`3 November 2026`, `3 novembre 2026`: a date as people write it."""
    t = i18n.translator(lang)
    month = t("warning.months").split(",")[when.month - 1].strip()
    day = t("warning.first_day") if when.day == 1 else str(when.day)  # le 1er novembre
    return t("warning.date", day=day, month=month, year=when.year)
