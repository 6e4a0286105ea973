"""The URL lookup (issue 12): in-process checks with a million listed URLs and the memory they take, batch lookups
over HTTP, and the latency of /go at a fixed rate.

    .venv/bin/python -m benchmarks.lookup                          # 1,000,000 listed URLs, every case
    .venv/bin/python -m benchmarks.lookup --urls 100000 --cases inprocess
    .venv/bin/python -m benchmarks.lookup --db /tmp/lookup.db      # keep the generated database, reuse it next time
    .venv/bin/python -m benchmarks.lookup --db /tmp/lookup.db --cases http --clients 8 --duration 30
    .venv/bin/python -m benchmarks.lookup --db /tmp/lookup.db --cases go --rate 500 --seconds 20 --servers 2
    .venv/bin/python -m benchmarks.lookup --db /tmp/lookup.db --cases inprocess --profile 30 --rounds 1
    .venv/bin/python -m benchmarks.lookup --db /tmp/lookup.db --cases http,go --profile 30   # the app in-process

The generator writes `--urls` confirmed URLs straight into a SQLite file (executemany in chunks, seq 1..N, the `urls`
counter at N): 60% listed as the URL itself (`https://<host>/<path>?<query>`), 15% as a kit's directory one or two
deep on a compromised site, 15% as a host on a shared service, 10% as a whole registered domain; TLP mostly green.

The URLs checked are `--checks` (100,000) URLs, `--listed-share` (5%) of them listed, written otherwise than
stored (http for https, an upper-case host, a fragment, a default port, a longer path under a listed directory,
host or domain), 2% near misses (another page of a host whose single URL is listed, another folder of a site with
a listed kit), the rest random URLs of realistic shapes and lengths on hosts that are not listed. Every listed one
must be found and nothing else: the hits are counted and compared.

Cases (`--cases`, all by default):
- `inprocess`: in a fresh process (spawned, so that its memory is the index's), the platform imported, then
  `LookupService(engine).current()` builds the index: its time, `index.nbytes()`, the process's RSS before and after
  and its peak (VmRSS, VmHWM). Then `snapshot.check(batch, RED)` over the checked URLs in batches of 500, `--rounds`
  rounds; URLs per second at the median round.
- `http`: `signalement serve --no-worker` on the same database (benchmarks.ingest's ManagedServer: a free loopback
  port, its own process group, an analyst's token: staff, so `lookup:urls` and every TLP), the index built (the
  first lookup waits for it), then `--clients` connections each posting 500 URLs to /api/v1/lookup/urls in a loop
  for `--duration` seconds: URLs per second, the latency of each request, the server's CPU.
- `go`: open loop at `--rate` requests per second for `--seconds`, after `--warmup` seconds at half the rate and
  a pause: request i is sent at start + i/rate whatever happened to the others, its latency counted from that due
  time (no coordinated omission), on at most `--connections` connections to each server (a request due while all
  are busy waits, and the wait counts). `--go-mix`: 90% links signed by a member organization to unlisted URLs
  (303), 5% signed listed ones (200, the warning page, which counts a protected click: a write), 5% unsigned (200,
  the neutral page). The client never follows a redirect: it reads the status, so nothing leaves 127.0.0.1.
  `per_second` in the JSON gives each second's p50/p99/max: whether the tail is a stall or a growing queue.

`--servers N` starts N server processes on the database and sends to them in turn (what uvicorn workers behind a
proxy would do). `--profile N` prints cProfile's top N: for `inprocess` the build and one round of checks; for
`http` and `go` (no server then) the app itself in this process, driven through ASGI with FastAPI's thread pool
replaced by direct calls so that one profiler sees the whole request (uvicorn's HTTP parsing and the thread hop
are left out: compare its "ms of CPU a request" with the server's CPU per request to see what they cost).

The client is one asyncio process (uvloop) with benchmarks.ingest's minimal keep-alive client: on 2 cores httpx
would take the CPU the server needs. Results go to benchmarks/results/lookup-<time>.json.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import hashlib
import json
import multiprocessing
import pstats
import random
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

from sqlalchemy import Engine, func, select, update

from benchmarks.ingest import (
    Connection,
    ManagedServer,
    RawClient,
    client_cpu_seconds,
    git_state,
    load_average,
    machine,
    percentile,
    signalement_command,
)
from signalement.domain.members import OrgKind, Tlp
from signalement.domain.url_reputation import ConfirmedBy, Level, UrlState
from signalement.mail.domains import registered_domain
from signalement.store import organizations
from signalement.store.db import make_engine
from signalement.store.migrate import upgrade
from signalement.store.tables import feedback_versions, urls

RESULTS_DIR = Path(__file__).parent / "results"
NOW = datetime(2026, 11, 28, 9, 0, 0, tzinfo=UTC)
CHUNK = 20_000  # rows per executemany
BATCH = 500  # URLs per check and per request: the API's maximum
CASES = ("inprocess", "http", "go")
ORGANIZATION = "Benchmark webmail"
T = TypeVar("T")

LEVELS = (Level.URL, Level.PREFIX, Level.HOST, Level.DOMAIN)
LEVEL_WEIGHTS = (60, 15, 15, 10)
TLPS = (Tlp.GREEN, Tlp.CLEAR, Tlp.AMBER)
TLP_WEIGHTS = (90, 7, 3)
BRANDS = ("paypal", "microsoft", "la-poste", "ameli", "impots", "netflix", "dhl", "credit-agricole", "orange", None)
WORDS = ("secure", "login", "verify", "account", "update", "support", "client", "service", "auth", "portal", "espace",
         "colis", "livraison", "remboursement", "banque", "info", "suivi", "paiement", "amende", "dossier")  # fmt: skip
TLDS = ("com", "net", "xyz", "top", "shop", "online", "info", "fr", "site", "click", "live", "app", "buzz", "icu")
SHARED = ("web.app", "pages.dev", "netlify.app", "github.io", "firebaseapp.com", "weebly.com", "wixsite.com",
          "blogspot.com", "000webhostapp.com", "glitch.me", "r2.dev", "vercel.app")  # fmt: skip
KIT_DIRS = ("wp-content", "wp-includes", "images", "includes", "css", "old", "tmp", "admin", "js", "uploads")
PAGES = ("index.php", "login.php", "verify.html", "signin.aspx", "account/update.php", "session.php", "")
# The unlisted URLs: names with no digit (every generated listed host has one), so that none is listed by chance.
SYLLABLES = ("ka", "ro", "mi", "ten", "lo", "vu", "sa", "ne", "por", "di", "la", "ban", "que", "to", "ri", "mo",
             "su", "ze", "cor", "pa", "li", "net", "ga", "vi", "mar", "chan", "bel", "fra", "sto", "pre")  # fmt: skip
COMMON_TLDS = ("com", "com", "com", "com", "fr", "fr", "net", "org", "de", "io", "co.uk", "eu", "be", "ch")
SUBDOMAINS = ("", "", "", "www.", "www.", "www.", "mail.", "cdn.", "shop.", "news.", "app.", "static.", "m.",
              "img.cdn.", "eu-west.assets.")  # fmt: skip
PATH_WORDS = ("produits", "article", "news", "2026", "11", "images", "static", "js", "docs", "help", "compte",
              "search", "fr", "en", "promo", "newsletter", "view", "page", "catalogue", "item", "offres", "blog",
              "categories", "femme", "homme", "assets", "media", "content", "uploads", "actualites")  # fmt: skip
FILES = ("index.html", "page.php", "view.aspx", "", "", "", "article-48213.html", "logo.png", "main.js", "doc.pdf")
QUERY_KEYS = ("utm_source", "utm_medium", "utm_campaign", "id", "ref", "lang", "q", "page", "sid", "token", "e")


# -- the listed URLs -------------------------------------------------------------------------------------------


def _token(draw: random.Random, bits: int = 40) -> str:
    return f"{draw.getrandbits(bits):0{bits // 4}x}"


def _name(draw: random.Random, n: int) -> str:
    return f"{draw.choice(WORDS)}-{draw.choice(WORDS)}{n}"


def url_shape(draw: random.Random, n: int) -> tuple[Level, str, str, str]:
    """(level, canonical URL, host, listed) of the n-th listed URL."""
    level = draw.choices(LEVELS, LEVEL_WEIGHTS)[0]
    if level is Level.PREFIX:  # a kit dropped on a compromised site: its folder, one or two deep
        host = f"www.{draw.choice(WORDS)}site{n}.{draw.choice(TLDS)}"
        kit = f"/{draw.choice(KIT_DIRS)}/kit{n}/" if draw.random() < 0.6 else f"/kit{n}/"
        prefix = f"http://{host}{kit}"
        return level, f"{prefix}{draw.choice(PAGES)}?id={_token(draw)}", host, prefix
    if level is Level.HOST:  # a page on a shared service: that host only
        host = f"{_name(draw, n)}.{draw.choice(SHARED)}"
        return level, f"https://{host}/", host, host
    domain = f"{_name(draw, n)}.{draw.choice(TLDS)}"
    if level is Level.DOMAIN:  # registered for the phishing: the whole domain
        host = f"{draw.choice(('www.', '', 'login.', 'secure.'))}{domain}"
        return level, f"https://{host}/signin/{_token(draw)}", host, domain
    host = draw.choice((domain, f"www.{domain}", f"{draw.choice(WORDS)}.{domain}"))
    path = "/".join(draw.choice(WORDS) for _ in range(draw.randrange(1, 4)))
    url = f"https://{host}/{path}/{draw.choice(WORDS)}.php?session={_token(draw)}&lang=fr"
    return level, url, host, url


def url_rows(count: int, seed: int) -> Iterator[dict[str, Any]]:
    draw = random.Random(seed)
    span = 365 * 86400
    for n in range(1, count + 1):
        level, canonical, host, listed = url_shape(draw, n)
        tlp = draw.choices(TLPS, TLP_WEIGHTS)[0]
        first = NOW - timedelta(seconds=span * (count - n) // count + draw.randrange(3600))  # seq follows time
        confirmed = first + timedelta(minutes=draw.randrange(5, 600))
        reporters = draw.randrange(1, 12)
        yield {
            "id": n, "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical, "host": host,
            "registered_domain": registered_domain(host), "first_seen": first,
            "last_seen": first + timedelta(seconds=draw.randrange(3 * 86400)), "state": UrlState.CONFIRMED,
            "tlp": tlp, "level": level, "listed": listed, "brand": draw.choice(BRANDS),
            "reports": reporters + draw.randrange(5), "reporters": reporters, "weight": round(draw.uniform(1, 5), 3),
            "confirmed_by": draw.choice(list(ConfirmedBy)), "confirmed_at": confirmed, "changed_at": confirmed,
            "seq": n, "shown_tlp": tlp,
        }  # fmt: skip


def generate(engine: Engine, count: int, seed: int) -> float:
    """Fill `urls` and set its change counter; the seconds it took."""
    started = time.monotonic()
    chunk: list[dict[str, Any]] = []
    for row in url_rows(count, seed):
        chunk.append(row)
        if len(chunk) == CHUNK:
            with engine.begin() as conn:
                conn.execute(urls.insert(), chunk)
            chunk = []
    with engine.begin() as conn:
        if chunk:
            conn.execute(urls.insert(), chunk)
        conn.execute(update(feedback_versions).where(feedback_versions.c.name == "urls").values(version=count))
    return time.monotonic() - started


def organization(engine: Engine) -> int:
    """The member organization whose key signs the /go links (entitled up to GREEN, the default)."""
    with engine.begin() as conn:
        found = next((o.id for o in organizations.listed(conn) if o.name == ORGANIZATION), None)
        return found if found is not None else organizations.create(conn, ORGANIZATION, OrgKind.MAILBOX_PROVIDER)


# -- the URLs checked ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checks:
    urls: list[str]
    listed: list[bool]  # whether each is listed (at any TLP)
    public: list[bool]  # listed at CLEAR or GREEN: what a member entitled to GREEN is warned of
    kinds: Counter[str] = field(default_factory=Counter)


def _spelling(draw: random.Random, host: str) -> tuple[str, str]:
    """(scheme, host) as a link may write them."""
    scheme = draw.choice(("http", "https", "HTTPS"))
    written = host.upper() if draw.random() < 0.3 else host
    if draw.random() < 0.1:
        written += ":443" if scheme.lower() == "https" else ":80"
    return scheme, written


def _tail(draw: random.Random) -> str:
    return draw.choice(("", "", f"#{draw.choice(WORDS)}", "#"))


def listed_variant(draw: random.Random, level: Level, canonical: str, host: str, listed: str) -> str:
    """A URL that the listing covers, written otherwise than the stored canonical form."""
    if level is Level.URL:
        scheme, written = _spelling(draw, host)
        return f"{scheme}://{written}{canonical.split(host, 1)[1]}{_tail(draw)}"
    if level is Level.PREFIX:
        scheme, written = _spelling(draw, host)
        deeper = draw.choice(("", f"{draw.choice(WORDS)}/", f"{draw.choice(WORDS)}/{draw.choice(WORDS)}/"))
        path = listed.split(host, 1)[1]
        return f"{scheme}://{written}{path}{deeper}{draw.choice(PAGES)}?client={_token(draw)}{_tail(draw)}"
    if level is Level.DOMAIN:
        host = f"{draw.choice(('', 'www.', 'mon-espace.', 'secure.auth.'))}{listed}"
    scheme, written = _spelling(draw, host)
    path = "/".join(draw.choice(WORDS) for _ in range(draw.randrange(0, 4)))
    return f"{scheme}://{written}/{path}{'?q=' + _token(draw) if draw.random() < 0.5 else ''}{_tail(draw)}"


def near_miss(draw: random.Random, level: Level, canonical: str, host: str, listed: str) -> str | None:
    """Another page of a host whose one URL is listed, another folder of a site with a listed kit; None for a
    host or domain listing (everything under it is listed)."""
    if level is Level.URL:
        return f"https://{host}/{draw.choice(WORDS)}.html"
    if level is Level.PREFIX:
        return f"http://{host}/{draw.choice(PATH_WORDS)}/{draw.choice(FILES)}"
    return None


def random_url(draw: random.Random) -> str:
    """An unlisted URL of a realistic shape: a site's page, a CDN asset, or a long tracking link (median ~60
    characters, mean 70, a tenth over 120)."""
    name = "".join(draw.choice(SYLLABLES) for _ in range(draw.randrange(2, 5)))
    scheme = "https" if draw.random() < 0.85 else "http"
    if draw.random() < 0.12:  # a mailing's tracked link
        blob = _token(draw, 4 * draw.randrange(40, 160))
        return f"{scheme}://click.{name}.{draw.choice(COMMON_TLDS)}/ls/click?upn={blob}"
    host = f"{draw.choice(SUBDOMAINS)}{name}.{draw.choice(COMMON_TLDS)}"
    path = "/".join(draw.choice(PATH_WORDS) for _ in range(draw.randrange(0, 5)))
    file = draw.choice(FILES)
    url = f"{scheme}://{host}/{path}{'/' if path and file else ''}{file}"
    if draw.random() < 0.4:
        values = (draw.choice((draw.choice(PATH_WORDS), _token(draw, 4 * draw.randrange(4, 24)))) for _ in range(4))
        url += "?" + "&".join(f"{draw.choice(QUERY_KEYS)}={v}" for v in list(values)[: draw.randrange(1, 5)])
    return url


def make_checks(engine: Engine, count: int, listed_share: float, seed: int, near_share: float = 0.02) -> Checks:
    """`count` URLs in a random order; the same ones for the same database and seed."""
    draw = random.Random(seed + 1)
    with engine.connect() as conn:
        total = conn.scalar(select(func.max(urls.c.id))) or 0
        wanted = min(total, round(count * (listed_share + near_share)))
        ids = draw.sample(range(1, total + 1), wanted)
        columns = (urls.c.id, urls.c.level, urls.c.canonical, urls.c.host, urls.c.listed, urls.c.tlp)
        rows = {r.id: r for r in conn.execute(select(*columns).where(urls.c.id.in_(ids)))}
    made: list[tuple[str, bool, bool]] = []
    kinds: Counter[str] = Counter()
    listed_count = round(count * listed_share)
    for n, url_id in enumerate(ids):
        row = rows[url_id]
        args = (draw, Level(row.level), row.canonical, row.host, row.listed)
        if n < listed_count:
            made.append((listed_variant(*args), True, Tlp.GREEN.allows(Tlp(row.tlp))))
            kinds[f"listed-{row.level}"] += 1
        elif (miss := near_miss(*args)) is not None:
            made.append((miss, False, False))
            kinds["near-miss"] += 1
    while len(made) < count:
        made.append((random_url(draw), False, False))
        kinds["unlisted"] += 1
    draw.shuffle(made)
    return Checks([m[0] for m in made], [m[1] for m in made], [m[2] for m in made], kinds)


def batches(items: Sequence[T], size: int = BATCH) -> list[Sequence[T]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


# -- in process ------------------------------------------------------------------------------------------------


def memory() -> dict[str, float]:
    """This process's resident set and its peak so far, MB (/proc/self/status)."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


def inprocess(
    database_url: str, count: int, listed_share: float, seed: int, rounds: int, profile: int
) -> dict[str, Any]:
    """In a spawned process: build the index, weigh it, time the checks."""
    import signalement.web.app  # noqa: F401  the platform as a server imports it, so the baseline holds it
    from signalement.lookup.service import LookupService

    engine = make_engine(database_url, pool_size=1)
    gc.collect()
    before = memory()
    started, cpu = time.perf_counter(), time.process_time()
    builder = cProfile.Profile() if profile else None
    snapshot = builder.runcall(LookupService(engine).current) if builder else LookupService(engine).current()
    built_s, built_cpu = time.perf_counter() - started, time.process_time() - cpu
    if builder:  # the build's figures are then the profiler's too
        pstats.Stats(builder, stream=sys.stderr).sort_stats("tottime").print_stats(profile)
    after_build = memory()
    gc.collect()
    after_gc = memory()
    index = snapshot.index
    found: dict[str, Any] = {
        "entries": len(index),
        "version": snapshot.version,
        "build_s": round(built_s, 2),
        "build_cpu_s": round(built_cpu, 2),
        "index_mb": round(index.nbytes() / 1e6, 1),
        "bytes_per_entry": round(index.nbytes() / max(len(index), 1), 1),
        "rss_mb_before_build": before["VmRSS"],
        "rss_mb_after_build": after_build["VmRSS"],
        "rss_mb_after_gc": after_gc["VmRSS"],
        "rss_peak_mb": after_gc["VmHWM"],
        "rss_growth_mb": round(after_gc["VmRSS"] - before["VmRSS"], 1),
        "peak_growth_mb": round(after_gc["VmHWM"] - before["VmRSS"], 1),
    }
    print(f"  index: {len(index):,} entries built in {built_s:.1f} s ({built_cpu:.1f} s CPU), "
          f"{found['index_mb']} MB of arrays; RSS {before['VmRSS']} MB -> {after_gc['VmRSS']} MB, "
          f"peak {after_gc['VmHWM']} MB", file=sys.stderr)  # fmt: skip
    checks = make_checks(engine, count, listed_share, seed)
    work = batches(checks.urls)
    rank = Tlp.RED.rank
    snapshot.check(work[0], rank)  # warm the caches a real process would have warm
    if profile:
        profiler = cProfile.Profile()
        profiler.runcall(lambda: [snapshot.check(b, rank) for b in work])
        stats = pstats.Stats(profiler, stream=sys.stderr)
        stats.sort_stats("tottime").print_stats(profile)
        stats.sort_stats("cumulative").print_stats(profile)
    times, per_batch, hits = [], [], 0
    for _ in range(rounds):
        hits = 0
        round_started = time.perf_counter()
        for batch in work:
            t0 = time.perf_counter()
            hits += sum(h is not None for h in snapshot.check(batch, rank))
            per_batch.append(time.perf_counter() - t0)
        times.append(time.perf_counter() - round_started)
    median = statistics.median(times)
    found |= {
        "checked": len(checks.urls),
        "mix": dict(checks.kinds),
        "rounds": rounds,
        "round_s": [round(t, 3) for t in times],
        "urls_per_second": round(len(checks.urls) / median),
        "us_per_url": round(median / len(checks.urls) * 1e6, 1),
        "batch_ms": latency_ms(per_batch),
        "hits": hits,
        "hits_expected": sum(checks.listed),
        "rss_mb_end": memory()["VmRSS"],
    }
    engine.dispose()
    return found


def run_inprocess(database_url: str, args: argparse.Namespace) -> dict[str, Any]:
    context = multiprocessing.get_context("spawn")  # a fresh interpreter: its memory is the index's, not ours
    with context.Pool(1) as pool:
        found: dict[str, Any] = pool.apply(
            inprocess, (database_url, args.checks, args.listed_share, args.seed, args.rounds, args.profile)
        )
    return found


# -- over HTTP -------------------------------------------------------------------------------------------------


class Client(RawClient):
    """benchmarks.ingest's client, with GET and without credentials for the pages."""

    async def get(self, path: str) -> tuple[int, bytes]:
        head = f"GET {path} HTTP/1.1\r\n{self.auth}\r\n".encode()
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        try:
            return await asyncio.wait_for(self._exchange(conn, head, b""), self.timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            conn.close()
            if not reused:
                raise
        conn = await self._connect()  # an idle connection the server closed: once more, as browsers do
        try:
            return await asyncio.wait_for(self._exchange(conn, head, b""), self.timeout)
        except BaseException:
            conn.close()
            raise

    async def preconnect(self, count: int) -> None:
        self._idle += [await self._connect() for _ in range(count)]

    @property
    def connections(self) -> list[Connection]:
        return self._idle


class Server(ManagedServer):
    """benchmarks.ingest's server, with a user of its own each time: a kept database (--db) has the last one's."""

    def __enter__(self) -> Server:
        try:
            super().__enter__()
        except BaseException:  # its temp folder goes, and the process if it was started
            if self.process is not None:
                self.__exit__(*sys.exc_info())
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        return self

    def _create_user(self) -> str:
        email = f"bench-{secrets.token_hex(4)}@localhost"
        done = subprocess.run([signalement_command(), "user", "create", email, "--role", "analyst"], env=self.env,
                              capture_output=True, text=True, check=True)  # fmt: skip
        match = re.search(r"API token \(shown once, keep it safe\): (\S+)", done.stdout)
        if match is None:
            raise RuntimeError(f"no token in the output of `signalement user create`: {done.stdout}")
        return match.group(1)


def anonymous(url: str) -> Client:
    client = Client(url, "")
    client.auth = f"Host: {client.host}:{client.port}\r\n"
    return client


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def latency_ms(values: Sequence[float]) -> dict[str, float]:
    return {f"p{q}": ms(percentile(values, q)) for q in (50, 90, 99)} | {"max": ms(max(values, default=float("nan")))}


def server_memory(pid: int) -> dict[str, float]:
    found = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = round(int(value.split()[0]) / 1024, 1)
    return found


async def wait_index(client: RawClient, body: bytes) -> float:
    """Seconds until a first lookup is answered: the server builds the index at start, a lookup waits for it."""
    started = time.perf_counter()
    status, payload = await client.post("/api/v1/lookup/urls", body, "application/json")
    if status != 200:
        raise RuntimeError(f"the lookup answered {status}: {payload[:300]!r}")
    return time.perf_counter() - started


async def batch_load(
    urls: list[str], token: str, bodies: list[bytes], clients: int, duration: float, server_cpu: Callable[[], float]
) -> dict[str, Any]:
    """`clients` connections in a closed loop, spread over the servers."""
    per_server = [Client(url, token) for url in urls]
    index_s = max(await asyncio.gather(*(wait_index(c, bodies[0]) for c in per_server)))
    for n, body in enumerate(bodies[:20]):  # warm-up, not counted
        await per_server[n % len(urls)].post("/api/v1/lookup/urls", body, "application/json")
    latencies: list[float] = []
    statuses: Counter[str] = Counter()
    counted = {"urls": 0, "hits": 0, "next": 0}
    deadline = time.perf_counter() + duration

    async def loop(client: Client) -> None:
        while time.perf_counter() < deadline:
            body = bodies[counted["next"] % len(bodies)]
            counted["next"] += 1
            t0 = time.perf_counter()
            try:
                status, payload = await client.post("/api/v1/lookup/urls", body, "application/json")
            except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
                statuses[type(exc).__name__] += 1
                continue
            latencies.append(time.perf_counter() - t0)
            statuses[str(status)] += 1
            if status == 200:
                counted["urls"] += BATCH
                counted["hits"] += payload.count(b'"listed":true')

    cpu, client_cpu, started = server_cpu(), client_cpu_seconds(), time.perf_counter()
    await asyncio.gather(*(loop(per_server[n % len(urls)]) for n in range(clients)))
    elapsed = time.perf_counter() - started
    cpu, client_cpu = server_cpu() - cpu, client_cpu_seconds() - client_cpu
    for client in per_server:
        client.close()
    return {
        "index_ready_s": round(index_s, 2),
        "clients": clients,
        "duration_s": round(elapsed, 2),
        "requests": len(latencies),
        "urls": counted["urls"],
        "urls_per_second": round(counted["urls"] / elapsed),
        "requests_per_second": round(len(latencies) / elapsed, 1),
        "latency_ms": latency_ms(latencies),
        "hits": counted["hits"],
        "statuses": dict(statuses),
        "server_cpu_s": round(cpu, 1),
        "server_cores": round(cpu / elapsed, 2),
        "client_cpu_s": round(client_cpu, 1),
    }


@dataclass(frozen=True)
class Go:
    kind: str  # signed-unlisted, signed-listed, unsigned
    path: str
    expect: str  # redirect, warning, leaving


def go_requests(
    checks: Checks, secret: bytes, org: int, count: int, seed: int, unsigned: float = 0.05, listed: float = 0.05
) -> list[Go]:
    """`unsigned` of them unsigned links to unlisted URLs, `listed` signed links to listed ones, the rest signed
    links to unlisted ones."""
    from signalement.web.links_api import link_key, signature

    key = link_key(secret, org)
    draw = random.Random(seed + 2)
    warned = [u for u, p in zip(checks.urls, checks.public, strict=True) if p]
    unlisted = [u for u, is_listed in zip(checks.urls, checks.listed, strict=True) if not is_listed]
    made = []
    for _ in range(count):
        roll = draw.random()
        if roll < unsigned:
            target = draw.choice(unlisted)
            made.append(Go("unsigned", f"/go?url={quote(target, safe='')}", "leaving"))
            continue
        kind, target, expect = (("signed-listed", draw.choice(warned), "warning") if roll < unsigned + listed
                                else ("signed-unlisted", draw.choice(unlisted), "redirect"))  # fmt: skip
        made.append(Go(kind, f"/go?url={quote(target, safe='')}&org={org}&sig={signature(key, target)}", expect))
    return made


def _answer(status: int, payload: bytes) -> str:
    if status == 303:
        return "redirect"
    if status == 200:
        return "warning" if b'id="warning-title"' in payload else "leaving"
    return str(status)


async def go_load(
    urls: list[str], requests: list[Go], rate: float, warmup: int, connections: int, server_cpu: Callable[[], float]
) -> dict[str, Any]:
    """Open loop: request i due at start + i/rate, its latency counted from then; request i goes to server
    i mod the servers, on at most `connections` connections to each (as a reverse proxy's pool would): a request
    due while they are all busy waits for one, and that wait is in its latency."""
    clients = [anonymous(url) for url in urls]
    pools = [asyncio.Semaphore(connections) for _ in urls]
    for client in clients:
        status, _ = await client.get(requests[0].path)
        if status == 404:
            for opened in clients:
                opened.close()
            return {"skipped": "GET /go answered 404: not in this server"}
        await client.preconnect(4)
    per_kind: dict[str, list[float]] = {}
    answers: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    lags: list[float] = []
    timeline: list[tuple[float, float]] = []  # (due, latency): when the slow ones were due
    clock = time.perf_counter

    async def one(item: Go, due: float, counted: bool, server: int) -> None:
        lag = clock() - due
        try:
            async with pools[server]:
                status, payload = await clients[server].get(item.path)
        except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
            answers[type(exc).__name__] += counted
            return
        if not counted:
            return
        latency = clock() - due
        per_kind.setdefault(item.kind, []).append(latency)
        timeline.append((due, latency))
        lags.append(lag)
        answer = _answer(status, payload)
        answers[answer] += 1
        wrong[f"{item.kind}->{answer}"] += answer != item.expect

    async def schedule(items: Sequence[Go], counted: bool) -> float:
        start, pace = clock() + 0.05, rate if counted else rate / 2
        tasks = []
        for n, item in enumerate(items):
            due = start + n / pace
            await asyncio.sleep(max(0.0, due - clock()))
            tasks.append(asyncio.create_task(one(item, due, counted, n % len(clients))))
        await asyncio.gather(*tasks)
        return clock() - start

    await schedule(requests[:warmup], False)  # at half the rate: templates, statements and caches warm up
    await asyncio.sleep(1.0)  # whatever the warm-up left queued is done
    gc.collect()
    gc.freeze()  # this client's own collections must not pause the schedule
    cpu, client_cpu = server_cpu(), client_cpu_seconds()
    elapsed = await schedule(requests[warmup:], True)
    gc.unfreeze()
    cpu, client_cpu = server_cpu() - cpu, client_cpu_seconds() - client_cpu
    open_connections = sum(len(c.connections) for c in clients)
    for client in clients:
        client.close()
    every = [x for values in per_kind.values() for x in values]
    return {
        "rate": rate,
        "requests": len(every),
        "duration_s": round(elapsed, 2),
        "achieved_rate": round(len(every) / elapsed, 1),
        "latency_ms": latency_ms(every),
        "per_kind_ms": {kind: latency_ms(values) | {"count": len(values)} for kind, values in sorted(per_kind.items())},
        "answers": dict(answers),
        "unexpected": {k: v for k, v in wrong.items() if v},
        "client_send_lag_ms": {"p99": ms(percentile(lags, 99)), "max": ms(max(lags, default=0.0))},
        "server_cpu_s": round(cpu, 1),
        "server_cores": round(cpu / elapsed, 2),
        "client_cpu_s": round(client_cpu, 2),
        "connections_opened": open_connections,
        "connections_limit": connections,
        "per_second": per_second(timeline),
    }


def per_second(timeline: list[tuple[float, float]]) -> list[list[float]]:
    """[second, requests due then, their p50, p99, max ms]: a slow second's requests were due together."""
    start = min((due for due, _ in timeline), default=0.0)
    seconds: dict[int, list[float]] = {}
    for due, latency in timeline:
        seconds.setdefault(int(due - start), []).append(latency)
    return [[n, len(values), ms(percentile(values, 50)), ms(percentile(values, 99)), ms(max(values))]
            for n, values in sorted(seconds.items())]  # fmt: skip


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def over_http(database_url: str, org: int, args: argparse.Namespace, checks: Checks) -> dict[str, Any]:
    found: dict[str, Any] = {"servers": args.servers}
    secret = secrets.token_bytes(32).hex()
    with contextlib.ExitStack() as stack:
        servers = []
        for _ in range(args.servers):
            server = Server(worker=False, database_url=database_url, keep=False)
            server.env["SIGNALEMENT_SECRET_KEY"] = secret  # the links' keys derive from it: the client signs with it
            servers.append(stack.enter_context(server))
        pids = [s.process.pid for s in servers if s.process is not None]
        urls = [s.url for s in servers]
        found["server_rss_mb_started"] = [server_memory(pid)["VmRSS"] for pid in pids]

        def server_cpu() -> float:
            return sum(sum(s.cpu_seconds().values()) for s in servers)

        if "http" in args.cases:
            bodies = [json.dumps({"urls": list(b)}).encode() for b in batches(checks.urls)]
            load = batch_load(urls, servers[0].token, bodies, args.clients, args.duration, server_cpu)
            found["http"] = run_loop(load) | {"hits_expected_per_round": sum(checks.listed),
                                              "server_rss_mb": [server_memory(pid) for pid in pids]}  # fmt: skip
            show_http(found["http"])
        if "go" in args.cases:
            count = round(args.rate * args.seconds)
            warmup = round(args.rate / 2 * args.warmup)
            requests = go_requests(checks, secret.encode(), org, count + warmup, args.seed, *args.go_mix)
            found["go"] = run_loop(go_load(urls, requests, args.rate, warmup, args.connections, server_cpu))
            found["go"] |= {"server_rss_mb": [server_memory(pid) for pid in pids]}
            show_go(found["go"])
    return found


# -- where the server's time goes ------------------------------------------------------------------------------


async def _asgi(app: Any, method: str, target: str, body: bytes = b"", token: str = "") -> tuple[int, bytes]:
    """One request straight into the ASGI app (no uvicorn, no socket)."""
    path, _, query = target.partition("?")
    headers = [(b"host", b"127.0.0.1:8000"), (b"content-length", str(len(body)).encode())]
    headers += [(b"authorization", f"Bearer {token}".encode()), (b"content-type", b"application/json")] if token else []
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": query.encode(), "root_path": "",
             "headers": headers, "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8000)}  # fmt: skip
    incoming = [{"type": "http.request", "body": body, "more_body": False}]
    status, chunks = 0, []

    async def receive() -> dict[str, Any]:
        return incoming.pop() if incoming else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


def profile_api(database_url: str, org: int, args: argparse.Namespace, checks: Checks) -> None:
    """The app in this process (FastAPI's thread pool replaced by direct calls, so that cProfile sees everything but
    uvicorn's HTTP parsing): its CPU per request for each case, then the profile of `--profile-requests` of them."""
    import fastapi.dependencies.utils
    import fastapi.routing

    async def inline(func: Callable[..., T], *a: Any, **kw: Any) -> T:
        return func(*a, **kw)

    for module in (fastapi.routing, fastapi.dependencies.utils):  # before the routes are made
        setattr(module, "run_in_threadpool", inline)  # noqa: B010
    from signalement.domain.accounts import Role
    from signalement.platform import Platform
    from signalement.settings import Settings
    from signalement.store.accounts import create_user, issue_token
    from signalement.web.app import create_app

    folder = Path(tempfile.mkdtemp(prefix="signalement-lookup-profile-"))
    secret = secrets.token_hex(32)
    settings = Settings(data_dir=folder, database_url=database_url, secret_key=secret, smtp=False, worker=False)
    platform = Platform(settings)
    try:
        app = create_app(platform)
        app.state.lookup.current()
        with platform.engine.begin() as conn:
            token = issue_token(conn, create_user(conn, f"profile-{secrets.token_hex(4)}@localhost", Role.ANALYST))
        calls: dict[str, list[tuple[str, str, bytes, str]]] = {
            "http": [("POST", "/api/v1/lookup/urls", json.dumps({"urls": list(b)}).encode(), token)
                     for b in batches(checks.urls)],
            "go": [("GET", g.path, b"", "") for g in go_requests(checks, secret.encode(), org, 2000, args.seed)],
        }  # fmt: skip
        for case in args.cases:
            if case in calls:
                run_loop(_profile_case(app, case, calls[case], args.profile_requests, args.profile))
    finally:
        platform.close()
        shutil.rmtree(folder, ignore_errors=True)


async def _profile_case(app: Any, case: str, calls: list[tuple[str, str, bytes, str]], count: int, top: int) -> None:
    calls = (calls * (count // len(calls) + 1))[:count]
    for call in calls[:20]:
        await _asgi(app, *call)
    statuses: Counter[int] = Counter()
    started = time.process_time()
    for call in calls:
        statuses[(await _asgi(app, *call))[0]] += 1
    cpu = (time.process_time() - started) / len(calls)
    unit = f"{cpu / BATCH * 1e6:.1f} us a URL, " if case == "http" else ""
    print(f"{case}: {cpu * 1000:.2f} ms of CPU a request in the app ({unit}uvicorn not included), {statuses}",
          file=sys.stderr)  # fmt: skip
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        await _asgi(app, *call)
    profiler.disable()
    stats = pstats.Stats(profiler, stream=sys.stderr)
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)


# -- the report ------------------------------------------------------------------------------------------------


def show_inprocess(found: dict[str, Any]) -> None:
    print(f"in-process: {found['entries']:,} entries, built in {found['build_s']} s; index arrays "
          f"{found['index_mb']} MB ({found['bytes_per_entry']} B/entry); RSS {found['rss_mb_before_build']} MB "
          f"before, {found['rss_mb_after_gc']} MB after (+{found['rss_growth_mb']} MB), peak {found['rss_peak_mb']} "
          f"MB (+{found['peak_growth_mb']} MB)")  # fmt: skip
    batch = found["batch_ms"]
    print(f"  checks: {found['urls_per_second']:,} URLs/s ({found['us_per_url']} us a URL) at the median of "
          f"{found['rounds']} rounds of {found['checked']:,}; a batch of {BATCH}: p50 {batch['p50']} ms, "
          f"p99 {batch['p99']} ms; hits {found['hits']:,} of {found['hits_expected']:,} expected")  # fmt: skip


def show_http(found: dict[str, Any]) -> None:
    lat = found["latency_ms"]
    print(f"http batch: {found['urls_per_second']:,} URLs/s ({found['requests_per_second']} requests/s of {BATCH}), "
          f"{found['clients']} clients for {found['duration_s']} s; request p50 {lat['p50']} p90 {lat['p90']} "
          f"p99 {lat['p99']} max {lat['max']} ms; statuses {found['statuses']}; server {found['server_cores']} cores,"
          f" client CPU {found['client_cpu_s']} s; index ready {found['index_ready_s']} s after /readyz; "
          f"server RSS {rss(found['server_rss_mb'])}")  # fmt: skip


def rss(found: list[dict[str, float]]) -> str:
    return ", ".join(f"{m['VmRSS']} MB (peak {m['VmHWM']})" for m in found)


def show_go(found: dict[str, Any]) -> None:
    if "skipped" in found:
        print(f"/go: {found['skipped']}")
        return
    lat = found["latency_ms"]
    print(f"/go at {found['rate']:.0f}/s: {found['requests']:,} requests in {found['duration_s']} s; "
          f"p50 {lat['p50']} p90 {lat['p90']} p99 {lat['p99']} max {lat['max']} ms; answers {found['answers']}; "
          f"unexpected {found['unexpected'] or 'none'}; send lag p99 {found['client_send_lag_ms']['p99']} ms; "
          f"server {found['server_cores']} cores, client CPU {found['client_cpu_s']} s; "
          f"server RSS {rss(found['server_rss_mb'])}")  # fmt: skip
    for kind, kind_lat in found["per_kind_ms"].items():
        print(f"  {kind:<16} {kind_lat['count']:>6}  p50 {kind_lat['p50']:>6} p90 {kind_lat['p90']:>6} "
              f"p99 {kind_lat['p99']:>6} max {kind_lat['max']:>7} ms")  # fmt: skip


# -- running it ------------------------------------------------------------------------------------------------


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.lookup", description=__doc__.split("\n\n")[0])
    p.add_argument("--urls", type=int, default=1_000_000, help="listed URLs generated")
    p.add_argument("--db", type=Path, help="a SQLite file: generated there and kept, or reused if it has URLs")
    p.add_argument("--cases", default=",".join(CASES), help=f"comma-separated, of {', '.join(CASES)}")
    p.add_argument("--checks", type=int, default=100_000, help="URLs checked (in batches of 500)")
    p.add_argument("--listed-share", type=float, default=0.05, help="of the URLs checked, listed ones")
    p.add_argument("--rounds", type=int, default=5, help="in-process: rounds over the URLs checked")
    p.add_argument("--profile", type=int, default=0, metavar="N",
                   help="cProfile, top N entries: inprocess, a round of checks; http and go, the app in this process "
                        "(no server started), --profile-requests requests")  # fmt: skip
    p.add_argument("--profile-requests", type=int, default=1000)
    p.add_argument("--servers", type=int, default=1, help="http, go: server processes on the database, in turn")
    p.add_argument("--clients", type=int, default=4, help="http: concurrent connections")
    p.add_argument("--duration", type=float, default=20.0, help="http: seconds")
    p.add_argument("--rate", type=float, default=500.0, help="go: requests per second")
    p.add_argument("--seconds", type=float, default=20.0, help="go: seconds measured")
    p.add_argument("--warmup", type=float, default=4.0, help="go: seconds at half the rate first, not counted")
    p.add_argument("--connections", type=int, default=50, help="go: at most this many to each server")
    p.add_argument("--go-mix", type=float, nargs=2, default=(0.05, 0.05), metavar=("UNSIGNED", "LISTED"),
                   help="go: shares of unsigned links and of signed listed ones (a warning: a write)")  # fmt: skip
    p.add_argument("--seed", type=int, default=20261128)
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = p.parse_args()
    args.cases = [c for c in args.cases.split(",") if c]
    if unknown := set(args.cases) - set(CASES):
        p.error(f"unknown cases: {', '.join(sorted(unknown))}")
    return args


def prepared(path: Path, args: argparse.Namespace) -> tuple[str, dict[str, Any]]:
    """The database URL, generated unless it already holds URLs; what was made."""
    url = f"sqlite:///{path}"
    engine = make_engine(url, pool_size=1, durable=False)
    try:
        upgrade(engine)
        with engine.connect() as conn:
            present = conn.scalar(select(func.count()).select_from(urls)) or 0
        made: dict[str, Any] = {"urls": present, "reused": bool(present)}
        if not present:
            seconds = generate(engine, args.urls, args.seed)
            made |= {"urls": args.urls, "generate_s": round(seconds, 1)}
            print(f"generated {args.urls:,} listed URLs in {seconds:.0f} s", file=sys.stderr)
        with engine.connect() as conn:
            levels = conn.execute(select(urls.c.level, func.count()).group_by(urls.c.level)).all()
        made["levels"] = {str(level): n for level, n in levels}
        made["organization"] = organization(engine)
        made["database_mb"] = round(path.stat().st_size / 1e6, 1)
        return url, made
    finally:
        engine.dispose()


def main() -> None:
    args = parse_args()
    code = git_state()
    folder = Path(tempfile.mkdtemp(prefix="signalement-lookup-"))
    try:
        url, made = prepared(args.db or folder / "lookup.db", args)
        load = load_average()
        document: dict[str, Any] = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "sqlite",
            **made,
            "checks": args.checks,
            "listed_share": args.listed_share,
            "load_average_before": load,
        }
        print(f"{made['urls']:,} listed URLs {made['levels']}; load average {load}", file=sys.stderr)
        if "inprocess" in args.cases:
            document["inprocess"] = run_inprocess(url, args)
            show_inprocess(document["inprocess"])
        if {"http", "go"} & set(args.cases):
            engine = make_engine(url, pool_size=1)
            checks = make_checks(engine, args.checks, args.listed_share, args.seed)
            engine.dispose()
            if args.profile:
                profile_api(url, made["organization"], args, checks)
                return
            document |= over_http(url, made["organization"], args, checks)
        document |= {"load_average_after": load_average(), "machine": machine(), "code": code}
        print(f"load average before/after: {load} / {document['load_average_after']}")
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        out = args.results / f"lookup-{stamp}-{secrets.token_hex(2)}.json"
        out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"written {out}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
