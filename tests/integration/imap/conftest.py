"""A real Dovecot for the module (tests/dovecot.py), a fresh mailbox per test, and what a test needs to fill it, run
the poller against it, and read what the platform stored."""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from imapclient import IMAPClient  # type: ignore[import-untyped]
from sqlalchemy import select

from signalement.domain.accounts import Role
from signalement.imap.runner import ImapPollers
from signalement.platform import Platform
from signalement.settings import ImapSource
from signalement.store.accounts import create_user
from signalement.store.tables import imap_folders, reports
from tests.dovecot import PASSWORD, Dovecot

MAIL = Path(__file__).parents[2] / "fixtures" / "mail"
REAL = ["phishing-openphish-url-html.eml", "spam-html-moneytrack-top.eml", "spam-2001-ip-literal-url.eml"]
FAST = {"backoff_seconds": 0.1, "backoff_cap_seconds": 0.5}  # reconnect at once in tests

_boxes = itertools.count(1)


def real_mail(name: str) -> bytes:
    return (MAIL / name).read_bytes()


def made_up(n: int, size: int = 0) -> bytes:
    """A small message of reserved names, different for each n (`size` pads it)."""
    return (
        f"From: Colis <service@colis-suivi.example>\r\nTo: someone@example.net\r\nSubject: Colis {n}\r\n"
        f"Message-ID: <colis-{n}@colis-suivi.example>\r\nDate: Thu, 26 Nov 2026 10:00:00 +0100\r\n\r\n"
        f"Votre colis {n} attend : https://colis-suivi.example/pay\r\n" + "x" * size + "\r\n"
    ).encode()


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def dovecot() -> Iterator[Dovecot]:
    server = Dovecot().start()
    yield server
    server.cleanup()


@dataclass
class Box:
    """One user's mailbox on the test Dovecot, and the platform the poller stores into."""

    server: Dovecot
    user: str
    platform: Platform
    reporter: str

    def client(self) -> IMAPClient:
        return self.server.client(self.user)

    def append(self, *raws: bytes, folder: str = "INBOX") -> None:
        with self.client() as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            for raw in raws:
                client.append(folder, raw)

    def flags(self, folder: str = "INBOX") -> dict[int, set[str]]:
        with self.client() as client:
            if not client.folder_exists(folder):
                return {}
            client.select_folder(folder, readonly=True)
            uids = client.search(["ALL"])
            fetched = client.fetch(uids, ["FLAGS"]) if uids else {}
            return {uid: {f.decode() for f in data[b"FLAGS"]} for uid, data in fetched.items()}

    def source(self, **changes: Any) -> ImapSource:
        values: dict[str, Any] = {
            "name": f"box-{self.user}",
            "host": "127.0.0.1",
            "port": self.server.port,
            "security": "none",
            "username": self.user,
            "password": PASSWORD,
            "reporter": self.reporter,
            "poll_seconds": 3600.0,
        }
        return ImapSource(**(values | changes))

    def pollers(self, source: ImapSource | None = None, **options: Any) -> ImapPollers:
        return ImapPollers(self.platform, [source or self.source()], **(FAST | options))

    def reports(self) -> list[Any]:
        with self.platform.engine.connect() as conn:
            return list(conn.execute(select(reports).order_by(reports.c.id)))

    def position(self, folder: str = "INBOX") -> Any:
        with self.platform.engine.connect() as conn:
            return conn.execute(select(imap_folders).where(imap_folders.c.folder == folder)).first()

    def pending_jobs(self) -> int:
        with self.platform.engine.connect() as conn:
            return self.platform.queue.pending_count(conn)


@pytest.fixture
def box(dovecot: Dovecot, platform: Platform) -> Box:
    n = next(_boxes)
    email = f"owner-{n}@example.org"
    with platform.engine.begin() as conn:
        create_user(conn, email, Role.REPORTER)
    return Box(dovecot, f"user{n}", platform, email)


@pytest.fixture
def running() -> Iterator[Callable[[ImapPollers], ImapPollers]]:
    """Starts pollers in their threads, and stops them after the test whatever happens."""
    started: list[ImapPollers] = []

    def start(pollers: ImapPollers) -> ImapPollers:
        pollers.start()
        started.append(pollers)
        return pollers

    yield start
    for pollers in started:
        pollers.stop()
