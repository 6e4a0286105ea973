"""The phishing feeds over a year of confirmed URLs and campaigns' indicators (signalement.feeds.build).

    .venv/bin/python -m benchmarks.feeds                        # SQLite, 100,000 URLs, 20,000 IPs, 5,000 domains
    .venv/bin/python -m benchmarks.feeds --start-postgres       # a throwaway PostgreSQL (tests/pg.py)
    .venv/bin/python -m benchmarks.feeds --urls 20000 --rounds 3 --only url-json,misp-first
    .venv/bin/python -m benchmarks.feeds --profile misp-first   # cProfile of one run of a case, top entries

The generator writes what a year of confirmations leaves: `--urls` URLs confirmed one after the other (seq 1..N in
time order, the `urls` counter at N), a mix of levels (the URL itself, a kit's path prefix on a compromised site, a
host on a shared service, a whole registered domain; `listed` set accordingly), TLP mostly green with some clear and
amber, `--withdrawn` of them later taken down (their confirmation kept: MISP and incremental feeds carry them as
withdrawals). Each URL is in `--reports-per-url` reports, most of those in one of `--campaigns` campaigns, so that
`campaigns_of` has work. Then `--ips` IPs and `--domains` sender domains as confirmed indicators (seq 1..M, the
`indicators` counter at M). Everything is inserted at once with executemany: only the feeds are measured.

Each case is run `--rounds` times (3 if it passes `--budget` seconds) in its own read transaction (as the API
does), its median and max printed with the entries it was built from, entries per second (at the median) and the
size of what it wrote. The reader's ceiling is `--max-tlp` (green, the default entitlement: amber entries are
filtered out by the query).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import json
import pstats
import random
import statistics
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, update

from benchmarks import scratch
from benchmarks.ingest import git_state, load_average, machine
from signalement.domain.members import Tlp
from signalement.domain.url_reputation import ConfirmedBy, Level, UrlState
from signalement.feeds import build
from signalement.feeds.build import (
    MAX_ENTRIES,
    dnsbl_zone,
    entries,
    indicator_entries,
    indicator_feed,
    misp_files,
    rpz_zone,
    zones_of,
)
from signalement.settings import Settings
from signalement.store.db import read
from signalement.store.migrate import upgrade
from signalement.store.tables import (
    CAMPAIGN_CATEGORIES,
    blobs,
    campaigns,
    feedback_versions,
    indicators,
    report_urls,
    reports,
    urls,
)
from signalement.verdict.indicators import IndicatorState, Kind

RESULTS_DIR = Path(__file__).parent / "results"
NOW = datetime(2026, 11, 27, 16, 47, 12, tzinfo=UTC)
CHUNK = 10_000  # rows per executemany
INCREMENT = 1_000  # the incremental feed: the last this many changes

LEVELS = (Level.URL, Level.PREFIX, Level.HOST, Level.DOMAIN)
LEVEL_WEIGHTS = (50, 15, 20, 15)
TLPS = (Tlp.GREEN, Tlp.CLEAR, Tlp.AMBER)
TLP_WEIGHTS = (85, 10, 5)
BRANDS = ("paypal", "microsoft", "la-poste", "ameli", "impots", "netflix", "dhl", "credit-agricole", "orange", None)
WORDS = ("secure", "login", "verify", "account", "update", "support", "client", "service", "auth", "portal", "espace")
TLDS = ("com", "net", "xyz", "top", "shop", "online", "info", "fr", "site", "click", "live", "app")
HOSTING = (5, 23, 31, 37, 45, 46, 62, 77, 80, 85, 91, 103, 141, 176, 178, 185, 193, 194, 195, 212, 213, 217)  # /8s
SHARED_HOSTS = ("pages-host.example", "sites-builder.example", "storage-cloud.example", "forms-app.example")


# -- the data --------------------------------------------------------------------------------------------------


def _insert(engine: Engine, table: Any, rows: Iterator[dict[str, Any]]) -> int:
    """Executemany in chunks, one transaction each; the rows inserted."""
    count, chunk = 0, []
    for row in rows:
        chunk.append(row)
        if len(chunk) == CHUNK:
            with engine.begin() as conn:
                conn.execute(table.insert(), chunk)
            count, chunk = count + len(chunk), []
    if chunk:
        with engine.begin() as conn:
            conn.execute(table.insert(), chunk)
    return count + len(chunk)


def _times(draw: random.Random, n: int) -> list[datetime]:
    """n first sightings over the year before NOW, in order (so seq follows time)."""
    return sorted(NOW - timedelta(seconds=draw.randrange(365 * 86400)) for _ in range(n))


def _name(draw: random.Random, n: int) -> str:
    return f"{draw.choice(WORDS)}-{draw.choice(WORDS)}{n}"


def _url_shape(draw: random.Random, n: int) -> tuple[Level, str, str, str, str]:
    """(level, canonical URL, host, registered domain, listed) for the n-th URL."""
    level = draw.choices(LEVELS, LEVEL_WEIGHTS)[0]
    token = f"{draw.getrandbits(40):010x}"
    if level is Level.PREFIX:  # a kit dropped on a compromised site: its folder is listed
        domain = f"site{n % 20_000}-{draw.choice(WORDS)}.{draw.choice(TLDS)}"
        host = f"www.{domain}"
        prefix = f"http://{host}/wp-content/plugins/kit{n}/"
        return level, f"{prefix}index.php?id={token}", host, domain, prefix
    if level is Level.HOST:  # a page on a shared service: that host only
        domain = draw.choice(SHARED_HOSTS)
        host = f"{_name(draw, n)}.{domain}"
        return level, f"https://{host}/", host, domain, host
    domain = f"{_name(draw, n)}.{draw.choice(TLDS)}"
    if level is Level.DOMAIN:  # registered for the phishing: the whole domain
        host = f"www.{domain}"
        return level, f"https://{host}/signin/{token}", host, domain, domain
    host = draw.choice((domain, f"mail.{domain}", f"{draw.choice(WORDS)}.{domain}"))
    url = f"https://{host}/{draw.choice(WORDS)}/{draw.choice(WORDS)}.php?session={token}&lang=fr"
    return level, url, host, domain, url


def url_rows(count: int, withdrawn: float, seed: int) -> Iterator[dict[str, Any]]:
    draw = random.Random(seed)
    for n, first in enumerate(_times(draw, count), start=1):
        level, canonical, host, domain, listed = _url_shape(draw, n)
        tlp = draw.choices(TLPS, TLP_WEIGHTS)[0]
        confirmed = first + timedelta(minutes=draw.randrange(5, 600))
        gone = draw.random() < withdrawn
        reporters = draw.randrange(1, 12)
        yield {
            "id": n, "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical, "host": host,
            "registered_domain": domain, "first_seen": first,
            "last_seen": first + timedelta(seconds=draw.randrange(3 * 86400)),
            "state": UrlState.DOWN if gone else UrlState.CONFIRMED, "tlp": tlp, "level": level, "listed": listed,
            "brand": draw.choice(BRANDS), "reports": reporters + draw.randrange(5), "reporters": reporters,
            "weight": round(draw.uniform(1, 5), 3), "confirmed_by": draw.choice(list(ConfirmedBy)),
            "confirmed_at": confirmed, "changed_at": confirmed, "seq": n, "shown_tlp": tlp,
        }  # fmt: skip


def campaign_rows(count: int, seed: int) -> Iterator[dict[str, Any]]:
    draw = random.Random(seed + 1)
    for n in range(1, count + 1):
        first = NOW - timedelta(seconds=draw.randrange(365 * 86400))
        size = draw.randrange(10, 500)
        yield {
            "id": n, "public_id": f"cmp-{hashlib.sha256(f'c{n}'.encode()).hexdigest()[:12]}", "first_seen": first,
            "last_seen": min(NOW, first + timedelta(days=draw.randrange(60))), "reports": size,
            **dict.fromkeys(CAMPAIGN_CATEGORIES, 0), "phishing": size, "brands": {}, "updated_at": NOW,
            "confirmed_at": first + timedelta(hours=1),
        }  # fmt: skip


def report_rows(count: int, per_url: int, campaigns_count: int, seed: int) -> Iterator[tuple[dict[str, Any], ...]]:
    """(blob, report, report_url) for each report: `per_url` a URL, 90% of them in a campaign."""
    draw = random.Random(seed + 2)
    firsts = _times(random.Random(seed), count)  # the URLs' first sightings, as url_rows draws them
    report_id = 0
    for url_id, first in enumerate(firsts, start=1):
        for k in range(per_url):
            report_id += 1
            sha = hashlib.sha256(f"report {report_id}".encode()).hexdigest()
            at = first + timedelta(minutes=k * draw.randrange(1, 120))
            campaign = draw.randrange(1, campaigns_count + 1) if campaigns_count and draw.random() < 0.9 else None
            yield (
                {"sha256": sha, "size": 18_000, "stored_size": 6_000, "created_at": at},
                {"id": report_id, "submitter": f"user:{draw.randrange(1, 5000)}", "sha256": sha, "kind": "message",
                 "channel": "api", "status": "analyzed", "size": 18_000, "received_at": at, "analyzed_at": at,
                 "campaign_id": campaign, "verdict_category": "phishing"},
                {"report_id": report_id, "url_id": url_id, "found_in": ["html:a"]},
            )  # fmt: skip


def _address(draw: random.Random) -> str:
    if draw.random() < 0.05:
        return f"2001:db8:{draw.getrandbits(16):x}:{draw.getrandbits(16):x}::{draw.getrandbits(16):x}"
    return f"{draw.choice(HOSTING)}.{draw.randrange(256)}.{draw.randrange(256)}.{draw.randrange(1, 255)}"


def indicator_rows(ips: int, domains: int, campaigns_count: int, seed: int) -> Iterator[dict[str, Any]]:
    draw = random.Random(seed + 3)
    values: set[str] = set()
    while len(values) < ips:
        values.add(_address(draw))
    made = [(Kind.IP, v) for v in sorted(values)] + [
        (Kind.DOMAIN, f"{_name(draw, n)}-mail.{draw.choice(TLDS)}") for n in range(domains)
    ]
    draw.shuffle(made)
    for n, ((kind, value), first) in enumerate(zip(made, _times(draw, len(made)), strict=True), start=1):
        tlp = draw.choices(TLPS, TLP_WEIGHTS)[0]
        confirmed = first + timedelta(hours=draw.randrange(1, 48))
        ids = sorted({draw.randrange(1, max(campaigns_count, 1) + 1) for _ in range(draw.randrange(1, 4))})
        yield {
            "id": n, "kind": kind, "value": value, "state": IndicatorState.CONFIRMED, "tlp": tlp, "first_seen": first,
            "last_seen": confirmed + timedelta(days=draw.randrange(10)), "reports": draw.randrange(2, 200),
            "sources": draw.randrange(2, 20),
            "campaigns": [f"cmp-{hashlib.sha256(f'c{i}'.encode()).hexdigest()[:12]}" for i in ids],
            "confirmed_at": confirmed, "shown_tlp": tlp, "changed_at": confirmed, "seq": n,
        }  # fmt: skip


def generate(engine: Engine, args: argparse.Namespace) -> dict[str, Any]:
    """Fill the tables; what was made and the seconds it took."""
    started = time.monotonic()
    _insert(engine, campaigns, campaign_rows(args.campaigns, args.seed))

    def made(part: int) -> Iterator[dict[str, Any]]:  # the same rows each time (seeded): none held in memory
        return (t[part] for t in report_rows(args.urls, args.reports_per_url, args.campaigns, args.seed))

    made_reports = _insert(engine, blobs, made(0))
    _insert(engine, reports, made(1))
    made_urls = _insert(engine, urls, url_rows(args.urls, args.withdrawn, args.seed))
    _insert(engine, report_urls, made(2))  # after the URLs: foreign keys
    made_indicators = _insert(engine, indicators, indicator_rows(args.ips, args.domains, args.campaigns, args.seed))
    with engine.begin() as conn:
        for name, value in (("urls", made_urls), ("indicators", made_indicators)):
            conn.execute(update(feedback_versions).where(feedback_versions.c.name == name).values(version=value))
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE")
    return {"urls": made_urls, "reports": made_reports, "campaigns": args.campaigns,
            "indicators": made_indicators, "generate_s": round(time.monotonic() - started, 1)}  # fmt: skip


# -- the cases -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    name: str
    what: str
    run: Callable[[Connection], dict[str, bytes]]  # file name → content
    entries: Callable[[Connection], int]  # the entries it is built from (counted apart, untimed)
    before: Callable[[], None] = lambda: None  # untimed, before each round
    warm: bool = False  # one untimed call first (a cache's second call)


def _one(feed: Callable[[Connection], build.Feed]) -> Callable[[Connection], dict[str, bytes]]:
    return lambda conn: {"": feed(conn).body}


DNS_LEVELS = (Level.HOST, Level.DOMAIN)  # what an RPZ zone holds


def cases(args: argparse.Namespace, settings: Settings) -> list[Case]:
    ceiling, limit, zones = Tlp(args.max_tlp), args.limit, zones_of(settings)
    cursor = max(args.urls - INCREMENT, 0)

    def urls_seen(since: int, most: int, withdrawals: bool) -> Callable[[Connection], int]:
        return lambda conn: len(entries(conn, since, ceiling, most, withdrawals=withdrawals))

    def indicators_seen(kind: Kind | None, most: int) -> Callable[[Connection], int]:
        return lambda conn: len(indicator_entries(conn, 0, ceiling, most, withdrawals=False, kind=kind))

    def url_feed(conn: Connection, *, fmt: str, cursor: int) -> build.Feed:
        return build.url_feed(conn, fmt, cursor, ceiling, limit, NOW)

    def url_entries(conn: Connection) -> dict[str, bytes]:  # the store's part alone: rows and campaigns, no writer
        entries(conn, 0, ceiling, limit, withdrawals=False)
        return {}

    full, misp = urls_seen(0, limit, False), urls_seen(0, MAX_ENTRIES, True)
    made = [
        Case("url-entries", "URL entries only (changed_since + campaigns_of)", url_entries, full),
        # the feeds' per-engine cache emptied before each round: a first build each time
        *(
            Case(f"url-{fmt}", f"URL feed, full, {fmt.upper()}", _one(partial(url_feed, fmt=fmt, cursor=0)), full,
                 before=build._CACHE.clear)
            for fmt in ("json", "csv", "stix")
        ),
        Case("url-cached", "URL feed, full, JSON, cached second call", _one(partial(url_feed, fmt="json", cursor=0)),
             full, warm=True),
        Case("url-incremental", f"URL feed, last {INCREMENT:,} changes, JSON",
             _one(partial(url_feed, fmt="json", cursor=cursor)), urls_seen(cursor, limit, True),
             before=build._CACHE.clear),
        Case("misp-first", "MISP files, first build", partial(misp_files, max_tlp=ceiling, now=NOW), misp,
             before=build._CACHE.clear),
        Case("misp-cached", "MISP files, cached second call", partial(misp_files, max_tlp=ceiling, now=NOW), misp,
             warm=True),
        Case("rpz", "RPZ zone", _one(partial(rpz_zone, max_tlp=ceiling, now=NOW, zones=zones)),
             lambda conn: len(entries(conn, 0, ceiling, MAX_ENTRIES, withdrawals=False, levels=DNS_LEVELS))),
        Case("indicators-json", "indicators feed, full, JSON",
             _one(partial(indicator_feed, fmt="json", cursor=0, max_tlp=ceiling, limit=limit, now=NOW, kind=None)),
             indicators_seen(None, limit)),
    ]  # fmt: skip
    for kind in Kind:
        zone = partial(dnsbl_zone, kind=kind, max_tlp=ceiling, now=NOW, zones=zones)
        made.append(
            Case(f"dnsbl-{kind.value}", f"{kind.value} DNSBL zone", _one(zone), indicators_seen(kind, MAX_ENTRIES))
        )
    return made


def measure(engine: Engine, case: Case, rounds: int, budget: float) -> dict[str, Any]:
    """`rounds` runs, or fewer for a slow case: it stops after `budget` seconds once 3 are done."""
    with read(engine) as conn:
        count = case.entries(conn)
    if case.warm:
        with read(engine) as conn:
            case.run(conn)
    times: list[float] = []
    files: dict[str, bytes] = {}
    for n in range(rounds):
        if n >= 3 and sum(times) > budget:
            break
        case.before()
        with read(engine) as conn:
            started = time.perf_counter()
            files = case.run(conn)
            times.append(time.perf_counter() - started)
    median = statistics.median(times)
    size = sum(map(len, files.values()))
    return {"what": case.what, "rounds": len(times), "median_s": round(median, 4), "max_s": round(max(times), 4),
            "entries": count, "entries_per_s": None if case.warm else round(count / median), "bytes": size,
            "files": len(files)}  # fmt: skip


def show(found: dict[str, Any]) -> None:
    files = f" in {found['files']:,} files" if found["files"] > 1 else ""
    per_s = "-" if found["entries_per_s"] is None else f"{found['entries_per_s']:,}"
    print(f"{found['what']:<50} {found['median_s']:>8.4f} s median {found['max_s']:>8.4f} s max of {found['rounds']}"
          f" {found['entries']:>9,} entries {per_s:>9}/s"
          f" {found['bytes'] / 1e6:>8.1f} MB{files}")  # fmt: skip


def profile(engine: Engine, case: Case, top: int) -> None:
    case.before()
    with read(engine) as conn:
        profiler = cProfile.Profile()
        profiler.runcall(case.run, conn)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)


# -- running it ------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.feeds", description=__doc__.split("\n\n")[0])
    p.add_argument("--urls", type=int, default=100_000, help="confirmed URLs (seq 1..N)")
    p.add_argument("--withdrawn", type=float, default=0.02, help="share of them taken down since")
    p.add_argument("--reports-per-url", type=int, default=1)
    p.add_argument("--campaigns", type=int, default=1000, help="90%% of the reports are in one of them")
    p.add_argument("--ips", type=int, default=20_000, help="confirmed IP indicators (5%% IPv6)")
    p.add_argument("--domains", type=int, default=5_000, help="confirmed sender-domain indicators")
    p.add_argument("--limit", type=int, default=100_000, help="of the full and incremental feeds")
    p.add_argument("--max-tlp", default=Tlp.GREEN.value, choices=[t.value for t in Tlp], help="the reader's ceiling")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--budget", type=float, default=120, help="seconds after which a case stops at 3 rounds")
    p.add_argument("--only", help="comma-separated case names, as printed (url-json,misp-first,...)")
    p.add_argument("--profile", metavar="CASE", help="instead of timing: cProfile one run of CASE")
    p.add_argument("--top", type=int, default=25, help="entries of the profile shown")
    p.add_argument("--seed", type=int, default=20261127)
    scratch.add_arguments(p)
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    return p.parse_args()


def run(engine: Engine, args: argparse.Namespace, folder: Path) -> None:
    upgrade(engine)
    made = generate(engine, args)
    print(f"generated {made['urls']:,} URLs, {made['reports']:,} reports in {made['campaigns']:,} campaigns, "
          f"{made['indicators']:,} indicators in {made['generate_s']:.0f} s ({engine.dialect.name})")  # fmt: skip
    settings = Settings(data_dir=folder, smtp_domains=["signalement.example"], public_url="https://signalement.example")
    chosen = {c.name: c for c in cases(args, settings)}
    if args.profile:
        profile(engine, chosen[args.profile], args.top)
        return
    if args.only:
        chosen = {name: chosen[name] for name in args.only.split(",")}
    load = load_average()
    found = {}
    for name, case in chosen.items():
        found[name] = measure(engine, case, args.rounds, args.budget)
        show(found[name])
    document = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": engine.dialect.name,
        **made,
        "max_tlp": args.max_tlp,
        "limit": args.limit,
        "rounds": args.rounds,
        "load_average_before": load,
        "load_average_after": load_average(),
        "cases": found,
        "machine": machine(),
        "code": git_state(),
    }
    print(f"load average before/after: {load} / {document['load_average_after']}")
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"feeds-{engine.dialect.name}-{document['started_at'].replace(':', '')}.json"
    out.write_text(json.dumps(document, indent=2))
    print(f"written {out}")


def main() -> None:
    args = parse_args()
    with scratch.database(args, "feeds") as (engine, folder):
        run(engine, args, folder)


if __name__ == "__main__":
    main()
