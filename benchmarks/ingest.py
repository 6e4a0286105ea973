"""Ingest benchmark: how many reports a signalement server acknowledges, and how fast.

Run `python -m benchmarks.ingest --help`; benchmarks/README.md explains the modes and how to read the output.

The load generator is one asyncio process (uvloop) with a minimal HTTP/1.1 client on persistent connections; the
server is always another process (started here with --start-server, or already running at --url), so the two do
not share a GIL. Messages are a pool of realistic messages, each sent once with a distinct first header line:
every request stores new bytes (a resent message would take the cheaper duplicate path and flatter the figures).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from benchmarks.mailgen import corpus_messages, messages

RESULTS_DIR = Path(__file__).parent / "results"
RFC822 = "message/rfc822"
JSON = "application/json"
MODES = ("rate", "single", "batch")  # the gentlest first: its latency is the one most hurt by a backlog


# -- the messages ---------------------------------------------------------------------------------------------


class Source:
    """A pool of base messages; message i is pool[i % len(pool)] behind a header unique to this run and i."""

    def __init__(self, pool: list[bytes], run_id: str) -> None:
        self.pool = pool
        self.run_id = run_id
        self.next_index = 0

    def take(self, count: int) -> list[bytes]:
        start, self.next_index = self.next_index, self.next_index + count
        return [self._message(i) for i in range(start, start + count)]

    def _message(self, index: int) -> bytes:
        return f"X-Benchmark-Id: {self.run_id}-{index}\r\n".encode() + self.pool[index % len(self.pool)]


def load_source(corpus: Path | None, pool_size: int, seed: int) -> Source:
    made = corpus_messages(corpus, pool_size, seed) if corpus is not None else messages(pool_size, seed)
    pool = list(made)
    return Source(pool, f"{seed:x}")


# -- measurements ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    """What one mode measured. `latencies` are seconds per request; `messages` counts acknowledged messages."""

    mode: str
    requests: int = 0
    messages: int = 0
    bytes_sent: int = 0
    sizes: list[int] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    send_lag: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    duration: float = 0.0
    params: dict[str, Any] = field(default_factory=dict)

    def record(self, status: int, latency: float, acknowledged: int) -> None:
        self.requests += 1
        self.statuses[status] += 1
        self.latencies.append(latency)
        self.messages += acknowledged


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile; NaN when there is nothing to rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    def close(self) -> None:
        self.writer.close()


class RawClient:
    """A minimal HTTP/1.1 keep-alive client for the hot path: measured on this machine, httpx.AsyncClient spends
    1.4 ms of CPU per 18 KB POST (6 ms with 200 in flight), this one 40 us; on 2 cores httpx would take the
    CPU the server needs. It speaks just what uvicorn answers here: Content-Length bodies, keep-alive."""

    def __init__(self, url: str, token: str, timeout: float = 120.0) -> None:
        parsed = httpx.URL(url)
        self.host = parsed.host
        self.port = parsed.port or 80
        self.timeout = timeout
        self.auth = f"Authorization: Bearer {token}\r\nHost: {self.host}:{self.port}\r\n"
        self._idle: list[Connection] = []

    async def post(self, path: str, body: bytes, content_type: str) -> tuple[int, bytes]:
        head = (
            f"POST {path} HTTP/1.1\r\n{self.auth}Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        ).encode()
        reused = bool(self._idle)
        conn = self._idle.pop() if reused else await self._connect()
        try:
            return await asyncio.wait_for(self._exchange(conn, head, body), self.timeout)
        except (ConnectionError, asyncio.IncompleteReadError):
            conn.close()
            if not reused:
                raise
        # uvicorn closes keep-alive connections idle for 5 s: once more on a new one, as browsers and httpx do.
        conn = await self._connect()
        try:
            return await asyncio.wait_for(self._exchange(conn, head, body), self.timeout)
        except BaseException:
            conn.close()
            raise

    async def _connect(self) -> Connection:
        return Connection(*await asyncio.open_connection(self.host, self.port))

    async def _exchange(self, conn: Connection, head: bytes, body: bytes) -> tuple[int, bytes]:
        conn.writer.write(head)
        conn.writer.write(body)
        await conn.writer.drain()
        header = await conn.reader.readuntil(b"\r\n\r\n")
        status = int(header[9:12])
        lines = header.lower().split(b"\r\n")[1:]
        fields = {name.strip(): value.strip() for name, _, value in (line.partition(b":") for line in lines)}
        if b"content-length" not in fields:
            raise ConnectionError("response without Content-Length (this client reads no other framing)")
        payload = await conn.reader.readexactly(int(fields[b"content-length"]))
        if fields.get(b"connection") == b"close":
            conn.close()
        else:
            self._idle.append(conn)
        return status, payload

    def close(self) -> None:
        for conn in self._idle:
            conn.close()
        self._idle.clear()


async def _post(client: RawClient, outcome: Outcome, body: bytes, path: str, content_type: str) -> Any:
    """POST once; errors are counted, never raised, so that one refused request does not end the run."""
    started = time.perf_counter()
    try:
        status, payload = await client.post(path, body, content_type)
    except (OSError, asyncio.IncompleteReadError, TimeoutError) as exc:
        outcome.errors[type(exc).__name__] += 1
        return None
    return status, time.perf_counter() - started, payload


async def _closed_loop(clients: int, work: Callable[[], Awaitable[bool]]) -> float:
    """`clients` loops, each sending its next request as soon as the previous answer came; returns seconds."""

    async def loop() -> None:
        while await work():
            pass

    started = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(clients)))
    return time.perf_counter() - started


async def _post_next_single(client: RawClient, outcome: Outcome, source: Source) -> Any:
    """Send the source's next message as one report, counting its size; `_post`'s result."""
    body = source.take(1)[0]
    outcome.sizes.append(len(body))
    outcome.bytes_sent += len(body)
    return await _post(client, outcome, body, "/api/v1/reports", RFC822)


async def run_single(client: RawClient, source: Source, count: int, clients: int) -> Outcome:
    outcome = Outcome("single", params={"clients": clients})
    left = [count]  # messages are made as they are sent: thousands of 18 KB bodies held at once would swap

    async def work() -> bool:
        if left[0] <= 0:
            return False
        left[0] -= 1
        result = await _post_next_single(client, outcome, source)
        if result is not None:
            status, latency, _ = result
            outcome.record(status, latency, 1 if status in (200, 202) else 0)
        return True

    outcome.duration = await _closed_loop(clients, work)
    return outcome


def batch_body(items: list[bytes]) -> bytes:
    """The JSON batch, assembled as bytes: json.dumps of megabytes of base64 would cost the client more."""
    parts = (b'{"message":"' + base64.b64encode(m) + b'"}' for m in items)
    return b'{"reports":[' + b",".join(parts) + b"]}"


def multipart_body(items: list[bytes], boundary: str) -> bytes:
    """One `file` part per message, as a browser or curl -F would send them."""
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{i}.eml"\r\n'
        "Content-Type: message/rfc822\r\n\r\n".encode()
        + item
        + b"\r\n"
        for i, item in enumerate(items)
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode()


async def run_batch(
    client: RawClient, source: Source, count: int, size: int, clients: int, form: str = "json"
) -> Outcome:
    outcome = Outcome("batch", params={"clients": clients, "batch_size": size, "format": form})
    boundary = f"bench{secrets.token_hex(8)}"
    content_type = JSON if form == "json" else f"multipart/form-data; boundary={boundary}"
    left = [count]

    async def work() -> bool:
        if left[0] <= 0:
            return False
        items = source.take(min(size, left[0]))
        left[0] -= len(items)
        outcome.sizes.extend(map(len, items))
        body = batch_body(items) if form == "json" else multipart_body(items, boundary)
        outcome.bytes_sent += len(body)
        result = await _post(client, outcome, body, "/api/v1/reports:batch", content_type)
        if result is not None:
            status, latency, payload = result
            answer = json.loads(payload) if status == 200 else {}
            acknowledged = answer.get("accepted", 0) + answer.get("duplicates", 0)
            outcome.record(status, latency, acknowledged)
        return True

    outcome.duration = await _closed_loop(clients, work)
    return outcome


async def run_rate(client: RawClient, source: Source, rate: float, seconds: float) -> Outcome:
    """Open loop: request i is due at start + i/rate whatever the earlier answers, and its latency is counted
    from when it was due, so a slow server (or a late client) shows in the figures instead of lowering the load."""
    count = max(1, int(rate * seconds))
    outcome = Outcome("rate", params={"rate": rate, "seconds": seconds})
    clock = time.perf_counter  # not loop.time(): uvloop's clock moves in whole milliseconds
    start = clock() + 0.05

    async def one(due: float) -> None:
        outcome.send_lag.append(clock() - due)
        result = await _post_next_single(client, outcome, source)
        if result is not None:
            status, _, _ = result
            outcome.record(status, clock() - due, 1 if status in (200, 202) else 0)

    tasks = []
    for index in range(count):
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - clock()))
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    outcome.duration = clock() - start
    return outcome


# -- a server of our own --------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def signalement_command() -> str:
    beside = Path(sys.executable).parent / "signalement"
    found = str(beside) if beside.exists() else shutil.which("signalement")
    if found is None:
        raise SystemExit("the `signalement` command is not installed in this environment")
    return found


class ManagedServer:
    """`signalement serve` on a temporary data dir (SQLite unless --database-url), in its own process group."""

    def __init__(self, *, worker: bool, database_url: str | None, keep: bool) -> None:
        self.worker = worker
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix="signalement-bench-"))
        self.port = free_port()
        self.env = os.environ | {
            "SIGNALEMENT_DATA_DIR": str(self.dir / "data"),
            "SIGNALEMENT_DATABASE_URL": database_url or "",
            "SIGNALEMENT_PORT": str(self.port),
            "SIGNALEMENT_HOST": "127.0.0.1",
            "SIGNALEMENT_SMTP": "false",
        }
        self.process: subprocess.Popen[bytes] | None = None
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = ""

    def __enter__(self) -> ManagedServer:
        self.token = self._create_user()
        command = [signalement_command(), "serve", *([] if self.worker else ["--no-worker"])]
        with (self.dir / "server.log").open("wb") as log:
            self.process = subprocess.Popen(
                command, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        wait_ready(self.url, 60.0, self.process)
        return self

    def _create_user(self) -> str:
        done = subprocess.run(
            [signalement_command(), "user", "create", "bench@localhost", "--role", "analyst"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"API token \(shown once, keep it safe\): (\S+)", done.stdout)
        if match is None:
            raise RuntimeError(f"no token in the output of `signalement user create`: {done.stdout}")
        return match.group(1)

    def cpu_seconds(self) -> dict[str, float]:
        """CPU time used so far by the API process and by its children (the worker), from /proc."""
        if self.process is None:
            return {}
        return group_cpu_seconds(self.process.pid)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)  # the server stops its worker on SIGTERM
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if kind is not None:
            print((self.dir / "server.log").read_text()[-3000:], file=sys.stderr)
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def group_cpu_seconds(pgid: int) -> dict[str, float]:
    """user+system CPU seconds of every live process in the group, keyed "api" (the leader) or "other"."""
    ticks = os.sysconf("SC_CLK_TCK")
    totals = {"api": 0.0, "other": 0.0}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        if int(fields[2]) != pgid:  # fields[2] is the process group (field 5 of proc(5))
            continue
        seconds = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        totals["api" if int(stat.parent.name) == pgid else "other"] += seconds
    return totals


def wait_ready(url: str, timeout: float, process: subprocess.Popen[Any] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{url} was not ready after {timeout} s")


def pending_jobs(url: str) -> int | None:
    """Jobs queued or running, from the server's Prometheus gauge; None if it cannot be read."""
    try:
        text = httpx.get(f"{url}/metrics", timeout=10).text
    except httpx.HTTPError:
        return None
    match = re.search(r"^signalement_jobs_pending (\S+)$", text, re.MULTILINE)
    return int(float(match.group(1))) if match else None


def drain(url: str, timeout: float, patience: float = 10.0) -> float | None:
    """Seconds until the worker has no job left; None after `timeout`, or once the backlog has not shrunk for
    `patience` seconds (no worker runs, or it is stuck)."""
    started = last_progress = time.monotonic()
    lowest: int | None = None
    while (now := time.monotonic()) - started < timeout and now - last_progress < patience:
        pending = pending_jobs(url)
        if pending == 0:
            return now - started
        if pending is not None and (lowest is None or pending < lowest):
            lowest, last_progress = pending, now
        time.sleep(0.5)  # each look counts the reports table: not too often, it slows the worker it waits for
    return None


# -- the report -----------------------------------------------------------------------------------------------


def ms(seconds: float) -> float:
    return round(seconds * 1000, 2)


def summary(outcome: Outcome) -> dict[str, Any]:
    lat = outcome.latencies
    sizes = outcome.sizes or [0]
    row: dict[str, Any] = {
        "mode": outcome.mode,
        **outcome.params,
        "requests": outcome.requests,
        "messages_acknowledged": outcome.messages,
        "messages_per_second": round(outcome.messages / outcome.duration, 1) if outcome.duration else 0.0,
        "requests_per_second": round(outcome.requests / outcome.duration, 1) if outcome.duration else 0.0,
        "duration_s": round(outcome.duration, 2),
        "megabytes_sent": round(outcome.bytes_sent / 1e6, 1),
        "message_size_mean": round(sum(sizes) / len(sizes)),
        "message_size_p50": int(percentile(sizes, 50)),
        "message_size_max": max(sizes),
        "latency_ms": {f"p{q}": ms(percentile(lat, q)) for q in (50, 90, 99)}
        | {"max": ms(max(lat, default=float("nan"))), "mean": ms(sum(lat) / len(lat)) if lat else None},
        "statuses": {str(k): v for k, v in sorted(outcome.statuses.items())},
        "errors": dict(outcome.errors),
    }
    if outcome.send_lag:
        row["client_send_lag_ms"] = {"p99": ms(percentile(outcome.send_lag, 99)), "max": ms(max(outcome.send_lag))}
    return row


def print_table(rows: list[dict[str, Any]]) -> None:
    header = (
        "mode",
        "params",
        "msgs",
        "msgs/s",
        "req/s",
        "p50 ms",
        "p90 ms",
        "p99 ms",
        "max ms",
        "backlog",
        "statuses",
    )
    lines = [header]
    for r in rows:
        params = " ".join(f"{k}={r[k]}" for k in ("clients", "batch_size", "format", "rate", "seconds") if k in r)
        lat = r["latency_ms"]
        statuses = " ".join(f"{k}:{v}" for k, v in r["statuses"].items()) + "".join(
            f" {k}:{v}" for k, v in r["errors"].items()
        )
        lines.append(
            (
                r["mode"],
                params,
                str(r["messages_acknowledged"]),
                f"{r['messages_per_second']:.0f}",
                f"{r['requests_per_second']:.0f}",
                f"{lat['p50']:.1f}",
                f"{lat['p90']:.1f}",
                f"{lat['p99']:.1f}",
                f"{lat['max']:.1f}",
                str(r.get("jobs_pending_after")),
                statuses,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def machine() -> dict[str, Any]:
    model = next((ln.split(":", 1)[1].strip() for ln in _lines("/proc/cpuinfo") if ln.startswith("model name")), "")
    memory = next((ln.split(":", 1)[1].strip() for ln in _lines("/proc/meminfo") if ln.startswith("MemTotal")), "")
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "memory": memory,
        "system": platform.platform(),
        "python": platform.python_version(),
    }


def _lines(path: str) -> Iterator[str]:
    try:
        yield from Path(path).read_text().splitlines()
    except OSError:
        return


def git_state() -> dict[str, Any]:
    """The commit measured, and the source files that differed from it (figures move with the code)."""
    root = Path(__file__).parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD"), "modified": git("status", "--porcelain", "src").splitlines()}


def load_average() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def write_json(document: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"ingest-{stamp}-{secrets.token_hex(2)}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# -- running it -----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.ingest", description=__doc__.split("\n\n")[0])
    target = p.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", help="a running server, e.g. http://127.0.0.1:8000 (needs --token)")
    target.add_argument("--start-server", action="store_true", help="start `signalement serve` on a temp SQLite")
    p.add_argument("--token", default=os.environ.get("SIGNALEMENT_TOKEN"), help="API token (or $SIGNALEMENT_TOKEN)")
    p.add_argument("--no-worker", action="store_true", help="with --start-server: run the API without its worker")
    p.add_argument("--database-url", help="with --start-server: this database instead of a temp SQLite")
    p.add_argument("--keep", action="store_true", help="with --start-server: keep the temp data dir")
    p.add_argument("--mode", action="append", choices=[*MODES, "all"], help="repeatable; default all")
    p.add_argument("--corpus", type=Path, help="real mail from this folder instead of benchmarks.mailgen")
    p.add_argument("--pool", type=int, default=500, help="distinct base messages to cycle through")
    p.add_argument("--seed", type=int, help="default random, so reruns against one server never resend bytes")
    p.add_argument("--count", type=int, default=6000, help="single mode: messages to send")
    p.add_argument("--clients", type=int, default=16, help="single mode: concurrent connections")
    p.add_argument("--batch-count", type=int, default=30000, help="batch mode: messages to send")
    p.add_argument("--batch-size", type=int, default=200, help="batch mode: messages per request")
    p.add_argument("--batch-clients", type=int, default=2, help="batch mode: concurrent connections")
    p.add_argument("--batch-format", choices=["json", "multipart"], default="json", help="batch mode: body format")
    p.add_argument("--rate", type=float, default=100.0, help="rate mode: reports per second")
    p.add_argument("--seconds", type=float, default=20.0, help="rate mode: how long")
    p.add_argument("--warmup", type=int, default=200, help="reports sent (and not counted) before measuring")
    p.add_argument("--settle", type=float, default=300.0, help="before each mode, wait up to this long for the worker")
    p.add_argument("--drain", type=float, default=0.0, help="after all modes, wait up to this long for the worker")
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for the JSON result")
    args = p.parse_args(argv)
    if args.url and not args.token:
        p.error("--url needs --token (or $SIGNALEMENT_TOKEN)")
    args.modes = list(MODES) if not args.mode or "all" in args.mode else list(dict.fromkeys(args.mode))
    args.seed = secrets.randbits(32) if args.seed is None else args.seed
    return args


async def run_modes(args: argparse.Namespace, url: str, token: str, source: Source) -> list[Outcome]:
    client = RawClient(url, token)
    try:
        if args.warmup:
            await run_single(client, source, args.warmup, min(args.clients, args.warmup))
        outcomes = []
        for mode in args.modes:
            # Each mode starts with the worker idle, so that one mode's backlog does not weigh on the next.
            settle = await asyncio.to_thread(drain, url, args.settle)
            outcome = await run_mode(args, client, source, mode)
            outcome.params |= {"settle_s": None if settle is None else round(settle, 1)}
            outcome.params |= {"jobs_pending_after": await asyncio.to_thread(pending_jobs, url)}
            outcomes.append(outcome)
            print(f"  {mode}: done in {outcome.duration:.1f} s", file=sys.stderr)
        return outcomes
    finally:
        client.close()


async def run_mode(args: argparse.Namespace, client: RawClient, source: Source, mode: str) -> Outcome:
    if mode == "single":
        return await run_single(client, source, args.count, args.clients)
    if mode == "batch":
        return await run_batch(client, source, args.batch_count, args.batch_size, args.batch_clients, args.batch_format)
    return await run_rate(client, source, args.rate, args.seconds)


def run_async(main: Coroutine[Any, Any, list[Outcome]]) -> list[Outcome]:
    """uvloop when installed (it comes with uvicorn[standard]): it halves the client's CPU per request."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


def measure(
    args: argparse.Namespace, url: str, token: str, server: ManagedServer | None, code: dict[str, Any]
) -> dict[str, Any]:
    source = load_source(args.corpus, args.pool, args.seed)
    load_before = load_average()
    cpu_before = server.cpu_seconds() if server else {}
    client_before = client_cpu_seconds()
    started = time.perf_counter()
    outcomes = run_async(run_modes(args, url, token, source))
    elapsed = time.perf_counter() - started
    server_cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in server.cpu_seconds().items()} if server else {}
    document: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "target": "started" if server else url,
        "database": (args.database_url or "sqlite (temp data dir)") if server else "unknown (external server)",
        "worker_running": (not args.no_worker) if server else "unknown (external server)",
        "source": str(args.corpus) if args.corpus else "benchmarks.mailgen",
        "pool": len(source.pool),
        "seed": args.seed,
        "load_average_before": load_before,
        "load_average_after": load_average(),
        "elapsed_s": round(elapsed, 1),
        "client_cpu_s": round(client_cpu_seconds() - client_before, 1),
        "server_cpu_s": server_cpu,
        "jobs_pending_after": pending_jobs(url),
        "machine": machine(),
        "code": code,
        "results": [summary(o) for o in outcomes],
    }
    if args.drain:
        document["drain_s"] = drain(url, args.drain)
    return document


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    code = git_state()  # now, before the server loads it: others may commit while this runs
    if args.start_server:
        with ManagedServer(worker=not args.no_worker, database_url=args.database_url, keep=args.keep) as server:
            document = measure(args, server.url, server.token, server, code)
    else:
        document = measure(args, args.url.rstrip("/"), args.token, None, code)
    print_table(document["results"])
    print(
        f"worker running: {document['worker_running']}; database: {document['database']}; "
        f"load before/after: {document['load_average_before']} / {document['load_average_after']}; "
        f"client CPU {document['client_cpu_s']} s, server CPU {document['server_cpu_s']} s "
        f"over {document['elapsed_s']} s; jobs pending after: {document['jobs_pending_after']}"
    )
    print(f"written to {write_json(document, args.results)}")


if __name__ == "__main__":
    main()
