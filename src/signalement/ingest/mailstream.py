"""Mail on disk read for a bulk import: the same files and the same messages as `mailfiles.sources`, but an mbox is
read in one sequential pass of large blocks (no open and seek per message), from any message boundary (to resume
an interrupted import), and a message over the limit is measured, never held in memory.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from signalement.ingest.mailfiles import _unquote_from

BLOCK = 1 << 20
# A "From " line after an empty line: where an mbox message starts (the rule of mailfiles._mbox).
_BOUNDARY = re.compile(rb"\n\r?\nFrom ")
_TAIL = 8  # bytes kept when a buffer is dropped, so that a boundary across two blocks is still found


@dataclass(frozen=True, slots=True)
class Piece:
    """One message read from a file. `raw` is None when it is over the limit (then only `size` is known)."""

    name: str  # the path, or path#index for the index-th message of an mbox (as MailSource.name)
    raw: bytes | None
    size: int
    end: int  # for an mbox, the offset of the next message's "From " line (or the end): where to resume


def read_file(path: Path, limit: int) -> Piece:
    """A file holding one message (.eml, Maildir)."""
    size = path.stat().st_size
    if size > limit:
        return Piece(str(path), None, size, size)
    raw = path.read_bytes()
    return Piece(str(path), raw, len(raw), len(raw))


def mbox_messages(path: Path, limit: int, *, start: int = 0, index: int = 0, block: int = BLOCK) -> Iterator[Piece]:
    """The messages of an mbox from byte `start` (0, or a message's "From " line), the first numbered `index`.
    Memory stays within one block plus one message of at most `limit` bytes."""
    name = str(path)
    with path.open("rb") as f:
        f.seek(start)
        reader = _Blocks(f.read, block, start)
        content = reader.next_message(None)  # where the first message's text starts, after its "From " line
        while content is not None:
            end, raw = reader.message(content, limit)
            size = end - content
            yield Piece(f"{name}#{index}", None if raw is None else _unquote(raw), size, end)
            index += 1
            content = reader.next_message(end)


def _unquote(raw: bytes) -> bytes:
    """mboxrd unquoting, skipped at C speed when no line can need it (every quoted line holds ">From ")."""
    return _unquote_from(raw) if b">From " in raw else raw


class _Blocks:
    """The file from `start` as a sliding buffer, behind a virtual empty line (so that a "From " line at `start`
    is a boundary, as at the beginning of a file). Positions are file offsets."""

    def __init__(self, read: Callable[[int], bytes], block: int, start: int) -> None:
        self._read = read
        self._block = block
        self.buf = b"\n\n"
        self.base = start - 2  # the file offset of buf[0]
        self.eof = False

    @property
    def end(self) -> int:
        return self.base + len(self.buf)

    def more(self, keep_from: int) -> bool:
        """Read the next block, dropping what lies before `keep_from`; False at the end of the file."""
        if self.eof:
            return False
        data = self._read(max(self._block, len(self.buf)))  # growing with a long message: linear, not quadratic
        if not data:
            self.eof = True
            return False
        cut = max(0, keep_from - self.base)
        self.buf = self.buf[cut:] + data
        self.base += cut
        return True

    def next_message(self, boundary: int | None) -> int | None:
        """From a boundary (a "From " line's offset), or before the first one, the offset where that message's
        text starts (after its "From " line); None when there is no more message."""
        if boundary is None:
            boundary = self._find_boundary(self.base)
            if boundary is None:
                return None
        elif boundary >= self.end and self.eof:
            return None  # the last message ended with the file
        while True:
            newline = self.buf.find(b"\n", boundary - self.base)
            if newline >= 0:
                return self.base + newline + 1
            if not self.more(boundary):
                return self.end  # a "From " line without an end: an empty last message

    def _find_boundary(self, position: int) -> int | None:
        while True:
            match = _BOUNDARY.search(self.buf, max(0, position - self.base))
            if match:
                return self.base + match.end() - 5
            position = max(self.base, self.end - _TAIL)
            if not self.more(position):
                return None

    def message(self, content: int, limit: int) -> tuple[int, bytes | None]:
        """The message whose text starts at `content`: where it ends (the next boundary or the end of the file)
        and its bytes, or None for them when it is over `limit` (then they are dropped as they are read)."""
        position = content - 1  # the "From " line's own newline may begin the empty line before the next one
        dropped = False
        while True:
            match = _BOUNDARY.search(self.buf, max(0, position - self.base))
            if match:
                end = self.base + match.end() - 5
                break
            position = max(content - 1, self.end - _TAIL)
            if self.end - _TAIL - content > limit:
                dropped = True  # surely too big: keep only the tail, to find where it ends
            if not self.more(position if dropped else content - 1):
                end = self.end
                break
        if dropped or end - content > limit:
            return end, None
        return end, self.buf[content - self.base : end - self.base]
