"""The `signalement` command as a user runs it: real processes, a real server on a loopback port."""

from __future__ import annotations

import os
import re
import signal
import smtplib
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from benchmarks.ingest import wait_ready
from benchmarks.mailgen import messages
from sqlalchemy import update

from signalement.store.db import make_engine
from signalement.store.tables import audit_log
from tests.pg import free_port

BIN = Path(sys.executable).parent / "signalement"


def env_for(data: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALEMENT_")}
    return env | {"SIGNALEMENT_DATA_DIR": str(data)} | extra


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), *args], env=env_for(data), capture_output=True, text=True, timeout=60)


def test_db_upgrade_is_idempotent(tmp_path: Path) -> None:
    assert run(tmp_path, "db", "upgrade").returncode == 0
    second = run(tmp_path, "db", "upgrade")
    assert second.returncode == 0 and "up to date" in second.stdout


def test_user_create_prints_a_working_token_once_and_is_audited(tmp_path: Path) -> None:
    created = run(tmp_path, "user", "create", "analyst@example.org", "--role", "analyst")
    assert created.returncode == 0, created.stderr
    token = re.search(r"(sig_\S+)", created.stdout)
    assert token is not None
    assert token.group(1) not in (tmp_path / "signalement.db").read_bytes().decode("latin-1")  # only its hash
    duplicate = run(tmp_path, "user", "create", "analyst@example.org")
    assert duplicate.returncode != 0

    assert run(tmp_path, "audit", "verify").returncode == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'signalement.db'}")
    with engine.begin() as conn:
        conn.execute(update(audit_log).values(actor="someone else"))
    engine.dispose()
    tampered = run(tmp_path, "audit", "verify")
    assert tampered.returncode == 1 and "broken at entry 1" in tampered.stderr


def test_serve_first_start_creates_an_admin_and_takes_reports(tmp_path: Path) -> None:
    port, smtp_port = free_port(), free_port()
    server = subprocess.Popen(
        [str(BIN), "serve", "--port", str(port)],
        env=env_for(tmp_path, SIGNALEMENT_SMTP_PORT=str(smtp_port)),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    output: list[str] = []
    try:
        token = None
        deadline = time.monotonic() + 60
        assert server.stdout is not None
        while token is None and time.monotonic() < deadline:
            line = server.stdout.readline()
            output.append(line)
            if match := re.search(r"API token: (sig_\S+)", line):
                token = match.group(1)
        assert token, "".join(output)
        assert "admin@localhost" in "".join(output)
        wait_ready(base, 30.0, server)
        raw = next(messages(1))
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "message/rfc822"}
        ack = httpx.post(f"{base}/api/v1/reports", content=raw, headers=headers)
        assert ack.status_code == 202
        report_url = ack.json()["status_url"]
        assert report_url == f"{base}/api/v1/reports/{ack.json()['id']}"
        _wait_status(report_url, token, "analyzed")  # the worker process beside the server did it
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=30) as client:  # and the report address answers
            refused = client.sendmail("someone@example.net", ["report@localhost"], next(messages(2, seed=7)))
        assert refused == {}
        server.send_signal(signal.SIGTERM)  # as a service manager stops it: the worker process stops too
        assert server.wait(60) == 0
        group = subprocess.run(["ps", "-o", "pid=,args=", "-g", str(server.pid)], capture_output=True, text=True)
        alive = [line for line in group.stdout.splitlines() if "<defunct>" not in line]  # a container's init may
        assert alive == []  # not reap the exited: nothing of the group still runs
    finally:
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait(30)


def _wait_status(url: str, token: str, status: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if httpx.get(url, headers={"Authorization": f"Bearer {token}"}).json()["status"] == status:
            return
        time.sleep(0.1)
    pytest.fail(f"report never reached {status}")


def test_serve_says_clearly_when_the_smtp_port_is_taken(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = env_for(tmp_path, SIGNALEMENT_SMTP_PORT=str(port), SIGNALEMENT_PORT=str(free_port()))
        done = subprocess.run([str(BIN), "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr and "SIGNALEMENT_SMTP=false" in done.stderr
