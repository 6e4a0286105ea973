"""The lookup index, in memory, as Safe Browsing keeps one: the SHA-256 of each listed expression (`host/path`),
sorted, in compact arrays (numpy: 32 bytes a hash, its 4-byte prefix, its URL id and TLP rank), with a small
overlay of what changed since the arrays were last built, merged in once it grows (docs/lookup.md).

One index serves every TLP ceiling: each entry keeps its marking's rank, and a ceiling's prefix list holds the
entries at or below it.
"""

from __future__ import annotations

import hashlib
from array import array
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

HASH = 32
PREFIX = 4
MERGE_AT = 20_000  # overlay entries that make the next refresh rebuild the arrays

Hashes = npt.NDArray[np.uint8]


def full_hash(expression: str) -> bytes:
    return hashlib.sha256(expression.encode()).digest()


@dataclass(frozen=True)
class Entry:
    """One listed expression of a URL."""

    url_id: int
    hash: bytes  # SHA-256 of the expression
    tlp_rank: int  # signalement.domain.members.Tlp.rank


class Columns:
    """Entries gathered column by column, for `Arrays.of_columns`."""

    def __init__(self) -> None:
        self.hashes = bytearray()
        self.ids = array("q")
        self.ranks = bytearray()

    def add(self, url_id: int, digest: bytes, tlp_rank: int) -> None:
        self.hashes += digest
        self.ids.append(url_id)
        self.ranks.append(tlp_rank)


@dataclass(frozen=True)
class Match:
    url_id: int
    hash: bytes
    tlp_rank: int


class Arrays:
    """Entries sorted by hash: the hashes (n x 32 bytes), their prefixes as big-endian uint32, ids and ranks."""

    def __init__(self, entries: Sequence[Entry]) -> None:
        count = len(entries)
        raw = np.frombuffer(b"".join(e.hash for e in entries), dtype=np.uint8).reshape(count, HASH)
        ids = np.fromiter((e.url_id for e in entries), dtype=np.int64, count=count)
        ranks = np.fromiter((e.tlp_rank for e in entries), dtype=np.uint8, count=count)
        self._set(raw, ids, ranks)

    @classmethod
    def of_columns(cls, hashes: bytes, ids: array[int], ranks: bytes) -> Arrays:
        """From the entries' columns (no object per entry: a million of them would weigh some 300 MB)."""
        made = cls([])
        count = len(ids)
        made._set(np.frombuffer(hashes, dtype=np.uint8).reshape(count, HASH), np.frombuffer(ids, dtype=np.int64),
                  np.frombuffer(ranks, dtype=np.uint8))  # fmt: skip
        return made

    def _set(self, raw: Hashes, ids: npt.NDArray[np.int64], ranks: npt.NDArray[np.uint8]) -> None:
        order = np.lexsort(raw.T[::-1]) if len(raw) else np.arange(0)
        self.hashes: Hashes = np.ascontiguousarray(raw[order])
        self.ids = ids[order]
        self.ranks = ranks[order]
        self.prefixes = _prefixes(self.hashes)
        self._by_id = np.argsort(self.ids, kind="stable")  # positions in id order: a URL's entries in O(log n)
        self._sorted_ids = self.ids[self._by_id]

    @classmethod
    def merged(cls, base: Arrays, keep: npt.NDArray[np.bool_], extra: Sequence[Entry]) -> Arrays:
        made = cls([])
        more = cls(extra)
        made._set(np.concatenate([base.hashes[keep], more.hashes]), np.concatenate([base.ids[keep], more.ids]),
                  np.concatenate([base.ranks[keep], more.ranks]))  # fmt: skip
        return made

    def __len__(self) -> int:
        return len(self.ids)

    def positions(self, prefix: int) -> range:
        start = int(np.searchsorted(self.prefixes, prefix, side="left"))
        stop = int(np.searchsorted(self.prefixes, prefix, side="right"))
        return range(start, stop)

    def of_url(self, url_id: int) -> npt.NDArray[np.intp]:
        start = int(np.searchsorted(self._sorted_ids, url_id, side="left"))
        stop = int(np.searchsorted(self._sorted_ids, url_id, side="right"))
        return self._by_id[start:stop]

    def nbytes(self) -> int:
        arrays = (self.hashes, self.prefixes, self.ids, self.ranks, self._by_id, self._sorted_ids)
        return sum(int(a.nbytes) for a in arrays)


def _prefixes(hashes: Hashes) -> npt.NDArray[np.uint32]:
    if not len(hashes):
        return np.zeros(0, dtype=np.uint32)
    return np.ascontiguousarray(hashes[:, :PREFIX]).view(">u4").ravel().astype(np.uint32)


def prefix_of(digest: bytes) -> int:
    return int.from_bytes(digest[:PREFIX], "big")


class LookupIndex:
    """The listed expressions' hashes: built arrays, minus the URLs changed since (`alive` false), plus their
    entries now (`overlay`). Never changed once made: `updated` makes the next one (sharing the arrays), so readers
    in other threads always see one whole version."""

    def __init__(
        self,
        entries: Iterable[Entry] = (),
        *,
        arrays: Arrays | None = None,
        alive: npt.NDArray[np.bool_] | None = None,
        overlay: dict[int, tuple[Entry, ...]] | None = None,
    ) -> None:
        self.arrays = arrays if arrays is not None else Arrays(list(entries))
        self.alive = alive if alive is not None else np.ones(len(self.arrays), dtype=np.bool_)
        self.overlay = overlay if overlay is not None else {}  # URL id -> its entries now
        self._overlaid = {e.hash: e for entries in self.overlay.values() for e in entries}

    def updated(self, changes: Mapping[int, Sequence[Entry]]) -> LookupIndex:
        """The index with these URLs' entries replaced (an empty sequence: no longer listed)."""
        alive, overlay = self.alive.copy(), dict(self.overlay)
        for url_id, entries in changes.items():
            alive[self.arrays.of_url(url_id)] = False
            overlay.pop(url_id, None)
            if entries:
                overlay[url_id] = tuple(entries)
        if sum(len(e) for e in overlay.values()) < MERGE_AT:
            return LookupIndex(arrays=self.arrays, alive=alive, overlay=overlay)
        extra = [e for entries in overlay.values() for e in entries]
        return LookupIndex(arrays=Arrays.merged(self.arrays, alive, extra))

    def find(self, digest: bytes, max_rank: int) -> Match | None:
        """The listed entry with this full hash, at or below the ceiling."""
        for match in self.by_prefix(prefix_of(digest), max_rank):
            if match.hash == digest:
                return match
        return None

    def find_many(self, digests: Sequence[bytes], max_rank: int) -> list[Match | None]:
        """`find` for many full hashes at once: the prefixes are searched together, the few hits compared whole."""
        found: list[Match | None] = [None] * len(digests)
        if not digests:
            return found
        arrays = self.arrays
        wanted = np.frombuffer(b"".join(d[:PREFIX] for d in digests), dtype=">u4").astype(np.uint32)
        starts = np.searchsorted(arrays.prefixes, wanted, side="left")
        stops = np.searchsorted(arrays.prefixes, wanted, side="right")
        for n in np.nonzero(stops > starts)[0].tolist():
            for i in range(int(starts[n]), int(stops[n])):
                if self.alive[i] and arrays.ranks[i] <= max_rank and arrays.hashes[i].tobytes() == digests[n]:
                    found[n] = Match(int(arrays.ids[i]), digests[n], int(arrays.ranks[i]))
                    break
        for n, digest in enumerate(digests):
            entry = self._overlaid.get(digest)
            if found[n] is None and entry is not None and entry.tlp_rank <= max_rank:
                found[n] = Match(entry.url_id, digest, entry.tlp_rank)
        return found

    def by_prefix(self, prefix: int, max_rank: int) -> list[Match]:
        """Every listed entry whose hash starts with this prefix, at or below the ceiling."""
        found = []
        arrays = self.arrays
        for i in arrays.positions(prefix):
            if self.alive[i] and arrays.ranks[i] <= max_rank:
                found.append(Match(int(arrays.ids[i]), arrays.hashes[i].tobytes(), int(arrays.ranks[i])))
        for entries in self.overlay.values():
            found += [Match(e.url_id, e.hash, e.tlp_rank) for e in entries
                      if e.tlp_rank <= max_rank and prefix_of(e.hash) == prefix]  # fmt: skip
        return found

    def prefixes(self, max_rank: int) -> npt.NDArray[np.uint32]:
        """The sorted, distinct 4-byte prefixes of the entries at or below the ceiling."""
        arrays = self.arrays
        kept = arrays.prefixes[self.alive & (arrays.ranks <= max_rank)]
        extra = [prefix_of(e.hash) for entries in self.overlay.values() for e in entries if e.tlp_rank <= max_rank]
        return np.union1d(kept, np.array(extra, dtype=np.uint32)).astype(np.uint32)

    def __len__(self) -> int:
        return int(self.alive.sum()) + sum(len(e) for e in self.overlay.values())

    def nbytes(self) -> int:
        return self.arrays.nbytes() + int(self.alive.nbytes)
