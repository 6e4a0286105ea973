"""Fixtures shared by the whole suite.

Every test that takes `platform` runs twice: on SQLite and on a real PostgreSQL that the session starts itself
(initdb + pg_ctl on a free loopback port). Each test gets a fresh database, copied from a migrated template.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.accounts import create_user, issue_token
from signalement.store.db import make_engine
from signalement.store.migrate import upgrade
from signalement.web.app import create_app
from signalement.work.tasks import all_tasks
from tests.pg import PostgresServer

_counter = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    server = PostgresServer().start()
    template = server.create_database("signalement_template")
    engine = make_engine(template, pool_size=1)
    upgrade(engine)
    engine.dispose()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'signalement.db'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    name = f"t{os.getpid()}_{next(_counter)}"
    admin = make_engine(server.url(), pool_size=1).execution_options(isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}" TEMPLATE signalement_template'))
    admin.dispose()
    return server.url(name)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        secret_key="test-secret",
        job_retry_base_seconds=0.01,
        basic_auth_cache_seconds=60,
    )


@pytest.fixture
def platform(settings: Settings) -> Iterator[Platform]:
    platform = Platform(settings)
    upgrade(platform.engine)
    yield platform
    platform.close()


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    with TestClient(create_app(platform), client=("127.0.0.1", 50000)) as test_client:
        yield test_client


class Users:
    """Creates users of any role, each with a token; remembers them for the test."""

    def __init__(self, platform: Platform) -> None:
        self.platform = platform

    def create(self, role: Role = Role.REPORTER, *, password: str | None = None) -> tuple[int, str]:
        email = f"{role}-{next(_counter)}@example.org"
        with self.platform.engine.begin() as conn:
            user_id = create_user(conn, email, role, password=password)
            return user_id, issue_token(conn, user_id, name="test")

    def headers(self, role: Role = Role.REPORTER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.create(role)[1]}"}


@pytest.fixture
def users(platform: Platform) -> Users:
    return Users(platform)


def run_jobs_until_idle(platform: Platform, timeout: float = 30.0) -> None:
    """Run a real worker in a thread until no job is pending (or fail after `timeout`)."""
    stop = threading.Event()
    worker = threading.Thread(
        target=platform.queue.run_worker, args=(platform.task_context(), all_tasks(), stop), daemon=True
    )
    worker.start()
    try:
        deadline = threading.Event()
        for _ in range(int(timeout / 0.05)):
            with platform.engine.connect() as conn:
                if platform.queue.pending_count(conn) == 0:
                    return
            deadline.wait(0.05)
        raise AssertionError("jobs still pending after the timeout")
    finally:
        stop.set()
        worker.join(10)
