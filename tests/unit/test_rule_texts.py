"""Rule texts: each catalog (ui/messages/rules.<lang>.toml) explains every verdict rule, and only those, briefly."""

from __future__ import annotations

import tomllib
from importlib.resources import files
from typing import Any

import pytest

from signalement.verdict.rules import RULES

LANGS = ("en", "fr")
MAX_CHARS = 160


def _catalog(lang: str) -> dict[str, Any]:
    text = files("signalement.ui").joinpath("messages", f"rules.{lang}.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


@pytest.mark.parametrize("lang", LANGS)
def test_keys_are_the_rules(lang: str) -> None:
    catalog = _catalog(lang)
    assert set(catalog) - set(RULES) == set(), "texts for no rule"
    assert set(RULES) - set(catalog) == set(), "rules without a text"


@pytest.mark.parametrize("lang", LANGS)
def test_values_are_short_strings(lang: str) -> None:
    for name, text in _catalog(lang).items():
        assert isinstance(name, str)
        assert isinstance(text, str), name
        assert text.strip(), name
        assert len(text) <= MAX_CHARS, f"{name}: {len(text)} characters"


@pytest.mark.parametrize("lang", LANGS)
def test_values_read_as_list_items(lang: str) -> None:
    # Shown under "Why:": a lowercase start, no final period.
    for name, text in _catalog(lang).items():
        assert not text[0].isupper(), name
        assert not text.endswith("."), name
