"""The feeds as files, from the current reputation of URLs and of campaigns' indicators (docs/feeds.md): for the API
(`/api/v1/feeds/...`) and `signalement export` alike. A full feed holds what is listed now; an incremental one, from
a cursor, everything that changed since, listed or withdrawn, each at its latest state. Only what the reader's TLP
ceiling allows."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from sqlalchemy import Connection, Engine

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, listed
from signalement.feeds import dnsbl, misp, rpz, stix, tabular
from signalement.feeds.entry import IndicatorEntry, UrlEntry
from signalement.settings import Settings
from signalement.store import indicators
from signalement.store import urls as store
from signalement.verdict.indicators import IndicatorState, Kind

FORMATS = ("json", "csv", "stix")
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "stix": "application/stix+json;version=2.1",
         "txt": "text/plain; charset=utf-8"}  # fmt: skip
PLATFORM = "signalement"
ZONE_MEDIA = "text/dns; charset=utf-8"
T = TypeVar("T")
MAX_ENTRIES = 1_000_000
ORG_UUID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "signalement.feeds"))  # the MISP feed's organization


@dataclass(frozen=True)
class Feed:
    body: bytes
    media_type: str
    etag: str  # of the content the reader may see: the same until something it may see changes


def entries(
    conn: Connection,
    cursor: int,
    max_tlp: Tlp,
    limit: int,
    *,
    withdrawals: bool,
    levels: tuple[Level, ...] | None = None,
) -> list[UrlEntry]:
    """The URLs changed after `cursor` (0: all), with their withdrawals or only what is listed; of those withdrawn,
    only the ones that were once listed (a URL cleared while suspected was never in any feed). A URL whose marking
    tightened past the reader's ceiling is a withdrawal for it. `levels`: only those listings, without their
    campaigns (a DNS zone needs neither the rest nor them)."""
    changed = store.changed_since(conn, cursor, max_tlp, limit, levels)
    chosen = [(u, listed(u.state) and max_tlp.allows(u.tlp)) for u in changed]
    chosen = [(u, shown) for u, shown in chosen if shown or (withdrawals and u.confirmed_at is not None)]
    campaigns = store.campaigns_of(conn, [u.id for u, _ in chosen]) if levels is None else {}
    return [_entry(u, shown, campaigns.get(u.id, ())) for u, shown in chosen]


def _entry(url: store.Url, shown: bool, campaigns: tuple[str, ...]) -> UrlEntry:
    level = url.level or Level.URL
    return UrlEntry(
        seq=url.seq or 0, id=url.id, url=url.canonical, listed=url.listed or url.canonical, level=level,
        state=url.state, tlp=url.tlp, first_seen=url.first_seen, last_seen=url.last_seen,
        changed_at=url.changed_at or url.last_seen, reports=url.reports, reporters=url.reporters, brand=url.brand,
        campaigns=campaigns, tags=("phishing", level.value), withdrawn=not shown,
    )  # fmt: skip


def url_feed(conn: Connection, fmt: str, cursor: int, max_tlp: Tlp, limit: int, now: datetime) -> Feed:
    """Built once per change of the URLs for each (format, cursor, limit, ceiling): consumers polling the same feed
    share it, and a STIX bundle (each indicator built and its pattern checked by stix2) takes long to make."""
    key = ("urls", fmt, cursor, limit, max_tlp)
    return _cached(conn, key, lambda: _url_feed(conn, fmt, cursor, max_tlp, limit, now))


def _url_feed(conn: Connection, fmt: str, cursor: int, max_tlp: Tlp, limit: int, now: datetime) -> Feed:
    chosen = entries(conn, cursor, max_tlp, limit, withdrawals=cursor > 0)
    if fmt == "csv":
        body = tabular.to_csv(chosen)
    elif fmt == "stix":
        body = stix.bundle(chosen, identity_name=PLATFORM, now=now).encode()
    else:
        body = tabular.to_json(chosen, cursor=cursor, now=_last_change(chosen, now))
    return Feed(body, MEDIA[fmt], etag(body))


def misp_files(conn: Connection, max_tlp: Tlp, now: datetime) -> dict[str, bytes]:
    """The MISP feed's files: every URL ever listed, withdrawn ones as deleted attributes. Built once per change
    and ceiling (a consumer fetches the manifest, the hashes, then each event file)."""

    def build() -> dict[str, bytes]:
        every = entries(conn, 0, max_tlp, MAX_ENTRIES, withdrawals=True)
        return misp.feed(every, org_name=PLATFORM, org_uuid=ORG_UUID, now=now)

    return _cached(conn, ("misp", max_tlp), build)


# Per engine: the URLs' last change number, and what was built at it (dropped when the number moves). The counts
# a report adds to a listed URL move no number: a cached feed shows them at the next change.
_CACHE: WeakKeyDictionary[Engine, tuple[int, dict[tuple[object, ...], Any]]] = WeakKeyDictionary()
CACHED = 32  # feeds kept at one change number


def _cached(conn: Connection, key: tuple[object, ...], build: Callable[[], T]) -> T:
    seq = store.last_seq(conn)
    at, built = _CACHE.get(conn.engine, (-1, {}))
    if at != seq:
        at, built = seq, {}
        _CACHE[conn.engine] = (at, built)
    if key not in built:
        if len(built) >= CACHED:
            built.pop(next(iter(built)))
        built[key] = build()
    found: T = built[key]
    return found


@dataclass(frozen=True)
class Zones:
    """The names of the platform's DNS zones, under one domain of its own."""

    domain: str
    base_url: str  # the web site: a listed entry's TXT record says where to ask for a delisting

    @property
    def rpz(self) -> str:
        return f"rpz.{self.domain}"

    @property
    def ips(self) -> str:
        return f"ip.dnsbl.{self.domain}"

    @property
    def domains(self) -> str:
        return f"dbl.{self.domain}"

    @property
    def ns(self) -> str:
        return f"ns.{self.domain}"

    @property
    def contact(self) -> str:
        return f"hostmaster.{self.domain}"

    @property
    def lookup_url(self) -> str:
        return f"{self.base_url}/delisting?value={{value}}"


def zones_of(settings: Settings) -> Zones:
    """The zones under the platform's first mail domain."""
    domain = settings.smtp_domains[0] if settings.smtp_domains else "signalement.invalid"
    return Zones(domain, settings.base_url)


def rpz_zone(conn: Connection, max_tlp: Tlp, now: datetime, zones: Zones) -> Feed:
    chosen = entries(conn, 0, max_tlp, MAX_ENTRIES, withdrawals=False, levels=(Level.HOST, Level.DOMAIN))
    serial = rpz.serial_for(store.last_seq(conn))
    body = rpz.zone(chosen, origin=zones.rpz, serial=serial, now=now, ns=zones.ns, contact=zones.contact).encode()
    return Feed(body, ZONE_MEDIA, etag(body))


def indicator_entries(
    conn: Connection, cursor: int, max_tlp: Tlp, limit: int, *, withdrawals: bool, kind: Kind | None = None
) -> list[IndicatorEntry]:
    """As `entries`, for the origin IPs and sender domains of confirmed campaigns."""
    made = []
    for row in indicators.changed_since(conn, cursor, max_tlp, limit, kind):
        shown = row.state is IndicatorState.CONFIRMED and max_tlp.allows(row.tlp)
        if shown or (withdrawals and row.confirmed_at is not None):
            made.append(IndicatorEntry(
                seq=row.seq or 0, id=row.id, kind=row.kind.value, value=row.value, state=row.state.value,
                tlp=row.tlp, first_seen=row.first_seen, last_seen=row.last_seen,
                changed_at=row.changed_at or row.last_seen, reports=row.reports, sources=row.sources,
                campaigns=row.campaigns, withdrawn=not shown,
            ))  # fmt: skip
    return made


def indicator_feed(
    conn: Connection, fmt: str, cursor: int, max_tlp: Tlp, limit: int, now: datetime, kind: Kind | None
) -> Feed:
    if fmt == "txt":  # a map file for filters (rspamd multimap, Postfix): what is listed now, one value a line
        listed = indicator_entries(conn, 0, max_tlp, limit, withdrawals=False, kind=kind)
        body = "".join(f"{value}\n" for value in sorted({e.value for e in listed})).encode()
        return Feed(body, MEDIA[fmt], etag(body))
    chosen = indicator_entries(conn, cursor, max_tlp, limit, withdrawals=cursor > 0, kind=kind)
    if fmt == "csv":
        body = tabular.to_csv(chosen, tabular.INDICATOR_FIELDS)
    else:
        body = tabular.to_json(chosen, cursor=cursor, now=_last_change(chosen, now))
    return Feed(body, MEDIA[fmt], etag(body))


def dnsbl_zone(conn: Connection, kind: Kind, max_tlp: Tlp, now: datetime, zones: Zones) -> Feed:
    """The RFC 5782 zone of the listed IPs or sender domains."""
    chosen = indicator_entries(conn, 0, max_tlp, MAX_ENTRIES, withdrawals=False, kind=kind)
    write = dnsbl.ip_zone if kind is Kind.IP else dnsbl.domain_zone
    body = write(chosen, origin=zones.ips if kind is Kind.IP else zones.domains,
                 serial=dnsbl.serial_for(indicators.last_seq(conn)), now=now, ns=zones.ns, contact=zones.contact,
                 lookup_url=zones.lookup_url).encode()  # fmt: skip
    return Feed(body, ZONE_MEDIA, etag(body))


def _last_change(chosen: Sequence[UrlEntry | IndicatorEntry], now: datetime) -> datetime:
    """`generated_at` follows the content (so the same content gives the same bytes and ETag)."""
    return max((e.changed_at for e in chosen), default=now)


def etag(body: bytes) -> str:
    """A strong validator of the content (a weak one would let a proxy serve stale bytes)."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'
