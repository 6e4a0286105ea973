"""DNS lookups for the checks the platform makes itself (DKIM keys; claims' TXT proofs and reverse DNS), through
the configured resolver (`SIGNALEMENT_DNS_RESOLVER`, `host:port`) or the system's. Short timeouts: a slow zone must
not stall intake."""

from __future__ import annotations

from collections.abc import Callable

import dns.exception
import dns.resolver
import dns.reversename

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


class DnsLookupError(Exception):
    """The DNS gave no answer (timeout, server failure): unlike "no such record", nothing can be concluded."""


def _client(resolver: str, timeout: float) -> dns.resolver.Resolver:
    client = dns.resolver.Resolver(configure=not resolver)
    if resolver:
        host, _, port = resolver.rpartition(":")
        client.nameservers = [host or resolver]
        client.port = int(port) if port.isdigit() and host else 53
    client.lifetime = client.timeout = timeout
    return client


def _answer(name: str, rdtype: str, resolver: str, timeout: float) -> dns.resolver.Answer | None:
    try:
        return _client(resolver, timeout).resolve(name, rdtype)
    except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
        return None
    except (dns.exception.DNSException, UnicodeError, ValueError) as error:
        raise DnsLookupError(f"{rdtype} {name}: {type(error).__name__}") from None


def txt_records(name: str, resolver: str = "", timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """Every TXT record of a name, each one's strings joined (RFC 7208 3.3); [] when there is none.
    Raises DnsLookupError when the DNS does not answer."""
    answer = _answer(name, "TXT", resolver, timeout)
    if answer is None:
        return []
    return [b"".join(record.strings).decode("utf-8", "replace") for record in answer]


def ptr_names(address: str, resolver: str = "", timeout: float = TIMEOUT_SECONDS) -> list[str]:
    """The reverse DNS names of an address (no trailing dot); [] when there is none.
    Raises DnsLookupError when the DNS does not answer."""
    answer = _answer(dns.reversename.from_address(address).to_text(), "PTR", resolver, timeout)
    if answer is None:
        return []
    return sorted(record.target.to_text().rstrip(".") for record in answer)
