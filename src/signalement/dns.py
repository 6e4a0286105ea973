"""DNS lookups for the checks the platform makes itself (DKIM keys), through the configured resolver
(`SIGNALEMENT_DNS_RESOLVER`, `host:port`) or the system's. Short timeouts: a slow zone must not stall intake."""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.resolver

TIMEOUT_SECONDS = 3.0


def txt_lookup(resolver: str = "") -> Callable[..., bytes | None]:
    """A lookup of a name's TXT record, its strings joined (as dkimpy's dnsfunc expects), None when there is none."""
    client = dns.resolver.Resolver(configure=not resolver)
    if resolver:
        host, _, port = resolver.rpartition(":")
        client.nameservers = [host or resolver]
        client.port = int(port) if port.isdigit() and host else 53
    client.lifetime = client.timeout = TIMEOUT_SECONDS

    def lookup(name: bytes, timeout: float = TIMEOUT_SECONDS) -> bytes | None:
        try:
            answer = client.resolve(name.decode("ascii"), "TXT", lifetime=min(timeout, TIMEOUT_SECONDS))
        except (dns.exception.DNSException, UnicodeError):
            return None
        return b"".join(b"".join(record.strings) for record in answer) or None

    return lookup
