"""SMTP benchmark: how many reports a signalement server stores per second through its SMTP server.

Run `python -m benchmarks.smtp --help`; benchmarks/README.md explains the modes and how to read the output.

The server is `signalement serve` in another process (a temp data dir, SQLite unless --postgres), so client and
server do not share a GIL. The load is one asyncio process (uvloop) speaking raw SMTP over asyncio streams: N
senders, each on its own connection, sending several mails per connection as an MTA does (RSET between, MAIL, RCPT
and DATA pipelined: the server advertises PIPELINING). smtplib in threads would spend more client CPU and contend
on the GIL; this client costs a few percent of a core (printed). Every mail is new bytes (a first header line unique
to the run), so nothing takes the duplicate path. A mail counts as stored only from the server's
`250 2.0.0 Stored: N report(s) ...`, which it sends once the reports are committed; at the end the reports in the
database are counted and must equal the sum of the N.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import secrets
import socket
import sys
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from typing import Any

from benchmarks.ingest import (
    RESULTS_DIR,
    ManagedServer,
    Source,
    client_cpu_seconds,
    free_port,
    git_state,
    load_average,
    load_source,
    machine,
    ms,
    percentile,
)

MODES = ("plain", "forward")
DOMAIN = "localhost"
REPORT_ADDRESS = f"report@{DOMAIN}"
STORED = re.compile(r"^250 \S+ Stored: (\d+) report\(s\)((?: \d+)*)")

# -- the mails ------------------------------------------------------------------------------------------------


class Mails:
    """What the senders send, made as they send it (thousands of 18 KB mails held at once would swap).

    plain: a generated message itself, as a filter's redirect or a client's "report junk" sends it.
    forward: a reporter's mail with 1-3 generated messages attached as message/rfc822, as mail clients forward."""

    def __init__(self, source: Source, mode: str, seed: int) -> None:
        self.source = source
        self.mode = mode
        self.rng = random.Random(seed)
        self.count = 0

    def next(self) -> tuple[bytes, int]:
        """The next mail and how many reports it carries."""
        self.count += 1
        if self.mode == "plain":
            return self.source.take(1)[0], 1
        attached = self.source.take(self.rng.randint(1, 3))
        return self._forward(attached), len(attached)

    def _forward(self, attached: list[bytes]) -> bytes:
        token = f"{self.source.run_id}-f{self.count}"
        boundary = f"=_fwd{token}"
        head = (
            f"X-Benchmark-Id: {token}\r\n"
            f"From: Reporter {self.count} <reporter{self.count}@example.org>\r\n"
            f"To: {REPORT_ADDRESS}\r\n"
            "Subject: Fwd: suspicious messages\r\n"
            f"Date: {format_datetime(datetime.now(UTC))}\r\n"
            f"Message-ID: <{token}@example.org>\r\n"
            "MIME-Version: 1.0\r\n"
            f'Content-Type: multipart/mixed; boundary="{boundary}"\r\n\r\n'
            f"--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            "Bonjour, je vous transmets ces messages reçus ce matin.\r\n"
        ).encode()
        parts = [
            f'\r\n--{boundary}\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename="m{i}.eml"'
            "\r\n\r\n".encode()
            + message
            for i, message in enumerate(attached)
        ]
        return head + b"".join(parts) + f"\r\n--{boundary}--\r\n".encode()


def data_payload(mail: bytes) -> bytes:
    """The mail as DATA sends it: CRLF line ends assumed (mailgen's), leading dots doubled, then the final dot."""
    stuffed = mail.replace(b"\r\n.", b"\r\n..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    if not stuffed.endswith(b"\r\n"):
        stuffed += b"\r\n"
    return stuffed + b".\r\n"


# -- the client -----------------------------------------------------------------------------------------------


class SmtpError(Exception):
    """An unexpected reply outside DATA (greeting, EHLO, RSET): the connection is dropped."""


class SmtpConnection:
    """One sender's connection: the minimum of ESMTP an MTA uses to deliver (EHLO, pipelined RSET/MAIL/RCPT/DATA)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.sent = 0  # mails sent on this connection: RSET before every one but the first

    @classmethod
    async def open(cls, host: str, port: int, helo: str) -> SmtpConnection:
        reader, writer = await asyncio.open_connection(host, port)
        conn = cls(reader, writer)
        code, text = await conn.reply()
        if code != 220:
            raise SmtpError(f"greeting {code} {text}")
        writer.write(f"EHLO {helo}\r\n".encode())
        code, text = await conn.reply()
        if code != 250 or "PIPELINING" not in text.upper():
            raise SmtpError(f"EHLO {code} {text}")
        return conn

    async def reply(self) -> tuple[int, str]:
        """One reply, multi-line or not: its code and its text (the lines joined)."""
        lines = []
        while True:
            line = await self.reader.readuntil(b"\r\n")
            lines.append(line[:-2].decode("utf-8", "replace"))
            if line[3:4] != b"-":
                return int(line[:3]), "\n".join(lines)

    async def deliver(self, sender: str, payload: bytes) -> tuple[int, str, float]:
        """Send one mail; its final reply (to DATA's end, or the first refusal), and seconds from the final dot
        to that reply (NaN when DATA never started)."""
        rset = b"RSET\r\n" if self.sent else b""
        self.sent += 1
        envelope = f"MAIL FROM:<{sender}> SIZE={len(payload)}\r\nRCPT TO:<{REPORT_ADDRESS}>\r\nDATA\r\n"
        self.writer.write(rset + envelope.encode())
        if rset:
            code, text = await self.reply()
            if code != 250:
                raise SmtpError(f"RSET {code} {text}")
        replies = [await self.reply() for _ in range(3)]  # MAIL, RCPT, DATA: all three come, pipelined
        refused = next((r for r in replies[:2] if r[0] >= 400), None)
        if replies[2][0] != 354:
            code, text = refused or replies[2]
            return code, text, float("nan")
        if refused:  # DATA began although MAIL or RCPT failed (should not happen): end it empty
            self.writer.write(b".\r\n")
            await self.reply()
            return refused[0], refused[1], float("nan")
        self.writer.write(payload)
        await self.writer.drain()
        started = time.perf_counter()
        code, text = await self.reply()
        return code, text, time.perf_counter() - started

    async def quit(self) -> None:
        try:
            self.writer.write(b"QUIT\r\n")
            await self.reply()
        except (OSError, asyncio.IncompleteReadError):
            pass
        self.close()

    def close(self) -> None:
        self.writer.close()


# -- measurements ---------------------------------------------------------------------------------------------


@dataclass
class Outcome:
    mode: str
    params: dict[str, Any] = field(default_factory=dict)
    mails: int = 0  # mails sent (DATA attempted or refused)
    stored_mails: int = 0  # mails answered 250 Stored
    reports: int = 0  # the sum of N over the 250 Stored replies
    expected_reports: int = 0  # reports the stored mails carried (what the server should have found)
    report_ids: set[int] = field(default_factory=set)
    bytes_sent: int = 0
    latencies: list[float] = field(default_factory=list)
    codes: Counter[str] = field(default_factory=Counter)  # non-250 replies by code, and exceptions by name
    connections: int = 0
    duration: float = 0.0

    def record(self, code: int, text: str, latency: float, carried: int) -> None:
        self.mails += 1
        match = STORED.match(text) if code == 250 else None
        if match is None:
            self.codes[str(code)] += 1
            return
        self.stored_mails += 1
        self.reports += int(match.group(1))
        self.expected_reports += carried
        self.report_ids.update(int(i) for i in match.group(2).split())
        self.latencies.append(latency)


class Budget:
    """Mails left to send: a count, or a deadline (--duration)."""

    def __init__(self, count: int, duration: float | None) -> None:
        self.left = count
        self.deadline = time.perf_counter() + duration if duration else None

    def take(self) -> bool:
        if self.deadline is not None:
            return time.perf_counter() < self.deadline
        self.left -= 1
        return self.left >= 0


async def sender(
    index: int, host: str, port: int, mails: Mails, budget: Budget, outcome: Outcome, per_connection: int
) -> None:
    """One sender: a connection, up to `per_connection` mails on it, QUIT, another; until the budget is spent.
    A broken connection is counted and replaced; the mail it carried is not sent again."""
    conn: SmtpConnection | None = None
    address = f"mta{index}@example.net"
    try:
        while budget.take():
            mail, carried = mails.next()
            payload = data_payload(mail)
            try:
                if conn is None or conn.sent >= per_connection:
                    if conn is not None:
                        await conn.quit()
                    conn = None
                    conn = await SmtpConnection.open(host, port, f"mta{index}.example.net")
                    outcome.connections += 1
                code, text, latency = await conn.deliver(address, payload)
            except (OSError, asyncio.IncompleteReadError, SmtpError) as exc:
                outcome.mails += 1
                outcome.codes[type(exc).__name__] += 1
                if conn is not None:
                    conn.close()
                conn = None
                continue
            outcome.bytes_sent += len(payload)
            outcome.record(code, text, latency, carried)
    finally:
        if conn is not None:
            await conn.quit()


async def run_mode(
    host: str, port: int, mails: Mails, senders: int, count: int, duration: float | None, per_connection: int
) -> Outcome:
    outcome = Outcome(mails.mode, params={"senders": senders, "per_connection": per_connection})
    budget = Budget(count, duration)
    started = time.perf_counter()
    await asyncio.gather(*(sender(i, host, port, mails, budget, outcome, per_connection) for i in range(senders)))
    outcome.duration = time.perf_counter() - started
    return outcome


def run_async(main: Coroutine[Any, Any, Any]) -> Any:
    """uvloop when installed (it comes with uvicorn[standard]): less client CPU per mail."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)


# -- a server of our own --------------------------------------------------------------------------------------


class SmtpManagedServer(ManagedServer):
    """ingest.py's server with its SMTP server on: its own free port, report addresses at `localhost`."""

    def __init__(self, *, worker: bool, database_url: str | None, keep: bool, rate_per_minute: int) -> None:
        super().__init__(worker=worker, database_url=database_url, keep=keep)
        self.smtp_port = free_port()
        while self.smtp_port == self.port:
            self.smtp_port = free_port()
        self.env |= {
            "SIGNALEMENT_SMTP": "true",
            "SIGNALEMENT_SMTP_HOST": "127.0.0.1",
            "SIGNALEMENT_SMTP_PORT": str(self.smtp_port),
            "SIGNALEMENT_SMTP_DOMAINS": json.dumps([DOMAIN]),
            "SIGNALEMENT_SMTP_RATE_PER_MINUTE": str(rate_per_minute),
        }

    def __enter__(self) -> SmtpManagedServer:
        super().__enter__()
        try:
            wait_smtp("127.0.0.1", self.smtp_port, 30.0)
        except BaseException as exc:
            self.__exit__(type(exc), exc, exc.__traceback__)
            raise
        return self

    def count_reports(self) -> int:
        """Reports in the server's database, read directly (SQLite file or PostgreSQL)."""
        import sqlalchemy

        from signalement.settings import Settings

        settings = Settings(data_dir=self.dir / "data", database_url=self.env["SIGNALEMENT_DATABASE_URL"])
        engine = sqlalchemy.create_engine(settings.effective_database_url)
        try:
            with engine.connect() as conn:
                return int(conn.execute(sqlalchemy.text("SELECT count(*) FROM reports")).scalar_one())
        finally:
            engine.dispose()


def wait_smtp(host: str, port: int, timeout: float) -> None:
    """Until the port answers a 220 greeting."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=2.0) as s:
                if s.recv(512).startswith(b"220"):
                    s.sendall(b"QUIT\r\n")
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise TimeoutError(f"SMTP on {host}:{port} did not answer after {timeout} s")


# -- the report -----------------------------------------------------------------------------------------------


def summary(outcome: Outcome) -> dict[str, Any]:
    lat = outcome.latencies
    per_second = (lambda n: round(n / outcome.duration, 1)) if outcome.duration else (lambda n: 0.0)
    return {
        "mode": outcome.mode,
        **outcome.params,
        "mails_sent": outcome.mails,
        "mails_stored": outcome.stored_mails,
        "reports_stored": outcome.reports,
        "reports_expected": outcome.expected_reports,
        "distinct_report_ids": len(outcome.report_ids),
        "reports_per_second": per_second(outcome.reports),
        "mails_per_second": per_second(outcome.stored_mails),
        "duration_s": round(outcome.duration, 2),
        "connections": outcome.connections,
        "megabytes_sent": round(outcome.bytes_sent / 1e6, 1),
        "mail_size_mean": round(outcome.bytes_sent / outcome.mails) if outcome.mails else 0,
        "latency_ms": {f"p{q}": ms(percentile(lat, q)) for q in (50, 90, 99)}
        | {"max": ms(max(lat, default=float("nan")))},
        "errors": dict(sorted(outcome.codes.items())),
    }


def print_table(rows: list[dict[str, Any]]) -> None:
    header = ("mode", "senders", "mails", "reports", "reports/s", "mails/s", "p50 ms", "p90 ms", "p99 ms", "errors")
    lines = [header]
    for r in rows:
        lat = r["latency_ms"]
        errors = " ".join(f"{k}:{v}" for k, v in r["errors"].items()) or "-"
        lines.append(
            (
                r["mode"],
                str(r["senders"]),
                str(r["mails_stored"]),
                str(r["reports_stored"]),
                f"{r['reports_per_second']:.0f}",
                f"{r['mails_per_second']:.0f}",
                f"{lat['p50']:.1f}",
                f"{lat['p90']:.1f}",
                f"{lat['p99']:.1f}",
                errors,
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for line in lines:
        print("  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)))


def write_json(document: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    path = directory / f"smtp-{stamp}-{secrets.token_hex(2)}.json"
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


# -- running it -----------------------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.smtp", description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", action="append", choices=[*MODES, "all"], help="repeatable; default all, in order")
    p.add_argument("--senders", type=int, default=8, help="concurrent connections")
    p.add_argument("--messages", type=int, default=3000, help="mails to send per mode")
    p.add_argument("--duration", type=float, help="seconds per mode instead of --messages")
    p.add_argument("--per-connection", type=int, default=100, help="mails per connection before QUIT (RSET between)")
    p.add_argument("--warmup", type=int, default=100, help="plain mails sent (and not counted) before measuring")
    p.add_argument("--worker", action="store_true", help="run the worker beside the server (default --no-worker)")
    p.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of a temp SQLite")
    p.add_argument(
        "--rate-per-minute",
        type=int,
        default=1_000_000_000,
        help="the server's per-client-address limit; all senders come from 127.0.0.1, so the default 60 would "
        "refuse all but the first 60 mails (451 4.7.1): raised unless given",
    )
    p.add_argument("--pool", type=int, default=500, help="distinct generated messages to cycle through")
    p.add_argument("--seed", type=int, help="default random")
    p.add_argument("--keep", action="store_true", help="keep the temp data dir")
    p.add_argument("--results", type=Path, default=RESULTS_DIR, help="folder for the JSON result")
    args = p.parse_args(argv)
    args.modes = list(MODES) if not args.mode or "all" in args.mode else list(dict.fromkeys(args.mode))
    args.seed = secrets.randbits(32) if args.seed is None else args.seed
    return args


async def run_all(args: argparse.Namespace, port: int, source: Source) -> tuple[Outcome | None, list[Outcome]]:
    host = "127.0.0.1"
    warm = None
    if args.warmup:
        warm = await run_mode(host, port, Mails(source, "plain", args.seed), args.senders, args.warmup, None, 100)
    outcomes = []
    for mode in args.modes:
        mails = Mails(source, mode, args.seed)
        outcome = await run_mode(host, port, mails, args.senders, args.messages, args.duration, args.per_connection)
        outcomes.append(outcome)
        print(f"  {mode}: {outcome.stored_mails} mails in {outcome.duration:.1f} s", file=sys.stderr)
    return warm, outcomes


def measure(args: argparse.Namespace, server: SmtpManagedServer, code: dict[str, Any]) -> dict[str, Any]:
    source = load_source(None, args.pool, args.seed)
    load_before = load_average()
    cpu_before = server.cpu_seconds()
    client_before = client_cpu_seconds()
    started = time.perf_counter()
    warm, outcomes = run_async(run_all(args, server.smtp_port, source))
    elapsed = time.perf_counter() - started
    client_cpu = client_cpu_seconds() - client_before
    server_cpu = {k: round(v - cpu_before.get(k, 0.0), 1) for k, v in server.cpu_seconds().items()}
    load_after = load_average()
    claimed = sum(o.reports for o in outcomes) + (warm.reports if warm else 0)
    in_database = server.count_reports()
    return {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "database": "postgresql" if args.postgres else "sqlite (temp data dir)",
        "worker_running": args.worker,
        "source": "benchmarks.mailgen",
        "pool": len(source.pool),
        "seed": args.seed,
        "rate_per_minute": args.rate_per_minute,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "elapsed_s": round(elapsed, 1),
        "client_cpu_s": round(client_cpu, 1),
        "client_cpu_share": round(client_cpu / elapsed, 3) if elapsed else None,
        "server_cpu_s": server_cpu,
        "server_cpu_share": round(sum(server_cpu.values()) / elapsed, 2) if elapsed else None,
        "warmup_reports": warm.reports if warm else 0,
        "reports_claimed": claimed,
        "reports_in_database": in_database,
        "verified": claimed == in_database,
        "machine": machine(),
        "code": code,
        "results": [summary(o) for o in outcomes],
    }


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    code = git_state()  # now, before the server loads it: others may commit while this runs
    server = SmtpManagedServer(
        worker=args.worker, database_url=args.postgres, keep=args.keep, rate_per_minute=args.rate_per_minute
    )
    with server:
        document = measure(args, server, code)
    print_table(document["results"])
    m = document["machine"]
    print(
        f"{m['cpus']} cores ({m['cpu_model']}); worker running: {document['worker_running']}; "
        f"database: {document['database']}; load before/after: {document['load_average_before']} / "
        f"{document['load_average_after']}; over {document['elapsed_s']} s: server CPU {document['server_cpu_s']} s "
        f"({document['server_cpu_share']:.0%} of a core), client CPU {document['client_cpu_s']} s "
        f"({document['client_cpu_share']:.0%} of a core)"
    )
    verdict = "OK" if document["verified"] else "MISMATCH"
    print(
        f"reports claimed by the 250 replies (warm-up included): {document['reports_claimed']}; "
        f"in the database: {document['reports_in_database']}: {verdict}"
    )
    print(f"written to {write_json(document, args.results)}")
    if not document["verified"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
