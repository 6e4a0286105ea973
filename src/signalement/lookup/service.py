"""The lookup index of one process, kept in step with the database (docs/lookup.md).

Built from the confirmed URLs at the first request, then brought up to date from the URLs' change log (the feeds'
cursor, signalement.store.urls.changed_since) at most every REFRESH seconds: every process reads the same log, so
processes at the same version serve the same lists. A version is the last URL change number the index reflects.
The prefix lists of the last SNAPSHOTS versions are kept per TLP ceiling, so a client that has one gets only the
difference; any other version gets the whole list (a reset).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

import numpy as np
import numpy.typing as npt
from sqlalchemy import Connection, Engine, select

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, UrlState, listed
from signalement.lookup.index import Arrays, Columns, Entry, LookupIndex, full_hash
from signalement.mail.canonical import expressions, split
from signalement.store import urls as store
from signalement.store.db import read
from signalement.store.tables import urls

REFRESH = 2.0  # seconds between two looks at the change log
SNAPSHOTS = 64  # versions whose prefix lists are kept for differences
PAGE = 50_000  # URLs read at a time
MAX_DEPTH = 3  # directories a Safe Browsing client puts in its path prefixes (`/`, then up to three)
log = logging.getLogger(__name__)


def expressions_of(url: store.Url) -> list[str]:
    return expressions_for(url.canonical, url.level, url.listed)


def expressions_for(canonical: str, level: Level | None, listed: str | None) -> list[str]:
    """The Safe Browsing expressions (`host/path`) that stand for what is listed of a confirmed URL: a host or
    domain as `name/`, a kit directory as `host/dir/` (a client only tries directories up to MAX_DEPTH deep, so a
    deeper one is listed by its URL), else the URL itself."""
    _, host, path_query = split(canonical)
    name = listed or canonical
    if level in (Level.HOST, Level.DOMAIN):
        return [f"{name}/"]
    if level is Level.PREFIX:
        directory = urlsplit(name).path
        if directory.strip("/").count("/") < MAX_DEPTH:
            return [f"{host}{directory}"]
    return [f"{host}{path_query}"]


def entries_of(url: store.Url) -> list[Entry]:
    if not listed(url.state):
        return []
    return [Entry(url.id, full_hash(e), url.tlp.rank) for e in expressions_of(url)]


@dataclass(frozen=True)
class Hit:
    """A URL found listed: the expression that matched, and the URL whose listing it is."""

    expression: str
    url_id: int


@dataclass(frozen=True)
class Snapshot:
    version: int
    index: LookupIndex

    def check(self, given: Sequence[str], max_rank: int) -> list[Hit | None]:
        """Each URL's first listed expression (in the spec's order: the most specific first), or None."""
        per_url = [expressions(url) for url in given]
        flat = [e for found in per_url for e in found]
        matches = iter(self.index.find_many([full_hash(e) for e in flat], max_rank))
        hits: list[Hit | None] = []
        for found in per_url:
            hit = None
            for expression in found:
                match = next(matches)
                if hit is None and match is not None:
                    hit = Hit(expression, match.url_id)
            hits.append(hit)
        return hits


@dataclass(frozen=True)
class Update:
    """A client's list update: the whole list (`reset`) or the difference, and the new list's SHA-256."""

    version: int
    reset: bool
    additions: bytes  # 4-byte prefixes, ascending
    removals: list[int]  # indices into the client's list before the update
    checksum: bytes


def _update(version: int, old: npt.NDArray[np.uint32] | None, new: npt.NDArray[np.uint32]) -> Update:
    whole = new.astype(">u4").tobytes()
    checksum = hashlib.sha256(whole).digest()
    if old is None:
        return Update(version, True, whole, [], checksum)
    removals = np.nonzero(~np.isin(old, new, assume_unique=True))[0].tolist()
    added = np.setdiff1d(new, old, assume_unique=True).astype(">u4").tobytes()
    return Update(version, False, added, removals, checksum)


class LookupService:
    """One per process (the web application's state)."""

    def __init__(self, engine: Engine, refresh: float = REFRESH) -> None:
        self._engine = engine
        self._refresh = refresh
        self._lock = threading.Lock()
        self._current: Snapshot | None = None
        self._checked = 0.0
        self._lists: OrderedDict[tuple[int, int], npt.NDArray[np.uint32]] = OrderedDict()
        self._updates: OrderedDict[tuple[int, int, int], Update] = OrderedDict()

    def current(self) -> Snapshot:
        """The index, refreshed if the last look is older than REFRESH seconds."""
        found = self._current
        if found is None or time.monotonic() - self._checked >= self._refresh:
            with self._lock:  # one refresh at a time; readers meanwhile use the snapshot they have
                if self._current is None or time.monotonic() - self._checked >= self._refresh:
                    self._current = self._load(self._current)
                    self._checked = time.monotonic()
                found = self._current
        return found

    def update(self, version: int, max_rank: int) -> Update:
        """What a client holding `version` needs to be at the current one (computed once per pair of versions)."""
        current = self.current().version
        key = (version, current, max_rank)
        found = self._updates.get(key)
        if found is None:
            new = self.prefixes(current, max_rank)
            assert new is not None  # the current version's list is always made
            found = _update(current, self.prefixes(version, max_rank) if version else None, new)
            with self._lock:
                self._updates[key] = found
                while len(self._updates) > SNAPSHOTS * len(Tlp):
                    self._updates.popitem(last=False)
        return found

    def warm(self) -> None:
        """Build the index now (at start, in a thread of its own) rather than at the first lookup."""
        try:
            snapshot = self.current()
        except Exception:  # the first lookup tries again; the server must start anyway
            log.exception("the lookup index could not be built")
            return
        log.info("lookup index: %d entries at version %d", len(snapshot.index), snapshot.version)

    def prefixes(self, version: int, max_rank: int) -> npt.NDArray[np.uint32] | None:
        """The sorted prefix list of a version still kept (None: not kept, or never served here)."""
        found = self._lists.get((version, max_rank))
        if found is None and self._current is not None and self._current.version == version:
            found = self._current.index.prefixes(max_rank)
            with self._lock:
                self._lists[(version, max_rank)] = found
                while len(self._lists) > SNAPSHOTS * len(Tlp):
                    self._lists.popitem(last=False)
        return found

    def _load(self, current: Snapshot | None) -> Snapshot:
        with read(self._engine) as conn:
            if current is None:
                return _built(conn)
            return _updated(conn, current)


def _built(conn: Connection) -> Snapshot:
    version = store.last_seq(conn)  # first: a change committed after it is read at the next refresh
    columns = Columns()
    after = 0
    ranks = {t.value: t.rank for t in Tlp}
    wanted = (urls.c.id, urls.c.canonical, urls.c.level, urls.c.listed, urls.c.tlp)  # only these: a million rows
    while True:
        query = select(*wanted).where(urls.c.state == UrlState.CONFIRMED, urls.c.id > after).order_by(urls.c.id)
        page = conn.execute(query.limit(PAGE)).all()
        if not page:
            arrays = Arrays.of_columns(bytes(columns.hashes), columns.ids, bytes(columns.ranks))
            return Snapshot(version, LookupIndex(arrays=arrays))
        for url_id, canonical, level, listed_as, tlp in page:
            for expression in expressions_for(canonical, Level(level) if level else None, listed_as):
                columns.add(url_id, full_hash(expression), ranks[tlp])
        after = page[-1][0]


def _updated(conn: Connection, current: Snapshot) -> Snapshot:
    version = store.last_seq(conn)
    if version == current.version:
        return current
    changes: dict[int, list[Entry]] = {}
    cursor = current.version
    while cursor < version:
        page = store.changed_since(conn, cursor, Tlp.RED, PAGE)
        if not page:
            break
        for url in page:
            changes[url.id] = entries_of(url)
        cursor = max(u.seq or cursor for u in page)
    return Snapshot(max(cursor, current.version), current.index.updated(changes))
