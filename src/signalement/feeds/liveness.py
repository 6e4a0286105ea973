"""Whether confirmed phishing URLs are still served (docs/urls.md): a periodic job GETs each confirmed or down URL
every few hours through the outbound guard (signalement.outbound: no private address, no redirect followed, no
cookie, no body read) and moves a URL gone for a day, over several checks, to `down`, which withdraws it from the
feeds; one the checker put down that is served again goes back to `confirmed`.

A check is `gone` only on an answer that says so (HTTP 404 or 410, a host DNS says does not exist, or one moved to
private addresses only); a failure to get an answer (5xx, timeout, refused or reset connection, TLS, a resolver
that does not answer) is `unknown` and counts neither way: an outage of the platform's own network or resolver
must not withdraw what is still served. The network calls run outside any transaction; each result is recorded in
a short one of its own. Logs carry counts only: a URL can identify a victim.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import httpx
from sqlalchemy import Connection, Engine, or_, select, update

from signalement import outbound
from signalement.domain.url_reputation import ConfirmedBy, Level, UrlState
from signalement.settings import Settings
from signalement.store import urls as store
from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import urls
from signalement.work.port import Payload, TaskContext, TaskSpec

CHECK_TASK = "urls_check"
ACTOR = "checker"
SCHEMES = ("http", "https")
CHECKED = (UrlState.CONFIRMED, UrlState.DOWN)  # never suspected or cleared ones
BATCH = 200  # URLs per run (every hour): 4,800 every RECHECK at most
CONCURRENCY = 8  # checks at once: most wait on the network
RECHECK = timedelta(hours=6)
TIMEOUT_SECONDS = 10.0
GONE_CHECKS = 3  # consecutive gone checks ...
GONE_FOR = timedelta(hours=24)  # ... spanning at least this, before a URL is down

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    LIVE = "live"
    GONE = "gone"
    UNKNOWN = "unknown"


class Failure(StrEnum):
    """Why a check got no HTTP answer."""

    NO_SUCH_HOST = "no such host"
    PRIVATE = "host on private addresses only"
    DNS = "no DNS answer"
    REFUSED = "not checkable"
    TIMEOUT = "timeout"
    CONNECTION = "connection failed"
    ERROR = "HTTP error"


@dataclass(frozen=True)
class Seen:
    """What one check saw: an HTTP status, or why there was none."""

    status: int | None = None
    failure: Failure | None = None

    def __str__(self) -> str:
        return f"HTTP {self.status}" if self.status is not None else str(self.failure or "nothing")


def classify(seen: Seen, level: Level | None = None) -> Outcome:
    """Gone: 404 or 410, or a host that no longer exists or only points at private addresses. Live: any other
    answer under 500, a 3xx included (not followed: kits often redirect, and the answer shows the URL is served),
    401 and 403 too (kits hide behind them). Unknown: 5xx and every failure to get an answer.

    A URL listed as its whole host or registered domain (`level`) is gone only when its host is: a 404 on one path
    of a domain bought to phish says nothing of the domain (kits move, the next campaign reuses it)."""
    if seen.status is not None:
        if seen.status in (404, 410):
            return Outcome.UNKNOWN if level in (Level.HOST, Level.DOMAIN) else Outcome.GONE
        return Outcome.LIVE if 200 <= seen.status < 500 else Outcome.UNKNOWN
    # A host re-pointed to loopback or private addresses only (a common sinkhole) serves its page to no victim:
    # gone. One with a private address beside public ones is merely refused by the guard (`unknown`): else adding
    # a private record would be enough for a phisher to get its URL withdrawn while the public one still serves it.
    return Outcome.GONE if seen.failure in (Failure.NO_SUCH_HOST, Failure.PRIVATE) else Outcome.UNKNOWN


def failure_of(error: Exception) -> Failure:
    """The failure an exception of the HTTP call stands for (TLS errors arrive as connection errors)."""
    if isinstance(error, httpx.TimeoutException):
        return Failure.TIMEOUT
    if isinstance(error, httpx.ConnectError | ConnectionError):
        return Failure.CONNECTION
    return Failure.ERROR


@dataclass(frozen=True)
class Run:
    """A URL's current run of consecutive gone checks: since the first of them, how many."""

    since: datetime | None = None
    checks: int = 0


def after(run: Run, outcome: Outcome, now: datetime, confirmed_at: datetime | None) -> Run:
    """The run once a check is recorded: a live check ends it, an unknown one leaves it as it was; a gone one
    extends it, or starts one (also when the run began before the URL's latest confirmation: it was not checked
    while suspected or cleared, so the checks are not consecutive)."""
    if outcome is Outcome.LIVE:
        return Run()
    if outcome is Outcome.UNKNOWN:
        return run
    if run.since is None or run.checks == 0 or (confirmed_at is not None and run.since < confirmed_at):
        return Run(now, 1)
    return Run(run.since, run.checks + 1)


def next_state(state: UrlState, outcome: Outcome, run: Run, now: datetime, *, down_by_checker: bool) -> UrlState:
    """A confirmed URL gone on GONE_CHECKS checks spanning GONE_FOR is down; a down one the checker itself put down
    is confirmed again when served. An analyst's `down` stays: the analyst saw the page (a host's suspension page
    answers 200 or 302, which counts as live here), and new reports can still bring the URL back."""
    long_gone = run.since is not None and run.checks >= GONE_CHECKS and now - run.since >= GONE_FOR
    if state is UrlState.CONFIRMED and outcome is Outcome.GONE and long_gone:
        return UrlState.DOWN
    if state is UrlState.DOWN and outcome is Outcome.LIVE and down_by_checker:
        return UrlState.CONFIRMED
    return state


def observe(http: httpx.Client, url: str, settings: Settings) -> Seen:
    """Check one URL (the network: outside any transaction)."""
    try:
        target = outbound.check(url, settings, schemes=SCHEMES)
    except outbound.UnresolvedError:
        return Seen(failure=Failure.NO_SUCH_HOST if outbound.no_such_host(_host(url)) else Failure.DNS)
    except outbound.RefusedError:
        return Seen(failure=Failure.PRIVATE if _private_only(url) else Failure.REFUSED)
    try:
        return Seen(status=outbound.get(http, target).status_code)
    except (httpx.HTTPError, OSError, ValueError) as error:  # one odd site must not stop the batch
        return Seen(failure=failure_of(error))


def _host(url: str) -> str:
    return httpx.URL(url).raw_host.decode("ascii")  # check() parsed it already


def _private_only(url: str) -> bool:
    """Whether the URL's host resolves, and only to addresses the guard refuses."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError):
        return False
    host = parsed.raw_host.decode("ascii")
    addresses = outbound.resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80)) if host else ()
    return bool(addresses) and all(outbound.refused_address(a) for a in addresses)


@dataclass(frozen=True)
class Due:
    id: int
    canonical: str
    level: Level | None
    checked_at: datetime | None


def due(engine: Engine, now: datetime, limit: int = BATCH) -> list[Due]:
    """Confirmed and down http(s) URLs never checked or not checked for RECHECK, the longest unchecked first."""
    query = (
        select(urls.c.id, urls.c.canonical, urls.c.level, urls.c.checked_at)
        .where(
            urls.c.state.in_([s.value for s in CHECKED]),
            or_(urls.c.canonical.startswith("http://"), urls.c.canonical.startswith("https://")),
            or_(urls.c.checked_at.is_(None), urls.c.checked_at < now - RECHECK),
        )
        .order_by(urls.c.checked_at.asc().nulls_first(), urls.c.id)
        .limit(limit)
    )
    with read(engine) as conn:
        return [Due(r.id, r.canonical, Level(r.level) if r.level else None, r.checked_at) for r in conn.execute(query)]


def record(engine: Engine, item: Due, seen: Seen) -> str:
    """Record one check in its own short transaction; what it did: down, up, recorded, or skipped (the URL left
    the checked states, or another run recorded a check of it meanwhile)."""
    now = utcnow()
    with engine.begin() as conn:
        url = store.get(conn, item.id, for_update=True)
        if url is None or url.state not in CHECKED:
            return "skipped"
        outcome = classify(seen, url.level)
        columns = (urls.c.checked_at, urls.c.gone_since, urls.c.gone_checks)
        row = conn.execute(select(*columns).where(urls.c.id == url.id)).one()
        if row.checked_at != item.checked_at:
            return "skipped"
        run = after(Run(row.gone_since, row.gone_checks), outcome, now, url.confirmed_at)
        values = {"checked_at": now, "gone_since": run.since, "gone_checks": run.checks}
        conn.execute(update(urls).where(urls.c.id == url.id).values(**values))
        by_checker = url.state is UrlState.DOWN and outcome is Outcome.LIVE and _down_by_checker(conn, url.id)
        state = next_state(url.state, outcome, run, now, down_by_checker=by_checker)
        if state is url.state:
            return "recorded"
        if state is UrlState.DOWN:
            assert run.since is not None
            reason = f"gone on {run.checks} checks since {run.since:%Y-%m-%d %H:%M} UTC, last: {seen}"
            store.change(conn, url, actor=ACTOR, action="down", reason=reason, state=state)
            return "down"
        kept = ConfirmedBy(url.confirmed_by) if url.confirmed_by else None  # who confirmed it first, not "analyst"
        store.change(conn, url, actor=ACTOR, action="up", reason=f"served again: {seen}", state=state,
                     confirmed_by=kept)  # fmt: skip
        return "up"


def _down_by_checker(conn: Connection, url_id: int) -> bool:
    """Whether the URL's latest change of state was the checker's."""
    moves = [e for e in store.events(conn, url_id) if isinstance(e.detail, dict) and "state" in e.detail]
    return bool(moves) and moves[-1].actor == ACTOR


def check_urls(ctx: TaskContext, payload: Payload) -> None:
    """The periodic job: nothing unless `settings.url_check`."""
    if not ctx.settings.url_check:
        return
    batch = due(ctx.engine, utcnow())
    if not batch:
        return
    counts: Counter[str] = Counter()
    with outbound.client(ctx.settings, TIMEOUT_SECONDS) as http, ThreadPoolExecutor(CONCURRENCY) as pool:
        for item, seen in zip(batch, _observed(pool, http, batch, ctx.settings), strict=True):
            counts[classify(seen, item.level).value] += 1
            counts[record(ctx.engine, item, seen)] += 1
    shown = [counts[k] for k in ("live", "gone", "unknown", "down", "up", "skipped")]
    log.info("URLs checked: %d (live %d, gone %d, unknown %d); down %d, up %d, skipped %d", len(batch), *shown)


def _observed(pool: ThreadPoolExecutor, http: httpx.Client, batch: list[Due], settings: Settings) -> Iterator[Seen]:
    """The checks in the batch's order, as they complete (recorded meanwhile, each as soon as it is known)."""
    return pool.map(lambda item: observe(http, item.canonical, settings), batch)


CHECK = TaskSpec(CHECK_TASK, check_urls, every=timedelta(hours=1))
