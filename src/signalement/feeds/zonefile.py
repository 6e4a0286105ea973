"""What the RPZ and DNSBL zone writers share: names checked before they reach a zone file (a zone that does not load
stops the whole feed at every consumer, so a bad entry is refused here, never written), the SOA/NS header, serials."""

from __future__ import annotations

import re
from datetime import datetime

import idna

MAX_NAME = 253  # characters of a name in presentation form, without the final dot (255 octets on the wire)
MAX_LABEL = 63
SERIAL_MODULUS = 2**32  # RFC 1982: SOA serials are 32-bit and compared in serial-number arithmetic

# Letters, digits, hyphen and underscore: what host names in URLs hold after IDNA; nothing a zone file would read
# as syntax (space, quote, semicolon, parenthesis, backslash, $, @, *) can pass.
_LABEL = re.compile(r"[a-z0-9_-]{1,63}")


class ZoneError(ValueError):
    """An entry a zone cannot hold; the zone is not written."""


def serial_for(seq: int) -> int:
    """The SOA serial for a feed whose last change (withdrawals included) is `seq`. Every change bumps the feed's
    `seq`, so the serial grows with it; past 2**32 it wraps, which RFC 1982 arithmetic reads as an increase as long
    as a secondary never misses 2**31 changes."""
    if seq < 0:
        raise ZoneError(f"a feed cursor is never negative: {seq}")
    return seq % SERIAL_MODULUS


def domain_name(value: str) -> str:
    """A host or domain name as a zone holds it: lower case, IDN labels in punycode (IDNA 2008 with UTS 46), each
    label checked. Raises ZoneError rather than returning anything a zone could misread."""
    name = value.removesuffix(".")
    if not name or name != name.strip():
        raise ZoneError(f"not a domain name: {value!r}")
    labels = [_label(label, value) for label in name.split(".")]
    encoded = ".".join(labels)
    if len(encoded) > MAX_NAME:
        raise ZoneError(f"name longer than {MAX_NAME} characters: {value!r}")
    return encoded


def _label(label: str, value: str) -> str:
    if not label.isascii():
        try:
            label = idna.encode(label, uts46=True, transitional=False).decode("ascii")
        except (idna.IDNAError, UnicodeError) as exc:
            raise ZoneError(f"invalid internationalized label {label!r} in {value!r}: {exc}") from None
    label = label.lower()
    if len(label) > MAX_LABEL:
        raise ZoneError(f"label longer than {MAX_LABEL} characters in {value!r}")
    if not _LABEL.fullmatch(label):
        raise ZoneError(f"label {label!r} of {value!r} holds characters a zone name cannot")
    return label


def owner(name: str, origin: str) -> str:
    """`name` relative to `origin` (the zone writes $ORIGIN), refused when the absolute name would be too long."""
    if len(name) + 1 + len(origin) > MAX_NAME:
        raise ZoneError(f"{name!r} under {origin!r} is longer than {MAX_NAME} characters")
    return name


def header(*, origin: str, serial: int, now: datetime, ns: str, contact: str, ttl: int, title: str) -> list[str]:
    """$ORIGIN, $TTL, SOA and NS. `contact` is a mail address (hostmaster@example.org) or an RNAME already."""
    if not 0 <= serial < SERIAL_MODULUS:
        raise ZoneError(f"SOA serial out of the 32-bit range: {serial}")
    rname = _rname(contact)
    # refresh, retry, expire, negative TTL: secondaries poll every 5 minutes (phishing is blocked within minutes),
    # keep serving a week if the primary is gone, and cache a miss for one minute only.
    return [
        f"; {title}",
        f"; generated {now.isoformat(timespec='seconds')}, serial {serial}",
        f"$ORIGIN {domain_name(origin)}.",
        f"$TTL {ttl}",
        f"@ SOA {domain_name(ns)}. {rname}. ( {serial} 300 60 604800 60 )",
        f"@ NS {domain_name(ns)}.",
    ]


def _rname(contact: str) -> str:
    if "@" not in contact:
        return domain_name(contact)
    local, _, domain = contact.rpartition("@")
    if not _LABEL.fullmatch(local.lower()):  # a dot in the local part would need escaping: refuse it instead
        raise ZoneError(f"contact {contact!r}: use a local part of letters, digits, '-' or '_'")
    return f"{local.lower()}.{domain_name(domain)}"


def quoted(text: str) -> str:
    """A TXT character-string: printable ASCII only, quotes and backslashes escaped, at most 255 characters."""
    clean = "".join(c if " " <= c <= "~" else "?" for c in text)[:255]
    return '"' + clean.replace("\\", "\\\\").replace('"', '\\"') + '"'
