"""Bulk import benchmark: how fast `signalement import` takes an mbox in (before analysis: the analysis jobs are only
queued), and whether its memory stays flat.

    .venv/bin/python -m benchmarks.bulk_import                           # 200,000 mailgen messages (~18 KB), SQLite
    .venv/bin/python -m benchmarks.bulk_import --messages 50000 --corpus /work/shared/corpus/dev
    .venv/bin/python -m benchmarks.bulk_import --small                   # ~600-byte messages: the per-message costs
    .venv/bin/python -m benchmarks.bulk_import --start-postgres          # a throwaway PostgreSQL (fsync on)
    .venv/bin/python -m benchmarks.bulk_import --postgres postgresql+psycopg://postgres@127.0.0.1:5432/empty_db

The mbox is written first (not timed): a pool of distinct messages (benchmarks.mailgen, or real mail from
--corpus), message i being pool[i % pool] behind a first header line unique to i, so every message is new bytes;
body lines starting with "From " are quoted mboxrd-style. Then the real command runs in a child process
(`signalement import --no-progress`, the database migrated beforehand), and the benchmark reports its wall time,
messages/s and MB/s, its CPU time, and its resident memory sampled from /proc every quarter second (and the peak,
from wait4). A second run of the same command is timed too: it should skip the whole file at once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from benchmarks.ingest import git_state, load_average, machine
from benchmarks.mailgen import corpus_messages, messages
from signalement.store.db import make_engine
from signalement.store.tables import reports

RESULTS_DIR = Path(__file__).parent / "results"
BIN = Path(sys.executable).parent / "signalement"
_FROM_LINE = re.compile(rb"(?m)^(>*From )")


def small_messages(count: int, seed: int) -> Iterator[bytes]:
    for index in range(count):
        yield (
            f"From: service@secure-{seed:x}-{index}.example\r\nTo: victim@example.org\r\n"
            f"Subject: Votre colis est en attente [{index}]\r\nMessage-ID: <{seed:x}.{index}@example.net>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
            + "Votre colis est en attente de livraison: confirmez vos informations sur "
            + f"https://colis-{index}.example/suivi?id={seed:x}{index}\r\n" * 4
        ).encode()


def write_mbox(path: Path, pool: list[bytes], count: int, run_id: str) -> int:
    """`count` distinct messages cycled from `pool`, mboxrd-quoted; returns the file's size."""
    with path.open("wb", buffering=1 << 20) as out:
        for index in range(count):
            body = _FROM_LINE.sub(rb">\1", pool[index % len(pool)])
            out.write(b"From bench@example.org Fri Nov 27 05:00:00 2026\n")
            out.write(f"X-Benchmark-Id: {run_id}-{index}\r\n".encode())
            out.write(body if body.endswith(b"\n") else body + b"\n")
            out.write(b"\n")
    return path.stat().st_size


class RssSampler(threading.Thread):
    """The child's resident memory every `every` seconds, from /proc."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.samples: list[tuple[float, int]] = []  # (seconds since start, kB)
        self.stop = threading.Event()

    def run(self) -> None:
        started = time.monotonic()
        while not self.stop.wait(self.every):
            try:
                status = Path(f"/proc/{self.pid}/status").read_text()
            except OSError:
                return
            match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
            if match:
                self.samples.append((time.monotonic() - started, int(match.group(1))))


def run_import(env: dict[str, str], mbox: Path, batch: int) -> dict[str, Any]:
    started = time.monotonic()
    child = subprocess.Popen(
        [str(BIN), "import", "--no-progress", "--batch", str(batch), str(mbox)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    sampler = RssSampler(child.pid)
    sampler.start()
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.monotonic() - started
    sampler.stop.set()
    sampler.join()
    child.returncode = os.waitstatus_to_exitcode(status)
    out, err = (stream.read().decode() if stream else "" for stream in (child.stdout, child.stderr))
    if child.returncode != 0:
        raise RuntimeError(f"signalement import exited with {child.returncode}:\n{out}\n{err}")
    rss = [kb for _, kb in sampler.samples]
    return {
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),
        "rss_mb_by_tenth": [round(rss[min(len(rss) - 1, len(rss) * i // 10)] / 1024, 1) for i in range(11)]
        if rss
        else [],
        "summary": out.strip().splitlines(),
    }


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.bulk_import", description=__doc__.split("\n\n")[0])
    p.add_argument("--messages", type=int, default=200_000)
    p.add_argument("--pool", type=int, default=1000, help="distinct base messages to cycle through")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--corpus", type=Path, help="real mail from this folder instead of benchmarks.mailgen")
    source.add_argument("--small", action="store_true", help="~600-byte messages instead of ~18 KB")
    database = p.add_mutually_exclusive_group()
    database.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of SQLite")
    database.add_argument(
        "--start-postgres", action="store_true", help="a throwaway PostgreSQL (tests/pg.py, fsync on)"
    )
    p.add_argument("--batch", type=int, default=500, help="messages per commit (signalement import --batch)")
    p.add_argument("--seed", type=int, default=None, help="default random")
    p.add_argument("--dir", type=Path, help="where to write the mbox and the data (default a temp folder on /tmp)")
    p.add_argument("--keep", action="store_true", help="keep the mbox and the data")
    p.add_argument("--results", type=Path, default=RESULTS_DIR)
    args = p.parse_args()
    args.seed = secrets.randbits(32) if args.seed is None else args.seed
    return args


def main() -> None:
    args = parse_args()
    code = git_state()
    folder = Path(tempfile.mkdtemp(prefix="signalement-bulk-", dir=args.dir))
    server = None
    try:
        url = args.postgres or ""
        if args.start_postgres:
            from tests.pg import PostgresServer

            server = PostgresServer(fsync=True).start()
            url = server.create_database("bulk")
        env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALEMENT_")}
        env |= {"SIGNALEMENT_DATA_DIR": str(folder / "data"), "SIGNALEMENT_DATABASE_URL": url}
        subprocess.run([str(BIN), "db", "upgrade"], env=env, check=True, capture_output=True)

        started = time.monotonic()
        if args.small:
            pool = list(small_messages(args.pool, args.seed))
        elif args.corpus:
            pool = list(corpus_messages(args.corpus, args.pool, args.seed))
        else:
            pool = list(messages(args.pool, args.seed))
        mbox = folder / "bench.mbox"
        size = write_mbox(mbox, pool, args.messages, f"{args.seed:x}")
        print(f"wrote {args.messages:,} messages, {size / 1e6:,.1f} MB, in {time.monotonic() - started:.1f} s")

        load_before = load_average()
        first = run_import(env, mbox, args.batch)
        second = run_import(env, mbox, args.batch)
        database_url = url or f"sqlite:///{folder / 'data' / 'signalement.db'}"
        engine = make_engine(database_url, pool_size=1)
        with engine.connect() as conn:
            stored = conn.scalar(select(func.count()).select_from(reports))
        engine.dispose()
        document = {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "database": "PostgreSQL" if url else "SQLite",
            "source": "small" if args.small else str(args.corpus or "benchmarks.mailgen"),
            "messages": args.messages,
            "mbox_mb": round(size / 1e6, 1),
            "batch": args.batch,
            "seed": args.seed,
            "load_average_before": load_before,
            "load_average_after": load_average(),
            "messages_per_second": round(args.messages / first["wall_s"]),
            "mb_per_second": round(size / 1e6 / first["wall_s"], 1),
            "first_run": first,
            "second_run": second,
            "reports_stored": stored,
            "machine": machine(),
            "code": code,
        }
        print("\n".join(first["summary"]))
        print(
            f"{document['database']}, batch {args.batch}: {args.messages:,} messages, {size / 1e6:,.0f} MB in"
            f" {first['wall_s']} s wall (the process, from its start): {document['messages_per_second']:,} messages/s,"
            f" {document['mb_per_second']} MB/s; CPU {first['cpu_s']} s; peak RSS {first['peak_rss_mb']} MB;"
            f" RSS by tenth of the run (MB): {first['rss_mb_by_tenth']}"
        )
        print(f"second run: {second['wall_s']} s ({second['summary'][-1].strip()}); reports stored: {stored:,}")
        print(f"load average before/after: {load_before} / {document['load_average_after']}")
        args.results.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        path = args.results / f"bulk_import-{stamp}-{secrets.token_hex(2)}.json"
        path.write_text(json.dumps(document, indent=2) + "\n")
        print(f"written to {path}")
    finally:
        if server is not None:
            server.stop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
