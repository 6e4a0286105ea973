"""`signalement import` as a user runs it: a real process on a SQLite data dir, its summary, its exit status, its
progress bar on a terminal, and Ctrl-C half way then a second run."""

from __future__ import annotations

import contextlib
import fcntl
import os
import pty
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlalchemy.exc import OperationalError

from signalement.store.db import make_engine
from signalement.store.tables import import_progress, reports

BIN = Path(sys.executable).parent / "signalement"
SEPARATOR = b"From sender@example.com Fri Nov 27 05:00:00 2026\n"


def env_for(data: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIGNALEMENT_")}
    return env | {"SIGNALEMENT_DATA_DIR": str(data), "SIGNALEMENT_MAX_MESSAGE_BYTES": "4096"}


def run(data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN), "import", *args], env=env_for(data), capture_output=True, text=True, timeout=120)


def message(index: int, body: bytes = b"Votre colis est en attente.\n") -> bytes:
    return f"From: service@colis-{index}.example\nSubject: colis {index}\n\n".encode() + body


def write_mbox(path: Path, count: int, start: int = 0) -> None:
    with path.open("wb") as out:
        for i in range(start, start + count):
            out.write(SEPARATOR + message(i) + b"\n")


def counts(data: Path) -> tuple[int, int, int]:
    """Reports, distinct messages among them, and messages committed according to the import's progress."""
    engine = make_engine(f"sqlite:///{data / 'signalement.db'}", pool_size=1)
    with engine.connect() as conn:
        total, distinct = conn.execute(
            sql_select(func.count(), func.count(reports.c.sha256.distinct())).select_from(reports)
        ).one()
        done = conn.scalar(sql_select(func.coalesce(func.sum(import_progress.c.done_messages), 0)))
    engine.dispose()
    return int(total), int(distinct), int(done or 0)


def test_import_prints_a_summary_and_a_second_run_takes_nothing(tmp_path: Path) -> None:
    write_mbox(tmp_path / "a.mbox", 30)
    maildir = tmp_path / "Maildir"
    (maildir / "cur").mkdir(parents=True)
    (maildir / "cur" / "1.host:2,S").write_bytes(message(100))

    first = run(tmp_path / "data", str(tmp_path / "a.mbox"), str(maildir), "--category", "phishing")
    assert first.returncode == 0, first.stderr
    assert "31 messages from 2 files" in first.stdout and "taken:      31" in first.stdout
    assert "import" not in first.stderr  # no progress bar when stderr is not a terminal

    second = run(tmp_path / "data", str(tmp_path / "a.mbox"), str(maildir))
    assert second.returncode == 0, second.stderr
    assert "taken:      0" in second.stdout and "skipped 2 files already imported" in second.stdout
    assert counts(tmp_path / "data")[:2] == (31, 31)


def test_rejected_messages_are_listed_and_exit_1(tmp_path: Path) -> None:
    (tmp_path / "ok.eml").write_bytes(message(1))
    (tmp_path / "big.eml").write_bytes(message(2, b"x" * 5000 + b"\n"))
    (tmp_path / "empty.eml").write_bytes(b"")
    result = run(tmp_path / "data", str(tmp_path))
    assert result.returncode == 1, result.stderr
    assert "rejected:   2" in result.stdout
    assert f"{tmp_path / 'big.eml'}: over the limit of 4,096 bytes" in result.stdout
    assert f"{tmp_path / 'empty.eml'}: the message is empty" in result.stdout


def test_an_unknown_reporter_or_source_is_a_usage_error(tmp_path: Path) -> None:
    write_mbox(tmp_path / "a.mbox", 1)
    unknown = run(tmp_path / "data", "--reporter", "nobody@example.org", str(tmp_path / "a.mbox"))
    assert unknown.returncode == 2 and "no active user has the e-mail address nobody@example.org" in unknown.stderr
    source = run(tmp_path / "data", "--source", "nowhere", str(tmp_path / "a.mbox"))
    assert source.returncode == 2 and "no feedback loop or spam trap is named nowhere" in source.stderr
    assert counts(tmp_path / "data")[0] == 0


def test_the_progress_bar_shows_on_a_terminal(tmp_path: Path) -> None:
    write_mbox(tmp_path / "a.mbox", 200)
    primary, secondary = pty.openpty()
    fcntl.ioctl(secondary, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 120, 0, 0))  # a terminal 120 columns wide
    child = subprocess.Popen(
        [str(BIN), "import", "--batch", "50", str(tmp_path / "a.mbox")],
        env=env_for(tmp_path / "data"),
        stdout=subprocess.PIPE,
        stderr=secondary,
    )
    os.close(secondary)
    shown = b""
    while True:  # read the terminal as it writes, so that it never blocks
        ready, _, _ = select.select([primary], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(primary, 4096)
            except OSError:  # the child closed its end
                break
            if not chunk:
                break
            shown += chunk
        elif child.poll() is not None:
            break
    child.wait(60)
    os.close(primary)
    assert child.returncode == 0
    bar = shown.decode(errors="replace")
    assert "import: 100%" in bar and "200 messages" in bar, bar


def test_ctrl_c_keeps_what_was_committed_and_a_second_run_finishes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_mbox(tmp_path / "big.mbox", 20_000)
    child = subprocess.Popen(
        [str(BIN), "import", "--batch", "20", str(tmp_path / "big.mbox")],
        env=env_for(data),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and child.poll() is None:
        with contextlib.suppress(OperationalError):  # before the migration, no table
            if counts(data)[2] >= 200:
                break
        time.sleep(0.1)
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=60)
    assert child.returncode == 130, (out, err)
    assert "interrupted: every batch committed so far is kept" in out
    total, distinct, done = counts(data)
    assert 200 <= total == distinct < 20_000
    assert total - 20 <= done <= total  # at most the batch of the moment is in and not yet recorded

    second = run(data, str(tmp_path / "big.mbox"))
    assert second.returncode == 0, second.stderr
    assert "resumed 1 file after the last batch" in second.stdout
    assert counts(data)[:2] == (20_000, 20_000)
