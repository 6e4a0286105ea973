"""`signalement imap` (once, and until stopped) and `signalement serve` with a mailbox configured: real processes
against the test Dovecot, over the test's SQLite database."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from signalement.settings import ImapSource
from tests.integration.imap.conftest import Box, made_up, wait_for
from tests.pg import free_port

BIN = Path(sys.executable).parent / "signalement"
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def _env(box: Box, *sources: ImapSource) -> dict[str, str]:
    settings = box.platform.settings
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALEMENT_")}
    return env | {
        "SIGNALEMENT_DATA_DIR": str(settings.data_dir),
        "SIGNALEMENT_DATABASE_URL": settings.database_url,
        "SIGNALEMENT_SECRET_KEY": "test-secret",
        "SIGNALEMENT_IMAP": json.dumps([s.model_dump(mode="json") for s in sources]),
        "SIGNALEMENT_SMTP": "false",
    }


def _run(box: Box, *sources: ImapSource, args: tuple[str, ...] = ("imap", "--once")) -> Any:
    return subprocess.run([str(BIN), *args], env=_env(box, *sources), capture_output=True, text=True, timeout=60)


@SQLITE_ONLY
def test_once_takes_what_is_there_and_prints_a_summary(box: Box) -> None:
    box.append(made_up(1), made_up(2))
    done = _run(box, box.source())
    assert done.returncode == 0, done.stderr
    assert f"box-{box.user}/INBOX: 2 message(s) taken, 2 new report(s), 0 already stored, 0 refused" in done.stdout
    assert len(box.reports()) == 2


@SQLITE_ONLY
def test_once_says_what_failed(box: Box) -> None:
    missing = _run(box, box.source(reporter="nobody@example.org"))
    assert missing.returncode == 1 and "no active user" in missing.stderr
    unreachable = _run(box, box.source(port=free_port()))
    assert unreachable.returncode == 1 and "failed: ConnectionRefusedError" in unreachable.stderr
    nothing = _run(box)
    assert nothing.returncode == 1 and "no IMAP mailbox is configured" in nothing.stderr


@SQLITE_ONLY
def test_the_command_watches_until_interrupted(box: Box, tmp_path: Path) -> None:
    log = tmp_path / "imap.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [str(BIN), "imap"], env=_env(box, box.source()), stdout=out, stderr=subprocess.STDOUT
        )
    try:
        wait_for(lambda: box.position() is not None, "the first pass")
        box.append(made_up(1))
        wait_for(lambda: len(box.reports()) == 1, "the report")
        process.send_signal(signal.SIGINT)
        assert process.wait(20) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()


@SQLITE_ONLY
def test_serve_runs_the_pollers_beside_the_api(box: Box, tmp_path: Path) -> None:
    log = tmp_path / "serve.log"
    args = [str(BIN), "serve", "--no-worker", "--port", str(free_port())]
    with log.open("w") as out:
        process = subprocess.Popen(args, env=_env(box, box.source()), stdout=out, stderr=subprocess.STDOUT)
    try:
        box.append(made_up(1))
        wait_for(lambda: len(box.reports()) == 1, "the report taken by serve's poller", timeout=60)
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        assert "imap: watching 1 folder(s)" in log.read_text() and "imap: stopped" in log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
