"""Finding phrases in a text by whole words, whatever its case, accents and punctuation.

A text is normalized once (NFKD, accents dropped, lower case, every run of other characters than a-z0-9 made one
space) and then searched for each phrase with `in`: the phrase " verify your account " is found in
" please verify your account now ". A phrase is tried only when its rarest-looking word (its longest) is among the
text's words, a set intersection done in C: a text costs one normalization and a few substring searches, whatever
the number of phrases. A phrase whose words are not all in the text is skipped before any search.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Byte by byte: letters lowered, digits kept, anything else a space (bytes.translate runs at memory speed).
_KEEP = b"abcdefghijklmnopqrstuvwxyz0123456789"
_WORD_BYTES = bytes(c + 32 if 65 <= c <= 90 else c if c in _KEEP else 32 for c in range(256))


@dataclass(frozen=True)
class Normalized:
    padded: str  # " word word ... "
    words: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.words)


def normalize(text: str, limit: int = 50_000) -> Normalized:
    """The words of `text` (its first `limit` characters), normalized."""
    text = text[:limit]
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)  # "é" is "e" and a combining accent, dropped below
    words = text.encode("ascii", "ignore").translate(_WORD_BYTES).decode("ascii").split()
    return Normalized(f" {' '.join(words)} ", frozenset(words))


def phrase(text: str) -> str:
    """`text` as a phrase is written in the data files: normalized words separated by one space."""
    return normalize(text).padded.strip()


class PhraseIndex:
    """Phrases, each with the labels it stands for (a brand id, a lure signal)."""

    def __init__(self, phrases: Mapping[str, Iterable[str]]) -> None:
        self._by_key: dict[str, list[tuple[frozenset[str], str, str, tuple[str, ...]]]] = {}
        for text, labels in phrases.items():
            words = phrase(text).split()
            if not words:
                continue
            key = max(words, key=len)
            entry = (frozenset(words), f" {' '.join(words)} ", " ".join(words), tuple(labels))
            self._by_key.setdefault(key, []).append(entry)
        self._keys = frozenset(self._by_key)

    def find(self, text: Normalized) -> dict[str, list[str]]:
        """Label -> the phrases found for it, in a stable order."""
        found: dict[str, list[str]] = {}
        for key in sorted(text.words & self._keys):
            for words, padded, plain, labels in self._by_key[key]:
                # Every word present is a set test; only then the (slower) search for them in a row.
                if words <= text.words and padded in text.padded:
                    for label in labels:
                        found.setdefault(label, []).append(plain)
        return found
