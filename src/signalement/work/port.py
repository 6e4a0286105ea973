"""The work-queue port: what the rest of the platform may ask of a queue, whatever engine runs it.

Jobs are enqueued inside the caller's database transaction, so a job exists if and only if the change that
asked for it committed. A job runs at least once: tasks must be idempotent. A job that keeps failing is
retried with exponential backoff, then kept as a dead letter that staff can see and re-run.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from signalement.domain.ports import BlobStore
from signalement.settings import Settings

Payload = Mapping[str, Any]


def last_line(error: str, limit: int = 500) -> str:
    """What a dead letter's record keeps of the failure a job's `on_dead` is given: its last line (a traceback's
    names the exception), at most `limit` characters."""
    lines = error.strip().splitlines()
    return lines[-1][:limit] if lines else ""


@dataclass(frozen=True)
class JobRequest:
    task: str
    payload: Payload = field(default_factory=dict)
    key: str | None = None  # enqueued at most once per key, ever
    run_at: datetime | None = None  # None: as soon as possible


@dataclass(frozen=True)
class TaskContext:
    settings: Settings
    engine: Engine
    blobs: BlobStore
    queue: JobQueue


TaskFn = Callable[[TaskContext, Payload], None]
DeadFn = Callable[[TaskContext, Connection, Payload, str], None]


@dataclass(frozen=True)
class TaskSpec:
    name: str
    run: TaskFn
    max_attempts: int | None = None  # None: the configured default
    on_dead: DeadFn | None = None  # called in the transaction that makes the job a dead letter
    every: timedelta | None = None  # periodic: enqueued once per period by whichever worker sees it first


@dataclass(frozen=True)
class DeadJob:
    id: int
    task: str
    payload: Payload
    attempts: int
    last_error: str | None
    failed_at: datetime | None


class JobQueue(Protocol):
    def enqueue(self, conn: Connection, job: JobRequest) -> bool:
        """Add the job in the caller's transaction; False if its key was already used."""
        ...

    def enqueue_many(self, conn: Connection, requests: Sequence[JobRequest]) -> list[bool]:
        """`enqueue` for many jobs in a few statements; for each, whether it was added."""
        ...

    def dead_jobs(self, conn: Connection, limit: int = 100) -> list[DeadJob]: ...

    def requeue(self, conn: Connection, job_id: int) -> bool:
        """Give a dead job a fresh set of attempts; False if there is no such dead job."""
        ...

    def pending_count(self, conn: Connection) -> int: ...

    def run_worker(self, ctx: TaskContext, tasks: Mapping[str, TaskSpec], stop: threading.Event) -> None:
        """Run jobs until `stop` is set. Blocks."""
        ...


def backoff(attempt: int, base_seconds: float, cap_seconds: float = 3600.0) -> timedelta:
    """Delay before retry number `attempt` (1-based): base, 2·base, 4·base ... capped."""
    return timedelta(seconds=min(cap_seconds, base_seconds * 2 ** (attempt - 1)))


class PeriodicSchedule:
    """The periodic jobs a worker has yet to enqueue for the current period of each task.

    Each period's job is keyed, so however many workers enqueue it, it runs once; this only spares a worker a
    write transaction on every tick when nothing is new.
    """

    def __init__(self, tasks: Mapping[str, TaskSpec]) -> None:
        self.tasks = tasks
        self._enqueued: set[str] = set()

    def due(self, now: datetime) -> list[JobRequest]:
        return [r for r in self._current(now) if r.key not in self._enqueued]

    def enqueued(self, now: datetime) -> None:
        self._enqueued = {r.key for r in self._current(now) if r.key is not None}

    def _current(self, now: datetime) -> list[JobRequest]:
        out = []
        for spec in self.tasks.values():
            if spec.every is not None:
                slot = int(now.timestamp() // spec.every.total_seconds())
                out.append(JobRequest(spec.name, {}, key=f"periodic:{spec.name}:{slot}"))
        return out
