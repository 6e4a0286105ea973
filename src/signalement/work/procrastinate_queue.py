"""procrastinate on PostgreSQL: the production backend, for many workers on many hosts.

Jobs live in procrastinate's tables. They are deferred with its SQL function on the caller's SQLAlchemy
connection, so a job exists iff the caller commits, and workers are procrastinate workers (SKIP LOCKED fetch,
LISTEN/NOTIFY, heartbeats). What our port asks and procrastinate lacks is added here, the same as db_queue:
idempotency keys (`job_keys`), the retry budget and backoff, on_dead and the error text of dead jobs
(`job_failures`), keyed periodic jobs, and running again the jobs of a worker that died.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from procrastinate import App, BaseRetryStrategy, JobContext, PsycopgConnector, RetryDecision
from procrastinate.jobs import DeleteJobCondition, Job
from procrastinate.schema import SchemaManager
from sqlalchemy import Connection, Engine, delete, text
from sqlalchemy.engine import make_url

from signalement.store.sql import insert_ignore, utcnow
from signalement.store.tables import job_failures
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

QUEUE = "default"
TICK_SECONDS = 0.1  # how soon a worker notices `stop` and a new period

_DEFER = text(
    "SELECT procrastinate_defer_jobs_v1(CAST(ARRAY[ROW("
    " CAST(:queue AS varchar), CAST(:task AS varchar), 0, NULL, NULL,"
    " CAST(:args AS jsonb), CAST(:scheduled_at AS timestamptz)"
    ")] AS procrastinate_job_to_defer_v1[]))"
)

# job_failures has the error text; the 'failed' event is the fallback time for jobs that died without one.
_DEAD_JOBS = text(
    """
    SELECT j.id, j.task_name, j.args, j.attempts, f.error,
           COALESCE(f.failed_at, (SELECT max(e.at) FROM procrastinate_events AS e
                                  WHERE e.job_id = j.id AND e.type = 'failed')) AS failed_at
    FROM procrastinate_jobs AS j LEFT JOIN job_failures AS f ON f.job_id = j.id
    WHERE j.status = 'failed'
    ORDER BY failed_at DESC NULLS LAST, j.id DESC
    LIMIT :limit
    """
)

# procrastinate_retry_job_v2 would keep the attempts count (and fails the todo/abort_requested CHECK when a
# failed job had an abort request), so update directly. The status trigger still records a 'retried' event;
# only inserts notify, so notify as the insert trigger does, for the workers to fetch it now (on commit).
_REQUEUE = text(
    """
    WITH requeued AS (
        UPDATE procrastinate_jobs
        SET status = 'todo', attempts = 0, scheduled_at = NULL, abort_requested = false, worker_id = NULL
        WHERE id = :job_id AND status = 'failed'
        RETURNING id, queue_name
    ), note AS (
        SELECT id, queue_name, json_build_object('type', 'job_inserted', 'job_id', id)::text AS payload
        FROM requeued
    )
    SELECT id, pg_notify('procrastinate_queue_v1#' || queue_name, payload),
           pg_notify('procrastinate_any_queue_v1', payload)
    FROM note
    """
)

_PENDING = text("SELECT count(*) FROM procrastinate_jobs WHERE status IN ('todo', 'doing')")

# A dead worker's jobs stay 'doing' forever: put them back, as db_queue's leases do. FOR UPDATE waits for
# (rather than skips) a job locked by, say, a worker being pruned, then re-checks the WHERE on the job's
# latest version: a job another worker put back, or fetched again meanwhile, is left alone. NOT EXISTS, not a
# join, so that this re-check looks the job's current worker up.
_RERUN_STALLED = text(
    """
    SELECT stalled.id, procrastinate_retry_job_v2(stalled.id, now(), NULL, NULL, NULL)
    FROM (
        SELECT j.id FROM procrastinate_jobs AS j
        WHERE j.status = 'doing'
          AND NOT EXISTS (
              SELECT 1 FROM procrastinate_workers AS w
              WHERE w.id = j.worker_id AND w.last_heartbeat >= now() - make_interval(secs => :seconds)
          )
        ORDER BY j.id
        FOR UPDATE OF j
    ) AS stalled
    """
)


def conninfo_from_sqlalchemy_url(url: str) -> str:
    """`postgresql+psycopg://...` (SQLAlchemy) to `postgresql://...` (libpq, for procrastinate's psycopg pool)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise ValueError(f"procrastinate needs PostgreSQL, not {parsed.get_backend_name()!r}")
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def procrastinate_schema_sql() -> str:
    """procrastinate's whole schema, for the Alembic migration to execute on PostgreSQL."""
    return str(SchemaManager.get_schema())


class _BurialError(Exception):
    """on_dead or the failure record did not commit: the job must not die unrecorded, so it is retried."""


def _is_last_attempt(job: Job, attempts: int) -> bool:
    # procrastinate's job.attempts counts the attempts before the running one.
    return job.attempts + 1 >= attempts


class _Backoff(BaseRetryStrategy):
    """db_queue's rule: `attempts` runs in all, the n-th failure waiting backoff(n) before the next run."""

    def __init__(self, attempts: int, base_seconds: float) -> None:
        self.attempts = attempts
        self.base_seconds = base_seconds

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if _is_last_attempt(job, self.attempts) and not isinstance(exception, _BurialError):
            return None
        return RetryDecision(retry_at=utcnow() + backoff(job.attempts + 1, self.base_seconds))


class ProcrastinateQueue:
    def __init__(
        self,
        engine: Engine,
        conninfo: str,
        *,
        max_attempts: int = 5,
        retry_base_seconds: float = 2.0,
        concurrency: int = 4,
        poll_seconds: float = 1.0,
        stalled_worker_seconds: float = 60.0,
    ) -> None:
        self.engine = engine
        self.conninfo = conninfo
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.concurrency = concurrency
        # Retries and delayed jobs send no notification: polling is how a worker sees them come due.
        self.poll_seconds = poll_seconds
        # A worker silent (no heartbeat) this long is dead: its jobs run again. It beats three times as often.
        self.stalled_worker_seconds = stalled_worker_seconds

    # -- the port ---------------------------------------------------------------------------------------

    def enqueue(self, conn: Connection, job: JobRequest) -> bool:
        return self.enqueue_many(conn, [job])[0]

    def enqueue_many(self, conn: Connection, requests: Sequence[JobRequest]) -> list[bool]:
        decisions = register_keys(conn, requests)
        rows = [
            {"queue": QUEUE, "task": job.task, "args": json.dumps(dict(job.payload)), "scheduled_at": job.run_at}
            for job, fresh in zip(requests, decisions, strict=True)
            if fresh
        ]
        if rows:
            conn.execute(_DEFER, rows)
        return decisions

    def dead_jobs(self, conn: Connection, limit: int = 100) -> list[DeadJob]:
        rows = conn.execute(_DEAD_JOBS, {"limit": limit}).mappings()
        return [DeadJob(r["id"], r["task_name"], r["args"], r["attempts"], r["error"], r["failed_at"]) for r in rows]

    def requeue(self, conn: Connection, job_id: int) -> bool:
        if conn.execute(_REQUEUE, {"job_id": job_id}).first() is None:
            return False
        conn.execute(delete(job_failures).where(job_failures.c.job_id == job_id))  # it may die again
        return True

    def pending_count(self, conn: Connection) -> int:
        return int(conn.scalar(_PENDING) or 0)

    def run_worker(self, ctx: TaskContext, tasks: Mapping[str, TaskSpec], stop: threading.Event) -> None:
        name = f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"
        log.info("procrastinate worker %s started", name)
        asyncio.run(self._serve(self._app(ctx, tasks), name, tasks, stop))
        log.info("procrastinate worker %s stopped", name)

    # -- the worker -------------------------------------------------------------------------------------

    def _app(self, ctx: TaskContext, tasks: Mapping[str, TaskSpec]) -> App:
        connector = PsycopgConnector(conninfo=self.conninfo, min_size=1, max_size=self.concurrency + 2)
        app = App(connector=connector)
        for spec in tasks.values():
            attempts = spec.max_attempts or self.max_attempts
            retry = _Backoff(attempts, self.retry_base_seconds)
            app.task(name=spec.name, pass_context=True, retry=retry)(self._job_fn(ctx, spec, attempts))
        return app

    def _job_fn(self, ctx: TaskContext, spec: TaskSpec, attempts: int) -> Callable[..., None]:
        def run(job_ctx: JobContext, **payload: Any) -> None:
            try:
                spec.run(ctx, payload)
            except Exception:
                if _is_last_attempt(job_ctx.job, attempts):
                    self._bury(ctx, spec, job_ctx.job, payload, traceback.format_exc(limit=20))
                raise

        return run

    def _bury(self, ctx: TaskContext, spec: TaskSpec, job: Job, payload: dict[str, Any], error: str) -> None:
        """Record the error and call on_dead in one transaction, before procrastinate marks the job failed."""
        try:
            with ctx.engine.begin() as conn:
                row = {"job_id": job.id, "task": spec.name, "error": error, "failed_at": utcnow()}
                # Already there: this is a re-run of a job whose worker died just after burying it.
                if insert_ignore(conn, job_failures, row) and spec.on_dead is not None:
                    spec.on_dead(ctx, conn, payload, error)
        except Exception as exc:
            log.exception("job %s (%s) could not be made a dead job; retrying it", job.id, spec.name)
            raise _BurialError(f"job {job.id} could not be made a dead job") from exc

    async def _serve(self, app: App, name: str, tasks: Mapping[str, TaskSpec], stop: threading.Event) -> None:
        # Sync tasks run in the default executor: size it so that `concurrency` jobs really run at once.
        executor = ThreadPoolExecutor(self.concurrency + 2, thread_name_prefix="procrastinate-job")
        asyncio.get_running_loop().set_default_executor(executor)
        async with app.open_async():
            worker = asyncio.create_task(
                app.run_worker_async(
                    queues=[QUEUE],
                    name=name,
                    concurrency=self.concurrency,
                    fetch_job_polling_interval=self.poll_seconds,
                    delete_jobs=DeleteJobCondition.SUCCESSFUL,  # like db_queue: done jobs leave the queue
                    install_signal_handlers=False,  # our caller owns signals and sets `stop`
                    stalled_worker_timeout=self.stalled_worker_seconds,
                    update_heartbeat_interval=self.stalled_worker_seconds / 3,
                )
            )
            try:
                await self._tend(tasks, stop, worker)
            finally:
                worker.cancel()  # procrastinate then fetches no more jobs and waits for the running ones
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
        if not stop.is_set():  # e.g. its heartbeat failed: fail loudly, as db_queue does, for a restart
            raise RuntimeError("the procrastinate worker stopped by itself; see its log")

    async def _tend(self, tasks: Mapping[str, TaskSpec], stop: threading.Event, worker: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        schedule = PeriodicSchedule(tasks)
        next_stalled_check = 0.0
        while not stop.is_set() and not worker.done():
            await self._schedule_periodic(schedule)
            if loop.time() >= next_stalled_check:
                await self._maintain(self._rerun_stalled)
                next_stalled_check = loop.time() + self.stalled_worker_seconds / 2
            await asyncio.sleep(TICK_SECONDS)

    async def _schedule_periodic(self, schedule: PeriodicSchedule) -> None:
        now = utcnow()
        due = schedule.due(now)
        if not due or await self._maintain(lambda: self._enqueue_all(due)):
            schedule.enqueued(now)

    async def _maintain(self, step: Callable[[], None]) -> bool:
        """Run a blocking upkeep step off the event loop; a failure is logged and the step tried again later."""
        try:
            await asyncio.to_thread(step)
        except Exception:
            log.exception("queue upkeep failed; will try again")
            return False
        return True

    def _enqueue_all(self, requests: list[JobRequest]) -> None:
        with self.engine.begin() as conn:
            self.enqueue_many(conn, requests)

    def _rerun_stalled(self) -> None:
        with self.engine.begin() as conn:
            for job_id, _ in conn.execute(_RERUN_STALLED, {"seconds": self.stalled_worker_seconds}):
                log.warning("job %s was running on a worker that died; it will run again", job_id)
