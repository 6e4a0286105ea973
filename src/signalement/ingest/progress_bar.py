"""The progress bar of `signalement import`, on stderr.

Its total is bytes, not messages: the size of every file is known up front (one cheap walk with a stat per file),
while counting an mbox's messages would mean reading it all twice. So the bar, its rate and its time left are
honest in bytes; the messages committed and their rate are shown beside it. Bytes that will not be read (files
already imported, parts imported before an interruption) are taken off the total, not counted as progress.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from tqdm import tqdm

from signalement.ingest.bulk import ProgressSink
from signalement.ingest.mailfiles import mail_files


def total_bytes(paths: Sequence[str | Path]) -> int:
    total = 0
    for path in mail_files(paths):
        try:
            total += path.stat().st_size
        except OSError:
            continue  # the import reports it
    return total


class Bar:
    def __init__(self, total: int) -> None:
        self.bar = tqdm(
            total=total,
            unit="B",
            unit_scale=True,
            unit_divisor=1024,
            desc="import",
            mininterval=0.5,
            smoothing=0.1,
        )
        if not _terminal_width():  # a terminal of unknown size (0 × 0) would show nothing
            self.bar.ncols, self.bar.nrows = 100, 24
        self.messages = 0
        self.started = time.monotonic()

    def skip(self, nbytes: int) -> None:
        self.bar.total = max(self.bar.n, (self.bar.total or 0) - nbytes)
        self.bar.refresh()

    def advance(self, messages: int, nbytes: int) -> None:
        self.messages += messages
        rate = self.messages / max(time.monotonic() - self.started, 1e-9)
        self.bar.set_postfix_str(f"{self.messages:,} messages, {rate:,.0f}/s", refresh=False)
        self.bar.update(nbytes)


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns
    except (OSError, ValueError):
        return 0


class _Off:
    def skip(self, nbytes: int) -> None:
        pass

    def advance(self, messages: int, nbytes: int) -> None:
        pass


@contextmanager
def progress_bar(paths: Sequence[str | Path], *, enabled: bool) -> Iterator[ProgressSink]:
    if not enabled:
        yield _Off()
        return
    bar = Bar(total_bytes(paths))
    try:
        yield bar
    finally:
        bar.bar.close()
