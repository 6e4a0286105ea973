"""Interfaces the core depends on; adapters in store/ and work/ implement them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol


@dataclass(frozen=True)
class StoredBlob:
    sha256: str
    size: int
    stored_size: int
    created: bool  # False when identical bytes were already stored


class BlobStore(Protocol):
    """Content-addressed storage of exact bytes. `put` returns only once the bytes are durable."""

    def put(self, data: bytes) -> StoredBlob: ...

    def put_many(self, items: list[bytes]) -> list[StoredBlob]:
        """Like `put` for each, behind one durability barrier."""
        ...

    def get(self, sha256: str) -> bytes: ...

    def exists(self, sha256: str) -> bool: ...

    def delete(self, sha256: str) -> None:
        """Remove the bytes (no row may refer to them any more); nothing if they are already gone."""
        ...

    def sweep_temporary(self, older_than: timedelta) -> int:
        """Remove what interrupted writes left behind; how many files."""
        ...
