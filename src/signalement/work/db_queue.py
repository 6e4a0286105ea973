"""The database as the queue: the embedded backend, on SQLite (or PostgreSQL without procrastinate).

A worker claims due jobs with one atomic UPDATE (SKIP LOCKED on PostgreSQL; on SQLite the write lock makes the
claim atomic) and holds them under a lease. A worker that dies leaves its jobs running until the lease ends;
then any worker claims them again, so a killed worker loses nothing.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from signalement.store.db import read
from signalement.store.sql import utcnow
from signalement.store.tables import jobs
from signalement.work.keys import register_keys
from signalement.work.port import (
    DeadJob,
    JobRequest,
    PeriodicSchedule,
    TaskContext,
    TaskSpec,
    backoff,
)

log = logging.getLogger(__name__)
_INSERT_JOB = jobs.insert()

QUEUED, RUNNING, DEAD = "queued", "running", "dead"


@dataclass(frozen=True)
class _Claimed:
    id: int
    task: str
    payload: dict[str, Any]
    attempts: int
    max_attempts: int


class DatabaseQueue:
    def __init__(
        self,
        engine: Engine,
        *,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        lease_seconds: int = 300,
        batch: int = 20,
        idle_poll_seconds: float = 0.1,
    ) -> None:
        self.engine = engine
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.lease = timedelta(seconds=lease_seconds)
        self.batch = batch
        self.idle_poll_seconds = idle_poll_seconds
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"

    # -- the port ---------------------------------------------------------------------------------------

    def enqueue(self, conn: Connection, job: JobRequest) -> bool:
        return self.enqueue_many(conn, [job])[0]

    def enqueue_many(self, conn: Connection, requests: Sequence[JobRequest]) -> list[bool]:
        decisions = register_keys(conn, requests)
        now = utcnow()
        rows = [
            {
                "task": job.task,
                "payload": dict(job.payload),
                "status": QUEUED,
                "run_at": job.run_at or now,
                "attempts": 0,
                "max_attempts": self.max_attempts,
                "created_at": now,
            }
            for job, fresh in zip(requests, decisions, strict=True)
            if fresh
        ]
        if rows:
            conn.execute(_INSERT_JOB, rows)
        return decisions

    def dead_jobs(self, conn: Connection, limit: int = 100) -> list[DeadJob]:
        rows = conn.execute(
            select(jobs).where(jobs.c.status == DEAD).order_by(jobs.c.finished_at.desc()).limit(limit)
        ).mappings()
        return [
            DeadJob(r["id"], r["task"], r["payload"], r["attempts"], r["last_error"], r["finished_at"]) for r in rows
        ]

    def requeue(self, conn: Connection, job_id: int) -> bool:
        result = conn.execute(
            update(jobs)
            .where(jobs.c.id == job_id, jobs.c.status == DEAD)
            .values(status=QUEUED, attempts=0, run_at=utcnow(), finished_at=None, locked_by=None)
        )
        return bool(result.rowcount)

    def pending_count(self, conn: Connection) -> int:
        return int(conn.scalar(select(func.count()).select_from(jobs).where(jobs.c.status != DEAD)) or 0)

    def run_worker(self, ctx: TaskContext, tasks: Mapping[str, TaskSpec], stop: threading.Event) -> None:
        log.info("database queue worker %s started", self.worker_id)
        schedule = PeriodicSchedule(tasks)
        finished: list[int] = []
        while not stop.is_set():
            self._schedule_periodic(schedule)
            claimed = self.claim(self.batch, finished)
            finished = [job.id for job in claimed if self._run_one(ctx, tasks, job)]
            if len(claimed) < self.batch:
                stop.wait(self.idle_poll_seconds)
        self.claim(0, finished)

    # -- the worker's steps -----------------------------------------------------------------------------

    def claim(self, limit: int, finished: Sequence[int] = ()) -> list[_Claimed]:
        """Claim up to `limit` due jobs, and in the same transaction remove the `finished` ones.

        Finished jobs are removed with the next claim rather than one transaction each: half the writes, and a
        crash in between only runs them again (jobs run at least once)."""
        now = utcnow()
        done = delete(jobs).where(jobs.c.id.in_(finished), jobs.c.locked_by == self.worker_id)
        due = or_(
            and_(jobs.c.status == QUEUED, jobs.c.run_at <= now),
            and_(jobs.c.status == RUNNING, jobs.c.locked_until < now),  # a dead worker's lease ran out
        )
        ids = select(jobs.c.id).where(due).order_by(jobs.c.run_at, jobs.c.id).limit(limit)
        with read(self.engine) as conn:  # most polls find nothing: look before taking the write lock
            nothing_due = limit == 0 or conn.execute(ids.limit(1)).first() is None
        if nothing_due:
            if finished:
                with self.engine.begin() as conn:
                    conn.execute(done)
            return []
        ids = ids.with_for_update(skip_locked=True)
        stmt = (
            update(jobs)
            .where(jobs.c.id.in_(ids.scalar_subquery()))
            .values(
                status=RUNNING, locked_by=self.worker_id, locked_until=now + self.lease, attempts=jobs.c.attempts + 1
            )
            .returning(jobs.c.id, jobs.c.task, jobs.c.payload, jobs.c.attempts, jobs.c.max_attempts)
        )
        with self.engine.begin() as conn:
            if finished:
                conn.execute(done)
            rows = conn.execute(stmt).all()
        return sorted((_Claimed(*row) for row in rows), key=lambda j: j.id)

    def _run_one(self, ctx: TaskContext, tasks: Mapping[str, TaskSpec], job: _Claimed) -> bool:
        """Run a job; True if it succeeded (it is removed with the next claim)."""
        spec = tasks.get(job.task)
        try:
            if spec is None:
                raise LookupError(f"no task named {job.task!r} in this worker")
            spec.run(ctx, job.payload)
        except Exception:
            error = traceback.format_exc(limit=20)
            log.warning("job %s (%s) attempt %s failed", job.id, job.task, job.attempts, exc_info=True)
            self._failed(ctx, spec, job, error)
            return False
        return True

    def _failed(self, ctx: TaskContext, spec: TaskSpec | None, job: _Claimed, error: str) -> None:
        max_attempts = spec.max_attempts if spec and spec.max_attempts else job.max_attempts
        mine = and_(jobs.c.id == job.id, jobs.c.locked_by == self.worker_id)
        with self.engine.begin() as conn:
            if job.attempts < max_attempts:
                conn.execute(
                    update(jobs)
                    .where(mine)
                    .values(
                        status=QUEUED,
                        run_at=utcnow() + backoff(job.attempts, self.retry_base_seconds),
                        locked_by=None,
                        last_error=error,
                    )
                )
                return
            conn.execute(update(jobs).where(mine).values(status=DEAD, last_error=error, finished_at=utcnow()))
            if spec and spec.on_dead:
                spec.on_dead(ctx, conn, job.payload, error)

    def _schedule_periodic(self, schedule: PeriodicSchedule) -> None:
        now = utcnow()
        if requests := schedule.due(now):
            try:
                with self.engine.begin() as conn:
                    self.enqueue_many(conn, requests)
            except IntegrityError:  # another worker registered the same period's keys at the same moment
                log.debug("periodic jobs already scheduled by another worker")
        schedule.enqueued(now)
