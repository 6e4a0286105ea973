"""Redaction of a reported message before it goes to a member (RFC 6590), with a keyed hash per recipient member.

What is replaced, and by what
-----------------------------
Every occurrence of one of the reporter's addresses (the account's address, its aliases, the envelope recipient,
any recipient the analysis found: the caller lists them) becomes ``<hash>@<domain>``:

* ``hash`` is the first 32 hexadecimal digits (128 bits) of HMAC-SHA256 under the recipient member's key of the
  whole address, lowercased, domain in its IDNA ASCII form. RFC 6590 redacts the local-part with a digest of
  "the redaction key" and the string, and leaves the domain, which the report's recipient needs (which of its
  mailbox-provider streams complained) and which names nobody. HMAC is the keyed digest done right; the whole
  address is hashed (not only the local-part) so that ``jean@a.example`` and ``jean@b.example`` do not share a
  hash. One key per member: a member sees the same hash each time the same person complains (it counts repeat
  complainers) and two members cannot join their hashes. Lower-case hex keeps the result a valid dot-atom that
  letter case, URLs and quoted-printable leave unchanged. ``pseudonym`` gives the same form for a report's own
  fields (``Original-Rcpt-To``).
* The ``@`` and the domain are kept as they were written at each place (``%40``, ``&#64;``, ``=40``...), so a
  redacted link or header keeps its syntax. A sub-address (``jean+news@``) is redacted with its tag.
* The forms recognised, in any letter case and mixed: clear; percent-encoded (also double, ``%2540``); HTML
  character references (decimal, hex, named like ``&commat;``); quoted-printable ``=XX`` and soft line breaks;
  ``\\x40`` / ``\\u0040`` escapes; invisible characters inserted between letters (soft hyphen, zero-width);
  base64 tokens in text (URL parameters) that decode to the address; and, after decoding, inside base64 and
  quoted-printable parts, MIME encoded-words, nested ``message/rfc822`` parts and ``text/rfc822-headers``.
  A part is decoded in its declared charset when that round-trips its bytes exactly, else as UTF-8 with
  surrogate escapes (ASCII addresses are still found; bytes that are not touched stay byte for byte).
* Names: the names the caller gives, the display names that go with the reporter's addresses in the address
  fields (To, Cc, Delivered-To, From...) of the message and of nested messages, and ``first.last`` local-parts
  read as "first last", are replaced by ``[redacted]`` (``redacted`` in header fields, an atom),
  case-insensitively, words separated by any blank, ``&nbsp;``, ``%20``, ``+`` or ``", "``, also written with
  character references. Names of two words or more are redacted wherever they appear in text parts and header
  fields; a one-word name (``"FoRK" <fork@...>``) only in the address fields and after a greeting, since as a
  word it is too often something else. After a greeting at the start of a line ("Bonjour", "Dear", "Hello"...),
  the capitalised words up to the punctuation are taken as a name even when unknown; titles ("Monsieur",
  "Mr") and generic words ("client", "customer", "World") are kept.

What stays
----------
``List-Unsubscribe``, ``List-Unsubscribe-Post``, ``Return-Path``, ``Message-ID``, ``Feedback-ID``,
``CFBL-Feedback-ID`` and the recipient-id fields a member declares are kept byte for byte, names and all: they
are what lets a sender act on a complaint (RFC 6449, RFC 9477 asks for Message-ID and CFBL-Feedback-ID). A VERP
return path (``bounce-jean.dupont=example.org@sender.example``) encodes the recipient in the sender's own
scheme, is not an encoding of the address and is kept, in these fields and elsewhere. But the reporter's address
written in clear (or in any form above) inside a kept field is still redacted: the promise to the reporter is
that no byte of what a member receives holds the address, whatever the field.

What cannot be done, and then
-----------------------------
After redaction the output is checked independently of how it was redacted (raw bytes, quoted-printable
decoding of the whole, base64 of the address at its three alignments, every encoded-word, every decoded part
and header of the parsed message). If anything is left, a byte-level pass over the whole output (the forms
above, no MIME) is tried, then the check again; if the address is still there (for instance uuencoded, or
base64 that the lenient parser decodes but this module cannot), ``RedactionError`` is raised: no output rather
than a leak. The same byte-level pass is used when the structured pass fails outright.

Limits: an address inside compressed or otherwise transformed content (ZIP, PDF streams, images) is not seen;
a name split by markup (``Jean <b>Dupont</b>``) or an address broken by tags (``jean<wbr>@``) or written out
(``jean [at] example [dot] org``) is not seen; known names shorter than 3 characters are left out; unknown names
are found only after a greeting, within five words of the punctuation that ends it; base64 of the address in
the text is found in lower, upper or the given case only; hashed addresses (MD5 of the address in tracking
links) are not recognised. Redaction breaks DKIM signatures of the original message, as any RFC 6590
redaction does.

Counts (``Redacted.counts``) are keyed ``place:kind``: ``header:<field>`` (``:encoded-word``, ``:refolded``),
``body:<type>``, ``attachment:<type>``, ``preamble``, ``raw`` (byte-level), each behind ``rfc822>`` per level of
nesting; kind is ``address`` or ``name``.
"""

from __future__ import annotations

import base64
import binascii
import codecs
import contextlib
import dataclasses
import hashlib
import hmac
import html.entities
import re
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from email import policy as email_policy
from email.errors import HeaderParseError
from email.header import Header, decode_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.policy import compat32
from email.utils import getaddresses, parseaddr

__all__ = [
    "KEPT_FIELDS",
    "NAME_MARKER",
    "TOKEN_LENGTH",
    "Redacted",
    "RedactionError",
    "pseudonym",
    "redact_headers",
    "redact_message",
]

TOKEN_LENGTH = 32  # hex digits of HMAC-SHA256 kept: 128 bits
MIN_KEY_LENGTH = 16
NAME_MARKER = "[redacted]"
HEADER_NAME_MARKER = "redacted"  # an atom: valid unquoted in a display name
KEPT_FIELDS = frozenset(
    {"list-unsubscribe", "list-unsubscribe-post", "return-path", "message-id", "feedback-id", "cfbl-feedback-id"}
)
MIN_NEEDLE = 12  # shorter base64 pieces of a short address would turn up by chance in any attachment
MAX_DEPTH = 30
MAX_PARTS = 1000  # beyond, the rest of a message is redacted byte-level only
_LABEL = b"signalement/rfc6590/v1\x00"  # domain separation: the member's key hashes nothing else this way

_ADDRESS_FIELDS = (
    "to",
    "cc",
    "bcc",
    "resent-to",
    "resent-cc",
    "delivered-to",
    "x-original-to",
    "envelope-to",
    "x-envelope-to",
    "apparently-to",
    "from",
    "sender",
    "reply-to",
)
_GREETING_FIELDS = frozenset({"subject", "thread-topic"})
_TEXTUAL = frozenset(
    {
        "message/delivery-status",
        "message/disposition-notification",
        "message/feedback-report",
        "application/json",
        "application/xml",
        "application/xhtml+xml",
        "application/ics",
        "application/x-www-form-urlencoded",
    }
)
_NESTED = frozenset({"message/rfc822", "message/global"})
_HEADERS_ONLY = frozenset({"text/rfc822-headers", "message/rfc822-headers", "message/global-headers"})
_IDENTITY_CTE = frozenset({"", "7bit", "8bit", "binary"})

# Characters a sender may slip between the letters of an address: soft hyphen and zero-width characters.
_INVISIBLE = (
    r"(?:[\u00ad\u200b\u200c\u200d\u2060\ufeff]|=\r?\n|&(?:shy|zwj|zwnj|ZeroWidthSpace|NoBreak);"
    r"|&#0*(?:173|8203|8204|8205|8288|65279);?|&#x0*(?:ad|200b|200c|200d|2060|feff);?)*"
)
_NOT_IN_ADDRESS = (r"(?<![@.])", r"(?![\w.+=-]*@|\.\w)")  # a one-word name, not a piece of an address: "fork-admin@"
_NAME_GAP = r",?(?:\s|&nbsp;|&#0*160;?|&#x0*a0;?|%20|\+)+"  # "Dupont, Jean" too
_ENTITY_NAMES: dict[str, list[str]] = {}
for _name, _value in html.entities.html5.items():
    if len(_value) == 1:
        _ENTITY_NAMES.setdefault(_value, []).append(_name)

_FIELD_NAME = re.compile(r"([!-9;-~]+)[ \t]*:")
_ENCODED_WORD = re.compile(r"=\?([^?\s*]+)(?:\*[^?\s]*)?\?([bBqQ])\?([^?\s]*)\?=")
_ENCODED_RUN = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s*=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")
_B64_RUN = re.compile(r"[A-Za-z0-9+/_-]{8,}={0,2}")
_Q_SAFE = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789!*+-/")

_GREETINGS = (
    "bonjour|bonsoir|salut|coucou|ch[eè]re?s?|dear|hello|hi|hey|hallo|hola|ciao|greetings|good morning"
    "|good afternoon|good evening|estimad[oa]|querid[oa]|gentile|car[oa]|liebe[r]?|sehr geehrter?|guten tag"
    "|beste|ol[aá]|prezad[oa]|bom dia|buongiorno|buenos d[ií]as"
)
_GREETING = re.compile(
    r"(?:^|(?<=>))(?P<lead>[ \t\u00a0]*)(?P<greet>" + _GREETINGS + r")(?P<gap>(?:[ \t\u00a0]|&nbsp;)+)"
    r"(?P<words>[^\W\d_][\w'’-]*\.?(?:(?:[ \t\u00a0]|&nbsp;)+[^\W\d_][\w'’-]*\.?){0,4})"
    r"(?=[ \t\u00a0]*(?:[,!:;.]|\r?$|<))",
    re.IGNORECASE | re.MULTILINE,
)
_GENERIC = frozenset(
    "madame monsieur mademoiselle mme mme. mlle mlle. m. mr mr. mrs mrs. ms ms. miss dr dr. sir madam herr frau "
    "señor señora sr sr. sra sra. docteur maître client cliente clients customer customers user utilisateur "
    "utilisatrice member membre friend friends ami amie amis all everyone everybody tous toutes team équipe "
    "there valued cher chère dear abonné abonnée world partner partenaire".split()
)


class RedactionError(ValueError):
    """The reporter's address is still in the output after every pass: nothing may be sent."""

    def __init__(self, places: Sequence[str]) -> None:
        self.places = tuple(places)
        super().__init__("the reporter's address could not be redacted (still found in: " + ", ".join(places) + ")")


@dataclass(frozen=True, slots=True)
class Redacted:
    """The redacted bytes, and for the audit how many replacements were made where (``place:kind``)."""

    data: bytes
    counts: Mapping[str, int]
    byte_level: bool = False  # the structured pass failed or left something: the byte-level pass was used

    @property
    def total(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True, slots=True)
class _Address:
    token: str
    pattern: re.Pattern[str]
    utf16: tuple[tuple[re.Pattern[bytes], bytes], ...]

    def replace(self, m: re.Match[str]) -> str:
        return f"{self.token}{m['at']}{m['dom']}"


@dataclass(frozen=True, slots=True)
class _Plan:
    addresses: tuple[_Address, ...]
    canonicals: frozenset[str]
    needles: frozenset[str]  # base64 of the addresses at their three alignments
    kept: frozenset[str]
    name_variants: frozenset[str] = frozenset()
    names: re.Pattern[str] | None = None  # names of two words or more: redacted wherever they are
    single_names: re.Pattern[str] | None = None  # one word: only in address fields and greetings
    name_words: frozenset[str] = frozenset()

    def has_address(self, text: str) -> bool:
        return any(a.pattern.search(text) for a in self.addresses)


# ---------------------------------------------------------------------------------------------------------------
# Public functions


def pseudonym(address: str, key: bytes) -> str:
    """The redacted form of one address for this key: ``<32 hex>@<domain>`` (see the module's documentation)."""
    local, domain = _split_address(address)
    return f"{_token(local, domain, key)}@{domain.lower()}"


def redact_message(
    raw: bytes,
    addresses: Sequence[str],
    key: bytes,
    *,
    names: Sequence[str] = (),
    recipient_id_headers: Sequence[str] = (),
) -> Redacted:
    """Redact a whole message for the member whose key is given; raise RedactionError rather than leak."""
    plan = _plan(addresses, names, key, recipient_id_headers)
    plan = _with_names(plan, _learned_names(lambda: BytesParser(policy=compat32).parsebytes(raw), plan))
    run = _Run(plan)
    try:
        data = run.part(raw, "", 0, "text/plain")
    except Exception:  # any failure of the structured pass: the byte-level pass and the check decide
        run = _Run(plan, byte_level=True)
        data = run.opaque(raw, "raw")
    return _checked(data, run)


def redact_headers(
    raw: bytes,
    addresses: Sequence[str],
    key: bytes,
    *,
    names: Sequence[str] = (),
    recipient_id_headers: Sequence[str] = (),
) -> Redacted:
    """Redact the header block of a message (or a header block alone) for members who receive headers only.

    Returns the header fields, each with its line ending, without the blank line and the body.
    """
    plan = _plan(addresses, names, key, recipient_id_headers)
    head, _, _ = _split_head(raw)
    plan = _with_names(plan, _learned_names(lambda: BytesHeaderParser(policy=compat32).parsebytes(head), plan))
    run = _Run(plan)
    try:
        data = run.fields(head, "")
    except Exception:  # as in redact_message
        run = _Run(plan, byte_level=True)
        data = run.opaque(head, "raw")
    return _checked(data, run)


def _checked(data: bytes, run: _Run) -> Redacted:
    byte_level = run.byte_level
    if _leaks(data, run.plan):
        data = run.opaque(data, "raw")
        byte_level = True
        left = _leaks(data, run.plan)
        if left:
            raise RedactionError(left)
    return Redacted(data, dict(run.counts), byte_level)


# ---------------------------------------------------------------------------------------------------------------
# The plan: patterns compiled once per call


def _plan(addresses: Sequence[str], names: Sequence[str], key: bytes, extra_kept: Sequence[str]) -> _Plan:
    if not isinstance(key, bytes) or len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"the redaction key must be at least {MIN_KEY_LENGTH} bytes")
    if isinstance(addresses, str) or isinstance(names, str):  # a lone string would be read letter by letter
        raise TypeError("addresses and names are lists of strings")
    compiled: list[_Address] = []
    canonicals: set[str] = set()
    needles: set[str] = set()
    derived: list[str] = []
    given = [a for a in addresses if a.strip()]
    if not given:
        raise ValueError("no address to redact")
    for address in dict.fromkeys(_bare(a) for a in given):
        local, domain = _split_address(address)
        canonicals.add(f"{local.lower()}@{_ascii_domain(domain)}")
        compiled.append(_compile_address(local, domain, _token(local, domain, key)))
        needles.update(n for n in _base64_needles(address) if len(n) >= MIN_NEEDLE)
        derived.extend(_names_from_local(local))
    plan = _Plan(
        addresses=tuple(compiled),
        canonicals=frozenset(canonicals),
        needles=frozenset(needles),
        kept=KEPT_FIELDS | {h.strip().lower() for h in extra_kept},
    )
    return _with_names(plan, [*names, *derived])


def _bare(address: str) -> str:
    """``Jean <jean@example.org>`` or ``<jean@example.org>`` as ``jean@example.org``."""
    parsed = parseaddr(address)[1] if "<" in address else ""
    return parsed if "@" in parsed else address.strip().strip("<>").strip()


def _split_address(address: str) -> tuple[str, str]:
    local, at, domain = _bare(address).rpartition("@")
    if not at or not local or not domain:
        raise ValueError(f"not an address: {address!r}")
    return local, domain


def _ascii_domain(domain: str) -> str:
    try:
        return domain.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return domain.lower()


def _domain_forms(domain: str) -> list[str]:
    forms = {domain.lower(), _ascii_domain(domain)}
    with contextlib.suppress(UnicodeError):
        forms.add(domain.encode("ascii").decode("idna").lower())
    return sorted(forms, key=len, reverse=True)


def _token(local: str, domain: str, key: bytes) -> str:
    canonical = f"{local.lower()}@{_ascii_domain(domain)}".encode()
    return hmac.new(key, _LABEL + canonical, hashlib.sha256).hexdigest()[:TOKEN_LENGTH]


def _char_forms(c: str) -> str:
    """One character as a regex: itself or any of its escapes (percent, QP, HTML, JavaScript)."""
    utf8 = c.encode()
    forms = [re.escape(c), "".join(f"%(?:25)?{b:02x}" for b in utf8), "".join(f"={b:02x}" for b in utf8)]
    forms += [f"&#0*{ord(c)};?", f"&#x0*{ord(c):x};?", f"\\\\u{ord(c):04x}"]
    if ord(c) < 0x80:
        forms.append(f"\\\\x{ord(c):02x}")
    forms += ["&" + re.escape(n) for n in sorted(_ENTITY_NAMES.get(c, ()), key=len, reverse=True)]
    return "(?:" + "|".join(forms) + ")"


def _spelled(s: str) -> str:
    return _INVISIBLE.join(_char_forms(c) for c in s)


def _compile_address(local: str, domain: str, token: str) -> _Address:
    domains = "|".join(_spelled(d) for d in _domain_forms(domain))
    pattern = (
        f"{_spelled(local)}(?:\\+[\\w.=-]{{1,64}})?{_INVISIBLE}(?P<at>{_char_forms('@')}){_INVISIBLE}(?P<dom>{domains})"
    )
    utf16: list[tuple[re.Pattern[bytes], bytes]] = []
    plain = f"{local}@{domain}"
    if plain.isascii():
        for codec in ("utf-16-le", "utf-16-be"):
            spelled = b"".join(re.escape(c.encode(codec)) for c in plain)
            utf16.append((re.compile(spelled, re.IGNORECASE), f"{token}@{domain}".encode(codec)))
    return _Address(token, re.compile(pattern, re.IGNORECASE), tuple(utf16))


def _base64_needles(address: str) -> set[str]:
    """Substrings that base64 of the address has wherever it starts (3 alignments), in 3 letter cases."""
    needles: set[str] = set()
    for variant in {address, address.lower(), address.upper()}:
        data = variant.encode()
        for shift in range(3):
            encoded = base64.b64encode(b"\0" * shift + data).decode()
            start, end = -(-shift * 8 // 6), (shift + len(data)) * 8 // 6
            piece = encoded[start:end]
            needles.update({piece, piece.replace("+", "-").replace("/", "_")})
    return needles


def _names_from_local(local: str) -> list[str]:
    words = re.split(r"[._-]", local.split("+", 1)[0])
    if 2 <= len(words) <= 3 and all(len(w) >= 2 and w.isalpha() for w in words):
        return [" ".join(words)]
    return []


def _name_variants(name: str) -> set[str]:
    words = [w for w in re.split(r"[\s,\"'()]+", name) if w]
    if not words or any("@" in w for w in words):
        return set()
    variants = {" ".join(words)}
    if len(words) == 2:
        variants.add(f"{words[1]} {words[0]}")
    return {v for v in variants if len(v) >= 3}


def _with_names(plan: _Plan, names: Iterable[str]) -> _Plan:
    variants = set(plan.name_variants)
    for name in names:
        variants |= _name_variants(name)
    if variants == plan.name_variants:
        return plan
    words = frozenset(w.lower() for v in variants for w in v.split() if len(w) >= 2)
    return dataclasses.replace(
        plan,
        name_variants=frozenset(variants),
        names=_names_pattern(v for v in variants if " " in v),
        single_names=_names_pattern((v for v in variants if " " not in v), _NOT_IN_ADDRESS),
        name_words=words,
    )


def _names_pattern(variants: Iterable[str], around: tuple[str, str] = ("", "")) -> re.Pattern[str] | None:
    spelled = sorted((_spelled_name(v) for v in variants), key=len, reverse=True)
    if not spelled:
        return None
    return re.compile(around[0] + "(?:" + "|".join(spelled) + ")" + around[1], re.IGNORECASE)


def _spelled_name(name: str) -> str:
    words = ["".join(_name_char(c) for c in w) for w in name.split()]
    return r"(?<![^\W_])" + _NAME_GAP.join(words) + r"(?![^\W_])"


def _name_char(c: str) -> str:
    forms = [re.escape(c), f"&#0*{ord(c)};?", f"&#x0*{ord(c):x};?"]
    if not c.isascii():
        forms.append("".join(f"%{b:02x}" for b in c.encode()))
        forms += ["&" + re.escape(n) for n in _ENTITY_NAMES.get(c, ()) if n.endswith(";")]
    return "(?:" + "|".join(forms) + ")" if len(forms) > 1 else forms[0]


def _learned_names(parse: Callable[[], Message], plan: _Plan) -> list[str]:
    """Display names written next to one of the reporter's addresses, in this message and nested ones."""
    found: list[str] = []
    try:
        msg = parse()
    except Exception:  # the given names and the greetings still apply
        return found
    for n, part in enumerate(msg.walk()):
        if n >= MAX_PARTS:
            break
        values = [_decode_value(_raw_header(v)) for k, v in part.raw_items() if k.lower() in _ADDRESS_FIELDS]
        if values:
            for display, addr in getaddresses(values):
                local, _, domain = addr.rpartition("@")
                canonical = f"{local.split('+', 1)[0].lower()}@{_ascii_domain(domain)}"
                if display.strip() and (canonical in plan.canonicals or addr.lower() in plan.canonicals):
                    found.append(display)
    return found


# ---------------------------------------------------------------------------------------------------------------
# Text: addresses, base64 tokens, names, greetings


def _sub_addresses(text: str, plan: _Plan) -> tuple[str, int]:
    total = 0
    for address in plan.addresses:
        text, n = address.pattern.subn(address.replace, text)
        total += n
    return text, total


def _sub_utf16(data: bytes, plan: _Plan) -> tuple[bytes, int]:
    """The address in UTF-16 inside bytes that are not decoded as text (documents, unknown parts)."""
    total = 0
    for address in plan.addresses:
        for pattern, replacement in address.utf16:
            data, n = pattern.subn(replacement, data)
            total += n
    return data, total


def _sub_base64(text: str, plan: _Plan) -> tuple[str, int]:
    """Base64 tokens (URL parameters...) that decode to something holding the address: re-encoded redacted."""
    if not any(n in text for n in plan.needles):
        return text, 0
    count = 0

    def one(m: re.Match[str]) -> str:
        nonlocal count
        run = m.group()
        if not any(n in run for n in plan.needles):
            return run
        for offset in range(4):
            new = _redact_base64_token(run[offset:], plan)
            if new is not None:
                count += 1
                return run[:offset] + new
        return run

    return _B64_RUN.sub(one, text), count


def _redact_base64_token(token: str, plan: _Plan) -> str | None:
    urlsafe = "-" in token or "_" in token
    core = token.rstrip("=")
    cut = len(core) - 1 if len(core) % 4 == 1 else len(core)
    body, rest = core[:cut], core[cut:]
    try:
        data = base64.b64decode(body + "=" * (-len(body) % 4), altchars=b"-_" if urlsafe else None, validate=True)
    except (binascii.Error, ValueError):
        return None
    text = data.decode("utf-8", "surrogateescape")
    new, n = _sub_addresses(text, plan)
    if not n:
        return None
    encoded = base64.b64encode(new.encode("utf-8", "surrogateescape"), altchars=b"-_" if urlsafe else None).decode()
    if not token.endswith("="):
        encoded = encoded.rstrip("=")
    return encoded + rest


@dataclass(frozen=True, slots=True)
class _Scope:
    """Where a text sits: what replaces a name, whether greetings and one-word names are looked for."""

    marker: str
    greet: bool
    single_names: bool


_BODY = _Scope(NAME_MARKER, greet=True, single_names=False)
_BYTES = _Scope(NAME_MARKER, greet=False, single_names=False)


def _header_scope(name: str) -> _Scope:
    return _Scope(HEADER_NAME_MARKER, greet=name in _GREETING_FIELDS, single_names=name in _ADDRESS_FIELDS)


def _sub_names(text: str, plan: _Plan, scope: _Scope) -> tuple[str, int]:
    count = 0
    for pattern in (plan.names, plan.single_names if scope.single_names else None):
        if pattern is not None:
            text, n = pattern.subn(scope.marker, text)
            count += n
    return text, count


def _has_name(text: str, plan: _Plan, scope: _Scope) -> bool:
    patterns = (plan.names, plan.single_names if scope.single_names else None)
    return any(p is not None and p.search(text) for p in patterns)


def _sub_greetings(text: str, plan: _Plan, marker: str) -> tuple[str, int]:
    count = 0

    def one(m: re.Match[str]) -> str:
        nonlocal count
        words = re.split(r"((?:[ \t\u00a0]|&nbsp;)+)", m["words"])  # word, gap, word, gap, word...
        i = 0
        while i < len(words) and words[i].lower() in _GENERIC:  # titles and generic words stay
            i += 2
        j = i
        while j < len(words) and (words[j][:1].isupper() or words[j].rstrip(".").lower() in plan.name_words):
            j += 2
        if j == i:
            return m.group()
        count += 1
        dot = "." if words[j - 2].endswith(".") and words[j - 2].lower() not in _GENERIC else ""
        head = m.group()[: m.start("words") - m.start()]
        return head + "".join(words[:i]) + marker + dot + "".join(words[j - 1 :])

    return _GREETING.sub(one, text), count


def _redact_text(text: str, plan: _Plan, scope: _Scope) -> tuple[str, int, int]:
    """Addresses (and base64 tokens holding them), then names: an address is never cut by a name."""
    text, a1 = _sub_addresses(text, plan)
    text, a2 = _sub_base64(text, plan)
    text, n1 = _sub_names(text, plan, scope)
    n2 = 0
    if scope.greet:
        text, n2 = _sub_greetings(text, plan, scope.marker)
    return text, a1 + a2, n1 + n2


# ---------------------------------------------------------------------------------------------------------------
# MIME surgery: the raw bytes are cut where the parser would cut them and only changed spans are rewritten


def _split_head(raw: bytes) -> tuple[bytes, bytes, bytes]:
    """Header block, the empty line that ends it, and the body."""
    pos = 0
    while pos < len(raw):
        nl = raw.find(b"\n", pos)
        if nl < 0:
            break
        if raw[pos : nl + 1] in (b"\n", b"\r\n"):
            return raw[:pos], raw[pos : nl + 1], raw[nl + 1 :]
        pos = nl + 1
    return raw, b"", b""


def _fields(block: bytes) -> list[bytes]:
    fields: list[bytes] = []
    for line in block.splitlines(keepends=True):
        if fields and line[:1] in (b" ", b"\t"):
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _codec(charset: str | None) -> str | None:
    if not charset:
        return None
    try:
        return codecs.lookup(charset.strip().strip('"').lower()).name
    except (LookupError, ValueError):
        return None


def _decode_value(value: str) -> str:
    """A header value unfolded and with its encoded-words decoded (for checks, not for output)."""
    unfolded = re.sub(r"\r?\n(?=[ \t])", "", value)
    try:
        chunks = decode_header(unfolded)
    except (HeaderParseError, ValueError, LookupError):
        return unfolded
    out: list[str] = []
    for chunk, charset in chunks:
        if isinstance(chunk, str):
            out.append(chunk)
        else:
            out.append(chunk.decode(_codec(charset) or "raw-unicode-escape", "replace"))
    return "".join(out)


def _raw_header(value: object) -> str:
    """A header value as the parser stored it (8-bit bytes as surrogates), read as UTF-8, else as Latin-1."""
    data = str(value).encode("utf-8", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


@dataclass
class _Run:
    plan: _Plan
    counts: Counter[str] = field(default_factory=Counter)
    parts: int = 0
    byte_level: bool = False

    def tally(self, place: str, addresses: int, names: int) -> None:
        if addresses:
            self.counts[f"{place}:address"] += addresses
        if names:
            self.counts[f"{place}:name"] += names

    # -- whole parts

    def part(self, raw: bytes, prefix: str, depth: int, default_type: str) -> bytes:
        self.parts += 1
        if depth > MAX_DEPTH or self.parts > MAX_PARTS:
            return self.opaque(raw, f"{prefix}raw")
        head, sep, body = _split_head(raw)
        info = BytesHeaderParser(policy=compat32).parsebytes(head)
        info.set_default_type(default_type)
        new_head = self.fields(head, prefix)
        ctype = info.get_content_type()
        cte = str(info.get("Content-Transfer-Encoding", "")).strip().lower()
        if ctype.startswith("multipart/"):
            new_body = self.multipart(body, info, prefix, depth)
        elif ctype in _NESTED and cte in _IDENTITY_CTE:
            new_body = self.part(body, f"{prefix}rfc822>", depth + 1, "text/plain")
        elif ctype in _HEADERS_ONLY and cte in _IDENTITY_CTE:
            inner_head, inner_sep, rest = _split_head(body)
            inner = self.fields(inner_head, f"{prefix}rfc822>")
            new_body = inner + inner_sep + self.opaque(rest, f"{prefix}rfc822>raw")
        else:
            new_body = self.leaf(body, info, prefix, depth)
        return new_head + sep + new_body

    def multipart(self, body: bytes, info: Message, prefix: str, depth: int) -> bytes:
        boundary = info.get_boundary()
        if not boundary:
            return self.opaque(body, f"{prefix}raw")
        delimiter = b"--" + boundary.encode("ascii", "surrogateescape")
        child_type = "message/rfc822" if info.get_content_type() == "multipart/digest" else "text/plain"
        out: list[bytes] = []
        chunk: list[bytes] = []
        in_part = closed = False
        for line in body.splitlines(keepends=True):
            bare = line.rstrip(b"\r\n").rstrip(b" \t")
            if not closed and bare in (delimiter, delimiter + b"--"):
                out.append(self._segment(b"".join(chunk), in_part, prefix, depth, child_type))
                out.append(line)
                chunk, in_part, closed = [], True, bare.endswith(b"--") and bare != delimiter
            else:
                chunk.append(line)
        if not out:
            return self.opaque(body, f"{prefix}raw")
        out.append(self._segment(b"".join(chunk), in_part and not closed, prefix, depth, child_type))
        return b"".join(out)

    def _segment(self, data: bytes, is_part: bool, prefix: str, depth: int, child_type: str) -> bytes:
        if not data:
            return data
        if is_part:
            return self.part(data, prefix, depth + 1, child_type)
        return self.opaque(data, f"{prefix}preamble")  # preamble or epilogue

    # -- header fields

    def fields(self, block: bytes, prefix: str) -> bytes:
        return b"".join(self.field(f, prefix) for f in _fields(block))

    def field(self, raw: bytes, prefix: str) -> bytes:
        text = raw.decode("utf-8", "surrogateescape")
        m = _FIELD_NAME.match(text)
        name = m.group(1) if m else ""
        place = f"{prefix}header:{name.lower() or '?'}"
        if name.lower() in self.plan.kept:
            new, a1 = _sub_addresses(text, self.plan)
            new, a2 = _sub_base64(new, self.plan)
            self.tally(place, a1 + a2, 0)
            return new.encode("utf-8", "surrogateescape")
        start = m.end() if m else 0
        scope = _header_scope(name.lower())
        value = self.value(text[start:], place, scope)
        decoded = _decode_value(value)
        if self.plan.has_address(decoded) or _has_name(decoded, self.plan, scope):
            value = self.refold(name, decoded, text, place, scope)
            return value.encode("utf-8", "surrogateescape")
        return (text[:start] + value).encode("utf-8", "surrogateescape")

    def value(self, value: str, place: str, scope: _Scope) -> str:
        pieces: list[str] = []
        last = 0
        for m in _ENCODED_WORD.finditer(value):
            pieces.append(self.plain(value[last : m.start()], place, scope))
            pieces.append(self.encoded_word(m, place, scope))
            last = m.end()
        pieces.append(self.plain(value[last:], place, scope))
        return "".join(pieces)

    def plain(self, text: str, place: str, scope: _Scope) -> str:
        new, addresses, names = _redact_text(text, self.plan, scope)
        self.tally(place, addresses, names)
        return new

    def encoded_word(self, m: re.Match[str], place: str, scope: _Scope) -> str:
        charset, kind, payload = m.group(1), m.group(2), m.group(3)
        data = _decode_word(kind, payload)
        if data is None:
            return m.group()
        codec = _codec(charset) or "utf-8"
        text = data.decode(codec, "surrogateescape")
        new, addresses, names = _redact_text(text, self.plan, scope)
        if new == text:
            return m.group()
        self.tally(f"{place}:encoded-word", addresses, names)
        try:
            encoded = new.encode(codec)
        except UnicodeError:
            charset, encoded = "utf-8", new.encode("utf-8", "replace")
        return f"=?{charset}?{kind}?{_encode_word(kind, encoded)}?="

    def refold(self, name: str, decoded: str, original: str, place: str, scope: _Scope) -> str:
        """Last resort for a field whose address or name spans encoded-words: rewritten whole, encoded afresh."""
        new, addresses, names = _redact_text(decoded, self.plan, scope)
        self.tally(f"{place}:refolded", addresses, names)
        eol = "\r\n" if original.endswith("\r\n") else "\n" if original.endswith("\n") else ""
        clean = new.strip().encode("utf-8", "surrogateescape").decode("utf-8", "replace")
        if not name:
            return clean + eol
        try:
            folding = email_policy.default.clone(linesep=eol or "\n", max_line_length=78, refold_source="all")
            folded = str(folding.fold(name, clean))
        except Exception:  # headerregistry on hostile input: the plain RFC 2047 encoder instead
            sep = eol or "\n"
            folded = f"{name}: {Header(clean, 'utf-8', header_name=name).encode(linesep=sep)}{sep}"
        return folded if eol else folded.rstrip("\r\n")

    # -- bodies

    def leaf(self, body: bytes, info: Message, prefix: str, depth: int) -> bytes:
        ctype = info.get_content_type()
        cte = str(info.get("Content-Transfer-Encoding", "")).strip().lower()
        textual = ctype.startswith("text/") or ctype in _TEXTUAL
        place = f"{prefix}{'body' if textual else 'attachment'}:{ctype}"
        if cte == "base64":
            decoded = _b64decode(body)
        elif cte == "quoted-printable":
            decoded = binascii.a2b_qp(body)
        elif cte in _IDENTITY_CTE:
            decoded = body
        else:
            decoded = None  # uuencode and unknown encodings: the byte-level pass and the final check
        if decoded is None:
            return self.opaque(body, place)
        if ctype in _NESTED:  # a nested message in base64 or quoted-printable (not allowed, but seen)
            new = self.part(decoded, f"{prefix}rfc822>", depth + 1, "text/plain")
        elif textual:
            new = self.text(decoded, info.get_content_charset(), place)
        else:
            new = self.binary(decoded, place)
        if new == decoded:
            return body
        if cte == "base64":
            return _b64encode_like(new, body)
        if cte == "quoted-printable":
            return _qp_encode_like(new, body, textual)
        return new

    def text(self, data: bytes, charset: str | None, place: str) -> bytes:
        codec, bom = _text_codec(data, charset)
        text = _faithful_decode(data[len(bom) :], codec)
        if text is None:
            codec, bom, text = "utf-8", b"", data.decode("utf-8", "surrogateescape")
        new, addresses, names = _redact_text(text, self.plan, _BODY)
        if new == text:
            return data
        self.tally(place, addresses, names)
        try:
            return bom + new.encode(codec, "surrogateescape")
        except UnicodeError:
            return self.opaque(data, place)

    def binary(self, data: bytes, place: str) -> bytes:
        text = data.decode("utf-8", "surrogateescape")
        new, a1 = _sub_addresses(text, self.plan)
        new, a2 = _sub_base64(new, self.plan)
        out, a3 = _sub_utf16(new.encode("utf-8", "surrogateescape"), self.plan)
        self.tally(place, a1 + a2 + a3, 0)
        return out

    def opaque(self, data: bytes, place: str) -> bytes:
        """Byte-level: the forms of the address and the names in the bytes as they are, no MIME decoding."""
        text = data.decode("utf-8", "surrogateescape")
        new, addresses, names = _redact_text(text, self.plan, _BYTES)
        out, wide = _sub_utf16(new.encode("utf-8", "surrogateescape"), self.plan)
        self.tally(place, addresses + wide, names)
        return out


def _decode_word(kind: str, payload: str) -> bytes | None:
    try:
        if kind in "bB":
            core = payload.rstrip("=")
            return base64.b64decode(core + "=" * (-len(core) % 4))
        return binascii.a2b_qp(payload.replace("_", " ").encode("ascii", "surrogateescape"), header=False)
    except (binascii.Error, ValueError):
        return None


def _encode_word(kind: str, data: bytes) -> str:
    if kind in "bB":
        return base64.b64encode(data).decode("ascii")
    return "".join(chr(b) if b in _Q_SAFE else "_" if b == 0x20 else f"={b:02X}" for b in data)


def _text_codec(data: bytes, charset: str | None) -> tuple[str, bytes]:
    codec = _codec(charset) or "utf-8"
    if codec in ("utf-16", "utf-32"):
        for bom, name in (
            (codecs.BOM_UTF32_LE, "utf-32-le"),
            (codecs.BOM_UTF32_BE, "utf-32-be"),
            (codecs.BOM_UTF16_LE, "utf-16-le"),
            (codecs.BOM_UTF16_BE, "utf-16-be"),
        ):
            if data.startswith(bom) and name.startswith(codec):
                return name, bom
        little = data[1::2].count(0) > data[0::2].count(0)  # no byte-order mark: ASCII text shows its zeros
        return f"{codec}-{'le' if little else 'be'}", b""
    return codec, b""


def _faithful_decode(data: bytes, codec: str) -> str | None:
    """The text, only if encoding it back gives the same bytes (else untouched text could change)."""
    try:
        text = data.decode(codec, "surrogateescape")
        if text.encode(codec, "surrogateescape") == data:
            return text
    except (UnicodeError, LookupError):
        pass
    return None


def _b64decode(body: bytes) -> bytes | None:
    core = re.sub(rb"[^A-Za-z0-9+/=]", b"", body).rstrip(b"=")
    if b"=" in core:
        return None  # concatenated base64 streams: left to the byte-level pass and the check
    if len(core) % 4 == 1:
        core = core[:-1]
    try:
        return base64.b64decode(core + b"=" * (-len(core) % 4))
    except (binascii.Error, ValueError):
        return None


def _b64encode_like(data: bytes, original: bytes) -> bytes:
    """Base64 with the original's line length, line ending and surrounding blank lines."""
    first = re.search(rb"[A-Za-z0-9+/=]", original)
    last = re.search(rb"[A-Za-z0-9+/=][^A-Za-z0-9+/=]*\Z", original)
    lead = original[: first.start()] if first else b""
    trail = original[last.start() + 1 :] if last else b""
    line = original[len(lead) :].split(b"\n", 1)[0].rstrip(b"\r")
    width = len(line) if 4 <= len(line) <= 998 else 76
    eol = b"\r\n" if b"\r\n" in original else b"\n"
    encoded = base64.b64encode(data)
    return lead + eol.join(encoded[i : i + width] for i in range(0, len(encoded), width)) + trail


def _qp_encode_like(data: bytes, original: bytes, textual: bool) -> bytes:
    out = binascii.b2a_qp(data, quotetabs=False, istext=textual, header=False)
    if b"\r\n" in original:
        out = re.sub(rb"(?<!\r)\n", b"\r\n", out)
    return out


# ---------------------------------------------------------------------------------------------------------------
# The final check, independent of the way the bytes were redacted


def _leaks(data: bytes, plan: _Plan) -> list[str]:
    """Where the output still holds an address: raw, decoded as a whole, and part by part as a reader would."""
    text = data.decode("utf-8", "surrogateescape")
    squeezed = re.sub(r"\s+", "", text)
    checks: list[tuple[str, Callable[[], bool]]] = [
        ("raw bytes", lambda: plan.has_address(text)),
        ("quoted-printable", lambda: plan.has_address(binascii.a2b_qp(data).decode("utf-8", "surrogateescape"))),
        ("base64", lambda: any(n in squeezed for n in plan.needles)),
        ("encoded-word", lambda: any(plan.has_address(_decode_value(m.group())) for m in _ENCODED_RUN.finditer(text))),
    ]
    return [name for name, check in checks if check()] + _leaks_in_parts(data, plan)


def _leaks_in_parts(data: bytes, plan: _Plan) -> list[str]:
    found: list[str] = []
    msg = BytesParser(policy=compat32).parsebytes(data)
    for n, part in enumerate(msg.walk()):
        if n >= MAX_PARTS:
            break
        if any(plan.has_address(_decode_value(_raw_header(v))) for _, v in part.raw_items()):
            found.append(f"header of {part.get_content_type()}")
        if part.is_multipart():
            continue
        payload = _payload(part)
        if payload is not None and _payload_leaks(payload, part.get_content_charset(), plan):
            found.append(f"part {part.get_content_type()}")
    return found


def _payload(part: Message) -> bytes | None:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # a payload the parser cannot decode: the raw checks cover its bytes
        return None
    return payload if isinstance(payload, bytes) else None


def _payload_leaks(payload: bytes, charset: str | None, plan: _Plan) -> bool:
    texts = [payload.decode("utf-8", "surrogateescape")]
    codec = _codec(charset)
    if codec:
        texts.append(payload.decode(codec, "replace"))
    if any(plan.has_address(t) for t in texts):
        return True
    return any(p.search(payload) for a in plan.addresses for p, _ in a.utf16)
