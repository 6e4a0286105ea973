"""URLs in mail text, and the collector that unwraps, canonicalizes and merges URL candidates from every place.

Text is searched for three forms: with a scheme (`https://`, `ftp://`), `www.` names, and bare domains
(`secure-paypal.com/login`). A bare domain counts only under a suffix the Public Suffix List knows, with its
top-level label in one case (`office.It` is a sentence without its space); without a path, only under a suffix
seldom met in prose (`.com`, most country codes: not `.in`, `.it`, nor `.zip`, `.py`, `.md`, which are also
file extensions). An e-mail address's domain is not a URL: addresses are reported on their own. Defanged text
(`hxxp://evil[.]example`) is re-fanged and searched again.
"""

from __future__ import annotations

import itertools
import re
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from signalement.mail.canonical import canonicalize, plain_url, split
from signalement.mail.domains import registered_domain
from signalement.mail.unwrap import may_wrap, unwrap

__all__ = ["FoundURL", "collect", "is_bare_url", "urls_in_text"]

_MAX_TEXT = 2_000_000  # characters searched in one text
_MAX_FOUND = 5000  # URL candidates taken from one text
_MAX_TRIES = 20_000  # places looked at for each kind of URL start (`://`, `www`, a dot): hostile text stops there
_MAX_CANDIDATE = 16384  # characters of one candidate: longer ones are cut before the collector reads them
_MAX_CACHED = 2048  # characters of a candidate whose reading is cached
_WEB_SCHEMES = frozenset({"http", "https", "ftp"})
_SCHEME = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.\-]*://")
# A host that DNS or an IP literal can serve: canonical hosts may hold escapes (`%20x.com`) a resolver refuses.
_HOST = re.compile(r"[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\]")

_CHARS = r"[^\s<>\"'`{}|\\^\[\]\x00-\x1f\x7f]"  # what a URL written in text can hold
# The search is anchored on cheap literals (`://`, `www`, a dot before a letter) and grows each hit with an
# anchored match: one big alternation with look-behinds costs ~50 ns a character in Python's engine.
_AFTER_SCHEME = re.compile(rf"\[[0-9A-Fa-f:.]+\]{_CHARS}*|{_CHARS}+")
_WWW_SPELLINGS = ("www", "WWW", "Www")
_WWW = re.compile(rf"www\d{{0,3}}\.{_CHARS}+", re.IGNORECASE)
_DOT_LETTER = re.compile(r"\.[A-Za-z]")
# A bare domain: whole labels, then an optional path.
_BARE = re.compile(
    rf"(?:[a-z0-9](?:[a-z0-9-]{{0,61}}[a-z0-9])?\.)+[a-z][a-z0-9-]{{0,61}}[a-z0-9](?![\w@-]|\.[a-z0-9])(?:[/?#]{_CHARS}*)?",
    re.IGNORECASE,
)
_LABEL_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-."
_BEFORE_WWW = re.compile(r"[\w.@/-]")
_BEFORE_BARE = re.compile(r"[\w.@/:%+=&#~-]")  # after `@` it is an address; inside a word, path or number
_TRAILING = frozenset(".,;:!?'\"*»›…。，、；：！？")
_CLOSING = {")": "(", "]": "[", "}": "{"}
_PATH_START = re.compile(r"[/?#]")
_ENTITY_TAIL = re.compile(r"&(?:gt|lt|quot|apos|#39|#34);?$", re.IGNORECASE)
# Suffixes that are also common file extensions: `report.zip` or `setup.py` is a file unless a path follows.
_FILE_LIKE_SUFFIXES = frozenset(
    {"zip", "mov", "py", "sh", "md", "pl", "rs", "so", "ai", "ps", "pm", "app", "cc", "cf", "ac", "mk", "la"}
)
# Without a path, a bare name is a domain only under a suffix seldom met in prose: country codes but those that
# are English words (`sign.in`, `office.it`), and the generic suffixes mail and spam actually use.
_WORD_COUNTRY_CODES = frozenset({"in", "it", "is", "at", "be", "to", "us", "no", "do", "am", "as", "by", "my", "id"})
_PROSE_SAFE_GENERIC = frozenset(
    {"com", "net", "org", "info", "biz", "edu", "gov", "mil", "int", "mobi", "asia", "xyz", "top", "online", "site"}
    | {"shop", "store", "club", "icu", "buzz", "website", "tech", "cloud", "vip", "dev", "cfd", "sbs", "bond", "cyou"}
)

# Literal markers, found by one search for all of them (factored by first character); most texts have none.
_DEFANG_MARKS = ("hxxp", "hXXp", "HXXP", "[.]", "(.)", "{.}", "[dot]", "(dot)", "{dot}", "[DOT]", "[:]", "[://]", "[/]")
_DEFANG_MARK = re.compile(r"h(?:xxp|XXp)|HXXP|\[(?:\.|dot|DOT|:|://|/)\]|\((?:\.|dot)\)|\{(?:\.|dot)\}")
_HXXP = (("hxxp", "http"), ("hXXp", "http"), ("Hxxp", "Http"), ("HXXP", "HTTP"))  # str.replace: C speed
_REFANG = (
    (re.compile(r"\[:\]//|\[://\]|\[:/\]/"), "://"),
    (re.compile(r"\[:\]"), ":"),
    (re.compile(r"\[/\]"), "/"),
    (re.compile(r" ?[\[({] ?(?:\.|[dD][oO][tT]) ?[\])}] ?"), "."),
)


@dataclass(frozen=True, slots=True)
class FoundURL:
    url: str  # the target as written, after unwrapping
    canonical: str  # Safe Browsing canonical form
    host: str
    registered_domain: str | None  # None for an IP address or an unknown suffix
    where: tuple[str, ...]  # sorted distinct places: "html:a", "text", "text:deobfuscated"...
    wrapper: str | None  # the link wrappers removed, outermost first (`outlook-safelinks>proofpoint-v3`)

    def as_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "canonical": self.canonical,
            "host": self.host,
            "registered_domain": self.registered_domain,
            "where": list(self.where),
            "wrapper": self.wrapper,
        }


def urls_in_text(text: str) -> list[tuple[str, str]]:
    """The URLs written in a text, in order, as (url, where): "text", or "text:deobfuscated" for those that
    appear only once defanged forms (`hxxp`, `[.]`, `[:]//`...) are restored."""
    if not isinstance(text, str) or not text:
        return []
    text = text[:_MAX_TEXT]
    found = dict.fromkeys(itertools.islice(_find(text), _MAX_FOUND))
    if _DEFANG_MARK.search(text) is None:
        return [(url, "text") for url in found]
    # Only the re-fanged text is read for URLs: in the defanged one, `bad(.)example.net/y` holds a false
    # `example.net/y`. What the original also shows as such stays "text".
    refanged = dict.fromkeys(itertools.islice(_find(refang(text)), _MAX_FOUND))
    return [(url, "text" if url in found else "text:deobfuscated") for url in refanged]


def refang(text: str) -> str:
    """Defanged URL spellings put back: `hxxps[:]//evil[.]example` -> `https://evil.example`."""
    for defanged, fanged in _HXXP:
        text = text.replace(defanged, fanged)
    for pattern, replacement in _REFANG:
        text = pattern.sub(replacement, text)
    return text


def is_bare_url(candidate: str) -> bool:
    """True when text without a scheme (`example.com/login`, `www.example.com`) names a web host: a suffix the
    Public Suffix List knows, one case in the top-level label, and a path after a file-like suffix."""
    path = _PATH_START.search(candidate)
    host, rest = (candidate[: path.start()], candidate[path.start() :]) if path else (candidate, "")
    tld = host.rpartition(".")[2]
    if not tld or not (tld.islower() or tld.isupper()) or not host.isascii():
        return False
    if not rest and host[:4].lower() != "www." and not _prose_safe(tld.lower()):
        return False
    return registered_domain(host) is not None


def _prose_safe(tld: str) -> bool:
    if len(tld) == 2:
        return tld not in _WORD_COUNTRY_CODES and tld not in _FILE_LIKE_SUFFIXES
    return tld in _PROSE_SAFE_GENERIC


class _Entry:
    __slots__ = ("host", "places", "url", "wrapper")

    def __init__(self, url: str, wrapper: str | None, host: str) -> None:
        self.url, self.wrapper, self.host, self.places = url, wrapper, host, set[str]()


def collect(candidates: Iterable[tuple[str, str]], limit: int = 1000) -> list[FoundURL]:
    """Unwrap, canonicalize and merge (url, where) candidates: one FoundURL per canonical URL, in first-seen
    order, with every place it was seen; candidates with no valid web host are dropped; at most `limit`."""
    by_canonical: dict[str, _Entry] = {}
    by_raw: dict[str, _Entry | None] = {}  # the same link is common in a message: read it once
    for seen, (raw, where) in enumerate(candidates):
        if seen >= limit * 20:
            break  # a hostile part can hold millions of links: the first ones are the ones shown
        if not isinstance(raw, str):
            continue
        if raw in by_raw:
            entry = by_raw[raw]
        else:
            entry = by_raw[raw] = _entry(raw, by_canonical, limit)
        if entry is not None:
            entry.places.add(where)
    return [
        FoundURL(e.url, canonical, e.host, registered_domain(e.host), tuple(sorted(e.places)), e.wrapper)
        for canonical, e in by_canonical.items()
    ]


def _entry(raw: str, by_canonical: dict[str, _Entry], limit: int) -> _Entry | None:
    read = _read_cached(raw) if len(raw) <= _MAX_CACHED else _read(raw)
    if read is None:
        return None
    target, wrapper, canonical, host = read
    entry = by_canonical.get(canonical)
    if entry is None and len(by_canonical) < limit:
        entry = by_canonical[canonical] = _Entry(target, wrapper, host)
    return entry


def _read(raw: str) -> tuple[str, str | None, str, str] | None:
    """(target, wrappers, canonical form, host) of a candidate, or None when it names no web host."""
    plain = plain_url(raw)
    if plain is not None and not may_wrap(plain[1]):  # the common link: nothing to unwrap or decode
        canonical, host, has_scheme = plain
        return (raw, None, canonical, host) if has_scheme or is_bare_url(raw) else None
    target, wrapper = unwrap(raw[:_MAX_CANDIDATE].strip())
    if not _SCHEME.match(target) and not is_bare_url(target):
        return None  # "not a url" would canonicalize to http://not%20a%20url/
    found = canonicalize(target)
    if found is None:
        return None
    scheme, host, _ = split(found)
    if scheme not in _WEB_SCHEMES or not _HOST.fullmatch(host):
        return None
    return target, wrapper, found, host


# Tracking links repeat from message to message of a campaign: the short ones are read once.
_read_cached = lru_cache(maxsize=8192)(_read)


def _find(text: str) -> Iterable[str]:
    spans = _spans(text)
    # A URL with a scheme wins over a bare name that overlaps it (`below.https://...` is not `below.https`).
    kept = _disjoint(sorted((s for s in spans if s[2]), key=_span_order))
    scheme_spans = [(start, stop) for start, stop, _ in kept]
    kept += [
        s for s in _disjoint(sorted((s for s in spans if not s[2]), key=_span_order)) if not _overlaps(s, scheme_spans)
    ]
    for start, stop, has_scheme in sorted(kept):
        url = _trim(text[start:stop])
        if not url.endswith("://") if has_scheme else is_bare_url(url):
            yield url


def _span_order(span: tuple[int, int, bool]) -> tuple[int, int]:
    return span[0], -span[1]


def _disjoint(spans: list[tuple[int, int, bool]]) -> list[tuple[int, int, bool]]:
    """The spans, sorted by start, without those that begin inside a previous one."""
    kept: list[tuple[int, int, bool]] = []
    end = 0
    for span in spans:
        if span[0] >= end:
            kept.append(span)
            end = span[1]
    return kept


def _overlaps(span: tuple[int, int, bool], sorted_spans: list[tuple[int, int]]) -> bool:
    index = bisect_right(sorted_spans, (span[1],)) - 1  # the last one that starts before this one ends
    return index >= 0 and sorted_spans[index][1] > span[0]


def _spans(text: str) -> list[tuple[int, int, bool]]:
    """(start, end, has a scheme) of every URL-like run, unordered and overlapping."""
    return _scheme_spans(text) + _www_spans(text) + _bare_spans(text)


def _scheme_spans(text: str) -> list[tuple[int, int, bool]]:
    spans: list[tuple[int, int, bool]] = []
    colon = text.find("://")
    for _ in range(_MAX_TRIES):
        if colon < 0:
            break
        start = _scheme_start(text, colon)
        tail = _AFTER_SCHEME.match(text, colon + 3) if start is not None else None
        if start is not None and tail is not None:
            spans.append((start, tail.end(), True))
        colon = text.find("://", colon + 3)
    return spans


def _www_spans(text: str) -> list[tuple[int, int, bool]]:
    spans: list[tuple[int, int, bool]] = []
    for spelling in _WWW_SPELLINGS:
        at = text.find(spelling)
        for _ in range(_MAX_TRIES):
            if at < 0:
                break
            match = _WWW.match(text, at)
            if match is not None and not (at and _BEFORE_WWW.match(text, at - 1)):
                spans.append((at, match.end(), False))
            at = text.find(spelling, at + 3)
    return spans


def _bare_spans(text: str) -> list[tuple[int, int, bool]]:
    spans: list[tuple[int, int, bool]] = []
    done = 0
    for tries, match in enumerate(_DOT_LETTER.finditer(text)):
        if tries >= _MAX_TRIES:
            break
        dot = match.start()
        if dot < done:
            continue
        floor = max(0, dot - 253)  # no domain name is longer
        start = floor + len(text[floor:dot].rstrip(_LABEL_CHARS))  # where the run of label characters begins
        done = dot + 1
        if start and _BEFORE_BARE.match(text, start - 1):
            continue
        bare = _BARE.match(text, start)
        if bare is not None:
            spans.append((start, bare.end(), False))
            done = bare.end()
    return spans


def _scheme_start(text: str, colon: int) -> int | None:
    # Text glued before the scheme (`below.https://`, `2025https://`) does not stop a URL; only `sftp://`
    # is not an `ftp://` one.
    head = text[max(0, colon - 5) : colon].lower()
    if head.endswith(("http", "https")):
        return colon - (5 if head.endswith("https") else 4)
    if head.endswith("ftp") and not (colon > 3 and text[colon - 4].isalpha()):
        return colon - 3
    return None


def _trim(url: str) -> str:
    """Drop the punctuation that ends a sentence or wraps the URL; keep a closing bracket that the URL opened
    (`https://en.wikipedia.org/wiki/Bracket_(disambiguation)`)."""
    while url:
        last = url[-1]
        if last in _CLOSING:
            if url.count(_CLOSING[last]) >= url.count(last):
                break
            url = url[:-1]
        elif last in _TRAILING:
            url = url[:-1]
        else:
            entity = _ENTITY_TAIL.search(url)
            if entity is None:
                break
            url = url[: entity.start()]
    return url


def domains(found: Iterable[FoundURL]) -> list[str]:
    """The registered domain of each URL (its host when it has none, such as an IP address), for fingerprints."""
    return [u.registered_domain or u.host for u in found]
