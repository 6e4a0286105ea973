"""The feeds as files, from the URLs' current reputation (docs/feeds.md): for the API (`/api/v1/feeds/...`) and
`signalement export` alike. A full feed holds what is listed now; an incremental one, from a cursor, every URL that
changed since, listed or withdrawn, each at its latest state. Only what the reader's TLP ceiling allows."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, listed
from signalement.feeds import misp, rpz, stix, tabular
from signalement.feeds.entry import UrlEntry
from signalement.store import urls as store

FORMATS = ("json", "csv", "stix")
MEDIA = {"json": "application/json", "csv": "text/csv; charset=utf-8", "stix": "application/stix+json;version=2.1"}
PLATFORM = "signalement"
MAX_ENTRIES = 1_000_000
ORG_UUID = str(uuid.uuid5(uuid.NAMESPACE_DNS, "signalement.feeds"))  # the MISP feed's organization


@dataclass(frozen=True)
class Feed:
    body: bytes
    media_type: str
    etag: str  # of the content the reader may see: the same until something it may see changes


def entries(conn: Connection, cursor: int, max_tlp: Tlp, limit: int, *, withdrawals: bool) -> list[UrlEntry]:
    """The URLs changed after `cursor` (0: all), with their withdrawals or only what is listed; of those withdrawn,
    only the ones that were once listed (a URL cleared while suspected was never in any feed)."""
    changed = store.changed_since(conn, cursor, max_tlp, limit)
    return [_entry(u) for u in changed if listed(u.state) or (withdrawals and u.confirmed_at is not None)]


def _entry(url: store.Url) -> UrlEntry:
    level = url.level or Level.URL
    return UrlEntry(
        seq=url.seq or 0, id=url.id, url=url.canonical, listed=url.listed or url.canonical, level=level,
        state=url.state, tlp=url.tlp, first_seen=url.first_seen, last_seen=url.last_seen,
        changed_at=url.changed_at or url.last_seen, reports=url.reports, reporters=url.reporters, brand=url.brand,
        tags=("phishing", level.value), withdrawn=not listed(url.state),
    )  # fmt: skip


def url_feed(conn: Connection, fmt: str, cursor: int, max_tlp: Tlp, limit: int, now: datetime) -> Feed:
    chosen = entries(conn, cursor, max_tlp, limit, withdrawals=cursor > 0)
    if fmt == "csv":
        body = tabular.to_csv(chosen)
    elif fmt == "stix":
        body = stix.bundle(chosen, identity_name=PLATFORM, now=now).encode()
    else:
        body = tabular.to_json(chosen, cursor=cursor, now=_last_change(chosen, now))
    return Feed(body, MEDIA[fmt], etag(body))


def misp_files(conn: Connection, max_tlp: Tlp, now: datetime) -> dict[str, bytes]:
    """The MISP feed's files: every URL ever listed, withdrawn ones as deleted attributes."""
    every = entries(conn, 0, max_tlp, MAX_ENTRIES, withdrawals=True)
    return misp.feed(every, org_name=PLATFORM, org_uuid=ORG_UUID, now=now)


def rpz_zone(conn: Connection, max_tlp: Tlp, now: datetime, origin: str, ns: str, contact: str) -> Feed:
    chosen = entries(conn, 0, max_tlp, MAX_ENTRIES, withdrawals=False)
    serial = rpz.serial_for(store.last_seq(conn))
    body = rpz.zone(chosen, origin=origin, serial=serial, now=now, ns=ns, contact=contact).encode()
    return Feed(body, "text/dns; charset=utf-8", etag(body))


def _last_change(chosen: Sequence[UrlEntry], now: datetime) -> datetime:
    """`generated_at` follows the content (so the same content gives the same bytes and ETag)."""
    return max((e.changed_at for e in chosen), default=now)


def etag(body: bytes) -> str:
    """A strong validator of the content (a weak one would let a proxy serve stale bytes)."""
    return f'"{hashlib.sha256(body).hexdigest()[:32]}"'
