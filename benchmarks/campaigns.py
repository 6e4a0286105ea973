"""Campaign assignment with a million reports stored: the time `assign_campaign` takes per report.

    .venv/bin/python -m benchmarks.campaigns                          # 1,000,000 reports in 50,000 campaigns, SQLite
    .venv/bin/python -m benchmarks.campaigns --reports 100000 --campaigns 5000
    .venv/bin/python -m benchmarks.campaigns --postgres postgresql+psycopg://user@127.0.0.1:5432/empty_db

The fill writes what the analysis of N reports would have left, straight into the tables (it does not analyse
anything): campaigns of heavy-tailed sizes, the band keys of each campaign's exemplars, the distinctive domain keys of
the harmful ones (a few domains pushed by several campaigns), a row per day of activity, and one `reports` row per
report. Variants are drawn as the fingerprint makes them: a report of Jaccard similarity J to its campaign's template
keeps each band with probability J^4; most campaigns are one template (J = 1 after normalization), some vary a
little, one in ten is spun heavily; a variant sharing fewer than 16 bands is an exemplar and adds its keys.

Then 2,000 new reports are assigned, one transaction each as the worker does (its engine: SQLite
synchronous=NORMAL): half are variants of stored campaigns (chosen by size, as traffic comes), half new campaigns.
It prints the median, p90 and p99 of `assign_campaign` alone, of the whole transaction (commit included), and how
many variants found their campaign.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, insert, select

from signalement.store.campaigns import PUBLIC_PREFIX, assign_campaign
from signalement.store.db import make_engine
from signalement.store.migrate import upgrade
from signalement.store.tables import CAMPAIGN_CATEGORIES, blobs, campaign_keys, campaigns, reports
from signalement.verdict.campaigns import BANDS, EXEMPLAR_BELOW

START = datetime(2026, 8, 1, tzinfo=UTC)
SHA = "0" * 64  # every benchmark report points at one blob
CATEGORIES = ("phishing", "scam", "malware", "spam", "legitimate")
CATEGORY_WEIGHTS = (0.40, 0.15, 0.05, 0.30, 0.10)
HARMFUL = frozenset(CATEGORIES[:3])
MAX_EXEMPLARS = 64  # a spun campaign's variants soon share enough bands with the union of its exemplars' keys


@dataclass
class Campaign:
    id: int
    size: int
    category: str
    base: list[str]  # its template's band values
    domains: list[str]
    spread: float  # 0: one template; else the lowest Jaccard of its variants to the template


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=50_000)
    parser.add_argument("--new", type=int, default=2_000, help="reports assigned and timed")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of a temp SQLite file")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp SQLite database")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="signalement-campaigns-"))
    url = args.postgres or f"sqlite:///{folder / 'bench.db'}"
    engine = make_engine(url)
    upgrade(engine)
    print(f"database: {'PostgreSQL' if args.postgres else 'SQLite ' + str(folder / 'bench.db')}")
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")

    started = time.perf_counter()
    stored = make_campaigns(rng, args.reports, args.campaigns)
    fill(engine, rng, stored)
    engine.dispose()
    with make_engine(url).connect() as conn:
        keys = conn.execute(select(func.count()).select_from(campaign_keys)).scalar_one()
    print(
        f"fill: {args.reports:,} reports in {len(stored):,} campaigns, {keys:,} campaign keys, "
        f"{time.perf_counter() - started:.0f} s"
    )

    worker = make_engine(url, durable=False)  # as the worker writes
    timings = assign_new(worker, rng, stored, args.new)
    report(timings)
    worker.dispose()
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


# -- what is stored ----------------------------------------------------------------------------------------------


def make_campaigns(rng: np.random.Generator, total: int, count: int) -> list[Campaign]:
    weights = rng.pareto(1.1, count) + 1.0
    sizes = np.maximum(1, np.floor(weights / weights.sum() * total)).astype(np.int64)
    sizes[np.argmax(sizes)] += total - int(sizes.sum())  # the biggest campaign takes the rounding
    categories = rng.choice(len(CATEGORIES), size=count, p=CATEGORY_WEIGHTS)
    domain_pool = max(1, int(count * 0.5))  # harmful campaigns draw from a pool: some domains serve several
    spreads = rng.choice([0.0, 0.85, 0.55], size=count, p=[0.6, 0.3, 0.1])
    found: list[Campaign] = []
    for i in range(count):
        category = CATEGORIES[categories[i]]
        domains = (
            [f"kit-{d}.example" for d in rng.integers(0, domain_pool, size=rng.integers(1, 3))]
            if category in HARMFUL
            else []
        )
        found.append(Campaign(i + 1, int(sizes[i]), category, hexes(rng, BANDS), sorted(set(domains)), spreads[i]))
    return found


def hexes(rng: np.random.Generator, n: int) -> list[str]:
    return [f"{v:016x}" for v in rng.integers(0, 2**63, size=n, dtype=np.int64).tolist()]


def variant(rng: np.random.Generator, campaign: Campaign) -> tuple[list[str], int]:
    """A variant's band values and how many it shares with the template."""
    if campaign.spread == 0.0:
        return campaign.base, BANDS
    jaccard = rng.uniform(campaign.spread, 1.0)
    kept = rng.random(BANDS) < jaccard**4
    fresh = hexes(rng, BANDS)
    return [b if k else f for b, k, f in zip(campaign.base, kept, fresh, strict=True)], int(kept.sum())


def exemplar_keys(rng: np.random.Generator, campaign: Campaign) -> set[str]:
    keys = {f"b{i}:{b}" for i, b in enumerate(campaign.base)}
    exemplars = 1
    for _ in range(campaign.size - 1):
        if exemplars >= MAX_EXEMPLARS or campaign.spread == 0.0:
            break
        bands, shared = variant(rng, campaign)
        if shared < EXEMPLAR_BELOW:
            keys.update(f"b{i}:{b}" for i, b in enumerate(bands))
            exemplars += 1
    if campaign.category not in ("spam", "legitimate"):
        keys.update(f"d:{d}" for d in campaign.domains)
    return keys


def fill(engine: Engine, rng: np.random.Generator, stored: Sequence[Campaign]) -> None:
    """executemany (SQLite, synchronous=OFF for the fill only) or COPY (PostgreSQL), in big transactions."""
    with engine.begin() as conn:
        conn.execute(insert(blobs), {"sha256": SHA, "size": 1, "stored_size": 1, "created_at": START})
    postgres = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if not postgres:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("BEGIN")
        writer = _copy if postgres else _executemany
        writer(cursor, "campaigns", CAMPAIGN_COLUMNS, (campaign_row(c, postgres) for c in stored))
        writer(cursor, "campaign_keys", ("key", "campaign_id"), _keys(rng, stored))
        days, report_rows = activity(rng, stored, postgres)
        writer(cursor, "campaign_days", ("campaign_id", "day", "reports"), days)
        writer(cursor, "reports", REPORT_COLUMNS, report_rows)
        raw.commit()
        if not postgres:
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("ANALYZE")
        else:
            raw.commit()
            cursor.execute("ANALYZE")
            raw.commit()
    finally:
        raw.close()


CAMPAIGN_COLUMNS = (
    "id",
    "public_id",
    "first_seen",
    "last_seen",
    "reports",
    *CAMPAIGN_CATEGORIES,
    "brands",
    "updated_at",
)
REPORT_COLUMNS = (
    "submitter",
    "sha256",
    "kind",
    "channel",
    "status",
    "size",
    "received_at",
    "campaign_id",
    "verdict_category",
    "verdict_score",
)


def campaign_row(c: Campaign, postgres: bool) -> tuple[Any, ...]:
    first, last = campaign_span(c)
    counts = [c.size if category == c.category else 0 for category in CAMPAIGN_CATEGORIES]
    return (
        c.id,
        f"{PUBLIC_PREFIX}{c.id:012x}",
        when(first, postgres),
        when(last, postgres),
        c.size,
        *counts,
        "{}",
        when(last, postgres),
    )


def campaign_span(c: Campaign) -> tuple[datetime, datetime]:
    start = START + timedelta(seconds=(c.id * 7919) % (90 * 86400))
    return start, start + timedelta(seconds=min(7 * 86400, 600 * c.size))


def when(value: datetime, postgres: bool) -> Any:
    # SQLAlchemy's SQLite DateTime format, in UTC
    return value if postgres else value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


def _keys(rng: np.random.Generator, stored: Sequence[Campaign]) -> Iterator[tuple[str, int]]:
    for c in stored:
        for key in sorted(exemplar_keys(rng, c)):
            yield key, c.id


def activity(
    rng: np.random.Generator, stored: Sequence[Campaign], postgres: bool
) -> tuple[list[tuple[Any, ...]], Iterator[tuple[Any, ...]]]:
    """The day rows, and the report rows (generated lazily)."""
    days: list[tuple[Any, ...]] = []
    for c in stored:
        first, last = campaign_span(c)
        n_days = (last.date() - first.date()).days + 1
        per_day = np.bincount(rng.integers(0, n_days, size=c.size), minlength=n_days)
        days.extend(
            (
                c.id,
                (first.date() + timedelta(days=d)).isoformat() if not postgres else first.date() + timedelta(days=d),
                int(n),
            )
            for d, n in enumerate(per_day.tolist())
            if n
        )

    def rows() -> Iterator[tuple[Any, ...]]:
        number = 0
        for c in stored:
            first, last = campaign_span(c)
            span = (last - first).total_seconds()
            for k in range(c.size):
                number += 1
                seen = first + timedelta(seconds=span * k / max(1, c.size))
                yield (
                    f"bench:{number}",
                    SHA,
                    "mail",
                    "api",
                    "analyzed",
                    18_000,
                    when(seen, postgres),
                    c.id,
                    c.category,
                    0.9,
                )

    return days, rows()


def _executemany(cursor: Any, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]] | list[Any]) -> None:
    statement = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"
    batch: list[tuple[Any, ...]] = []
    for row in rows:
        batch.append(row)
        if len(batch) == 50_000:
            cursor.executemany(statement, batch)
            batch.clear()
    if batch:
        cursor.executemany(statement, batch)


def _copy(cursor: Any, table: str, columns: Sequence[str], rows: Iterator[tuple[Any, ...]] | list[Any]) -> None:
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
    if table == "campaigns":
        cursor.execute("SELECT setval(pg_get_serial_sequence('campaigns', 'id'), (SELECT max(id) FROM campaigns))")


# -- what is timed -----------------------------------------------------------------------------------------------


@dataclass
class Timings:
    assign_ms: list[float]
    assign_cpu_ms: list[float]
    joining_ms: list[float]
    founding_ms: list[float]
    transaction_ms: list[float]
    variants: int
    variants_joined: int
    new: int
    new_founded: int


def assign_new(engine: Engine, rng: np.random.Generator, stored: Sequence[Campaign], count: int) -> Timings:
    sizes = np.array([c.size for c in stored], dtype=np.float64)
    chosen = rng.choice(len(stored), size=count // 2, p=sizes / sizes.sum())
    work: list[tuple[dict[str, Any], Campaign | None]] = []
    for index in chosen.tolist():
        campaign = stored[index]
        bands, _ = variant(rng, campaign)
        work.append((facts(bands, campaign.domains, campaign.category), campaign))
    for n in range(count - len(work)):
        category = CATEGORIES[rng.choice(len(CATEGORIES), p=CATEGORY_WEIGHTS)]
        domains = [f"new-{n}-{rng.integers(2**40):x}.example"] if category in HARMFUL else []
        work.append((facts(hexes(rng, BANDS), domains, category), None))
    order = rng.permutation(len(work))
    with engine.begin() as conn:  # the reports exist before their analysis, as in the platform
        first_id = conn.execute(select(func.max(reports.c.id))).scalar_one() + 1
        conn.execute(insert(reports), [report_values(first_id + i) for i in range(len(work))])
    public = {}
    with engine.connect() as conn:
        public = dict(conn.execute(select(campaigns.c.public_id, campaigns.c.id)).all())
    timings = Timings([], [], [], [], [], count // 2, 0, count - count // 2, 0)
    now = datetime(2026, 11, 20, tzinfo=UTC)
    for position in order.tolist():
        document, campaign = work[position]
        started = time.perf_counter()
        with engine.begin() as conn:
            before, cpu = time.perf_counter(), time.process_time()
            public_id = assign_campaign(conn, first_id + position, document, now)
            timings.assign_ms.append((time.perf_counter() - before) * 1000)
            timings.assign_cpu_ms.append((time.process_time() - cpu) * 1000)
        (timings.joining_ms if campaign is not None else timings.founding_ms).append(timings.assign_ms[-1])
        timings.transaction_ms.append((time.perf_counter() - started) * 1000)
        if campaign is not None:
            timings.variants_joined += public.get(public_id or "") == campaign.id
        elif public_id is not None and public_id not in public:
            timings.new_founded += 1
    return timings


def facts(bands: list[str], domains: list[str], category: str) -> dict[str, Any]:
    return {
        "sha256": hexes(np.random.default_rng(), 4)[0] * 4,
        "fingerprint": {"bands": bands, "shingles": 60, "domains": domains, "tlsh": None},
        "urls": [{"host": f"www.{d}", "registered_domain": d, "canonical": f"https://www.{d}/"} for d in domains],
        "category": category,
        "brands": [],
    }


def report_values(report_id: int) -> dict[str, Any]:
    return {
        "submitter": f"new:{report_id}",
        "sha256": SHA,
        "kind": "mail",
        "channel": "api",
        "status": "received",
        "size": 18_000,
        "received_at": datetime(2026, 11, 20, tzinfo=UTC),
    }


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def report(t: Timings) -> None:
    for name, values in (
        ("assign_campaign", t.assign_ms),
        ("assign_campaign, CPU", t.assign_cpu_ms),
        ("variants of a campaign", t.joining_ms),
        ("new reports", t.founding_ms),
        ("transaction (with commit)", t.transaction_ms),
    ):
        print(
            f"{name:>26}: median {statistics.median(values):.3f} ms, p90 {percentile(values, 0.9):.3f} ms, "
            f"p99 {percentile(values, 0.99):.3f} ms, max {max(values):.3f} ms ({len(values)} reports)"
        )
    print(
        f"variants that joined their campaign: {t.variants_joined}/{t.variants}; "
        f"new reports that founded a campaign: {t.new_founded}/{t.new}"
    )
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
