"""Locality-sensitive fingerprints of a message's text, for clustering the messages of one campaign.

Normalization makes per-recipient variants of one message identical: lower case, punctuation out, digit runs
collapsed to one `0`, URLs, e-mail addresses, long mixed tokens (tracking ids, hex, base64) and greeted names
replaced by placeholders. The text is then cut into word 3-gram shingles, the first MAX_SHINGLES: the variants of
a campaign agree from their first lines, and a longer text adds cost, not evidence.

MinHash is one-permutation hashing (Li, Owen & Zhang 2012) with densification (Shrivastava & Li 2014): one 64-bit
hash per shingle, its top 7 bits pick one of 128 bins, the signature is the minimum of each bin, and an empty bin
takes the minimum of the next filled bin to its right (circularly). That value carries its bin in its top bits, so
two texts agree on an empty bin only if they agree on the donor bin. It estimates Jaccard similarity like 128
independent permutations for the cost of one sort and one searchsorted (a shingles x 128 hash matrix costs ~0.9 ms
for a 5 KB text). A band key is the low 16 bits of its 4 values: two different texts share a band by chance with
probability 2^-64, and it costs no hash call.

The whole text is a few numpy calls, whatever its length: each costs ~1 µs (2-3 µs when the rest of the analysis
has left the caches cold), where a Python step per token costs ~60 ns. A shingle's hash is the polynomial hash mod
2^64 of its bytes (the three tokens and the spaces between them), from prefix sums, times an odd constant. All are
fixed functions of the bytes, so fingerprints are stable across processes and machines (Python's hash() is
salted per process and never used). Changing any of it invalidates stored fingerprints.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
import tlsh

from signalement.mail.domains import registered_domain

PERMUTATIONS = 128
BANDS = 32
ROWS = PERMUTATIONS // BANDS  # 32 x 4: Jaccard 0.7 shares a band with p > 0.999, 0.2 with p ~ 0.05
MAX_BYTES = 8_192  # of UTF-8 text read: ~1,200 words, more than MAX_SHINGLES need; the rest is not read
MAX_SHINGLES = 600  # numpy sorts 256 values in 1 µs, 600 in 7 µs: only long texts have that many
TLSH_BYTES = 512  # of normalized text given to TLSH (~70 instructions a byte): variants agree from their first lines
_SHINGLE = 3
_MAX_TOKENS = MAX_SHINGLES + _SHINGLE - 1
_TLSH_MIN_BYTES = 50
_LONG_TOKEN = 8  # bytes after digit collapse, with two digit runs: "Xk29Fj3K2Lq7" -> "xk0fj0k0lq0"
_MAX_IDS = 500  # long mixed tokens replaced
_MAX_ADDRESSES = 500  # URL and e-mail tokens replaced; a hostile text may hold thousands

U64 = npt.NDArray[np.uint64]

# A greeting followed by capitalized words: the recipient's name in "Bonjour Marie Dupont," varies per copy. Read on
# the UTF-8 bytes: a capital is ASCII or a 2-byte Latin-1 capital (À-Ö, Ø-Þ); bytes >= 0x80 belong to words.
_GREETINGS = tuple(
    word.encode()
    for word in (
        *("bonjour", "bonsoir", "salut", "cher", "chère", "chers", "madame", "monsieur", "mme", "mlle"),
        *("hello", "hi", "hey", "dear", "mr", "mrs", "ms"),
    )
)
_GREETING_WORDS = frozenset(_GREETINGS)
_NOT_WORD = bytes(c for c in range(128) if not chr(c).isalnum())
_NOT_WORD_TO_SPACE = bytes.maketrans(_NOT_WORD, b" " * len(_NOT_WORD))
_BEFORE_NAME = frozenset(b" \t,:.")  # what may follow a greeting before the name
_NAME_AFTER = re.compile(rb"[ \t,:.]*((?:(?:[A-Z]|\xc3[\x80-\x96\x98-\x9e])[\w'\x80-\xff-]*[ \t]*){1,3})")
_GREETING_SCAN = 400  # bytes: greetings open the message

_INVISIBLE = ("\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad")
_LOWER_DIGITS_SPACES = bytes.maketrans(  # lower case, digits -> 0, whitespace -> space
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\t\n\r\x0b\x0c", b"abcdefghijklmnopqrstuvwxyz0000000000     "
)
_DIGIT_RUN = re.compile(rb"00+")
_TWO_DIGIT_RUNS = re.compile(rb"0[^ 0]*0")  # within one token
_ID = b"\x01"  # the placeholder of a long mixed token
_NAME = b"\x02"  # the placeholder of a greeted or given name
# Once URLs and addresses are out, punctuation separates words: "Durand," is the name "Durand". Control characters
# become spaces too, so that no text spells a placeholder.
_PUNCTUATION = b',.;:!?"()[]{}<>*|' + bytes(range(32))
_PUNCTUATION_TO_SPACE = bytes.maketrans(_PUNCTUATION, b" " * len(_PUNCTUATION))


def _powers(base: int, n: int) -> U64:
    table = np.full(n, base, dtype=np.uint64)
    table[0] = 1
    return np.cumprod(table, dtype=np.uint64)  # wraps mod 2^64, as intended


_P = 0x9E3779B97F4A7C15  # odd, so invertible mod 2^64
_POW = _powers(_P, MAX_BYTES + 2)  # the text and a space on each side
_MIX = 0xBF58476D1CE4E5B9  # odd: the final multiplier of a shingle's hash, folded into the inverse powers
# P^-(i+1) * _MIX: a shingle starts after the space at i
_POW_INV_NEXT = _powers(pow(_P, -1, 2**64), MAX_BYTES + 3)[1:] * np.uint64(_MIX)
# Operands built once, as 0-d arrays: a ufunc takes them ~30% faster than numpy scalars, and building one costs
# ~0.2 µs, a noticeable share of an operation on a short text.
_SPACE = np.array(32, dtype=np.uint8)
_BIN_STARTS = np.arange(PERMUTATIONS, dtype=np.uint64) << np.uint64(64 - 7)  # 7 = log2(PERMUTATIONS)
_EMPTY = np.empty(0, dtype=np.uint64)
_LITTLE_ENDIAN = sys.byteorder == "little"


@dataclass(frozen=True)
class Fingerprint:
    tlsh: str | None
    minhash: bytes  # the signature, PERMUTATIONS little-endian uint64, kept in memory for similarity()
    bands: tuple[str, ...]  # what an index stores
    shingles: int
    domains: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"tlsh": self.tlsh, "bands": list(self.bands), "shingles": self.shingles, "domains": list(self.domains)}


def fingerprint(text: str, url_domains: Iterable[str], subject: str = "", names: Iterable[str] = ()) -> Fingerprint:
    """Fingerprint of a message's text (and subject). `names`: the recipient's names or address local parts, if known,
    are replaced like greeted names. Never raises; texts longer than MAX_BYTES are cut."""
    body = _without_greeted_names(_utf8(text))
    hashed, readable = _without_ids(_normalized(_utf8(subject) + b"\n" + body if subject else body))
    name_list = [n for n in names if n.strip()]
    if name_list:
        hashed = _without_names(hashed, _without_ids(_normalized(_utf8(" ".join(name_list))))[0].split())
    signature, distinct = _one_permutation_minhash(_shingle_hashes(hashed))
    minhash = signature.tobytes() if _LITTLE_ENDIAN else signature.astype("<u8").tobytes()
    return Fingerprint(
        tlsh=_tlsh(readable[:TLSH_BYTES]),
        minhash=minhash,
        bands=_band_keys(minhash),
        shingles=distinct,
        domains=tuple(sorted({d for d in map(registered_domain, set(url_domains)) if d})),
    )


def similarity(a: Fingerprint, b: Fingerprint) -> float:
    """Estimated Jaccard similarity of two texts' shingle sets: from the MinHash signatures when both are present,
    else from the share of equal bands (a band matches with probability J^ROWS)."""
    if len(a.minhash) == len(b.minhash) == PERMUTATIONS * 8:
        equal = np.frombuffer(a.minhash, dtype="<u8") == np.frombuffer(b.minhash, dtype="<u8")
        return int(np.count_nonzero(equal)) / PERMUTATIONS
    if not a.bands or len(a.bands) != len(b.bands):
        return 0.0
    shared = sum(x == y for x, y in zip(a.bands, b.bands, strict=True)) / len(a.bands)
    return float(shared ** (1 / ROWS))


def _utf8(text: str) -> bytes:
    """UTF-8 (capped), invisible characters out, no-break spaces as spaces."""
    text = text[:MAX_BYTES]
    if not text.isascii():
        for char in _INVISIBLE:
            if char in text:
                text = text.replace(char, "")
        text = text.replace("\u00a0", " ")
    return text.encode("utf-8", "replace")[:MAX_BYTES]


def _without_greeted_names(raw: bytes) -> bytes:
    """`Bonjour Marie Dupont,` -> `Bonjour name,` (the placeholder). Most texts greet nobody by name: one pass of
    bytes methods over the head tells, before a find per greeting (a regex search costs ~30 µs here). A greeting's
    hits inside words ("this", "comme") are rejected by what follows them: a space, a tab or punctuation."""
    head = raw[:_GREETING_SCAN]
    low = head.lower()
    if _GREETING_WORDS.isdisjoint(low.translate(_NOT_WORD_TO_SPACE).split()):
        return raw
    spans: list[tuple[int, int]] = []
    for word in _GREETINGS:
        at = low.find(word)
        while at >= 0:
            end = at + len(word)
            if end < len(low) and low[end] in _BEFORE_NAME and (at == 0 or low[at - 1] in _NOT_WORD):
                match = _NAME_AFTER.match(head, end)
                if match and match.group(1):
                    spans.append(match.span(1))
            at = low.find(word, end)
    if not spans:
        return raw
    out: list[bytes] = []
    cursor = 0
    for start, stop in sorted(spans):
        if start >= cursor:
            out += (head[cursor:start], _NAME, b" ")
            cursor = stop
    out.append(raw[cursor:])
    return b"".join(out)


def _normalized(raw: bytes) -> bytes:
    """ASCII lower case (variants of one campaign share their casing), whitespace -> space, URL and e-mail tokens
    -> `url`, `email`, punctuation -> space, digit runs -> one `0`. Bytes methods: each costs a few µs on 5 KB where
    a regex pass costs ~40."""
    raw = raw[:MAX_BYTES].translate(_LOWER_DIGITS_SPACES)
    raw = _without_addresses(raw).translate(_PUNCTUATION_TO_SPACE)
    return _DIGIT_RUN.sub(b"0", raw) if b"00" in raw else raw


def _without_addresses(raw: bytes) -> bytes:
    """Each space-separated token containing `://`, `www.` (-> `url`) or `@` (-> `email`), URL first. bytes.find:
    a regex alternation tests every byte (~2.5 ns a byte)."""
    spans: list[tuple[int, bool, int]] = []
    for needle, email in ((b"://", False), (b"www.", False), (b"@", True)):
        at = raw.find(needle)
        while at >= 0 and len(spans) < _MAX_ADDRESSES:
            end = raw.find(b" ", at)
            end = len(raw) if end < 0 else end
            spans.append((raw.rfind(b" ", 0, at) + 1, email, end))
            at = raw.find(needle, end)
    if not spans:
        return raw
    spans.sort()  # a URL before an address at the same start
    out: list[bytes] = []
    cursor = 0
    for start, email, end in spans:
        if start >= cursor:
            out += (raw[cursor:start], b"email" if email else b"url")
            cursor = end
    out.append(raw[cursor:])
    return b"".join(out)


def _without_ids(raw: bytes) -> tuple[bytes, bytes]:
    """Long tokens with two digit runs or more (an id, hex, base64): replaced by a placeholder for hashing, and cut
    out of the text TLSH reads. Found from their digit runs: a regex with a literal first byte skips ahead fast."""
    if b"0" not in raw:
        return raw, raw
    spans: list[tuple[int, int]] = []
    cursor = 0
    while len(spans) < _MAX_IDS:
        found = _TWO_DIGIT_RUNS.search(raw, cursor)
        if found is None:
            break
        start = raw.rfind(b" ", 0, found.start()) + 1
        end = raw.find(b" ", found.end())
        end = len(raw) if end < 0 else end
        if end - start >= _LONG_TOKEN:
            spans.append((start, end))
        cursor = end
    if not spans:
        return raw, raw
    kept = [raw[stop:start] for (_, stop), (start, _) in zip([(0, 0), *spans], [*spans, (len(raw), 0)], strict=True)]
    return _ID.join(kept), b"".join(kept)


def _without_names(raw: bytes, names: list[bytes]) -> bytes:
    """Tokens equal to one of the names -> the name placeholder."""
    spaced = b" " + raw + b" "
    for name in set(names):
        for _ in range(2):  # "bob bob": the first replace consumes the space the second occurrence starts with
            spaced = spaced.replace(b" " + name + b" ", b" " + _NAME + b" ")
    return spaced[1:-1]


def _shingle_hashes(raw: bytes) -> U64:
    """Word 3-grams (one for a text of one or two words), hashed from prefix sums: the polynomial hash of the bytes
    from a token to the one two further on, made independent of its position by the inverse power of its start,
    then multiplied by an odd constant (its top bits pick the bin). The text is padded with a space on each side:
    `change` then alternates the space before each token and the token's last byte."""
    a = np.frombuffer(b" " + raw + b" ", dtype=np.uint8)
    space = a == _SPACE
    change = (space[1:] != space[:-1]).nonzero()[0]
    if change.size > 2 * _MAX_TOKENS:
        change = change[: 2 * _MAX_TOKENS]
    elif not change.size:
        return _EMPTY
    end = change.item(-1) + 1  # the bytes past the last shingle are not read
    prefix = a[:end] * _POW[:end]
    prefix.cumsum(out=prefix)
    sums: U64 = prefix.take(change)
    if change.size >= 2 * _SHINGLE:
        starts = change[: 1 - 2 * _SHINGLE : 2]
        hashes = sums[2 * _SHINGLE - 1 :: 2] - sums[: 1 - 2 * _SHINGLE : 2]
    else:
        starts = change[:1]
        hashes = sums[-1:] - sums[:1]
    hashes *= _POW_INV_NEXT.take(starts)
    return hashes


def _one_permutation_minhash(shingles: U64) -> tuple[U64, int]:
    """Minimum hash per bin (top bits) and the number of distinct shingles, from the shingles sorted in place. The
    first hash at or above a bin's start is that bin's minimum or, for an empty bin, the next filled bin's; past
    the last filled bin the index wraps around to the smallest hash of all."""
    if shingles.size == 0:
        return _EMPTY, 0
    shingles.sort()
    signature = shingles.take(shingles.searchsorted(_BIN_STARTS), mode="wrap")
    return signature, int(np.count_nonzero(shingles[1:] != shingles[:-1])) + 1


def _band_keys(minhash: bytes) -> tuple[str, ...]:
    """One 16-hex-digit key per band: the low 16 bits of its ROWS values (little-endian in `minhash`), taken with a
    strided memoryview rather than numpy calls."""
    if len(minhash) != PERMUTATIONS * 8:
        return ()
    hexed = memoryview(minhash).cast("H")[::4].tobytes().hex()
    return tuple([hexed[start : start + 16] for start in range(0, 16 * BANDS, 16)])


def _tlsh(data: bytes) -> str | None:
    if len(data) < _TLSH_MIN_BYTES:
        return None
    digest = tlsh.hash(data)
    return digest if isinstance(digest, str) and digest.startswith("T1") else None
