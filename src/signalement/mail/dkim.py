"""DKIM signatures checked by the platform itself (RFC 6376, with dkimpy), for mail it receives directly: the
domains whose signature over the message passes. The public keys come from the DNS through `lookup`, a function
the caller gives (signalement.dns makes one for the configured resolver): this module does no I/O of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import dkim

from signalement.mail.facts import header_block

MAX_SIGNATURES = 5  # more is an attack on the verifier's time, not a mail
TxtLookup = Callable[..., bytes | None]  # dkimpy's dnsfunc: (name: bytes, timeout=5) -> the TXT record

for _name in ("dkim", "dkimpy"):  # dkimpy logs the message's headers at debug level: never in our logs
    logging.getLogger(_name).setLevel(logging.WARNING)


@dataclass(frozen=True)
class Passing:
    """A signature that verified: its d= and s=, and the header fields its h= covers (lower case)."""

    domain: str
    selector: str
    headers: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {"domain": self.domain, "selector": self.selector, "headers": list(self.headers)}


def verify(raw: bytes, lookup: TxtLookup, wanted: Callable[[str], bool] | None = None) -> list[Passing]:
    """The signatures that verify, in their order, among the first MAX_SIGNATURES whose d= `wanted` accepts (each
    costs a DNS query to the signer's zone: ask only about those that matter)."""
    if b"dkim-signature" not in header_block(raw).lower():
        return []
    verifier = dkim.DKIM(raw, logger=logging.getLogger("dkim"))
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    found: list[Passing] = []
    for index in range(min(count, MAX_SIGNATURES)):
        try:
            prepared = verifier.verify_headerprep(index)
            if not prepared:
                continue
            signature, covered, fields = prepared
            domain = signature[b"d"].decode("ascii", "replace").lower()
            if wanted is not None and not wanted(domain):
                continue
            headers = tuple(dict.fromkeys(h.decode("ascii", "replace") for h in covered))
            if verifier.verify_sig(signature, list(covered), fields[index], lookup):
                found.append(Passing(domain, signature[b"s"].decode("ascii", "replace").lower(), headers))
        except (dkim.DKIMException, ValueError, IndexError, KeyError, UnicodeError):
            continue
    return found


def passing_domains(raw: bytes, lookup: TxtLookup) -> list[str]:
    """The `d=` of each signature that verifies, lower case, in the order of the signatures; [] when none."""
    return [passing.domain for passing in verify(raw, lookup)]
