"""The lure lexicon (lexicon.toml): phrases, in several languages, that mark a kind of lure, found in what a
message says (subject, title, logo alt texts, body, read as one text)."""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from signalement.verdict.evidence import Evidence
from signalement.verdict.text import PhraseIndex


@cache
def descriptions() -> dict[str, str]:
    return {name: str(signal["description"]) for name, signal in _data().items()}


@cache
def _data() -> dict[str, dict[str, object]]:
    text = files("signalement.verdict").joinpath("lexicon.toml").read_text(encoding="utf-8")
    signals: dict[str, dict[str, object]] = tomllib.loads(text)["signal"]
    return signals


@cache
def _index() -> PhraseIndex:
    phrases: dict[str, list[str]] = {}
    for name, signal in _data().items():
        for phrase in signal["phrases"]:  # type: ignore[attr-defined]
            phrases.setdefault(str(phrase), []).append(name)
    return PhraseIndex(phrases)


def signals(evidence: Evidence) -> dict[str, list[str]]:
    """Signal -> the distinct phrases found for it."""
    return {signal: list(dict.fromkeys(phrases)) for signal, phrases in _index().find(evidence.words("says")).items()}
