"""Phone numbers in a message's text, for smishing and callback scams ("appelez le 08 99 ...").

PhoneNumberMatcher costs ~120 µs even on a short string, and most texts hold none, so the matcher only sees
windows around candidates: groups of 8 digits or more with at most 3 separator bytes between digits, located by one
regex over the text translated to digit classes (a digit is `0`, any other byte `-`, so the pattern has a literal
first byte and skips ahead to the next digit). A group of up to 17 digits must be digits and separators, have a
possible length for the region and parse as a valid number before the matcher (leniency VALID) confirms it in its
context; a longer group (numbers in a row) is given to the matcher whole, unless it holds letters or no separator
at all (an id, an IBAN, a card number: ~90% of the long groups of real mail, and never a list of numbers). Parses
and matcher runs are cached per process by their exact input: the copies of a campaign repeat the same number in
the same words.

Out of scope: short SMS numbers (38xxx, 5 digits) collide with French postal codes and amounts; numbers written
with non-ASCII digits or in words.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import phonenumbers
from phonenumbers import Leniency, PhoneMetadata, PhoneNumber, PhoneNumberFormat, PhoneNumberMatcher
from phonenumbers import PhoneNumberType as Type

MAX_CHARS = 100_000
MAX_CANDIDATES = 40
MAX_PHONES = 20
_MIN_DIGITS, _MAX_DIGITS = 8, 17  # "+33 (0)6 12 34 56 78" has 12; 00 + country + 15 at most
_CACHED = 4096  # parses and matcher runs remembered: a campaign repeats its numbers, in the same words
_MAX_WINDOW = 400  # bytes of a long digit group given to the matcher
_GAP = 4  # index step between two digits of one number: up to 3 separators ("06 - 12", "33 (0)6", NBSP is 2 bytes)
_CONTEXT = 12  # bytes around a candidate given to the matcher, which checks what touches the number
_SEPARATORS = re.compile(rb"[0-9 .\-/()\t\xc2\xa0]+")
# Between the numbers of a list: "01 56 77 01 20 / 06 81 57 85 47", "+1.617.258.0360\n+1.617.877.3271".
_LIST_SEPARATORS = re.compile(rb"[0-9 .,;/|\-()\t\r\n\xc2\xa0+]+")
_DIGIT_CLASSES = bytes(48 if 48 <= c <= 57 else 45 for c in range(256))  # digit -> "0", other -> "-"
_DIGIT_GROUP = re.compile(rb"0(?:-{0,%d}0){%d,}" % (_GAP - 1, _MIN_DIGITS - 1))
_IN_URL = (b"=", b"/", b"&", b"?", b"#", b"_", b"%")  # a digit run right after these is an id in a URL path or query
_NOT_DIGIT = bytes(c for c in range(256) if not 48 <= c <= 57)

_KINDS = {
    Type.MOBILE: "mobile",
    Type.FIXED_LINE: "fixed",
    Type.FIXED_LINE_OR_MOBILE: "fixed-or-mobile",
    Type.TOLL_FREE: "toll-free",
    Type.PREMIUM_RATE: "premium",
    Type.SHARED_COST: "shared-cost",
    Type.VOIP: "voip",
    Type.PERSONAL_NUMBER: "personal",
    Type.PAGER: "pager",
    Type.UAN: "uan",
    Type.VOICEMAIL: "voicemail",
}


@dataclass(frozen=True)
class Phone:
    e164: str
    raw: str
    region: str | None  # where the number is, not the default region it was read with; None if non-geographic
    kind: str

    def as_json(self) -> dict[str, Any]:
        return {"e164": self.e164, "raw": self.raw, "region": self.region, "kind": self.kind}


def phones_in_text(text: str, regions: Sequence[str] = ("FR",)) -> list[Phone]:
    """Valid phone numbers in `text`: international (`+33 6...`, `0033 6...`) and national forms of `regions`,
    tried in order. Deduplicated by E.164, in order of appearance. Never raises."""
    raw = text[:MAX_CHARS].encode("utf-8", "replace")
    classes = raw.translate(_DIGIT_CLASSES)
    if classes.count(b"0") < _MIN_DIGITS:
        return []
    found: dict[str, Phone] = {}
    for start, end in _candidates(raw, classes):
        if raw[start - 1 : start] in _IN_URL:
            continue
        for phone in _confirmed(raw, start, end, regions):
            found.setdefault(phone.e164, phone)
        if len(found) >= MAX_PHONES:
            break
    return list(found.values())[:MAX_PHONES]


def _candidates(raw: bytes, classes: bytes) -> list[tuple[int, int]]:
    """Byte spans of digit groups (with a leading `+`) that could hold phone numbers: 8 digits at least."""
    spans = []
    for group in _DIGIT_GROUP.finditer(classes):
        start, end = group.span()
        spans.append((start - 1 if start and raw[start - 1] == 43 else start, end))  # 43: "+"
        if len(spans) >= MAX_CANDIDATES:
            break
    return spans


def _confirmed(raw: bytes, start: int, end: int, regions: Sequence[str]) -> list[Phone]:
    """The one number a short digit group may be: a cheap length check and parse before the matcher."""
    span = raw[start:end]
    digits = span.translate(None, _NOT_DIGIT).decode("ascii")
    if len(digits) > _MAX_DIGITS:
        bare = span.lstrip(b"+")
        if bare.isdigit() or not _LIST_SEPARATORS.fullmatch(bare):
            return []
        return _listed(raw, start, end, regions)
    international = span.startswith((b"+", b"00"))
    if not _SEPARATORS.fullmatch(span.lstrip(b"+")):
        return []
    for region in regions[:1] if international else regions:
        if _plausible(digits, international, region) and _valid(span.decode("utf-8", "replace"), region):
            window = raw[max(0, start - _CONTEXT) : end + _CONTEXT].decode("utf-8", "ignore")
            phones = [phone for phone, covered in _matched(window, region) if covered == digits]
            if phones:
                return phones[:1]
    return []


def _listed(raw: bytes, start: int, end: int, regions: Sequence[str]) -> list[Phone]:
    """A long digit group: several numbers in a row (`06 12 34 56 78 / 01 23 45 67 89`), or an IBAN, a card
    number... The matcher splits the first: it is given the group (capped) and trusted."""
    window = raw[max(0, start - _CONTEXT) : min(end, start + _MAX_WINDOW) + _CONTEXT].decode("utf-8", "ignore")
    phones: dict[str, Phone] = {}
    for region in regions:
        for phone, _ in _matched(window, region):
            phones.setdefault(phone.e164, phone)
    return list(phones.values())


def _plausible(digits: str, international: bool, region: str) -> bool:
    """A possible national length for the region (after its national prefix), before any costly parsing."""
    if international:
        return _MIN_DIGITS <= len(digits) <= _MAX_DIGITS
    prefix, lengths = _national_rules(region)
    if prefix and digits.startswith(prefix):
        digits = digits[len(prefix) :]
    return len(digits) in lengths


@lru_cache(maxsize=64)
def _national_rules(region: str) -> tuple[str, frozenset[int]]:
    metadata = PhoneMetadata.metadata_for_region(region.upper())
    if metadata is None or metadata.general_desc is None:
        return "", frozenset(range(_MIN_DIGITS - 1, 16))
    return metadata.national_prefix or "", frozenset(metadata.general_desc.possible_length or ())


@lru_cache(maxsize=_CACHED)
def _valid(span: str, region: str) -> bool:
    try:
        return phonenumbers.is_valid_number(phonenumbers.parse(span, region))
    except phonenumbers.NumberParseException:
        return False


@lru_cache(maxsize=_CACHED)
def _matched(window: str, region: str) -> tuple[tuple[Phone, str], ...]:
    """The matcher's numbers in the window, with the digits each covers. It rejects numbers glued to letters, dates,
    and national forms missing a required national prefix (`1 23 45 67 89` is an amount, not +33 1 23 45 67 89)."""
    found: list[tuple[Phone, str]] = []
    try:
        for match in PhoneNumberMatcher(window, region, leniency=Leniency.VALID, max_tries=MAX_PHONES):
            covered = match.raw_string.encode("utf-8").translate(None, _NOT_DIGIT).decode("ascii")
            found.append((_phone(match.number, match.raw_string), covered))
    except Exception:  # a library bug on odd input must not fail the analysis
        return tuple(found)
    return tuple(found)


def _phone(number: PhoneNumber, raw: str) -> Phone:
    where = phonenumbers.region_code_for_number(number)
    return Phone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        raw=raw,
        region=where if where and where not in ("001", "ZZ") else None,
        kind=_KINDS.get(phonenumbers.number_type(number), "unknown"),
    )
