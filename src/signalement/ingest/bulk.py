"""Bulk import (`signalement import`): the messages of mbox files, Maildir folders and folders of `.eml` files,
taken in as reports in batches through the durable intake (one durability barrier and one transaction per batch).

Memory stays flat whatever the size of an mbox: messages are streamed, and no more than three batches are held
(one being read, two being stored). After each committed batch, in order, each file's progress is recorded
(messages done and, for an mbox, the byte offset reached), so an interrupted import resumes after its last
committed batch; a file already imported whole, with the same size and modification time, is skipped without
being read, and a file that changed is read again from the start (the intake's de-duplication by submitter and
bytes keeps that safe).
"""

from __future__ import annotations

import contextlib
import os
import re
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from itertools import islice
from pathlib import Path
from typing import Protocol

from sqlalchemy import select

from signalement.domain.reports import Channel, ReportedCategory, ReportKind
from signalement.ingest import import_progress
from signalement.ingest.bulk_result import ImportResult
from signalement.ingest.import_progress import FileProgress
from signalement.ingest.intake import Accepted, Submission, Submitter
from signalement.ingest.mailfiles import is_mbox, mail_files
from signalement.ingest.mailstream import Piece, mbox_messages, read_file
from signalement.mail.arf import read_feedback
from signalement.mail.facts import is_feedback_report, not_a_message_reason
from signalement.platform import Platform
from signalement.store import audit
from signalement.store.db import read
from signalement.store.tables import users

DEFAULT_BATCH = 500
BATCH_BYTES = 64 * 1024 * 1024  # a batch also ends at this many bytes, so big messages do not pile up in memory
FILES_PER_LOOKUP = 500  # files whose progress is read in one query
CLIENT = "import"
_LABEL = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


class BulkImportError(ValueError):
    """The import cannot start (an unknown reporter or source)."""


@dataclass(frozen=True)
class Origin:
    """Who the imported reports are from, and what they say."""

    submitter: Submitter
    source: str | None = None  # a configured feedback loop or spam trap
    trap: bool = False
    category: ReportedCategory | None = None


def resolve_origin(
    platform: Platform,
    *,
    reporter: str | None = None,
    source: str | None = None,
    label: str | None = None,
    category: ReportedCategory | None = None,
) -> Origin:
    """An existing user (by e-mail), a configured feed or trap (by name), or else the submitter `import:<label>`."""
    if sum(x is not None for x in (reporter, source, label)) > 1:
        raise BulkImportError("give one of a reporter, a source or a label")
    if reporter is not None:
        with read(platform.engine) as conn:
            user_id = conn.scalar(
                select(users.c.id).where(users.c.email == reporter.strip().lower(), users.c.disabled.is_(False))
            )
        if user_id is None:
            raise BulkImportError(f"no active user has the e-mail address {reporter}")
        return Origin(Submitter.user(user_id), category=category)
    if source is not None:
        feeds = {f.name for f in platform.settings.feeds}
        traps = {t.name for t in platform.settings.traps}
        if source in feeds and source in traps:
            raise BulkImportError(f"{source} names both a feedback loop and a spam trap: rename one")
        if source in feeds:
            return Origin(Submitter(f"feed:{source}"), source=source, category=category)
        if source in traps:
            return Origin(Submitter(f"trap:{source}"), source=source, trap=True, category=category)
        known = ", ".join(sorted(feeds | traps)) or "none is configured"
        raise BulkImportError(f"no feedback loop or spam trap is named {source} ({known})")
    label = label or "cli"
    if not _LABEL.match(label):
        raise BulkImportError("a label is 1 to 63 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
    return Origin(Submitter(f"import:{label}"), category=category)


class ProgressSink(Protocol):
    """What a progress bar is told, after each committed batch."""

    def skip(self, nbytes: int) -> None:
        """These bytes will not be read (files already imported, parts imported before an interruption)."""

    def advance(self, messages: int, nbytes: int) -> None:
        """These messages and bytes were just committed."""


class _Quiet:
    def skip(self, nbytes: int) -> None:
        pass

    def advance(self, messages: int, nbytes: int) -> None:
        pass


@dataclass
class _File:
    progress: FileProgress  # as committed, then as read (ahead of the commit until the batch is committed)
    path: Path
    complete: bool = False  # read to its end without an error


@dataclass
class _Batch:
    items: list[tuple[Submitter, Submission]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (message or file, why)
    messages: int = 0  # taken in or rejected
    nbytes: int = 0  # of the files, read for these messages
    skipped_bytes: int = 0  # of the files, not to be read (already imported)
    files: list[FileProgress] = field(default_factory=list)  # how far each file got once this batch is in


class BulkImport:
    """One run of an import. `result` is kept current, so that a caller interrupted (Ctrl-C) can still print it."""

    def __init__(
        self,
        platform: Platform,
        origin: Origin,
        *,
        batch: int = DEFAULT_BATCH,
        batch_bytes: int = BATCH_BYTES,
        progress: ProgressSink | None = None,
        actor: str = "cli",
        in_flight: int = 2,
    ) -> None:
        self.platform = platform
        self.origin = origin
        self.batch_size = max(1, batch)
        self.batch_bytes = batch_bytes
        self.limit = platform.settings.max_message_bytes
        self.progress: ProgressSink = progress or _Quiet()
        self.actor = actor
        self.result = ImportResult()
        # Two batches at once: one's blobs are compressed and written while the other waits for its durability
        # barriers and its transaction (on PostgreSQL, for the server): when flushes are slow, nearly twice the rate.
        self.in_flight = max(1, in_flight)
        self._batch = _Batch()
        self._touched: dict[str, _File] = {}  # files with messages in the batch, or read to their end since
        self._pool: ThreadPoolExecutor | None = None
        self._sent: deque[tuple[Future[list[Accepted]], _Batch]] = deque()  # in flight, oldest first

    def run(self, paths: Sequence[str | Path]) -> ImportResult:
        started = time.monotonic()
        self._audit(paths)
        if self.in_flight > 1:
            self._pool = ThreadPoolExecutor(self.in_flight, thread_name_prefix="bulk-import")
        try:
            for files in _chunks(mail_files(paths), FILES_PER_LOOKUP):
                self._import_files(files)
            self._flush()
            self._settle(0)
        except BaseException:
            self._settle_quietly()  # batches already sent are waited for, and kept
            raise
        finally:
            if self._pool is not None:
                self._pool.shutdown()
            self.result.elapsed = time.monotonic() - started
        return self.result

    def _audit(self, paths: Sequence[str | Path]) -> None:
        detail = {
            "paths": [os.path.abspath(p) for p in paths[:20]],
            "paths_count": len(paths),
            "source": self.origin.source,
            "category": self.origin.category,
        }
        with self.platform.engine.begin() as conn:
            audit.record(
                conn, actor=self.actor, action="reports.import", target=self.origin.submitter.key, detail=detail
            )

    def _import_files(self, paths: list[Path]) -> None:
        found: list[tuple[Path, str, os.stat_result]] = []
        for path in paths:
            self.result.files += 1
            try:
                found.append((path, os.path.abspath(path), path.stat()))
            except OSError as error:
                self._batch.rejected.append((str(path), _unreadable(error)))
        with read(self.platform.engine) as conn:
            known = import_progress.load(conn, self.origin.submitter.key, [key for _, key, _ in found])
        for path, key, stat in found:
            before = known.get(key)
            if before is not None and before.same_file(stat.st_size, stat.st_mtime_ns):
                if before.finished:
                    self.result.skipped += 1
                    self._batch.skipped_bytes += stat.st_size
                    continue
                self._import_file(_File(before, path), resumed=True)
            else:
                self._import_file(_File(FileProgress(key, stat.st_size, stat.st_mtime_ns), path))

    def _import_file(self, file: _File, *, resumed: bool = False) -> None:
        pieces = self._pieces(file, resumed)
        while True:
            try:
                piece = next(pieces, None)
            except OSError as error:  # unreadable (from here on): the next run tries it again from here
                self._batch.rejected.append((str(file.path), _unreadable(error)))
                self._touched[file.progress.path] = file
                return
            if piece is None:
                break
            self._add(file, piece)
            if self._batch.messages >= self.batch_size or self._batch.nbytes >= self.batch_bytes:
                self._flush()
        file.complete = True
        self._batch.nbytes += max(0, file.progress.size - file.progress.done_offset)  # after the last message
        self._touched[file.progress.path] = file

    def _pieces(self, file: _File, resumed: bool) -> Iterator[Piece]:
        progress = file.progress
        if not is_mbox(file.path):
            progress.done_messages = progress.done_offset = 0
            yield read_file(file.path, self.limit)
            return
        if resumed and progress.done_offset:
            self.result.resumed += 1
            self._batch.skipped_bytes += progress.done_offset
        else:
            progress.done_messages = progress.done_offset = 0
        yield from mbox_messages(file.path, self.limit, start=progress.done_offset, index=progress.done_messages)

    def _add(self, file: _File, piece: Piece) -> None:
        why = _refused(piece, self.limit)
        if why is None:
            self._batch.items.append((self.origin.submitter, self._submission(piece.raw or b"")))
        else:
            self._batch.rejected.append((piece.name, why))
        self._batch.messages += 1
        self._batch.nbytes += piece.end - file.progress.done_offset
        file.progress.done_messages += 1
        file.progress.done_offset = piece.end
        self._touched[file.progress.path] = file

    def _submission(self, raw: bytes) -> Submission:
        feedback = read_feedback(raw) if is_feedback_report(raw) else []
        return Submission(
            raw=raw,
            kind=ReportKind.ARF if feedback else ReportKind.MESSAGE,
            feedback=feedback[0].kind if feedback else None,
            channel=Channel.IMPORT,
            reported_category=self.origin.category,
            client=CLIENT,
            source=self.origin.source,
            trap=self.origin.trap,
        )

    def _flush(self) -> None:
        batch = self._batch
        batch.files = [replace(f.progress, finished=f.complete) for f in self._touched.values()]  # as of now
        self._batch, self._touched = _Batch(), {}
        if not (batch.messages or batch.files or batch.rejected or batch.skipped_bytes):
            return
        if self._pool is None:
            self._record(batch, self._accept(batch))
            return
        self._sent.append((self._pool.submit(self._accept, batch), batch))
        self._settle(self.in_flight - 1)

    def _accept(self, batch: _Batch) -> list[Accepted]:
        return self.platform.intake.accept_all(batch.items) if batch.items else []

    def _settle(self, leave: int) -> None:
        """Wait for batches in flight, oldest first, until `leave` remain, and record each."""
        while len(self._sent) > leave:
            future, batch = self._sent[0]
            accepted = future.result()
            self._sent.popleft()
            self._record(batch, accepted)

    def _settle_quietly(self) -> None:
        with contextlib.suppress(BaseException):
            self._settle(0)  # up to the first that failed: the next run reads the rest again

    def _record(self, batch: _Batch, accepted: list[Accepted]) -> None:
        """Count the batch's reports, then record how far each of its files got (a crash in between only means the
        next run reads this batch again, and finds its messages already stored). Batches are recorded in order."""
        taken = sum(a.created for a in accepted)
        self.result.taken += taken
        self.result.duplicates += len(accepted) - taken
        for name, why in batch.rejected:
            self.result.reject(name, why)
        if batch.files:
            with self.platform.engine.begin() as conn:
                import_progress.save(conn, self.origin.submitter.key, batch.files)
        self.result.bytes += batch.nbytes
        if batch.skipped_bytes:
            self.progress.skip(batch.skipped_bytes)
        self.progress.advance(batch.messages, batch.nbytes)


def _refused(piece: Piece, limit: int) -> str | None:
    if piece.raw is None or piece.size > limit:
        return f"over the limit of {limit:,} bytes"
    return not_a_message_reason(piece.raw)


def _unreadable(error: OSError) -> str:
    return f"unreadable: {error.strerror or error}"


def _chunks(items: Iterator[Path], size: int) -> Iterator[list[Path]]:
    while chunk := list(islice(items, size)):
        yield chunk
