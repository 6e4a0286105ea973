"""Wires settings to adapters: the engine, the blob store, the queue backend and the intake."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from signalement.ingest.intake import Intake
from signalement.settings import Settings
from signalement.store.blobs import FileBlobStore
from signalement.store.credentials import BasicCache, Credentials
from signalement.store.db import make_engine
from signalement.work.db_queue import DatabaseQueue
from signalement.work.port import JobQueue, TaskContext


@dataclass
class Platform:
    settings: Settings
    # Workers set this False: all they write (results, job states) is recomputed if lost, see make_engine.
    durable_commits: bool = True

    @cached_property
    def engine(self) -> Engine:
        if self.settings.is_sqlite:
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        return make_engine(self.settings.effective_database_url, durable=self.durable_commits)

    @cached_property
    def secret(self) -> bytes:
        """The server secret for keyed hashes, read once (it may live in a file in data_dir)."""
        return self.settings.server_secret()

    @cached_property
    def blobs(self) -> FileBlobStore:
        return FileBlobStore(self.settings.effective_blob_dir)

    @cached_property
    def queue(self) -> JobQueue:
        s = self.settings
        if s.effective_queue_backend == "procrastinate":
            from signalement.work.procrastinate_queue import ProcrastinateQueue, conninfo_from_sqlalchemy_url

            return ProcrastinateQueue(
                self.engine,
                conninfo_from_sqlalchemy_url(s.effective_database_url),
                max_attempts=s.job_max_attempts,
                retry_base_seconds=s.job_retry_base_seconds,
                stalled_worker_seconds=s.job_lease_seconds,
            )
        return DatabaseQueue(
            self.engine,
            max_attempts=s.job_max_attempts,
            retry_base_seconds=s.job_retry_base_seconds,
            lease_seconds=s.job_lease_seconds,
        )

    @cached_property
    def credentials(self) -> Credentials:
        return Credentials(self.engine, BasicCache(self.settings.basic_auth_cache_seconds))

    @cached_property
    def intake(self) -> Intake:
        return Intake(self.engine, self.blobs, self.queue)

    def task_context(self) -> TaskContext:
        return TaskContext(self.settings, self.engine, self.blobs, self.queue)

    def close(self) -> None:
        if "engine" in self.__dict__:
            self.engine.dispose()
