"""The content-addressed blob store on a real filesystem."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from benchmarks.mailgen import messages

from signalement.store.blobs import BlobIntegrityError, BlobNotFoundError, FileBlobStore


def test_put_get_round_trip_is_exact(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    raw = next(messages(1)) + b"\xff\x00 raw 8-bit bytes\r\n"
    stored = store.put(raw)
    assert stored.sha256 == hashlib.sha256(raw).hexdigest()
    assert stored.created and stored.stored_size < stored.size
    assert store.get(stored.sha256) == raw
    assert store.path(stored.sha256).parent.parent.parent == tmp_path


def test_identical_bytes_are_stored_once(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    raw = next(messages(1))
    assert store.put(raw).created
    assert not store.put(raw).created
    assert len(list(tmp_path.rglob("*.zst"))) == 1


def test_put_many_stores_all_and_dedupes_within_the_batch(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    batch = list(messages(20, seed=5))
    results = store.put_many([*batch, batch[0], batch[3]])
    assert [r.created for r in results] == [True] * 20 + [False, False]
    assert all(store.get(r.sha256) == raw for r, raw in zip(results, batch, strict=False))
    assert list((tmp_path / "tmp").iterdir()) == []  # nothing left half-written


def test_missing_and_corrupt_blobs_are_errors(tmp_path: Path) -> None:
    store = FileBlobStore(tmp_path)
    with pytest.raises(BlobNotFoundError):
        store.get("0" * 64)
    stored = store.put(b"From: a@example.org\r\n\r\none\r\n")
    other = FileBlobStore(tmp_path / "other").put(b"From: a@example.org\r\n\r\ntwo\r\n")
    store.path(stored.sha256).write_bytes(
        (tmp_path / "other").joinpath(other.sha256[:2], other.sha256[2:4], f"{other.sha256}.zst").read_bytes()
    )
    with pytest.raises(BlobIntegrityError):
        store.get(stored.sha256)


def test_sweep_removes_only_stale_temporary_files(tmp_path: Path) -> None:
    import os
    import time
    from datetime import timedelta

    store = FileBlobStore(tmp_path)
    stale, fresh = tmp_path / "tmp" / "a.partial", tmp_path / "tmp" / "b.partial"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    kept = store.put(b"From: a@example.org\r\n\r\nkept\r\n")
    assert store.sweep_temporary(timedelta(hours=1)) == 1
    assert not stale.exists()
    assert fresh.exists()
    assert store.get(kept.sha256).endswith(b"kept\r\n")
