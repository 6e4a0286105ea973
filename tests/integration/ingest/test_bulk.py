"""Bulk import: mbox files, Maildir folders and folders of .eml files taken in as reports, on a real database, with
progress that survives an interruption and memory that stays flat."""

from __future__ import annotations

import hashlib
import os
import random
import re
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from signalement.domain.accounts import Role
from signalement.domain.reports import Channel, ReportedCategory, ReportKind
from signalement.ingest import bulk, import_progress, mailstream
from signalement.ingest.bulk import BulkImport, BulkImportError, Origin, resolve_origin
from signalement.ingest.bulk_result import ImportResult
from signalement.ingest.mailfiles import sources
from signalement.ingest.mailstream import Piece, mbox_messages
from signalement.platform import Platform
from signalement.settings import FeedSource, TrapSource
from signalement.store.accounts import create_user
from signalement.store.tables import import_progress as progress_table
from signalement.store.tables import reports

FIXTURES = Path(__file__).parents[2] / "fixtures"
SEPARATOR = b"From sender@example.com Fri Nov 27 05:00:00 2026\n"


def message(index: int, body: bytes = b"Votre colis est en attente.\n") -> bytes:
    head = f"From: service@colis-{index}.example\nTo: victim@example.org\nSubject: colis {index}\n"
    return head.encode() + f"Message-ID: <{index}@colis.example>\n\n".encode() + body


def mbox(messages: Sequence[bytes]) -> bytes:
    """mboxrd: body lines starting with "From " or ">From " (any number of ">") get one more ">"."""
    return b"".join(SEPARATOR + re.sub(rb"(?m)^(>*From )", rb">\1", m) + b"\n" for m in messages)


def run(platform: Platform, paths: Sequence[Path], origin: Origin | None = None, batch: int = 500) -> ImportResult:
    return BulkImport(platform, origin or resolve_origin(platform), batch=batch).run(paths)


def stored(platform: Platform) -> list[dict[str, object]]:
    with platform.engine.connect() as conn:
        return [dict(r) for r in conn.execute(select(reports).order_by(reports.c.id)).mappings()]


def report_count(platform: Platform) -> tuple[int, int]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(func.count(), func.count(reports.c.sha256.distinct())).select_from(reports)).one()
    return int(row[0]), int(row[1])


def sha(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


# -- what is read, and from where ----------------------------------------------------------------------------


def test_mbox_maildir_and_eml_folders_each_message_once(platform: Platform, tmp_path: Path) -> None:
    quoted = message(1, b"Hello\nFrom the start of a line\n>From a quoted line\n\nFrom here too\n")
    box = tmp_path / "archive.mbox"
    box.write_bytes(mbox([message(0), quoted, message(2)]))
    maildir = tmp_path / "Maildir"
    for sub in ("cur", "new", "tmp"):
        (maildir / sub).mkdir(parents=True)
    (maildir / "cur" / "1700000000.1.host:2,S").write_bytes(message(3))
    (maildir / "new" / "1700000001.2.host").write_bytes(message(4))
    (maildir / "tmp" / "1700000002.3.host").write_bytes(message(5))  # being delivered: not a message yet
    eml = tmp_path / "reports"
    (eml / "2026" / "11").mkdir(parents=True)
    (eml / "a.eml").write_bytes(message(6))
    (eml / "2026" / "11" / "b.eml").write_bytes(message(7).replace(b"\n", b"\r\n"))
    (eml / "notes.txt").write_text("not mail")

    result = run(platform, [box, maildir, eml], resolve_origin(platform, category=ReportedCategory.PHISHING))

    assert (result.taken, result.duplicates, result.rejected_count, result.files) == (7, 0, 0, 5)
    rows = stored(platform)
    assert len(rows) == 7
    assert {r["channel"] for r in rows} == {Channel.IMPORT}
    assert {r["submitter"] for r in rows} == {"import:cli"}
    assert {r["reported_category"] for r in rows} == {ReportedCategory.PHISHING}
    assert {r["source"] for r in rows} == {None} and {r["trap"] for r in rows} == {False}
    assert {r["kind"] for r in rows} == {ReportKind.MESSAGE}
    second = rows[1]["sha256"]
    assert isinstance(second, str)
    raw = platform.blobs.get(second)
    assert raw == quoted + b"\n"  # unquoted once, with the mbox's separating empty line, as `analyze` reads it
    assert raw == next(s.read() for s in sources([box]) if s.index == 1)
    assert sha(message(7).replace(b"\n", b"\r\n")) in {r["sha256"] for r in rows}
    with platform.engine.connect() as conn:
        assert platform.queue.pending_count(conn) == 7  # only the analyses: an import is never acknowledged

    again = run(platform, [box, maildir, eml])
    assert (again.taken, again.duplicates, again.skipped, again.bytes) == (0, 0, 5, 0)
    assert report_count(platform) == (7, 7)


def test_a_changed_file_is_read_again_and_only_its_new_messages_are_taken(platform: Platform, tmp_path: Path) -> None:
    box = tmp_path / "inbox"  # an mbox known by its first line, without a suffix
    box.write_bytes(mbox([message(i) for i in range(5)]))
    assert run(platform, [box], batch=2).taken == 5
    with box.open("ab") as f:
        f.write(mbox([message(5)]))
    again = run(platform, [box], batch=2)
    assert (again.taken, again.duplicates, again.resumed, again.skipped) == (1, 5, 0, 0)
    assert report_count(platform) == (6, 6)


def test_the_same_bytes_twice_in_an_import_are_one_report(platform: Platform, tmp_path: Path) -> None:
    (tmp_path / "a.eml").write_bytes(message(1))
    (tmp_path / "b.eml").write_bytes(message(1))
    result = run(platform, [tmp_path])
    assert (result.taken, result.duplicates) == (1, 1)


# -- who the reports are from ---------------------------------------------------------------------------------


def test_reporter_feed_and_trap_origins(platform: Platform, tmp_path: Path) -> None:
    with platform.engine.begin() as conn:
        user_id = create_user(conn, "Owner@Example.org", Role.REPORTER)
    platform.settings.feeds = [FeedSource(name="bigmail", secret="a" * 16)]
    platform.settings.traps = [TrapSource(name="honeypot")]
    arf = (FIXTURES / "arf" / "rfc5965-b1-minimal.eml").read_bytes()
    (tmp_path / "one.eml").write_bytes(message(1))
    (tmp_path / "arf.eml").write_bytes(arf)

    by_user = run(platform, [tmp_path], resolve_origin(platform, reporter=" owner@example.org "))
    by_feed = run(platform, [tmp_path], resolve_origin(platform, source="bigmail"))
    by_trap = run(platform, [tmp_path], resolve_origin(platform, source="honeypot"))
    labelled = run(platform, [tmp_path], resolve_origin(platform, label="archive-2019"))

    assert [r.taken for r in (by_user, by_feed, by_trap, labelled)] == [2, 2, 2, 2]  # one progress per submitter
    rows = {(r["submitter"], r["sha256"]): r for r in stored(platform)}
    arf_row = rows["feed:bigmail", sha(arf)]
    assert (arf_row["kind"], arf_row["feedback"], arf_row["source"], arf_row["trap"]) == (
        ReportKind.ARF,
        "complaint",
        "bigmail",
        False,
    )
    trap_row = rows["trap:honeypot", sha(message(1))]
    assert (trap_row["source"], trap_row["trap"], trap_row["reporter_id"]) == ("honeypot", True, None)
    user_row = rows[f"user:{user_id}", sha(message(1))]
    assert (user_row["reporter_id"], user_row["source"], user_row["trap"]) == (user_id, None, False)
    assert ("import:archive-2019", sha(message(1))) in rows
    with platform.engine.connect() as conn:
        assert platform.queue.pending_count(conn) == 8  # no acknowledgement by mail for anyone

    with pytest.raises(BulkImportError, match="no active user"):
        resolve_origin(platform, reporter="nobody@example.org")
    with pytest.raises(BulkImportError, match="bigmail, honeypot"):
        resolve_origin(platform, source="unknown")
    with pytest.raises(BulkImportError, match="one of"):
        resolve_origin(platform, source="bigmail", label="x")
    with pytest.raises(BulkImportError, match="a label"):
        resolve_origin(platform, label="Not A Label")


# -- what is refused --------------------------------------------------------------------------------------------


def test_rejections_are_counted_with_why_and_do_not_stop_the_import(platform: Platform, tmp_path: Path) -> None:
    platform.settings.max_message_bytes = 2048
    big = message(2, b"x" * 3000 + b"\n")
    box = tmp_path / "mixed.mbox"
    box.write_bytes(mbox([message(0), big, b"", message(3)]) + SEPARATOR)  # ... and an empty last message
    (tmp_path / "big.eml").write_bytes(big)
    (tmp_path / "empty.eml").write_bytes(b"")
    (tmp_path / "notmail.eml").write_bytes(b"just some text, not a message\n")
    (tmp_path / "z.eml").write_bytes(message(4))

    result = run(platform, [tmp_path], batch=2)

    assert (result.taken, result.rejected_count) == (3, 6)
    assert result.rejected == {
        "over the limit of 2,048 bytes": 2,
        "the message is empty": 3,
        "the data does not start with a header field (name: value)": 1,
    }
    named = dict(result.examples)
    assert named[f"{box}#1"] == "over the limit of 2,048 bytes"
    assert named[f"{box}#2"] == named[f"{box}#4"] == named[str(tmp_path / "empty.eml")] == "the message is empty"
    assert named[str(tmp_path / "big.eml")] == "over the limit of 2,048 bytes"
    text = "\n".join(result.summary())
    assert "rejected:   6" in text and f"{box}#1: over the limit" in text
    assert report_count(platform) == (3, 3)
    assert run(platform, [tmp_path]).skipped == 5  # rejected messages are not tried again: their files are done


def test_an_unreadable_file_is_rejected_and_tried_again_next_time(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "a.eml").write_bytes(message(1))
    (tmp_path / "b.eml").write_bytes(message(2))
    real = mailstream.read_file

    def flaky(path: Path, limit: int) -> Piece:
        if path.name == "a.eml":
            raise PermissionError(13, "Permission denied")
        return real(path, limit)

    monkeypatch.setattr(bulk, "read_file", flaky)
    first = run(platform, [tmp_path])
    assert (first.taken, dict(first.rejected)) == (1, {"unreadable: Permission denied": 1})
    monkeypatch.setattr(bulk, "read_file", real)
    second = run(platform, [tmp_path])
    assert (second.taken, second.skipped) == (1, 1)


# -- interruptions --------------------------------------------------------------------------------------------


class Interrupted(KeyboardInterrupt):
    pass


def _failing_on(call: int, real: Callable[..., Any]) -> Callable[..., Any]:
    calls = 0

    def failing(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            raise Interrupted
        return real(*args)

    return failing


class _StopAfter:
    """A progress sink that interrupts the import (as Ctrl-C would) once `batches` batches are recorded."""

    def __init__(self, batches: int) -> None:
        self.left = batches

    def skip(self, nbytes: int) -> None:
        pass

    def advance(self, messages: int, nbytes: int) -> None:
        self.left -= 1
        if self.left == 0:
            raise Interrupted


def _progress(platform: Platform) -> tuple[int, int, object]:
    with platform.engine.connect() as conn:
        row = conn.execute(select(progress_table)).one()
    return row.done_messages, row.done_offset, row.finished_at


def test_a_failed_batch_is_resumed_from_the_last_one_recorded(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raws = [message(i) for i in range(50)]
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox(raws))
    ends = [s.offset + s.length for s in sources([box])]
    real = platform.intake.accept_all
    monkeypatch.setattr(platform.intake, "accept_all", _failing_on(3, real))
    job = BulkImport(platform, resolve_origin(platform), batch=10, in_flight=1)
    with pytest.raises(Interrupted):
        job.run([box])
    assert job.result.taken == 20 and job.result.elapsed > 0
    assert report_count(platform) == (20, 20)
    assert _progress(platform) == (20, ends[19], None)

    monkeypatch.setattr(platform.intake, "accept_all", real)
    resumed = run(platform, [box], batch=10)
    assert (resumed.resumed, resumed.taken, resumed.duplicates) == (1, 30, 0)
    assert resumed.bytes == box.stat().st_size - ends[19]
    assert report_count(platform) == (50, 50)
    assert {r["sha256"] for r in stored(platform)} == {sha(raw + b"\n") for raw in raws}


def test_with_two_batches_in_flight_a_failure_is_never_recorded_past(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox([message(i) for i in range(50)]))
    real = platform.intake.accept_all
    monkeypatch.setattr(platform.intake, "accept_all", _failing_on(3, real))
    with pytest.raises(Interrupted):
        BulkImport(platform, resolve_origin(platform), batch=10, in_flight=2).run([box])
    assert _progress(platform)[0] == 20  # the fourth batch may be stored (it was in flight), never recorded
    assert report_count(platform)[0] in (20, 30)
    monkeypatch.setattr(platform.intake, "accept_all", real)
    resumed = run(platform, [box], batch=10)
    assert resumed.taken + resumed.duplicates == 30
    assert report_count(platform) == (50, 50)


def test_an_interruption_keeps_the_batches_in_flight(platform: Platform, tmp_path: Path) -> None:
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox([message(i) for i in range(50)]))
    with pytest.raises(Interrupted):
        BulkImport(platform, resolve_origin(platform), batch=10, progress=_StopAfter(2)).run([box])
    assert report_count(platform) == (30, 30)  # Ctrl-C while the second is recorded: the third was sent, and kept
    assert _progress(platform)[0] == 30
    resumed = run(platform, [box], batch=10)
    assert (resumed.taken, resumed.duplicates) == (20, 0)


def test_a_crash_between_the_reports_and_the_progress_reads_one_batch_again(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = tmp_path / "big.mbox"
    box.write_bytes(mbox([message(i) for i in range(30)]))
    real = import_progress.save
    monkeypatch.setattr(import_progress, "save", _failing_on(2, real))
    with pytest.raises(Interrupted):
        BulkImport(platform, resolve_origin(platform), batch=10, in_flight=1).run([box])
    assert report_count(platform) == (20, 20)  # the second batch's reports are in, its progress is not
    monkeypatch.setattr(import_progress, "save", real)
    resumed = run(platform, [box], batch=10)
    assert (resumed.taken, resumed.duplicates) == (10, 10)
    assert report_count(platform) == (30, 30)


# -- the reader -------------------------------------------------------------------------------------------------

_LINES = [b"From a@b Mon\n", b"\n", b"\r\n", b"From: x\n", b">From q\n", b"body\n", b"From \n", b"From", b"\r\r\n"]
_LINES += [b"xFrom y\n", b">>From z\n", b"abc"]


def _soups(count: int) -> Iterator[bytes]:
    rng = random.Random(7)
    for _ in range(count):
        yield b"".join(rng.choice(_LINES) for _ in range(rng.randrange(0, 30)))


def test_the_streaming_reader_splits_as_mailfiles_does_from_any_boundary(tmp_path: Path) -> None:
    box = tmp_path / "x.mbox"
    for data in _soups(400):
        box.write_bytes(data)
        want = [(s.name, s.read(), s.offset + s.length) for s in sources([box])]
        for block in (1, 3, 64):
            assert [(m.name, m.raw, m.end) for m in mbox_messages(box, 10**6, block=block)] == want, data
            for k, (_, _, end) in enumerate(want[:-1]):
                got = [(m.name, m.raw, m.end) for m in mbox_messages(box, 10**6, start=end, index=k + 1, block=block)]
                assert got == want[k + 1 :], data
        limited = [(m.name, m.raw, m.size) for m in mbox_messages(box, 5, block=3)]
        assert limited == [(s.name, s.read() if s.length <= 5 else None, s.length) for s in sources([box])], data


def test_a_message_over_the_limit_is_measured_not_kept(tmp_path: Path) -> None:
    box = tmp_path / "x.mbox"
    box.write_bytes(mbox([message(0), message(1, b"y" * 5_000_000 + b"\n"), message(2)]))
    found = list(mbox_messages(box, 100_000, block=4096))
    assert [m.raw is None for m in found] == [False, True, False]
    assert found[1].size > 5_000_000 and found[2].raw == message(2) + b"\n"


# -- scale ----------------------------------------------------------------------------------------------------


def _rss_kb(field: str = "VmRSS") -> int:
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), re.MULTILINE)
    assert match
    return int(match.group(1))


class _Memory:
    """The process's resident memory over the import: a baseline after the first batches, then its peak (the
    kernel's high-water mark, reset at the baseline); interrupts the import after `stop_after` batches."""

    def __init__(self, stop_after: int | None = None) -> None:
        self.batches, self.stop_after = 0, stop_after
        self.baseline: int | None = None

    def skip(self, nbytes: int) -> None:
        pass

    def advance(self, messages: int, nbytes: int) -> None:
        self.batches += 1
        if self.batches == 3:
            Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
            self.baseline = _rss_kb()
        if self.batches == self.stop_after:
            raise Interrupted

    def growth_mb(self) -> float:
        """Call at the end of the run."""
        assert self.baseline is not None
        return (_rss_kb("VmHWM") - self.baseline) / 1024


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux /proc")
def test_100000_messages_in_flat_memory_each_once_across_an_interruption(platform: Platform, tmp_path: Path) -> None:
    count, batch = 100_000, 2000
    box = tmp_path / "big.mbox"
    with box.open("wb", buffering=1 << 20) as out:
        for i in range(count):
            out.write(SEPARATOR + message(i, b"Confirmez votre livraison: https://colis.example/%d\n" % i * 6) + b"\n")
    size_mb = os.path.getsize(box) / 2**20
    origin = resolve_origin(platform)

    first = _Memory(stop_after=20)
    with pytest.raises(Interrupted):
        BulkImport(platform, origin, batch=batch, progress=first).run([box])
    growth = [first.growth_mb()]
    assert report_count(platform) == (21 * batch, 21 * batch)  # the batch in flight at the interruption is kept

    rest = _Memory()
    result = BulkImport(platform, origin, batch=batch, progress=rest).run([box])
    growth.append(rest.growth_mb())
    assert (result.resumed, result.taken, result.duplicates) == (1, count - 21 * batch, 0)
    assert report_count(platform) == (count, count)
    # Flat: the file is ~47 MiB; the import holds one batch (~1 MB) and its bookkeeping, whatever the file's size.
    assert size_mb > 40
    assert max(growth) < 25, (growth, size_mb)

    again = run(platform, [box], batch=batch)
    assert (again.taken, again.skipped, again.messages) == (0, 1, 0)
    assert report_count(platform) == (count, count)
