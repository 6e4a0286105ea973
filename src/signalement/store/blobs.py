"""Raw messages on the local disk, addressed by the SHA-256 of the exact bytes received, compressed with zstd.

A blob is written to a temporary file, fsynced, renamed into place and its directory fsynced: once `put`
returns, the bytes survive a crash, and a reader never sees a partial blob.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import hashlib
import os
import sys
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path

import zstandard

from signalement.domain.ports import StoredBlob

_LEVEL = 3  # zstd's default: ~4x on mail at a few hundred MB/s
_LIBC = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True) if sys.platform == "linux" else None


class BlobNotFoundError(KeyError):
    pass


class BlobIntegrityError(RuntimeError):
    pass


class FileBlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        self._tmp.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()

    def path(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256[2:4] / f"{sha256}.zst"

    def put(self, data: bytes) -> StoredBlob:
        sha256 = hashlib.sha256(data).hexdigest()
        final = self.path(sha256)
        if final.exists():
            return StoredBlob(sha256, len(data), final.stat().st_size, created=False)
        compressed = self._compressor().compress(data)
        tmp = self._tmp / f"{sha256}.{uuid.uuid4().hex}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        try:
            _write_all(fd, compressed)
            os.fsync(fd)
        finally:
            os.close(fd)
        self._ensure_dir(final.parent)
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        return StoredBlob(sha256, len(data), len(compressed), created=True)

    def put_many(self, items: list[bytes]) -> list[StoredBlob]:
        """Store many blobs behind two filesystem-wide flushes instead of two fsyncs each (batch intake). Plain
        string paths and os calls: here pathlib's objects cost about as much as the writes themselves."""
        staged: list[tuple[str, str, str]] = []  # (temporary file, folder, final name)
        seen: set[str] = set()
        results: list[StoredBlob] = []
        root, tmp_dir, compressor = str(self.root), str(self._tmp), self._compressor()
        for data in items:
            sha256 = hashlib.sha256(data).hexdigest()
            folder = f"{root}/{sha256[:2]}/{sha256[2:4]}"
            final = f"{folder}/{sha256}.zst"
            if sha256 in seen or os.path.exists(final):
                results.append(StoredBlob(sha256, len(data), 0, created=False))
                continue
            compressed = compressor.compress(data)
            tmp = f"{tmp_dir}/{sha256}.{uuid.uuid4().hex}"
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
            try:
                _write_all(fd, compressed)
            finally:
                os.close(fd)
            staged.append((tmp, folder, final))
            seen.add(sha256)
            results.append(StoredBlob(sha256, len(data), len(compressed), created=True))
        if not staged:
            return results
        _sync_filesystem(self._tmp)  # the data is durable ...
        for tmp, folder, final in staged:
            try:
                os.replace(tmp, final)
            except FileNotFoundError:  # the first blob of its folder (most are, while the store is young)
                os.makedirs(folder, exist_ok=True)
                os.replace(tmp, final)
        _sync_filesystem(self._tmp)  # ... and so are the names
        return results

    def get(self, sha256: str) -> bytes:
        try:
            compressed = self.path(sha256).read_bytes()
        except FileNotFoundError:
            raise BlobNotFoundError(sha256) from None
        data = self._decompressor().decompress(compressed)
        if hashlib.sha256(data).hexdigest() != sha256:
            raise BlobIntegrityError(f"blob {sha256} does not match its hash")
        return data

    def exists(self, sha256: str) -> bool:
        return self.path(sha256).exists()

    def delete(self, sha256: str) -> None:
        self.path(sha256).unlink(missing_ok=True)

    def sweep_temporary(self, older_than: timedelta) -> int:
        """Remove temporary files of writes interrupted by a crash (never referred to by any row)."""
        limit = time.time() - older_than.total_seconds()
        removed = 0
        for path in self._tmp.iterdir():
            with contextlib.suppress(FileNotFoundError):
                if path.stat().st_mtime < limit:
                    path.unlink()
                    removed += 1
        return removed

    def _ensure_dir(self, directory: Path) -> None:
        if directory.is_dir():
            return
        directory.mkdir(parents=True, exist_ok=True)
        _fsync_dir(directory.parent)
        _fsync_dir(directory.parent.parent)

    def _compressor(self) -> zstandard.ZstdCompressor:
        # zstandard's (de)compressors are not thread-safe: one per thread.
        if not hasattr(self._local, "c"):
            self._local.c = zstandard.ZstdCompressor(level=_LEVEL, write_content_size=True)
        return self._local.c  # type: ignore[no-any-return]

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        if not hasattr(self._local, "d"):
            self._local.d = zstandard.ZstdDecompressor()
        return self._local.d  # type: ignore[no-any-return]


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _sync_filesystem(path: Path) -> None:
    """syncfs(2) on Linux: flush everything on the filesystem holding `path`; elsewhere, a global sync."""
    fd = os.open(path, os.O_RDONLY)
    try:
        if _LIBC is None or _LIBC.syncfs(fd) != 0:
            os.sync()
    finally:
        os.close(fd)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
