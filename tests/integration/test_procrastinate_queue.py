"""ProcrastinateQueue against a real PostgreSQL server, with real procrastinate workers in threads."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    insert,
    select,
    text,
)

from signalement.settings import Settings
from signalement.store.blobs import FileBlobStore
from signalement.store.sql import utcnow
from signalement.store.tables import job_failures, job_keys, metadata
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec
from signalement.work.procrastinate_queue import (
    ProcrastinateQueue,
    conninfo_from_sqlalchemy_url,
    procrastinate_schema_sql,
)
from tests.pg import PostgresServer

# What the tasks did, written in their own transactions: the ground truth the tests compare with the queue.
test_metadata = MetaData()
runs = Table(
    "test_runs",
    test_metadata,
    Column("id", Integer, primary_key=True),
    Column("task", String(100), nullable=False),
    Column("tag", String(100), nullable=False),
)


@pytest.fixture(scope="module")
def engine() -> Iterator[Engine]:
    server = PostgresServer().start()
    try:
        engine = create_engine(server.create_database("queue"), pool_size=20, max_overflow=20)
        metadata.create_all(engine)
        test_metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(text(procrastinate_schema_sql()))
        yield engine
        engine.dispose()
    finally:
        server.stop()


@pytest.fixture
def queue(engine: Engine) -> ProcrastinateQueue:
    with engine.begin() as conn:
        conn.execute(
            text("TRUNCATE procrastinate_jobs, procrastinate_workers, job_keys, job_failures, test_runs CASCADE")
        )
    url = engine.url.render_as_string(hide_password=False)
    return ProcrastinateQueue(engine, conninfo_from_sqlalchemy_url(url), retry_base_seconds=0.01, poll_seconds=0.05)


@pytest.fixture
def ctx(engine: Engine, queue: ProcrastinateQueue, tmp_path: Path) -> TaskContext:
    return TaskContext(Settings(data_dir=tmp_path), engine, FileBlobStore(tmp_path / "blobs"), queue)


def record(task: str, tag: str) -> Callable[[TaskContext, Payload], None]:
    def run(ctx: TaskContext, payload: Payload) -> None:
        with ctx.engine.begin() as conn:
            conn.execute(insert(runs).values(task=task, tag=str(payload.get("n", tag))))

    return run


def run_tags(engine: Engine, task: str) -> list[str]:
    with engine.connect() as conn:
        return list(conn.scalars(select(runs.c.tag).where(runs.c.task == task).order_by(runs.c.id)))


def wait_until(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


@contextmanager
def worker(queue: ProcrastinateQueue, ctx: TaskContext, tasks: Mapping[str, TaskSpec]) -> Iterator[None]:
    """run_worker in a thread until the block ends; then it must stop promptly and without error."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def target() -> None:
        try:
            queue.run_worker(ctx, tasks, stop)
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(30)
    assert not thread.is_alive(), "the worker did not stop"
    assert not errors, errors


def enqueue(engine: Engine, queue: ProcrastinateQueue, job: JobRequest) -> bool:
    with engine.begin() as conn:
        return queue.enqueue(conn, job)


def pending(engine: Engine, queue: ProcrastinateQueue) -> int:
    with engine.connect() as conn:
        return queue.pending_count(conn)


def test_conninfo_from_sqlalchemy_url() -> None:
    assert conninfo_from_sqlalchemy_url("postgresql+psycopg://u:p%40ss@db:5433/sig?sslmode=require") == (
        "postgresql://u:p%40ss@db:5433/sig?sslmode=require"
    )
    with pytest.raises(ValueError, match="PostgreSQL"):
        conninfo_from_sqlalchemy_url("sqlite:///x.db")


def test_only_committed_jobs_run(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    with engine.connect() as conn, conn.begin() as tx:
        assert queue.enqueue(conn, JobRequest("rec", {"n": "rolled-back"}))
        tx.rollback()
    enqueue(engine, queue, JobRequest("rec", {"n": "committed"}))
    later = utcnow() + timedelta(seconds=1)
    enqueue(engine, queue, JobRequest("rec", {"n": "later"}, run_at=later))
    assert pending(engine, queue) == 2

    with worker(queue, ctx, {"rec": TaskSpec("rec", record("rec", ""))}):
        wait_until(lambda: run_tags(engine, "rec") == ["committed", "later"])
        assert utcnow() >= later
    assert pending(engine, queue) == 0
    with engine.connect() as conn:  # done jobs leave the queue, as in db_queue
        assert conn.scalar(text("SELECT count(*) FROM procrastinate_jobs")) == 0


def test_a_key_enqueues_once(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    with engine.connect() as conn, conn.begin() as tx:  # a rolled-back key is not used up
        assert queue.enqueue(conn, JobRequest("rec", {"n": "x"}, key="k1"))
        tx.rollback()
    assert enqueue(engine, queue, JobRequest("rec", {"n": "first"}, key="k1"))
    assert not enqueue(engine, queue, JobRequest("rec", {"n": "second"}, key="k1"))
    assert pending(engine, queue) == 1

    with worker(queue, ctx, {"rec": TaskSpec("rec", record("rec", ""))}):
        wait_until(lambda: pending(engine, queue) == 0)
    assert run_tags(engine, "rec") == ["first"]
    assert not enqueue(engine, queue, JobRequest("rec", {"n": "after"}, key="k1"))


def test_a_failing_task_is_retried_until_it_succeeds(
    engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext
) -> None:
    def flaky(ctx: TaskContext, payload: Payload) -> None:
        record("flaky", "try")(ctx, {})
        if len(run_tags(engine, "flaky")) <= 3:
            raise RuntimeError("not yet")

    enqueue(engine, queue, JobRequest("flaky", {"n": 1}))
    with worker(queue, ctx, {"flaky": TaskSpec("flaky", flaky, max_attempts=4)}):
        wait_until(lambda: pending(engine, queue) == 0)
    assert len(run_tags(engine, "flaky")) == 4  # three failures, then the last of its four attempts succeeds
    with engine.connect() as conn:
        assert queue.dead_jobs(conn) == []


def test_retries_back_off_exponentially(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    started: list[float] = []

    def fails_twice(ctx: TaskContext, payload: Payload) -> None:
        started.append(time.monotonic())
        if len(started) < 3:
            raise RuntimeError("not yet")

    queue.retry_base_seconds = 0.2
    enqueue(engine, queue, JobRequest("backoff", {}))
    with worker(queue, ctx, {"backoff": TaskSpec("backoff", fails_twice)}):
        wait_until(lambda: pending(engine, queue) == 0)
    assert len(started) == 3
    assert started[1] - started[0] >= 0.2
    assert started[2] - started[1] >= 0.4


def test_a_job_that_always_fails_becomes_dead_and_can_be_requeued(
    engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext
) -> None:
    fixed = threading.Event()

    def broken(ctx: TaskContext, payload: Payload) -> None:
        record("broken", "try")(ctx, {})
        if not fixed.is_set():
            raise ValueError(f"cannot handle {payload['report']}")

    def on_dead(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
        conn.execute(insert(runs).values(task="on_dead", tag=f"{payload['report']}|{error.splitlines()[-1]}"))

    tasks = {"broken": TaskSpec("broken", broken, on_dead=on_dead)}  # the default: 3 attempts in this queue
    queue.max_attempts = 3
    enqueue(engine, queue, JobRequest("broken", {"report": 42}))
    with worker(queue, ctx, tasks):
        wait_until(lambda: pending(engine, queue) == 0)
    assert len(run_tags(engine, "broken")) == 3
    assert run_tags(engine, "on_dead") == ["42|ValueError: cannot handle 42"]

    with engine.connect() as conn:
        [dead] = queue.dead_jobs(conn)
    assert (dead.task, dict(dead.payload), dead.attempts) == ("broken", {"report": 42}, 3)
    assert dead.last_error is not None
    assert "ValueError: cannot handle 42" in dead.last_error
    assert dead.failed_at is not None
    assert dead.failed_at <= utcnow()

    with engine.begin() as conn:
        assert not queue.requeue(conn, dead.id + 1000)
        assert queue.requeue(conn, dead.id)
        assert not queue.requeue(conn, dead.id)  # no longer dead
    fixed.set()
    with worker(queue, ctx, tasks):
        wait_until(lambda: pending(engine, queue) == 0)
    assert len(run_tags(engine, "broken")) == 4
    assert len(run_tags(engine, "on_dead")) == 1
    with engine.connect() as conn:
        assert queue.dead_jobs(conn) == []
        assert conn.scalar(select(func.count()).select_from(job_failures)) == 0


def test_on_dead_that_fails_is_tried_again_with_the_job(
    engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext
) -> None:
    calls: list[str] = []

    def fail(ctx: TaskContext, payload: Payload) -> None:
        record("fail", "try")(ctx, {})
        raise RuntimeError("always")

    def on_dead(ctx: TaskContext, conn: Connection, payload: Payload, error: str) -> None:
        conn.execute(insert(runs).values(task="on_dead", tag=str(len(calls))))
        calls.append(error)
        if len(calls) == 1:
            raise OSError("the notifier is down")

    enqueue(engine, queue, JobRequest("fail", {}))
    with worker(queue, ctx, {"fail": TaskSpec("fail", fail, max_attempts=2, on_dead=on_dead)}):
        wait_until(lambda: pending(engine, queue) == 0)
    # The burial's rollback left the job alive: it ran once more and died with on_dead committed once.
    assert len(run_tags(engine, "fail")) == 3
    assert len(calls) == 2
    assert run_tags(engine, "on_dead") == ["1"]
    with engine.connect() as conn:
        [dead] = queue.dead_jobs(conn)
    assert dead.attempts == 3


def test_stop_waits_for_the_running_job(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    started = threading.Event()

    def slow(ctx: TaskContext, payload: Payload) -> None:
        started.set()
        time.sleep(1)
        record("slow", "done")(ctx, {})

    enqueue(engine, queue, JobRequest("slow", {}))
    with worker(queue, ctx, {"slow": TaskSpec("slow", slow)}):
        assert started.wait(10)
    assert run_tags(engine, "slow") == ["done"]
    assert pending(engine, queue) == 0


def test_a_failed_requeue_rolls_back(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    def fail(ctx: TaskContext, payload: Payload) -> None:
        raise RuntimeError("no")

    enqueue(engine, queue, JobRequest("fail", {}))
    with worker(queue, ctx, {"fail": TaskSpec("fail", fail, max_attempts=1)}):
        wait_until(lambda: pending(engine, queue) == 0)
    with engine.connect() as conn, conn.begin() as tx:
        [dead] = queue.dead_jobs(conn)
        assert queue.requeue(conn, dead.id)
        tx.rollback()
    with engine.connect() as conn:
        assert [d.id for d in queue.dead_jobs(conn)] == [dead.id]


def test_a_periodic_task_runs_once_per_period_across_workers(
    engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext
) -> None:
    tasks = {"tick": TaskSpec("tick", record("tick", "tick"), every=timedelta(seconds=1))}
    with worker(queue, ctx, tasks), worker(queue, ctx, tasks):
        wait_until(lambda: len(run_tags(engine, "tick")) >= 3)
    with engine.connect() as conn:
        keys = conn.scalar(select(func.count()).select_from(job_keys).where(job_keys.c.key.like("periodic:tick:%")))
        left = conn.scalar(text("SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'tick'"))
    assert len(run_tags(engine, "tick")) + left == keys  # one job per period, however many workers saw it


def test_two_workers_share_the_jobs_and_run_each_once(
    engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext
) -> None:
    def by(name: str) -> Callable[[TaskContext, Payload], None]:
        def run(ctx: TaskContext, payload: Payload) -> None:
            time.sleep(0.002)
            with ctx.engine.begin() as conn:
                conn.execute(insert(runs).values(task="share", tag=f"{payload['n']}:{name}"))

        return run

    other = ProcrastinateQueue(engine, queue.conninfo, retry_base_seconds=0.01, poll_seconds=0.05)
    with (
        worker(queue, ctx, {"share": TaskSpec("share", by("a"))}),
        worker(other, ctx, {"share": TaskSpec("share", by("b"))}),
    ):
        with engine.connect() as conn:
            wait_until(lambda: conn.scalar(text("SELECT count(*) FROM procrastinate_workers")) == 2)
        with engine.begin() as conn:
            for n in range(200):
                queue.enqueue(conn, JobRequest("share", {"n": n}))
        wait_until(lambda: pending(engine, queue) == 0)

    tags = [t.split(":") for t in run_tags(engine, "share")]
    assert sorted(int(n) for n, _ in tags) == list(range(200))
    assert {by_worker for _, by_worker in tags} == {"a", "b"}


def test_the_jobs_of_a_dead_worker_run_again(engine: Engine, queue: ProcrastinateQueue, ctx: TaskContext) -> None:
    enqueue(engine, queue, JobRequest("rec", {"n": "orphan"}))
    with engine.begin() as conn:  # a worker took the job, then stopped beating an hour ago
        dead_worker = conn.scalar(
            text("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour') RETURNING id")
        )
        taken = conn.execute(text("SELECT id FROM procrastinate_fetch_job_v2(NULL, :w)"), {"w": dead_worker})
        assert taken.scalar() is not None
    with worker(queue, ctx, {"rec": TaskSpec("rec", record("rec", ""))}):
        wait_until(lambda: run_tags(engine, "rec") == ["orphan"])
        wait_until(lambda: pending(engine, queue) == 0)


def test_the_schema_sql_is_procrastinates(engine: Engine) -> None:
    assert "CREATE FUNCTION procrastinate_defer_jobs_v1" in procrastinate_schema_sql()
