"""DKIM signatures checked by the platform itself (RFC 6376, with dkimpy), for mail it receives directly: the
domains whose signature over the message passes. The public keys come from the DNS through `lookup`, a function
the caller gives (signalement.dns makes one for the configured resolver): this module does no I/O of its own.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import dkim

from signalement.mail.facts import header_block

MAX_SIGNATURES = 5  # more is an attack on the verifier's time, not a mail
TxtLookup = Callable[..., bytes | None]  # dkimpy's dnsfunc: (name: bytes, timeout=5) -> the TXT record

for _name in ("dkim", "dkimpy"):  # dkimpy logs the message's headers at debug level: never in our logs
    logging.getLogger(_name).setLevel(logging.WARNING)


def passing_domains(raw: bytes, lookup: TxtLookup) -> list[str]:
    """The `d=` of each signature that verifies, lower case, in the order of the signatures; [] when none."""
    if b"dkim-signature" not in header_block(raw).lower():
        return []
    verifier = dkim.DKIM(raw, logger=logging.getLogger("dkim"))
    count = sum(1 for name, _ in verifier.headers if name.lower() == b"dkim-signature")
    domains: list[str] = []
    for index in range(min(count, MAX_SIGNATURES)):
        try:
            if verifier.verify(idx=index, dnsfunc=lookup):
                domains.append(verifier.domain.decode("ascii", "replace").lower())
        except (dkim.DKIMException, ValueError, IndexError, UnicodeError):
            continue
    return domains
