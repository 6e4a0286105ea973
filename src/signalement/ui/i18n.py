"""French and English: the language a page is in, from the person's choice (a cookie) or their browser's
Accept-Language, and the catalogs (messages/<lang>.toml, one key per text, the same keys in each: a test checks)."""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from functools import cache
from importlib.resources import files

LANGUAGES = ("fr", "en")
DEFAULT = "en"
COOKIE = "lang"
Translate = Callable[..., str]


@cache
def catalog(lang: str) -> Mapping[str, str]:
    """The page texts, and the verdict's rules in plain words under `rule.<name>` (messages/rules.<lang>.toml)."""
    folder = files("signalement.ui").joinpath("messages")
    texts = tomllib.loads(folder.joinpath(f"{lang}.toml").read_text(encoding="utf-8"))
    rules = tomllib.loads(folder.joinpath(f"rules.{lang}.toml").read_text(encoding="utf-8"))
    return texts | {f"rule.{name}": text for name, text in rules.items()}


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The chosen language if it is one of ours, else the browser's first we have (by q-value), else English."""
    if chosen in LANGUAGES:
        return chosen
    ranked: list[tuple[float, str]] = []
    for item in (accept_language or "").split(",")[:20]:
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((quality, tag.strip().lower().split("-")[0]))
    for quality, lang in sorted(ranked, key=lambda pair: -pair[0]):
        if quality > 0 and lang in LANGUAGES:
            return lang
    return DEFAULT


def translator(lang: str) -> Translate:
    texts = catalog(lang)

    def translate(key: str, **values: object) -> str:
        text = texts.get(key) or catalog(DEFAULT).get(key) or key
        return text.format(**values) if values else text

    return translate
