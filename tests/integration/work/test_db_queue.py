"""The database queue through the port, on SQLite and PostgreSQL: transactional enqueue, idempotency keys,
retries with backoff, dead letters, leases and periodic jobs."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, select

from signalement.platform import Platform
from signalement.store.tables import jobs
from signalement.work.db_queue import DatabaseQueue
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec


class Recorder:
    def __init__(self) -> None:
        self.runs: Counter[str] = Counter()
        self.dead: list[tuple[Any, str]] = []
        self.lock = threading.Lock()

    def task(self, fail_times: int = 0) -> Callable[[TaskContext, Payload], None]:
        def run(_ctx: TaskContext, payload: Payload) -> None:
            with self.lock:
                self.runs[str(payload.get("n"))] += 1
                count = self.runs[str(payload.get("n"))]
            if count <= fail_times:
                raise RuntimeError(f"failure {count}")

        return run

    def on_dead(self, _ctx: TaskContext, _conn: Connection, payload: Payload, error: str) -> None:
        self.dead.append((payload.get("n"), error))


@pytest.fixture
def queue(platform: Platform) -> DatabaseQueue:
    return DatabaseQueue(
        platform.engine, max_attempts=3, retry_base_seconds=0.01, lease_seconds=2, idle_poll_seconds=0.01
    )


class Worker:
    def __init__(self, platform: Platform, queue: DatabaseQueue, tasks: dict[str, TaskSpec]) -> None:
        self.stop = threading.Event()
        ctx = TaskContext(platform.settings, platform.engine, platform.blobs, queue)
        self.thread = threading.Thread(target=queue.run_worker, args=(ctx, tasks, self.stop), daemon=True)

    def __enter__(self) -> Worker:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        self.thread.join(10)


def wait_for(condition: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.02)


def enqueue(platform: Platform, queue: DatabaseQueue, *requests: JobRequest) -> list[bool]:
    with platform.engine.begin() as conn:
        return [queue.enqueue(conn, r) for r in requests]


def remaining(platform: Platform) -> list[str]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(jobs.c.status)).scalars())


@pytest.fixture
def recorder() -> Iterator[Recorder]:
    yield Recorder()


def test_rolled_back_enqueue_never_runs(platform: Platform, queue: DatabaseQueue, recorder: Recorder) -> None:
    with pytest.raises(ZeroDivisionError), platform.engine.begin() as conn:
        queue.enqueue(conn, JobRequest("t", {"n": 1}))
        _ = 1 / 0
    enqueue(platform, queue, JobRequest("t", {"n": 2}))
    with Worker(platform, queue, {"t": TaskSpec("t", recorder.task())}):
        wait_for(lambda: recorder.runs["2"] == 1)
    assert recorder.runs == Counter({"2": 1})


def test_key_enqueues_once(platform: Platform, queue: DatabaseQueue) -> None:
    assert enqueue(platform, queue, JobRequest("t", {"n": 1}, key="k1"), JobRequest("t", {"n": 1}, key="k1")) == [
        True,
        False,
    ]
    assert enqueue(platform, queue, JobRequest("t", {"n": 1}, key="k1")) == [False]
    assert len(remaining(platform)) == 1


def test_retries_then_succeeds(platform: Platform, queue: DatabaseQueue, recorder: Recorder) -> None:
    enqueue(platform, queue, JobRequest("t", {"n": 1}))
    with Worker(platform, queue, {"t": TaskSpec("t", recorder.task(fail_times=2))}):
        wait_for(lambda: not remaining(platform))
    assert recorder.runs["1"] == 3
    assert recorder.dead == []


def test_dead_letter_then_requeue(platform: Platform, queue: DatabaseQueue, recorder: Recorder) -> None:
    enqueue(platform, queue, JobRequest("t", {"n": 7}))
    spec = TaskSpec("t", recorder.task(fail_times=3), on_dead=recorder.on_dead)
    with Worker(platform, queue, {"t": spec}):
        wait_for(lambda: remaining(platform) == ["dead"])
    assert recorder.runs["7"] == 3
    assert len(recorder.dead) == 1 and "failure 3" in recorder.dead[0][1]
    with platform.engine.connect() as conn:
        [dead] = queue.dead_jobs(conn)
    assert (dead.task, dead.payload, dead.attempts) == ("t", {"n": 7}, 3)
    assert dead.last_error and "RuntimeError: failure 3" in dead.last_error
    assert dead.failed_at is not None and dead.failed_at.tzinfo is not None
    with platform.engine.begin() as conn:
        assert queue.requeue(conn, dead.id)
        assert not queue.requeue(conn, dead.id + 1000)
    with Worker(platform, queue, {"t": spec}):
        wait_for(lambda: not remaining(platform))
    assert recorder.runs["7"] == 4


def test_delayed_job_waits_for_its_time(platform: Platform, queue: DatabaseQueue, recorder: Recorder) -> None:
    from signalement.store.sql import utcnow

    enqueue(platform, queue, JobRequest("t", {"n": 1}, run_at=utcnow() + timedelta(hours=1)), JobRequest("t", {"n": 2}))
    with Worker(platform, queue, {"t": TaskSpec("t", recorder.task())}):
        wait_for(lambda: recorder.runs["2"] == 1)
        time.sleep(0.1)
    assert recorder.runs["1"] == 0


def test_expired_lease_is_claimed_again(platform: Platform, queue: DatabaseQueue, recorder: Recorder) -> None:
    enqueue(platform, queue, JobRequest("t", {"n": 1}))
    assert len(queue.claim(10)) == 1  # a worker claims it, then dies without a word
    assert queue.claim(10) == []
    time.sleep(2.2)
    with Worker(platform, queue, {"t": TaskSpec("t", recorder.task())}):
        wait_for(lambda: recorder.runs["1"] == 1)
        wait_for(lambda: not remaining(platform))


def test_periodic_task_runs_once_per_period_across_workers(platform: Platform, recorder: Recorder) -> None:
    spec = TaskSpec("tick", recorder.task(), every=timedelta(hours=1))
    first = DatabaseQueue(platform.engine, idle_poll_seconds=0.01)
    second = DatabaseQueue(platform.engine, idle_poll_seconds=0.01)
    with Worker(platform, first, {"tick": spec}), Worker(platform, second, {"tick": spec}):
        wait_for(lambda: recorder.runs["None"] == 1)
        time.sleep(0.3)
    assert recorder.runs["None"] == 1


def test_two_workers_share_the_work_exactly_once(platform: Platform, recorder: Recorder) -> None:
    first = DatabaseQueue(platform.engine, idle_poll_seconds=0.01, batch=5)
    second = DatabaseQueue(platform.engine, idle_poll_seconds=0.01, batch=5)
    enqueue(platform, first, *(JobRequest("t", {"n": n}) for n in range(200)))
    tasks = {"t": TaskSpec("t", recorder.task())}
    with Worker(platform, first, tasks), Worker(platform, second, tasks):
        wait_for(lambda: not remaining(platform))
    assert recorder.runs == Counter({str(n): 1 for n in range(200)})
