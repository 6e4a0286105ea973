"""Lookalike domains: hosts that imitate a brand of the registry.

Kinds, strongest first: confusable characters (the TR39 skeleton of a label equals a brand label's), mixed-script
IDN labels (the browsers' rules), the brand as a label or a word of a subdomain (brand-label), the exact brand label
under another suffix (tld-swap), hyphens inserted into the brand label (hyphenated), the brand joined with other
words in the registered label (combosquat), and one-edit typos of the brand label (typosquat). A host of a domain
that a brand of the registry owns (official or sending) is never a lookalike: brands vouch for their own domains.

Everything is precomputed once per registry, so that a check costs a few dictionary look-ups per label.
"""

from __future__ import annotations

import difflib
import json
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib.resources import files
from typing import NamedTuple

import idna

from signalement.mail.domains import is_ip, registered_domain
from signalement.verdict.brands import Registry, registry

KINDS = ("confusable", "mixed-script", "brand-label", "tld-swap", "hyphenated", "combosquat", "typosquat")
_RANK = {kind: rank for rank, kind in enumerate(KINDS)}

_MAX_HOST = 253  # a longer name cannot be resolved: only its last labels are examined
_MAX_KEY = 1024  # of a cache key: bounds the cache's memory whatever the input
_TYPO_MIN = 5  # one edit away from a shorter label is mostly noise ("ups", "sfr")
_WORD_MIN = 4  # a brand label as a whole word of a label, delimited by hyphens, dots or the label's ends
_AFFIX_MIN = 5  # a brand label glued to other letters, at one end of a word only
_INVISIBLE = frozenset({"Mn", "Cf"})  # combining marks, zero-width and other format characters
_PORT = re.compile(r":\d{1,5}\Z")
_LATIN_WORD = re.compile(r"[a-z0-9-]*[a-z][a-z0-9-]*\Z")

_QWERTY = ("1234567890-", "qwertyuiop", "asdfghjkl", "zxcvbnm")
_AZERTY = ("1234567890", "azertyuiop", "qsdfghjklm", "wxcvbn")

# Scripts that a Latin label may not mix with (Mozilla's "moderately restrictive" profile, Chromium alike), and
# the CJK sets that are legitimate together.
_LATIN_LOOKALIKE_SCRIPTS = frozenset({"Cyrillic", "Greek", "Cherokee"})
_CJK_SETS = (
    frozenset({"Latin", "Han", "Hiragana", "Katakana"}),
    frozenset({"Latin", "Han", "Bopomofo"}),
    frozenset({"Latin", "Han", "Hangul"}),
)
# Top-level domains where a label wholly in one of these scripts is at home even when it reads as Latin.
_SCRIPT_TLDS = {
    "Cyrillic": frozenset({"ru", "su", "by", "ua", "kz", "kg", "tj", "uz", "bg", "mk", "rs", "ba", "me", "mn", "md"}),
    "Greek": frozenset({"gr", "cy"}),
    "Armenian": frozenset({"am"}),
    "Georgian": frozenset({"ge"}),
}
# Country-code top-level domains sold as generic ones.
_GENERIC_CCTLDS = frozenset(
    {"ac", "ai", "bz", "cc", "cf", "co", "cx", "fm", "ga", "gg", "gq", "io", "la", "ly", "me", "ml", "nu", "pw"}
    | {"sh", "so", "st", "su", "tk", "to", "tv", "vc", "ws"}
)
_NAME_SCRIPTS = {"CJK": "Han", "IDEOGRAPHIC": "Han", "MODIFIER": "Common", "KATAKANA-HIRAGANA": "Common"}


@dataclass(frozen=True)
class Lookalike:
    brand: str  # Brand.id, or "" for a mixed-script label that imitates no brand of the registry
    kind: str  # one of KINDS
    detail: str  # one plain line

    def as_json(self) -> dict[str, str]:
        return {"brand": self.brand, "kind": self.kind, "detail": self.detail}


class _Label(NamedTuple):
    brand: str
    label: str


class _Host(NamedTuple):
    display: str  # Unicode form, with the punycode form in brackets when they differ
    labels: tuple[str, ...]  # Unicode labels, lower case
    registered: int  # index of the registered label (the one left of the public suffix)
    skeletons: tuple[str, ...]
    domain: str  # the registered domain, ASCII (punycode)
    plain: bool  # every label is ASCII, none punycode: no script to check

    @property
    def label(self) -> str:
        return self.labels[self.registered]

    @property
    def suffix(self) -> str:
        return ".".join(self.labels[self.registered + 1 :])


# -- skeletons and scripts ---------------------------------------------------------------------------------------


@cache
def _table() -> dict[int, str]:
    text = files("signalement.verdict").joinpath("data/confusables.json").read_text(encoding="utf-8")
    mapping: dict[str, str] = json.loads(text)["map"]
    return {ord(c): proto for c, proto in mapping.items()}


def skeleton(label: str) -> str:
    """The TR39 skeleton of a lower-case label, without diacritics (Chromium compares that too) nor invisible
    format characters (zero-width joiners), so that `paypa1`, `pаypal` (Cyrillic a), `paypàl` and `pay` + ZWJ +
    `pal` all read as `paypal`, and `rnicrosoft` and `microsoft` as `rnicrosoft`."""
    if not label.isascii():
        decomposed = unicodedata.normalize("NFD", label)
        label = "".join(c for c in decomposed if unicodedata.category(c) not in _INVISIBLE)
    return label.translate(_table())


@lru_cache(maxsize=8192)
def script_of(char: str) -> str:
    """The script of a character, from its Unicode name (the standard library has no Script property):
    "Latin", "Cyrillic", "Han"...; "Common" for digits, hyphens and symbols, "Inherited" for combining marks."""
    if char.isascii():
        return "Latin" if char.isalpha() else "Common"
    category = unicodedata.category(char)
    if category[0] == "M":
        return "Inherited"
    if category[0] != "L":
        return "Common"
    first = unicodedata.name(char, "COMMON").split(" ", 1)[0]
    return _NAME_SCRIPTS.get(first, first.title())


def scripts(label: str) -> frozenset[str]:
    return frozenset(script_of(c) for c in label) - {"Common", "Inherited"}


# -- parsing --------------------------------------------------------------------------------------------------------


def _decode_label(label: str) -> str:
    if not label.startswith("xn--"):
        return label
    try:
        return unicodedata.normalize("NFC", label[4:].encode("ascii").decode("punycode")).lower()
    except (UnicodeError, ValueError):
        return label  # invalid punycode: examined as it is


def _encode_label(label: str) -> str:
    if label.isascii():
        return label
    try:
        return "xn--" + label.encode("punycode").decode("ascii")
    except UnicodeError:
        return label


def _unicode_labels(host: str) -> list[str]:
    if host.isascii():
        return [_decode_label(label) for label in host.split(".") if label]
    try:  # the browsers' mapping: full-width letters, case, NFC
        host = idna.uts46_remap(host, std3_rules=False, transitional=False)
    except (UnicodeError, ValueError, IndexError):
        host = unicodedata.normalize("NFC", host)
    return [label for label in host.split(".") if label]


def _trim(host: str) -> str:
    """The last labels of an over-long host, up to the length a resolvable name can have."""
    if len(host) <= _MAX_HOST:
        return host
    tail = host[-_MAX_HOST:]
    return tail.split(".", 1)[1] if "." in tail and host[-_MAX_HOST - 1] != "." else tail


def parse_host(host: str) -> _Host | None:
    """The labels of a host, with its registered label found through the Public Suffix List (or, under a suffix
    the list does not know, such as `.example`, the last label taken as the suffix). None for an IP address or a
    single label."""
    host = host.strip().lower()
    if ":" in host or "[" in host:
        host = _PORT.sub("", host.strip("[]"))
    host = _trim(host.rstrip("."))
    if not host or is_ip(host):
        return None
    plain = host.isascii() and "xn--" not in host
    labels = host.split(".") if plain else _unicode_labels(host)
    if "" in labels:
        labels = [label for label in labels if label]
        host = ".".join(labels) if plain else host
    if len(labels) < 2:
        return None
    ascii_host = host if plain else ".".join(_encode_label(label) for label in labels)
    domain = registered_domain(ascii_host) or ".".join(ascii_host.rsplit(".", 2)[-2:])
    unicode_host = host if plain else ".".join(labels)
    display = unicode_host if unicode_host == ascii_host else f"{unicode_host} ({ascii_host})"
    skeletons = tuple(label.translate(_table()) for label in labels) if plain else tuple(map(skeleton, labels))
    return _Host(display, tuple(labels), len(labels) - domain.count(".") - 1, skeletons, domain, plain)


# -- describing a difference ----------------------------------------------------------------------------------------


def _show(text: str) -> str:
    if text.isascii():
        return text or "''"
    return " ".join(c if c.isascii() else f"{c} (U+{ord(c):04X} {unicodedata.name(c, '?')})" for c in text)


def _changes(brand_label: str, label: str) -> str:
    """`l->1`, `a->а (U+0430 CYRILLIC SMALL LETTER A)`: how `label` differs from `brand_label`, each change once."""
    if len(brand_label) == len(label):
        pairs = [(x, y) for x, y in zip(brand_label, label, strict=True) if x != y]
    else:
        matcher = difflib.SequenceMatcher(None, brand_label, label, autojunk=False)
        pairs = [(brand_label[i1:i2], label[j1:j2]) for op, i1, i2, j1, j2 in matcher.get_opcodes() if op != "equal"]
    parts = [f"{_show(x)}->{_show(y)}" for x, y in dict.fromkeys(pairs)]
    return ", ".join(parts[:4]) + (", ..." if len(parts) > 4 else "")


def _neighbours(rows: tuple[str, ...]) -> dict[str, frozenset[str]]:
    """Keys next to each key on a staggered keyboard: same row, and the rows above and below."""
    out: dict[str, set[str]] = {}
    for r, row in enumerate(rows):
        for i, key in enumerate(row):
            near = out.setdefault(key, set())
            near.update(row[j] for j in (i - 1, i + 1) if 0 <= j < len(row))
            if r > 0:
                near.update(rows[r - 1][j] for j in (i, i + 1) if j < len(rows[r - 1]))
            if r + 1 < len(rows):
                near.update(rows[r + 1][j] for j in (i - 1, i) if 0 <= j < len(rows[r + 1]))
    return {k: frozenset(v) for k, v in out.items()}


_KEYBOARDS = (("QWERTY", _neighbours(_QWERTY)), ("AZERTY", _neighbours(_AZERTY)))


def _slip(intended: str, typed: str) -> str:
    """' (next key on QWERTY)' when `typed` is next to `intended` on a keyboard, else ''."""
    layouts = [name for name, near in _KEYBOARDS if typed in near.get(intended, ())]
    return f" (next key on {' and '.join(layouts)})" if layouts else ""


def one_edit(brand_label: str, label: str) -> str | None:
    """How `label` is one typo away from `brand_label` (substitution, adjacent transposition, insertion, deletion),
    or None when it is not: `l->k (next key on QWERTY and AZERTY)`, `ay->ya (transposed)`, `l doubled`, `a dropped`."""
    a, b = brand_label, label
    if a == b or abs(len(a) - len(b)) > 1:
        return None
    i = next((k for k, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    if len(a) == len(b):
        if a[i + 1 :] == b[i + 1 :]:
            return f"{a[i]}->{b[i]}{_slip(a[i], b[i])}"
        if a[i + 1 : i + 2] == b[i] and a[i] == b[i + 1 : i + 2] and a[i + 2 :] == b[i + 2 :]:
            return f"{a[i : i + 2]}->{b[i : i + 2]} (transposed)"
        return None
    if len(b) > len(a) and a[i:] == b[i + 1 :]:
        typed, around = b[i], b[max(i - 1, 0) : i] + b[i + 1 : i + 2]
        if typed in around:
            return f"{typed} doubled"
        return f"{typed} inserted{next((s for s in (_slip(c, typed) for c in around) if s), '')}"
    if len(a) > len(b) and a[i + 1 :] == b[i:]:
        dropped, around = a[i], a[max(i - 1, 0) : i] + a[i + 1 : i + 2]
        return f"double {dropped} made single" if dropped in around else f"{dropped} dropped"
    return None


def _deletions(text: str) -> list[str]:
    """The text and each text with one character deleted (repeats kept: they are rare and cheaper than a set)."""
    return [text, *(text[:i] + text[i + 1 :] for i in range(len(text)))]


def _index(pairs: Iterable[tuple[str, _Label]]) -> dict[str, tuple[_Label, ...]]:
    out: dict[str, dict[_Label, None]] = {}
    for key, value in pairs:
        out.setdefault(key, {})[value] = None
    return {key: tuple(values) for key, values in out.items()}


# -- the detector ---------------------------------------------------------------------------------------------------


class Detector:
    """Lookalike checks against one registry; indexes are built once here, and checks are cached per host."""

    def __init__(self, registry: Registry, cache_size: int = 100_000) -> None:
        labels: list[_Label] = []
        owned: set[str] = set()
        self._domains: dict[str, tuple[str, ...]] = {}
        for brand in registry.brands:
            owned.update(d.lower() for d in (*brand.domains, *brand.sending_domains))
            names = brand.labels or tuple(dict.fromkeys(d.split(".")[0] for d in brand.domains))
            labels.extend(_Label(brand.id, name.lower()) for name in dict.fromkeys(names) if name)
            self._domains[brand.id] = tuple(d.lower() for d in brand.domains)
        self._owned = frozenset(owned)
        self._by_skeleton = _index((skeleton(lab.label), lab) for lab in labels)
        # Words inside a label: every prefix and suffix of a skeleton, so that a scan stops at the first miss.
        words = [(skeleton(lab.label), lab) for lab in labels if len(lab.label) >= _WORD_MIN]
        self._words = _index(words)
        self._prefixes = frozenset(s[:n] for s, _ in words for n in range(1, len(s) + 1))
        self._suffixes = frozenset(s[-n:] for s, _ in words for n in range(1, len(s) + 1))
        # SymSpell: each long label and its one-deletion variants; a typo shares one of them with the label.
        long = [lab for lab in labels if len(lab.label) >= _TYPO_MIN]
        self._typos = _index((variant, lab) for lab in long for variant in _deletions(lab.label))
        self._typo_lengths = range(_TYPO_MIN - 1, max((len(lab.label) for lab in long), default=0) + 2)
        self._unhyphened = _index((lab.label.replace("-", ""), lab) for lab in long)
        # Brand domains written as labels (`paypal.com.evil.example`), by their first label.
        pairs = ((d.split(".")[0], _Label(b, d)) for b, ds in self._domains.items() for d in ds)
        self._domains_as_labels = _index(pairs)
        self._cached = lru_cache(maxsize=cache_size)(self._check)

    def check(self, host: str) -> list[Lookalike]:
        """Every lookalike finding for a host (as found in a URL or an address: ASCII, punycode or Unicode),
        one per brand and kind, strongest first; [] for a host of a brand's own domain or an unparsable one."""
        try:
            return list(self._cached(host.strip().lower()[-_MAX_KEY:]))
        except (UnicodeError, ValueError):  # a parse path not foreseen: a lookalike check never fails a report
            return []

    def _check(self, host: str) -> tuple[Lookalike, ...]:
        parsed = parse_host(host)
        if parsed is None or parsed.registered < 0 or self._owns(parsed):
            return ()
        found: list[Lookalike] = []
        same = self._same_label(parsed, found)
        self._mixed_scripts(parsed, found)
        self._sub_labels(parsed, found)
        same |= self._typosquats(parsed, same, found)
        self._combos(parsed, same, found)
        return _rank(found)

    def _owns(self, host: _Host) -> bool:
        return host.domain in self._owned

    def _same_label(self, host: _Host, found: list[Lookalike]) -> set[str]:
        """The registered label read as a brand label: confusable characters, or the exact label (tld-swap).
        Returns the brands matched, whose typo checks would only say the same thing again."""
        label, skel = host.label, host.skeletons[host.registered]
        matched: set[str] = set()
        for lab in self._by_skeleton.get(skel, ()):
            matched.add(lab.brand)
            if lab.label != label:
                found.append(
                    Lookalike(
                        lab.brand, "confusable", f"{host.display}: '{lab.label}' with {_changes(lab.label, label)}"
                    )
                )
            elif len(label) >= 3 and not _country_suffix(host.suffix):
                domains = ", ".join(self._domains.get(lab.brand, ())[:3])
                found.append(
                    Lookalike(
                        lab.brand,
                        "tld-swap",
                        f"{host.display}: '{label}' under .{host.suffix}, not the brand's ({domains})",
                    )
                )
        return matched

    def _mixed_scripts(self, host: _Host, found: list[Lookalike]) -> None:
        if host.plain:
            return
        tld = host.labels[-1]
        for label, skel in zip(host.labels, host.skeletons, strict=True):
            if label.isascii():
                continue
            why = _mixed(label, skel, tld)
            if why:
                brands = {lab.brand for lab in self._by_skeleton.get(skel, ())} or {""}
                for brand in sorted(brands):
                    found.append(Lookalike(brand, "mixed-script", f"{host.display}: label '{label}' {why}"))

    def _sub_labels(self, host: _Host, found: list[Lookalike]) -> None:
        """The brand, or one of its domains, among the labels left of the registered domain."""
        labels = host.labels
        for i in range(host.registered):
            for dom in self._domains_as_labels.get(labels[i], ()):
                rest, end = ".".join(labels[i:]), len(dom.label)
                if rest.startswith(dom.label) and (len(rest) == end or rest[end] in ".-"):
                    found.append(Lookalike(dom.brand, "brand-label", f"{host.display}: brand domain as labels"))
            for lab, start, end in self._words_in(host.skeletons[i], whole=True, glued=False):
                where = "as a subdomain label" if end - start == len(host.skeletons[i]) else f"in '{labels[i]}'"
                found.append(Lookalike(lab.brand, "brand-label", f"{host.display}: '{lab.label}' {where}"))

    def _combos(self, host: _Host, same: set[str], found: list[Lookalike]) -> None:
        """The brand glued to other words in the registered label; not for a brand the label already imitates
        otherwise (`paypall` is a typo, not "paypal" + "l")."""
        label = host.label
        for lab, _, _ in self._words_in(host.skeletons[host.registered], whole=False, glued=True):
            if lab.brand not in same:
                found.append(
                    Lookalike(
                        lab.brand, "combosquat", f"{host.display}: '{lab.label}' joined with other words in '{label}'"
                    )
                )

    def _typosquats(self, host: _Host, same: set[str], found: list[Lookalike]) -> set[str]:
        """One typo away from a long brand label (through the deletion index), or hyphens changed. Returns the
        brands matched. A non-ASCII label is tried through its skeleton too: `pаypall` is a typo of `paypal`."""
        label, matched = host.label, set()
        for candidate in (label,) if label.isascii() else (label, host.skeletons[host.registered]):
            for lab, kind, how in self._typos_of(candidate):
                if lab.brand not in same:
                    matched.add(lab.brand)
                    found.append(Lookalike(lab.brand, kind, f"{host.display}: '{lab.label}' with {how}"))
        return matched

    def _typos_of(self, candidate: str) -> list[tuple[_Label, str, str]]:
        out: list[tuple[_Label, str, str]] = []
        bare = candidate.replace("-", "") if "-" in candidate else candidate
        for lab in self._unhyphened.get(bare, ()):
            if lab.label != candidate:
                how = "hyphens " + ("inserted" if len(candidate) > len(lab.label) else "changed")
                out.append((lab, "hyphenated", how))
        if len(candidate) not in self._typo_lengths or not candidate.isascii():
            return out
        index, first = self._typos, candidate[0]
        for variant in _deletions(candidate):
            for lab in index.get(variant, ()):
                # The first letter is the one readers check: a typo there mostly makes another word
                # (`email`/`gmail`, `online`/`tonline`, `mobile`/`tmobile`), rarely a lookalike.
                if lab.label[0] == first and lab.label.replace("-", "") != bare:
                    edit = one_edit(lab.label, candidate)
                    if edit:
                        out.append((lab, "typosquat", edit))
        return out

    def _words_in(self, text: str, *, whole: bool, glued: bool) -> list[tuple[_Label, int, int]]:
        """Brand labels inside a label's skeleton: delimited on both sides by hyphens or the label's ends (4+
        letters), or (if `glued`) on one side only, glued to other letters (5+). `whole`: the label itself too.
        Walks from each word start (and back from each word end) while the text is a prefix (suffix) of some
        brand skeleton, so that most labels cost one look-up per hyphen."""
        size = len(text)
        if size < _WORD_MIN:
            return []
        hyphens = [i for i, c in enumerate(text) if c == "-"] if "-" in text else []
        spans: dict[tuple[int, int], None] = {}
        for start in (0, *(i + 1 for i in hyphens)):
            for end in range(start + _WORD_MIN, size + 1):
                word = text[start:end]
                if word not in self._prefixes:
                    break
                if word in self._words:
                    spans[start, end] = None
        for end in (size, *hyphens):
            for start in range(end - _WORD_MIN, -1, -1):
                word = text[start:end]
                if word not in self._suffixes:
                    break
                if word in self._words:
                    spans[start, end] = None
        return [hit for start, end in spans for hit in self._word(text, start, end, whole, glued)]

    def _word(self, text: str, start: int, end: int, whole: bool, glued: bool) -> Iterator[tuple[_Label, int, int]]:
        if end - start == len(text) and not whole:
            return
        delimited = (start == 0 or text[start - 1] == "-") and (end == len(text) or text[end] == "-")
        if not delimited and not glued:
            return
        least = _WORD_MIN if delimited else _AFFIX_MIN
        for lab in self._words[text[start:end]]:
            if len(lab.label) >= least:
                yield lab, start, end


def _mixed(label: str, skel: str, tld: str) -> str:
    """Why a label is a spoof by the browsers' rules ('' when it is not): Latin mixed with Cyrillic, Greek or
    Cherokee, two non-Latin scripts outside the CJK sets, or a label wholly in one script that reads as Latin
    (`аррӏе`) outside that script's own top-level domains."""
    found = scripts(label)
    if len(found) > 1:
        if any(found <= allowed for allowed in _CJK_SETS):
            return ""
        if len(found) == 2 and "Latin" in found and not found & _LATIN_LOOKALIKE_SCRIPTS:
            return ""
        return "mixes " + " and ".join(sorted(found))
    if len(found) == 1 and "Latin" not in found and _LATIN_WORD.match(skel):
        (script,) = found
        if scripts(tld) == found or tld in _SCRIPT_TLDS.get(script, ()):
            return ""
        return f"is all {script} and reads as Latin '{skel}'"
    return ""


def _country_suffix(suffix: str) -> bool:
    """A country-code suffix (`de`, `co.uk`, `com.br`) that is not sold as a generic one (`co`, `io`, `me`): a
    brand's exact label there is mostly the brand's own, if not listed (`yahoo.it`, `hotmail.de`)."""
    tld = suffix.rsplit(".", 1)[-1]
    return len(tld) == 2 and tld.isascii() and tld not in _GENERIC_CCTLDS


def _rank(found: list[Lookalike]) -> tuple[Lookalike, ...]:
    """One finding per (brand, kind), the first met; strongest kind first."""
    if not found:
        return ()
    unique: dict[tuple[str, str], Lookalike] = {}
    for finding in found:
        unique.setdefault((finding.brand, finding.kind), finding)
    return tuple(sorted(unique.values(), key=lambda f: _RANK[f.kind]))


@cache
def detector() -> Detector:
    """The detector for the shipped registry, built once per process."""
    return Detector(registry())
