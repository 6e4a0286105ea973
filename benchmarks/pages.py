"""The reporter's pages with a million reports stored: the server time of each page (issue 6: under 200 ms).

    .venv/bin/python -m benchmarks.pages                          # 1,000,000 reports, SQLite in a temp folder
    .venv/bin/python -m benchmarks.pages --requests 50 --reports 100000
    .venv/bin/python -m benchmarks.pages --postgres postgresql+psycopg://user@127.0.0.1:5432/empty_db

The fill writes straight into the tables (executemany on SQLite, COPY on PostgreSQL, as benchmarks/campaigns.py
does, whose campaign sizes and rows it reuses): ~50,000 campaigns of heavy-tailed sizes, 10,001 reporters and
1,000,000 analysed reports in time order. One heavy reporter has 20,000 of them, drawn from the same stream (so their
campaigns have the sizes traffic gives), the others share the rest (log-normal weights). Every report has small
facts (a subject, one `link-to-ip` reason, an impersonated brand), a verdict category and its campaign. Campaign
keys and days are not written: no page reads them.

Then the real app (`create_app` over a `Platform` on that database) is driven in-process by starlette's TestClient,
signed in as the heavy reporter through the /signin form. An ASGI wrapper around the app times each request from
its arrival to the last byte of the response (the server time: routing, the session, the queries, the template);
N requests a page after 5 of warm-up: /reports, /reports?after=<the 15,000th newest>, /reports/{id} and its
/timeline (a random report of theirs each time), /report, /account, and /signin (as a visitor).

After the fill, the tables are analysed (VACUUM ANALYZE on PostgreSQL, which also sets the visibility map that
an index-only scan needs; autovacuum does it live).
For each page over the aim, its SQL (caught on the engine during one more request) is timed and explained: EXPLAIN
QUERY PLAN on SQLite, EXPLAIN (ANALYZE, BUFFERS) on PostgreSQL; `--explain` does it for every page.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from fastapi.testclient import TestClient
from sqlalchemy import Engine, event, insert, select, text
from starlette.types import ASGIApp, Receive, Scope, Send

from benchmarks.campaigns import (
    CAMPAIGN_COLUMNS,
    SHA,
    START,
    Campaign,
    _copy,
    _executemany,
    campaign_row,
    make_campaigns,
    percentile,
    when,
)
from benchmarks.campaigns import (
    CATEGORIES as CAMPAIGN_CATEGORIES,
)
from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.accounts import create_user
from signalement.store.db import make_engine
from signalement.store.migrate import upgrade
from signalement.store.tables import blobs, reports, users
from signalement.web.app import create_app

AIM_MS = 200.0
PASSWORD = "correct horse battery staple"
HEAVY_EMAIL = "heavy@example.org"
SPAN = timedelta(days=180)  # the reports arrive over six months, in id order
DEEP = 15_000  # the /reports?after= cursor: the heavy reporter's 15,000th newest report
WARMUP = 5
# In place of ix_reports_reporter_id: the list reads it in id order (on PostgreSQL too), impact() reads only it.
QUANTILES = (("median", 0.5), ("p90", 0.9), ("p99", 0.99))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--campaigns", type=int, default=50_000)
    parser.add_argument("--reporters", type=int, default=10_000, help="besides the heavy one")
    parser.add_argument("--heavy", type=int, default=20_000, help="the heavy reporter's reports")
    parser.add_argument("--requests", type=int, default=200, help="timed requests a page")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of a temp SQLite file")
    parser.add_argument("--explain", action="store_true", help="explain every page's SQL, not only the slow ones")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep the temp folder (SQLite database, blobs)")
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    folder = Path(tempfile.mkdtemp(prefix="signalement-pages-"))
    settings = Settings(data_dir=folder, database_url=args.postgres or "", secret_key="b" * 64, smtp_domains=["x.test"])
    url = settings.effective_database_url
    print(f"machine: {os.cpu_count()} cores, {cpu_model()}, Python {host.python_version()}")
    print(f"load average at start: {loadavg()}")

    started = time.perf_counter()
    engine = make_engine(url)
    upgrade(engine)
    print(f"database: {describe(engine)}")
    heavy = fill(engine, rng, args)
    analyze(engine)
    engine.dispose()
    print(
        f"fill: {args.reports:,} reports, {args.campaigns:,} campaigns, {args.reporters + 1:,} reporters, "
        f"{time.perf_counter() - started:.0f} s"
    )

    platform = Platform(settings)
    try:
        results = measure(platform, rng, heavy, args.requests, args.explain)
    finally:
        platform.close()
    print_results(results)
    print(f"load average at the end: {loadavg()}")
    if args.keep:
        print(f"kept {folder}")
    else:
        shutil.rmtree(folder, ignore_errors=True)


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return host.processor() or "unknown CPU"


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def describe(engine: Engine) -> str:
    with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            return str(conn.execute(text("SELECT version()")).scalar_one()).split(" on ")[0]
        version = conn.execute(text("SELECT sqlite_version()")).scalar_one()
        return f"SQLite {version} {engine.url.database}"


# -- what is stored ----------------------------------------------------------------------------------------------


@dataclass
class Heavy:
    user_id: int
    report_ids: list[int]  # newest first


def fill(engine: Engine, rng: np.random.Generator, args: argparse.Namespace) -> Heavy:
    """The users through SQLAlchemy (the heavy one with create_user and a real password hash), then campaigns and
    reports over the raw connection, in one transaction: executemany (synchronous=OFF for the fill) or COPY."""
    stored = make_campaigns(rng, args.reports, args.campaigns)
    created = datetime(2026, 1, 1, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(insert(blobs), {"sha256": SHA, "size": 1, "stored_size": 1, "created_at": START})
        heavy_id = create_user(conn, HEAVY_EMAIL, Role.REPORTER, password=PASSWORD)
        others = [
            {"email": f"reporter{n}@example.org", "role": Role.REPORTER.value, "created_at": created}
            for n in range(args.reporters)
        ]
        conn.execute(insert(users), others)
        first_other = heavy_id + 1  # ids follow the insertion order on both databases
    submitters = reporters_of(rng, args.reports, args.heavy, heavy_id, first_other, args.reporters)
    postgres = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if not postgres:
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.execute("BEGIN")
        writer = _copy if postgres else _executemany
        writer(cursor, "campaigns", CAMPAIGN_COLUMNS, (campaign_row(c, postgres) for c in stored))
        writer(cursor, "reports", REPORT_COLUMNS, report_rows(rng, stored, submitters, postgres))
        raw.commit()
        if not postgres:
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    with engine.connect() as conn:
        ids = conn.execute(select(reports.c.id).where(reports.c.reporter_id == heavy_id).order_by(reports.c.id.desc()))
        return Heavy(heavy_id, list(ids.scalars()))


def analyze(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE reports" if engine.dialect.name == "postgresql" else "ANALYZE"))


def reporters_of(
    rng: np.random.Generator, total: int, heavy: int, heavy_id: int, first_other: int, count: int
) -> np.ndarray[Any, np.dtype[np.int64]]:
    """Each report's reporter: `heavy` reports at random places for the heavy one, the others by log-normal weight."""
    weights = rng.lognormal(0.0, 1.0, count)
    chosen = rng.choice(count, size=total, p=weights / weights.sum()).astype(np.int64) + first_other
    chosen[rng.choice(total, size=min(heavy, total), replace=False)] = heavy_id
    return chosen


REPORT_COLUMNS = (
    "submitter",
    "reporter_id",
    "sha256",
    "kind",
    "channel",
    "status",
    "size",
    "received_at",
    "analyzed_at",
    "facts",
    "from_domain",
    "campaign_id",
    "verdict_category",
    "verdict_score",
)
CHANNELS = ("web", "smtp", "api", "addon")
BRANDS = ("La Poste", "Ameli", "impots.gouv", "Netflix", "Crédit Agricole", "DHL", "Chronopost", "Orange")
SUBJECTS = (
    "Votre colis n°{n} est en attente de livraison",
    "Remboursement de {n},43 EUR disponible",
    "Votre compte sera suspendu sous 24h (dossier {n})",
    "Facture impayée {n}",
    "Mise à jour de votre carte Vitale: réf. {n}",
)


def report_rows(
    rng: np.random.Generator, stored: Sequence[Campaign], reporter: np.ndarray[Any, Any], postgres: bool
) -> Iterator[tuple[Any, ...]]:
    """The reports in arrival order: each report's campaign drawn as traffic comes (a campaign of N reports is N
    rows, shuffled), the submitter unique per report (the (submitter, sha256) constraint: every row shares one
    blob)."""
    campaign_of = rng.permutation(np.repeat(np.arange(len(stored)), [c.size for c in stored]))
    channel = rng.integers(0, len(CHANNELS), size=len(campaign_of))
    step = SPAN / max(1, len(campaign_of))
    categories = [CAMPAIGN_CATEGORIES.index(c.category) for c in stored]
    for n, (index, who, how) in enumerate(zip(campaign_of.tolist(), reporter.tolist(), channel.tolist(), strict=True)):
        c = stored[index]
        received = START + step * n
        category = CAMPAIGN_CATEGORIES[categories[index]]
        brand = BRANDS[c.id % len(BRANDS)]
        facts = {
            "subject": SUBJECTS[c.id % len(SUBJECTS)].format(n=c.id),
            "reasons": [{"rule": "link-to-ip", "detail": f"http://198.51.{c.id % 256}.{n % 256}/login"}],
            "brands": [{"name": brand, "impersonated": category != "legitimate"}],
        }
        yield (
            f"bench:{who}:{n}",
            who,
            SHA,
            "mail",
            CHANNELS[how],
            "analyzed",
            18_000,
            when(received, postgres),
            when(received + timedelta(seconds=30), postgres),
            json.dumps(facts, ensure_ascii=False),
            f"kit-{c.id % 5000}.example",
            c.id,
            category,
            0.9,
        )


# -- what is timed -----------------------------------------------------------------------------------------------


class ServerTimer:
    """Outermost ASGI wrapper: from the request's arrival to the end of the app's work (its last byte sent)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.last_ms = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = time.perf_counter()
        try:
            await self.app(scope, receive, send)
        finally:
            self.last_ms = (time.perf_counter() - started) * 1000


@dataclass
class Page:
    name: str
    paths: Sequence[str]  # one per request, cycled
    signed_in: bool = True
    server_ms: list[float] = field(default_factory=list)
    client_ms: list[float] = field(default_factory=list)
    status: set[int] = field(default_factory=set)


class Statements:
    """The SQL an engine runs while on: statement, parameters, time."""

    def __init__(self, engine: Engine) -> None:
        self.on = False
        self.seen: list[tuple[str, Any, float]] = []
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        conn.info["bench_started"] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, many: bool) -> None:
        if self.on:
            self.seen.append((statement, parameters, (time.perf_counter() - conn.info["bench_started"]) * 1000))


def measure(platform: Platform, rng: np.random.Generator, heavy: Heavy, count: int, explain_all: bool) -> list[Page]:
    timer = ServerTimer(create_app(platform))
    me = TestClient(timer, client=("127.0.0.1", 50000), follow_redirects=False)
    sign_in(me)
    visitor = TestClient(timer, client=("127.0.0.1", 50001), follow_redirects=False)
    picked = rng.choice(heavy.report_ids, size=count + WARMUP).tolist()
    deep = heavy.report_ids[min(DEEP, len(heavy.report_ids) - 1)]
    pages = [
        Page("/reports", ["/reports"]),
        Page(f"/reports?after= ({DEEP:,}th newest)", [f"/reports?after={deep}"]),
        Page("/reports/{id}", [f"/reports/{i}" for i in picked]),
        Page("/reports/{id}/timeline", [f"/reports/{i}/timeline" for i in picked]),
        Page("/report", ["/report"]),
        Page("/account", ["/account"]),
        Page("/signin (visitor)", ["/signin"], signed_in=False),
    ]
    statements = Statements(platform.engine)
    for p in pages:
        client = me if p.signed_in else visitor
        for n in range(WARMUP + count):
            path = p.paths[n % len(p.paths)]
            started = time.perf_counter()
            reply = client.get(path)
            elapsed = (time.perf_counter() - started) * 1000
            p.status.add(reply.status_code)
            if n >= WARMUP:
                p.server_ms.append(timer.last_ms)
                p.client_ms.append(elapsed)
        slow = percentile(p.server_ms, 0.99) >= AIM_MS
        if slow or explain_all:
            statements.seen.clear()
            statements.on = True
            client.get(p.paths[0])
            statements.on = False
            explain(platform.engine, p, statements.seen, timer.last_ms, slow)
    return pages


def sign_in(client: TestClient) -> None:
    form = client.get("/signin").text
    token = form.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    reply = client.post("/signin", data={"email": HEAVY_EMAIL, "password": PASSWORD, "csrf": token})
    if reply.status_code != 303 or reply.headers["location"] != "/reports":
        raise SystemExit(f"sign-in failed: {reply.status_code}")


def explain(engine: Engine, page: Page, seen: Sequence[tuple[str, Any, float]], total_ms: float, slow: bool) -> None:
    why = "over the aim" if slow else "--explain"
    print(f"\n== {page.name} ({why}): one request {total_ms:.1f} ms server time, {len(seen)} statements")
    postgres = engine.dialect.name == "postgresql"
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters, ms in seen:
            flat = " ".join(statement.split())
            if not flat.upper().startswith("SELECT"):
                continue
            again = time.perf_counter()  # SQLite does a query's work as its rows are fetched: run it again, fetched
            cursor.execute(statement, parameters)
            cursor.fetchall()
            rerun = (time.perf_counter() - again) * 1000
            shown = flat if len(flat) <= 400 else flat[:400] + " ..."
            print(f"-- {ms:.2f} ms in the page, {rerun:.2f} ms run again and fetched: {shown}")
            print(f"   parameters: {parameters}")
            prefix = "EXPLAIN (ANALYZE, BUFFERS) " if postgres else "EXPLAIN QUERY PLAN "
            cursor.execute(prefix + statement, parameters)
            for row in cursor.fetchall():
                print("   ", row[0] if postgres else f"{'  ' * (row[1] > 0)}{row[3]}")
        raw.rollback()
    finally:
        raw.close()


def print_results(pages: Sequence[Page]) -> None:
    print(f"\nserver time a page, ms ({len(pages[0].server_ms)} requests each; aim: under {AIM_MS:.0f} ms)")
    print(f"{'page':>34}  {'median':>7} {'p90':>7} {'p99':>7} {'max':>7}  {'client p50':>10}  status  under the aim")
    for p in pages:
        values = p.server_ms
        verdict = next(
            (f"NO: {name} over" for name, v in QUANTILES if percentile(values, v) >= AIM_MS),
            "yes" if max(values) < AIM_MS else "yes, but max over",
        )
        print(
            f"{p.name:>34}  {statistics.median(values):7.1f} {percentile(values, 0.9):7.1f} "
            f"{percentile(values, 0.99):7.1f} {max(values):7.1f}  {statistics.median(p.client_ms):10.1f}  "
            f"{','.join(map(str, sorted(p.status))):>6}  {verdict}"
        )


if __name__ == "__main__":
    main()
