"""Statistics queries over a year of a member's data (issue 10 aims at under 200 ms each, 10,000 IPs).

    .venv/bin/python -m benchmarks.stats                       # SQLite, 10,000 IPs, 1,000,000 reports over a year
    .venv/bin/python -m benchmarks.stats --start-postgres      # a throwaway PostgreSQL (tests/pg.py)
    .venv/bin/python -m benchmarks.stats --reports 200000 --rounds 5

The generator writes what the match job writes for a router with 10,000 sending IPs (in 80 /24s) and their
customers: `--reports` reports at random times over the 365 days before `now`, each counted for the member under
its keys (all, ip, network, dkim domain among 2,000, sender domain, Feedback-ID customer among 500, category,
source), per hour, day and month, added up as `signalement.store.stats.add` adds them (`totals`) and inserted at
once (only the reading is measured). The IPs and domains follow a Zipf law (a few customers draw most complaints),
10% of reports unverified. Other members' rows are added beside (`--others`), so the member's are a part of the
table, as they would be.

Then each query the dashboards make is timed `--rounds` times (median and max printed, in ms): totals and top
values over the year, series per day and month over the year, per hour over a week, one IP's year. The range ends
at the generator's `now`, not on a bucket boundary, so every query covers edge hours and days besides months.
"""

from __future__ import annotations

import argparse
import bisect
import itertools
import json
import random
import statistics
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from benchmarks import scratch
from benchmarks.ingest import git_state, load_average, machine
from signalement.domain.members import OrgKind
from signalement.domain.stats import Contribution, Dimension, Period, network_of
from signalement.store import organizations
from signalement.store import stats as store
from signalement.store.migrate import upgrade
from signalement.store.tables import stat_counts

RESULTS_DIR = Path(__file__).parent / "results"
CATEGORIES = ("spam", "phishing", "scam", "malware")
CATEGORY_WEIGHTS = (70, 20, 8, 2)


def _zipf(draw: random.Random, n: int, s: float = 1.1) -> Callable[[], int]:
    cumulative = list(itertools.accumulate(1 / (k**s) for k in range(1, n + 1)))
    total = cumulative[-1]
    return lambda: bisect.bisect(cumulative, draw.random() * total)


def contributions(member: int, reports: int, ips: int, now: datetime, seed: int) -> Iterator[Contribution]:
    draw = random.Random(seed)
    addresses = [f"198.{51 + i // 20000}.{(i // 125) % 160}.{i % 125 + 1}" for i in range(ips)]
    pick_ip, pick_dkim, pick_customer = _zipf(draw, ips), _zipf(draw, 2000), _zipf(draw, 500)
    for _ in range(reports):
        at = now - timedelta(seconds=draw.randrange(365 * 86400))
        ip = addresses[pick_ip()]
        dkim = f"customer{pick_dkim()}.example"
        keys = (
            (Dimension.ALL, ""),
            (Dimension.IP, ip),
            (Dimension.NETWORK, network_of(ip)),
            (Dimension.DKIM, dkim),
            (Dimension.SENDER_DOMAIN, dkim),
            (Dimension.FEEDBACK_ID, f"esp1:cust{pick_customer()}"),
            (Dimension.CATEGORY, draw.choices(CATEGORIES, CATEGORY_WEIGHTS)[0]),
            (Dimension.SOURCE, "association" if draw.random() < 0.8 else "organization:2"),
        )
        yield Contribution(member, draw.random() > 0.1, at, 1.0, keys)


def generate(engine: Engine, reports: int, ips: int, others: int, now: datetime, seed: int) -> tuple[int, float]:
    """The member's id and the seconds it took."""
    started = time.monotonic()
    with engine.begin() as conn:
        member = organizations.create(conn, "Router Co", OrgKind.ROUTER)
        extra = [organizations.create(conn, f"Other {n}", OrgKind.ROUTER) for n in range(others)]
    for organization_id, count, share in [(member, reports, seed), *((o, reports // 4, seed + o) for o in extra)]:
        # What `store.add` would upsert report by report, added up here and inserted at once: only the reading is
        # measured, and a million reports' upserts would take a quarter of an hour to set up.
        rows = store.totals((c, 1) for c in contributions(organization_id, count, ips, now, share))
        for start in range(0, len(rows), 50_000):
            with engine.begin() as conn:
                conn.execute(stat_counts.insert(), rows[start : start + 50_000])
    return member, time.monotonic() - started


def queries(member: int, now: datetime) -> dict[str, Callable[[Any], object]]:
    year, month, week = now - timedelta(days=365), now - timedelta(days=30), now - timedelta(days=7)
    top_ip = "198.51.0.1"  # the Zipf law's first address: the busiest

    def run(dimension: Dimension, since: datetime, **kw: Any) -> Callable[[Any], object]:
        return lambda conn: store.counts(conn, member, dimension, since, now, **kw)

    return {
        "total, the year": run(Dimension.ALL, year),
        "top 50 IPs, the year": run(Dimension.IP, year, top=50),
        "top 50 /24s, the year": run(Dimension.NETWORK, year, top=50),
        "top 50 customers (Feedback-ID), the year": run(Dimension.FEEDBACK_ID, year, top=50),
        "top 50 DKIM domains, 30 days": run(Dimension.DKIM, month, top=50),
        "all per day, the year": run(Dimension.ALL, year, per=Period.DAY),
        "categories per month, the year": run(Dimension.CATEGORY, year, per=Period.MONTH),
        "top 10 IPs per hour, a week": run(Dimension.IP, week, per=Period.HOUR, top=10),
        "one IP per day, the year": run(Dimension.IP, year, per=Period.DAY, values=[top_ip]),
        "every IP's total, the year (10,000 rows)": run(Dimension.IP, year),
    }


def measure(engine: Engine, member: int, now: datetime, rounds: int) -> dict[str, dict[str, float]]:
    found: dict[str, dict[str, float]] = {}
    for name, query in queries(member, now).items():
        times, rows = [], 0
        for _ in range(rounds):
            with engine.connect() as conn:
                started = time.perf_counter()
                result = query(conn)
                times.append((time.perf_counter() - started) * 1000)
            rows = len(result) if isinstance(result, list) else 0
        found[name] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1), "rows": rows}
        print(f"{name:<45} {found[name]['median_ms']:>8.1f} ms median {found[name]['max_ms']:>8.1f} ms max"
              f"  ({rows} rows)")  # fmt: skip
    return found


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.stats", description=__doc__.split("\n\n")[0])
    p.add_argument("--reports", type=int, default=1_000_000)
    p.add_argument("--ips", type=int, default=10_000)
    p.add_argument("--others", type=int, default=1, help="other members, a quarter of the reports each")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--seed", type=int, default=20261127)
    scratch.add_arguments(p)
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    return p.parse_args()


def main() -> None:
    args = parse_args()
    with scratch.database(args, "stats") as (engine, _):
        run(engine, args)


def run(engine: Engine, args: argparse.Namespace) -> None:
    upgrade(engine)
    now = datetime(2026, 11, 27, 16, 47, 12, tzinfo=UTC)
    member, seconds = generate(engine, args.reports, args.ips, args.others, now, args.seed)
    with engine.connect() as conn:
        rows = conn.scalar(select(func.count()).select_from(stat_counts))
        mine = conn.scalar(select(func.count()).where(stat_counts.c.organization_id == member))
    print(f"generated {args.reports:,} reports of the member (+{args.others} others) in {seconds:.0f} s: "
          f"{rows:,} rows, {mine:,} of the member")  # fmt: skip
    if engine.dialect.name == "postgresql":
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE stat_counts")
    load = load_average()
    found = measure(engine, member, now, args.rounds)
    document = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": engine.dialect.name,
        "reports": args.reports,
        "ips": args.ips,
        "others": args.others,
        "rows": rows,
        "member_rows": mine,
        "generate_s": round(seconds),
        "load_average_before": load,
        "load_average_after": load_average(),
        "queries": found,
        "machine": machine(),
        "code": git_state(),
    }
    args.results.mkdir(parents=True, exist_ok=True)
    out = args.results / f"stats-{engine.dialect.name}-{document['started_at'].replace(':', '')}.json"
    out.write_text(json.dumps(document, indent=2))
    print(f"written {out}")


if __name__ == "__main__":
    main()
