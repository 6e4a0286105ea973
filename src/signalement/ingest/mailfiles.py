"""Mail on disk: `.eml` files, folders of them (recursively), Maildir folders and mbox files, one message at a
time. A source is a small, picklable reference (path and mbox index), so worker processes read the bytes
themselves and memory stays flat whatever the size of an mbox.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

MAIL_SUFFIXES = {".eml", ".msg822", ".mbox", ".mbx"}
MAX_MESSAGE_BYTES = 100_000_000  # a single message over this is refused rather than read whole
_QUOTED_FROM = re.compile(rb"(?m)^>(>*From )")


@dataclass(frozen=True, slots=True)
class MailSource:
    path: str
    index: int | None = None  # the N-th message of an mbox, from 0
    offset: int = 0  # where that message starts in the mbox (after its "From " line), and its length
    length: int = -1

    @property
    def name(self) -> str:
        return self.path if self.index is None else f"{self.path}#{self.index}"

    def read(self) -> bytes:
        size = os.path.getsize(self.path) if self.index is None else self.length
        if size > MAX_MESSAGE_BYTES:
            raise ValueError(f"{self.name}: larger than {MAX_MESSAGE_BYTES} bytes")
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(self.length)
        return data if self.index is None else _unquote_from(data)


def _unquote_from(data: bytes) -> bytes:
    """mboxrd: writers quote body lines that start with "From " as ">From ", ">>From " and so on; undo one level."""
    if b"\n>" not in data:
        return data
    return _QUOTED_FROM.sub(rb"\1", data)


def is_mbox(path: Path) -> bool:
    if path.suffix.lower() in {".mbox", ".mbx"}:
        return True
    with path.open("rb") as f:
        return f.read(5) == b"From "


def sources(paths: Iterable[str | Path]) -> Iterator[MailSource]:
    """Every message under the given paths, in a stable order (paths as given, folders sorted by name)."""
    for path in mail_files(paths):
        yield from _file(path)


def mail_files(paths: Iterable[str | Path]) -> Iterator[Path]:
    """The files messages are read from: the given files, and under the given folders (recursively, sorted by
    name, hidden ones left out) the .eml/.mbox-like files and every file of a Maildir's cur and new."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _folder(path)
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{given}: no such file or folder")


def _folder(folder: Path) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        in_maildir = Path(root).name in {"cur", "new"}
        for name in sorted(files):
            path = Path(root, name)
            if not name.startswith(".") and (in_maildir or path.suffix.lower() in MAIL_SUFFIXES):
                yield path


def _file(path: Path) -> Iterator[MailSource]:
    if is_mbox(path):
        yield from _mbox(path)
    else:
        yield MailSource(str(path))


def _mbox(path: Path) -> Iterator[MailSource]:
    """Split an mbox line by line (constant memory): a message starts at a "From " line at the start of the file
    or after an empty line."""
    index, start, position, previous_blank = 0, -1, 0, True
    with path.open("rb") as f:
        for line in f:
            if previous_blank and line.startswith(b"From "):
                if start >= 0:
                    yield MailSource(str(path), index, start, position - start)
                    index += 1
                start = position + len(line)
            position += len(line)
            previous_blank = line in (b"\n", b"\r\n")
    if start >= 0:
        yield MailSource(str(path), index, start, position - start)
