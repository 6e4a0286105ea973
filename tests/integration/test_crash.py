"""Crash tests: SIGKILL a real `signalement serve` (API and worker) or a real `signalement worker` while it works,
start it again on the same data, and check that nothing acknowledged was lost, nothing was stored twice, and
every report is analyzed in the end.

The processes are real subprocesses, each in its own session, so that os.killpg reaches the server's worker child
too: a crash kills the whole platform, not only the API. PostgreSQL runs with fsync=on, as in production.
"""

from __future__ import annotations

import hashlib
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import cache, partial
from pathlib import Path

import httpx
import pytest
from benchmarks.ingest import wait_ready
from benchmarks.mailgen import messages
from sqlalchemy import Engine, func, select, text

from signalement.store.blobs import FileBlobStore
from signalement.store.db import make_engine
from signalement.store.tables import job_keys, jobs, reports
from tests.pg import PostgresServer, free_port

pytestmark = pytest.mark.slow

SIGNALEMENT = str(Path(sys.executable).parent / "signalement")
RFC822 = {"Content-Type": "message/rfc822"}
TOTAL = 2000  # reports sent through the server crash
KILL_AFTER = 600  # acknowledgements before the SIGKILL
CLIENTS = 8
WORKER_REPORTS = 400  # reports analyzed through the worker crash
LEASE_SECONDS = 3  # db_queue: a dead worker's jobs are taken again this soon
# procrastinate_queue re-runs a dead worker's jobs only once its heartbeat is 60 s old (checked every 30 s).
ANALYZED_TIMEOUT = {"sqlite": 90.0, "postgresql": 240.0}


@cache
def corpus() -> tuple[bytes, ...]:
    """Realistic messages (~18 KB, all distinct), made once for the whole file."""
    return tuple(messages(TOTAL, seed=2026))


# -- processes ------------------------------------------------------------------------------------------------


@dataclass
class Deployment:
    """One platform's data (a data dir and a database) and the processes the test starts on it."""

    backend: str
    data_dir: Path
    database_url: str
    port: int = field(default_factory=free_port)
    smtp_port: int = field(default_factory=free_port)
    token: str = ""
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def env(self) -> dict[str, str]:
        return os.environ | {
            "SIGNALEMENT_DATA_DIR": str(self.data_dir),
            "SIGNALEMENT_DATABASE_URL": self.database_url,
            "SIGNALEMENT_HOST": "127.0.0.1",
            "SIGNALEMENT_PORT": str(self.port),
            "SIGNALEMENT_SMTP_PORT": str(self.smtp_port),
            "SIGNALEMENT_SECRET_KEY": "crash-test",
            "SIGNALEMENT_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "SIGNALEMENT_JOB_RETRY_BASE_SECONDS": "0.2",
        }

    def create_staff_user(self) -> None:
        """`signalement user create` migrates the database and prints a token; staff can list every report."""
        done = subprocess.run(
            [SIGNALEMENT, "user", "create", "crash@example.org", "--role", "analyst"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
        )
        match = re.search(r"API token \(shown once, keep it safe\): (\S+)", done.stdout)
        assert match, done.stdout
        self.token = match.group(1)

    def start(self, *args: str) -> subprocess.Popen[bytes]:
        log = (self.data_dir.parent / f"{args[0]}-{len(self.processes)}.log").open("wb")
        process = subprocess.Popen(
            [SIGNALEMENT, *args], env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()  # the child has its own copy
        self.processes.append(process)
        return process

    def serve(self, *args: str) -> subprocess.Popen[bytes]:
        process = self.start("serve", *args)
        wait_ready(self.url, 60.0, process)
        return process

    def logs(self) -> str:
        return "\n".join(f"== {p.name}\n{p.read_text()[-4000:]}" for p in sorted(self.data_dir.parent.glob("*.log")))

    def engine(self) -> Engine:
        engine: Engine = make_engine(self.database_url, pool_size=2)
        return engine

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                stop(process)


def kill(process: subprocess.Popen[bytes], sig: signal.Signals = signal.SIGKILL) -> None:
    """Signal the process's whole group (the server and its worker child), and wait until all of it is gone."""
    os.killpg(process.pid, sig)
    process.wait(30)
    deadline = time.monotonic() + 10
    while group_members(process.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not group_members(process.pid), "a process of the killed group survived"


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a clean stop), then SIGKILL if it does not stop in time."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        kill(process)


def group_members(pgid: int) -> list[int]:
    members = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":  # field 5 of proc(5): the process group
            members.append(int(stat.parent.name))
    return members


def wait_for(condition: Callable[[], bool], timeout: float, what: str, state: Callable[[], object] = str) -> float:
    """Seconds until `condition` held; fails after `timeout`, showing `state()`."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout} s waiting until {what}; now: {state()}")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Deployment]:
    postgres: PostgresServer | None = None
    if request.param == "postgresql":
        postgres = PostgresServer(fsync=True).start()  # fsync=off would survive no crash worth testing
        url = postgres.create_database("crash")
    else:
        url = f"sqlite:///{tmp_path / 'data' / 'signalement.db'}"
    deployment = Deployment(request.param, tmp_path / "data", url)
    try:
        deployment.create_staff_user()
        yield deployment
    finally:
        deployment.stop_all()
        if postgres is not None:
            postgres.stop()
        print(deployment.logs())  # pytest shows it only when the test failed


# -- clients --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ack:
    status: int
    id: int
    sha256: str
    server: int  # which server run acknowledged it: 0 before the kill, 1 after the restart


class Reporters:
    """CLIENTS threads sending the corpus, one report per request, as a real client would: a request that fails
    because the server went away is sent again (same bytes, same token) once the server is back."""

    def __init__(self, url: str, token: str, bodies: tuple[bytes, ...]) -> None:
        self.url = url
        self.token = token
        self.bodies = bodies
        self.up = threading.Event()
        self.up.set()
        self.server = 0
        self.acks: dict[int, Ack] = {}
        self.resent: set[int] = set()
        self.unexpected: list[str] = []
        self._next = iter(range(len(bodies)))
        self._lock = threading.Lock()
        self.threads = [threading.Thread(target=self._run, daemon=True) for _ in range(CLIENTS)]

    def start(self) -> None:
        for thread in self.threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.1, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self.threads), "clients still sending after the timeout"

    def acknowledged(self) -> int:
        with self._lock:
            return len(self.acks)

    def _take(self) -> int | None:
        with self._lock:
            return next(self._next, None)

    def _run(self) -> None:
        headers = {"Authorization": f"Bearer {self.token}"} | RFC822
        with httpx.Client(base_url=self.url, headers=headers, timeout=60) as client:
            while (index := self._take()) is not None:
                self._send(client, index)

    def _send(self, client: httpx.Client, index: int) -> None:
        while True:
            self.up.wait()
            server = self.server
            try:
                response = client.post("/api/v1/reports", content=self.bodies[index])
            except httpx.TransportError:
                with self._lock:
                    self.resent.add(index)
                time.sleep(0.05)  # the server is down: wait for it to come back (up is cleared before a kill)
                continue
            self._record(index, server, response)
            return

    def _record(self, index: int, server: int, response: httpx.Response) -> None:
        with self._lock:
            # 200 (already stored) is right only for a resend whose first try committed before the kill.
            allowed = (200, 202) if index in self.resent else (202,)
            if response.status_code not in allowed:
                self.unexpected.append(f"message {index}: {response.status_code} {response.text[:300]}")
                return
            body = response.json()
            self.acks[index] = Ack(response.status_code, body["id"], body["sha256"], server)


# -- checks ---------------------------------------------------------------------------------------------------


def staff_get(deployment: Deployment, path: str, **params: str | int) -> httpx.Response:
    headers = {"Authorization": f"Bearer {deployment.token}"}
    return httpx.get(f"{deployment.url}{path}", params=params, headers=headers, timeout=30)


def none_received(deployment: Deployment) -> bool:
    response = staff_get(deployment, "/api/v1/reports", status="received", limit=1)
    assert response.status_code == 200, response.text
    return not response.json()["items"]


def status_counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(select(reports.c.status, func.count()).group_by(reports.c.status)).all()
    return dict(rows)


def pending_jobs(engine: Engine, backend: str) -> dict[str, int]:
    """Jobs still in the queue's table, by state: done jobs are deleted by both backends, so any row left is
    waiting, running or dead."""
    with engine.connect() as conn:
        if backend == "postgresql":
            rows = conn.execute(text("SELECT status, count(*) FROM procrastinate_jobs GROUP BY status")).all()
        else:
            rows = conn.execute(select(jobs.c.status, func.count()).group_by(jobs.c.status)).all()
    return dict(rows)


def check_reports_match_acks(
    deployment: Deployment, engine: Engine, acks: dict[int, Ack], bodies: tuple[bytes, ...]
) -> None:
    with engine.connect() as conn:
        rows = {r.id: r for r in conn.execute(select(reports.c.id, reports.c.submitter, reports.c.sha256))}
        twice = conn.execute(
            select(reports.c.submitter, reports.c.sha256)
            .group_by(reports.c.submitter, reports.c.sha256)
            .having(func.count() > 1)
        ).all()
    assert not twice, f"stored twice: {twice[:5]}"
    assert len(rows) == len(bodies), f"{len(rows)} reports stored for {len(bodies)} messages sent"
    assert len({a.id for a in acks.values()}) == len(acks), "two messages were acknowledged with one report id"
    blobs = FileBlobStore(deployment.data_dir / "blobs")
    for index, ack in sorted(acks.items()):
        sha256 = hashlib.sha256(bodies[index]).hexdigest()
        when = "before the kill" if ack.server == 0 else "after the restart"
        assert ack.sha256 == sha256, f"message {index}: wrong sha256 in the acknowledgement"
        assert ack.id in rows, f"message {index}, acknowledged {when} as report {ack.id}, is not in the database"
        assert rows[ack.id].sha256 == sha256, f"report {ack.id} holds other bytes than message {index}"
        assert blobs.get(sha256) == bodies[index], f"the blob of message {index} ({when}) is not its bytes"


# -- the tests ------------------------------------------------------------------------------------------------


def test_server_killed_while_ingesting_loses_nothing(deployment: Deployment) -> None:
    bodies = corpus()
    deployment.serve()
    clients = Reporters(deployment.url, deployment.token, bodies)
    clients.start()
    wait_for(lambda: clients.acknowledged() >= KILL_AFTER, 120, f"{KILL_AFTER} reports are acknowledged")

    clients.up.clear()  # before the kill: a client that then sees its request fail waits for the restart
    kill(deployment.processes[-1])
    acked_before_kill = clients.acknowledged()
    clients.server = 1
    deployment.serve()
    clients.up.set()
    clients.join(300)

    assert not clients.unexpected, clients.unexpected[:10]
    assert len(clients.acks) == TOTAL
    assert KILL_AFTER <= acked_before_kill < TOTAL, "the kill did not happen part way through"
    engine = deployment.engine()
    try:
        check_reports_match_acks(deployment, engine, clients.acks, bodies)
        timeout = ANALYZED_TIMEOUT[deployment.backend]
        counts = partial(status_counts, engine)
        wait_for(lambda: none_received(deployment), timeout, "no report is left to analyze", counts)
        assert counts() == {"analyzed": TOTAL}
    finally:
        engine.dispose()
    resent = [clients.acks[i].status for i in clients.resent]
    orphans = len(list((deployment.data_dir / "blobs" / "tmp").iterdir()))  # half-written blobs of the kill
    print(
        f"{acked_before_kill} acknowledged before the kill; {len(resent)} resent, {resent.count(200)} of them had been"
    )
    print(f"stored before the kill; {orphans} temporary blob files left behind")


def test_worker_killed_while_analyzing_loses_no_job(deployment: Deployment) -> None:
    deployment.serve("--no-worker")
    ids = post_batches(deployment, corpus()[:WORKER_REPORTS])
    engine = deployment.engine()
    try:
        worker = deployment.start("worker")
        stranded = kill_worker_holding_jobs(deployment, engine, worker)
        assert stranded, "the worker was killed holding no job: the crash tested nothing"
        deployment.start("worker")
        timeout = ANALYZED_TIMEOUT[deployment.backend]
        counts = partial(status_counts, engine)
        analyzed = wait_for(lambda: counts() == {"analyzed": len(ids)}, timeout, "all are analyzed", counts)
        # A job whose report was analyzed just before the kill is still held by the dead worker until recovered.
        queue = partial(pending_jobs, engine, deployment.backend)
        emptied = wait_for(lambda: not queue(), timeout, "the queue is empty", queue)
        with engine.connect() as conn:
            keys = conn.execute(select(job_keys.c.key).where(job_keys.c.key.like("analyze_report:%"))).scalars().all()
        assert sorted(keys) == sorted(f"analyze_report:{i}" for i in ids), "a report's analysis was enqueued twice"
    finally:
        engine.dispose()
    print(f"killed holding {len(stranded)} jobs; all analyzed {analyzed:.1f} s and queue empty {emptied:.1f} s later")


def post_batches(deployment: Deployment, bodies: tuple[bytes, ...], size: int = 100) -> list[int]:
    """Multipart batches: quicker than one request per report, and the same durable intake."""
    ids = []
    headers = {"Authorization": f"Bearer {deployment.token}"}
    with httpx.Client(base_url=deployment.url, headers=headers, timeout=60) as client:
        for start in range(0, len(bodies), size):
            files = [
                ("file", (f"{i}.eml", body, "message/rfc822")) for i, body in enumerate(bodies[start : start + size])
            ]
            response = client.post("/api/v1/reports:batch", files=files)
            assert response.status_code == 200, response.text
            assert response.json()["accepted"] == len(files), response.text
            ids += [r["id"] for r in response.json()["results"]]
    return ids


def kill_worker_holding_jobs(deployment: Deployment, engine: Engine, worker: subprocess.Popen[bytes]) -> list[int]:
    """Once a quarter of the reports are analyzed, freeze the worker (SIGSTOP) and SIGKILL it if it holds jobs;
    otherwise let it go on and try again. Returns the report ids of the jobs it held."""
    for polls in itertools.count():
        if status_counts(engine).get("analyzed", 0) >= WORKER_REPORTS // 4:
            os.killpg(worker.pid, signal.SIGSTOP)  # frozen: what it holds now is what it holds when killed
            held = held_jobs(engine, deployment.backend)
            if held:
                kill(worker)
                return held
            os.killpg(worker.pid, signal.SIGCONT)
        assert worker.poll() is None, f"the worker exited with {worker.returncode}:\n{deployment.logs()}"
        assert status_counts(engine).get("received", 0), f"analysis finished before the kill ({polls} polls)"
        time.sleep(0.02)
    raise AssertionError("unreachable")


def held_jobs(engine: Engine, backend: str) -> list[int]:
    with engine.connect() as conn:
        if backend == "postgresql":
            query = text("SELECT (args->>'report_id')::bigint FROM procrastinate_jobs WHERE status = 'doing'")
            return list(conn.execute(query).scalars())
        payloads = conn.execute(select(jobs.c.payload).where(jobs.c.status == "running")).scalars()
        return [int(p["report_id"]) for p in payloads]
