"""Finding phrases in a text by whole words, whatever its case, accents and punctuation.

A text is normalized once (NFKD, accents dropped, lower case, every run of other characters than a-z0-9 made one
space) and then searched for each phrase with `in`: the phrase " verify your account " is found in
" please verify your account now ". A phrase is tried only when its rarest-looking word (its longest) is among the
text's words, a set intersection done in C: a text costs one normalization and a few substring searches, whatever
the number of phrases.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_WORDS = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True)
class Normalized:
    padded: str  # " word word ... "
    words: frozenset[str]

    def __bool__(self) -> bool:
        return bool(self.words)


def normalize(text: str, limit: int = 50_000) -> Normalized:
    """The words of `text` (its first `limit` characters), normalized."""
    folded = unicodedata.normalize("NFKD", text[:limit]).encode("ascii", "ignore").decode("ascii").lower()
    words = _WORDS.findall(folded)
    return Normalized(f" {' '.join(words)} ", frozenset(words))


def phrase(text: str) -> str:
    """`text` as a phrase is written in the data files: normalized words separated by one space."""
    return normalize(text).padded.strip()


class PhraseIndex:
    """Phrases, each with the labels it stands for (a brand id, a lure signal)."""

    def __init__(self, phrases: Mapping[str, Iterable[str]]) -> None:
        self._by_key: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
        for text, labels in phrases.items():
            words = phrase(text).split()
            if not words:
                continue
            key = max(words, key=len)
            self._by_key.setdefault(key, []).append((f" {' '.join(words)} ", " ".join(words), tuple(labels)))
        self._keys = frozenset(self._by_key)

    def find(self, text: Normalized) -> dict[str, list[str]]:
        """Label -> the phrases found for it, in a stable order."""
        found: dict[str, list[str]] = {}
        for key in sorted(text.words & self._keys):
            for padded, plain, labels in self._by_key[key]:
                if padded in text.padded:
                    for label in labels:
                        found.setdefault(label, []).append(plain)
        return found
