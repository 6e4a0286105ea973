"""Locality-sensitive fingerprints of a message's text, for clustering the messages of one campaign.

Normalization makes per-recipient variants of one message identical: lower case, punctuation out, digit runs
collapsed to one `0`, URLs, e-mail addresses, long mixed tokens (tracking ids, hex, base64) and greeted names
replaced by placeholders. The text is then cut into word 3-gram shingles (the first MAX_SHINGLES).

MinHash is one-permutation hashing (Li, Owen & Zhang 2012) with rotation densification (Shrivastava & Li 2014):
one 64-bit hash per shingle, its top 7 bits pick one of 128 bins, the signature is the minimum of each bin. It
estimates Jaccard similarity like 128 independent permutations, for the cost of one sort: a (shingles x 128) hash
matrix costs ~0.9 ms for a 5 KB text, this ~20 µs. Tokens are hashed with a vectorized polynomial hash mod 2^64
(per-token xxhash calls cost more than the whole numpy pass), shingles mixed with splitmix64, band keys hashed with
xxhash: all fixed functions of the bytes, so fingerprints are stable across processes and machines (Python's
hash() is salted per process and never used). Changing any of it invalidates stored fingerprints.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import tlsh
import xxhash

from signalement.mail.domains import registered_domain

PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS  # 32 x 4: Jaccard 0.7 shares a band with p > 0.999, 0.2 with p ~ 0.05
MAX_BYTES = 16_384  # of UTF-8 text: ~2,500 words, more than MAX_SHINGLES need; the rest is not read
MAX_SHINGLES = 2_000
_SHINGLE = 3
_TLSH_MIN_BYTES = 50
_LONG_TOKEN = 8  # bytes after digit collapse, with two digit runs: "Xk29Fj3K2Lq7" -> "xk0fj0k0lq0"
_BIN_SHIFT = np.uint64(64 - 7)  # log2(PERMUTATIONS)
_EMPTY = np.uint64(2**64 - 1)

U64 = npt.NDArray[np.uint64]

# A greeting followed by capitalized words: the recipient's name in "Bonjour Marie Dupont," varies per copy.
_GREETINGS = (
    *("bonjour", "bonsoir", "salut", "cher", "chère", "chers", "madame", "monsieur", "mme", "mlle"),
    *("hello", "hi", "hey", "dear", "mr", "mrs", "ms"),
)
_NAME_AFTER = re.compile(r"[ \t,:.]*((?:[A-ZÀ-ÖØ-Þ][\w'’-]*[ \t]*){1,3})")
_GREETING_SCAN = 400  # characters: greetings open the message
_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
_MAX_ADDRESSES = 500  # URL and e-mail tokens replaced; a hostile text may hold thousands
_DIGITS_AND_SPACES = bytes.maketrans(b"0123456789\t\n\r\x0b\x0c", b"0000000000     ")
# Once URLs and addresses are out, punctuation separates words: "Durand," is the name "Durand".
_PUNCTUATION = b',.;:!?"()[]{}<>*|'
_PUNCTUATION_TO_SPACE = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))


# numpy scalars built once: building one costs ~0.2 µs, a noticeable share of an operation on a short text
_SM = tuple(np.uint64(v) for v in (30, 0xBF58476D1CE4E5B9, 27, 0x94D049BB133111EB, 31))


def _splitmix(x: U64) -> U64:
    """splitmix64 finalizer, vectorized: a bijection on uint64 with good avalanche (wrapping arithmetic)."""
    x = x ^ (x >> _SM[0])
    x *= _SM[1]
    x ^= x >> _SM[2]
    x *= _SM[3]
    x ^= x >> _SM[4]
    return x


def _powers(base: int, n: int) -> U64:
    table = np.full(n, base, dtype=np.uint64)
    table[0] = 1
    return np.cumprod(table, dtype=np.uint64)  # wraps mod 2^64, as intended


_P = 0x9E3779B97F4A7C15  # odd, so invertible mod 2^64
_POW = _powers(_P, MAX_BYTES + 1)
_POW_INV = _powers(pow(_P, -1, 2**64), MAX_BYTES + 1)
_SHINGLE_MUL = np.array([0xD6E8FEB86659FD93, 0xA0761D6478BD642F, 0xE7037ED1A0B428DB], dtype=np.uint64)
_OPH_SEED = np.uint64(0x5851F42D4C957F2D)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_TOK, _NAME = _splitmix(np.array([1, 2], dtype=np.uint64))  # hashes no token of text has: prefix sums start at 1


@dataclass(frozen=True)
class Fingerprint:
    tlsh: str | None
    minhash: tuple[int, ...]  # kept in memory for similarity(); the bands are what an index stores
    bands: tuple[str, ...]
    shingles: int
    domains: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"tlsh": self.tlsh, "bands": list(self.bands), "shingles": self.shingles, "domains": list(self.domains)}


def fingerprint(text: str, url_domains: Iterable[str], subject: str = "", names: Iterable[str] = ()) -> Fingerprint:
    """Fingerprint of a message's text (and subject). `names`: the recipient's names or address local parts, if known,
    are replaced like greeted names. Never raises; texts longer than MAX_BYTES are cut."""
    data = _normalized_bytes(f"{subject}\n{_without_greeted_names(text)}" if subject else _without_greeted_names(text))
    tokens, kept = _token_hashes(data)
    name_list = [n for n in names if n.strip()]
    if name_list and tokens.size:
        name_hashes, _ = _token_hashes(_normalized_bytes(" ".join(name_list)))
        tokens = np.where(np.isin(tokens, name_hashes), _NAME, tokens)
    signature, distinct = _one_permutation_minhash(_shingles(tokens[: MAX_SHINGLES + _SHINGLE - 1]))
    return Fingerprint(
        tlsh=_tlsh(kept),
        minhash=tuple(signature.tolist()),
        bands=_band_keys(signature),
        shingles=distinct,
        domains=tuple(sorted({d for d in map(registered_domain, url_domains) if d})),
    )


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of two texts' shingle sets: from the MinHash signatures when both are present,
    else from the share of equal bands (a band matches with probability J^ROWS)."""
    if len(a.minhash) == len(b.minhash) == PERMUTATIONS:
        return sum(x == y for x, y in zip(a.minhash, b.minhash, strict=True)) / PERMUTATIONS
    if not a.bands or len(a.bands) != len(b.bands):
        return 0.0
    shared = sum(x == y for x, y in zip(a.bands, b.bands, strict=True)) / len(a.bands)
    return float(shared ** (1 / ROWS))


def _without_greeted_names(text: str) -> str:
    """`Bonjour Marie Dupont,` -> `Bonjour name,`. str.find per greeting: a regex search costs ~30 µs here."""
    head = text[:_GREETING_SCAN]
    low = head.lower()
    spans: list[tuple[int, int]] = []
    for word in _GREETINGS:
        at = low.find(word)
        while at >= 0:
            end = at + len(word)
            if (at == 0 or not low[at - 1].isalnum()) and (end == len(low) or not low[end].isalnum()):
                match = _NAME_AFTER.match(head, end)
                if match and match.group(1):
                    spans.append(match.span(1))
            at = low.find(word, end)
    if not spans:
        return text
    out, cursor = [], 0
    for start, stop in sorted(spans):
        if start >= cursor:
            out.append(head[cursor:start] + "name ")
            cursor = stop
    return "".join(out) + text[cursor:]


def _normalized_bytes(text: str) -> npt.NDArray[np.uint8]:
    """UTF-8 (capped), invisible characters out, ASCII lower case (variants of one campaign share their casing),
    whitespace -> space, URL and e-mail tokens -> `url`, `email`, punctuation -> space, digit runs -> one `0`.
    Built from bytes methods and numpy: each costs a few µs on 5 KB where a regex pass costs ~40."""
    text = text[:MAX_BYTES]
    if not text.isascii():
        for char in _INVISIBLE:
            if char in text:
                text = text.replace(char, "")
        text = text.replace("\u00a0", " ")
    raw = text.encode("utf-8", "replace")[:MAX_BYTES].lower().translate(_DIGITS_AND_SPACES)
    raw = _without_addresses(raw).translate(_PUNCTUATION_TO_SPACE)
    a = np.frombuffer(raw, dtype=np.uint8)
    if b"00" in raw:
        zero = a == 48
        keep = np.ones(a.size, dtype=bool)
        keep[1:] = ~(zero[1:] & zero[:-1])
        a = a[keep]
    return a


def _without_addresses(raw: bytes) -> bytes:
    """Each space-separated token containing `://`, `www.` (-> `url`) or `@` (-> `email`) replaced, URL first."""
    spans: list[tuple[int, int, bytes]] = []
    for needle, placeholder in ((b"://", b"url"), (b"www.", b"url"), (b"@", b"email")):
        at = raw.find(needle)
        while at >= 0 and len(spans) < _MAX_ADDRESSES:
            end = raw.find(b" ", at)
            end = len(raw) if end < 0 else end
            spans.append((raw.rfind(b" ", 0, at) + 1, end, placeholder))
            at = raw.find(needle, end)
    if not spans:
        return raw
    out: list[bytes] = []
    cursor = 0
    for start, end, placeholder in sorted(spans, key=lambda span: (span[0], span[2] != b"url")):
        if start >= cursor:
            out += (raw[cursor:start], placeholder)
            cursor = end
    out.append(raw[cursor:])
    return b"".join(out)


def _token_hashes(a: npt.NDArray[np.uint8]) -> tuple[U64, bytes]:
    """One hash per space-separated token: polynomial mod 2^64 from prefix sums, vectorized. A long token with two
    digit runs or more (an id, hex, base64) hashes as the placeholder `tok`. And the text for TLSH: without those."""
    word = np.zeros(a.size + 2, dtype=bool)
    np.not_equal(a, 32, out=word[1:-1])
    change = np.flatnonzero(word[1:] != word[:-1])
    starts, ends = change[0::2], change[1::2]
    if not starts.size:
        return np.empty(0, dtype=np.uint64), b""
    prefix = np.zeros(a.size + 1, dtype=np.uint64)
    np.cumsum(a * _POW[: a.size], out=prefix[1:])
    tokens = (prefix[ends] - prefix[starts]) * _POW_INV[starts]
    raw = a.tobytes()
    if b"0" not in raw:
        return tokens, raw
    long_tokens = np.flatnonzero(ends - starts >= _LONG_TOKEN)
    zeros = np.flatnonzero(a == 48)  # a digit run is one `0` by now
    runs = np.searchsorted(zeros, ends[long_tokens]) - np.searchsorted(zeros, starts[long_tokens])
    mixed = long_tokens[runs >= 2]
    if mixed.size:
        tokens[mixed] = _TOK
        cuts = [0, *np.column_stack((starts[mixed], ends[mixed])).ravel().tolist(), len(raw)]
        raw = b"".join(raw[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts), 2))
    return tokens, raw


def _shingles(tokens: U64) -> U64:
    """Word 3-grams, each a mixed linear combination of its three token hashes."""
    if tokens.size == 0:
        return tokens
    if tokens.size < _SHINGLE:
        tokens = np.concatenate((tokens, np.zeros(_SHINGLE - tokens.size, dtype=np.uint64)))
    n = tokens.size - _SHINGLE + 1
    mixed = tokens[:n] * _SHINGLE_MUL[0] + tokens[1 : n + 1] * _SHINGLE_MUL[1] + tokens[2 : n + 2] * _SHINGLE_MUL[2]
    return _splitmix(mixed ^ _OPH_SEED)


def _one_permutation_minhash(shingles: U64) -> tuple[U64, int]:
    """Minimum hash per bin (top bits) and the number of distinct shingles. An empty bin borrows from the next filled
    bin to its right, offset by the distance, so two sets agree on it only if they agree on that bin and the gap."""
    if shingles.size == 0:
        return np.empty(0, dtype=np.uint64), 0
    values = np.sort(shingles)
    bins = (values >> _BIN_SHIFT).astype(np.intp)
    first = np.ones(values.size, dtype=bool)
    first[1:] = bins[1:] != bins[:-1]
    signature = np.full(PERMUTATIONS, _EMPTY, dtype=np.uint64)
    filled = bins[first]
    signature[filled] = values[first]
    if filled.size < PERMUTATIONS:
        empty = np.flatnonzero(signature == _EMPTY)
        donor = filled[np.searchsorted(filled, empty) % filled.size]
        distance = ((donor - empty) & (PERMUTATIONS - 1)).astype(np.uint64)
        signature[empty] = signature[donor] + distance * _GOLDEN
    return signature, int(np.count_nonzero(values[1:] != values[:-1])) + 1


def _band_keys(signature: U64) -> tuple[str, ...]:
    if signature.size != PERMUTATIONS:
        return ()
    raw = memoryview(signature.astype("<u8").tobytes())
    width = ROWS * 8
    return tuple(xxhash.xxh3_64_hexdigest(raw[i * width : (i + 1) * width], seed=i) for i in range(BANDS))


def _tlsh(data: bytes) -> str | None:
    if len(data) < _TLSH_MIN_BYTES:
        return None
    digest = tlsh.hash(data)
    return digest if isinstance(digest, str) and digest.startswith("T1") else None
