"""Origin IPs and sender domains of confirmed campaigns as DNSBL zones (RFC 5782), for mail filters (rspamd,
SpamAssassin, Postfix postscreen): a listed IP answers `A 127.0.0.2` and a TXT with the reason and where to look it
up; anything else answers NXDOMAIN.

- IP zone: IPv4 as reversed octets (203.0.113.2 -> `2.113.0.203`), IPv6 as 32 reversed nibbles; both fit in one
  zone (4 labels against 32, they never collide). RFC 5782 section 5 test entries: 127.0.0.2 and ::ffff:7f00:2
  listed, 127.0.0.1 and ::ffff:7f00:1 never (a loopback address is refused outright).
- Domain zone: the sender domain itself (`example.com A 127.0.0.2`); test entries `test` listed, `invalid` never.

The SOA serial is the caller's, as for the RPZ zone: `serial_for(seq)` of the feed's last change.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime

from signalement.feeds.entry import IndicatorEntry
from signalement.feeds.zonefile import ZoneError, domain_name, header, owner, quoted, serial_for

__all__ = ["LISTED", "ZoneError", "domain_zone", "ip_name", "ip_zone", "serial_for"]

LISTED = "127.0.0.2"  # RFC 5782: 127.0.0.2 means listed; other 127/8 codes could later tell reasons apart
TTL = 900
_TEST_IPS = ("127.0.0.2", "::ffff:7f00:2")


def ip_name(value: str) -> str:
    """The DNSBL query name of an address, without the zone: reversed octets or reversed nibbles."""
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ZoneError(f"not an IP address: {value!r}") from None
    return address.reverse_pointer.removesuffix(".in-addr.arpa").removesuffix(".ip6.arpa")


def ip_zone(
    entries: Iterable[IndicatorEntry],
    *,
    origin: str,
    serial: int,
    now: datetime,
    ns: str,
    contact: str,
    lookup_url: str,
) -> str:
    """The IP DNSBL zone. `lookup_url` is a template with `{value}` (the address), shown in each TXT record."""
    names = {ip_name(test): f"RFC 5782 test entry {test}" for test in _TEST_IPS}
    for value in map(_ip_value, _current(entries, "ip")):
        names[ip_name(value)] = f"origin IP {value} of a confirmed campaign; see {lookup_url.format(value=value)}"
    lines = header(origin=origin, serial=serial, now=now, ns=ns, contact=contact, ttl=TTL, title="signalement IP DNSBL")
    return _records(lines, names, origin)


def domain_zone(
    entries: Iterable[IndicatorEntry],
    *,
    origin: str,
    serial: int,
    now: datetime,
    ns: str,
    contact: str,
    lookup_url: str,
) -> str:
    """The sender-domain DNSBL zone (RFC 5782 section 2.2): each domain as is, no wildcard (a filter queries the
    domain it saw; listing every subdomain is the RPZ's job for confirmed domains)."""
    names = {"test": "RFC 5782 test entry"}
    for value in _current(entries, "domain"):
        name = domain_name(value)
        if name == "invalid":
            raise ZoneError("RFC 5782: 'invalid' is never listed")
        names[name] = f"sender domain {name} of a confirmed campaign; see {lookup_url.format(value=name)}"
    lines = header(
        origin=origin, serial=serial, now=now, ns=ns, contact=contact, ttl=TTL, title="signalement domain DNSBL"
    )
    return _records(lines, names, origin)


def _current(entries: Iterable[IndicatorEntry], kind: str) -> list[str]:
    """The values listed now: the latest entry per value wins, so a change log with withdrawals can be passed."""
    latest: dict[str, IndicatorEntry] = {}
    for entry in entries:
        if entry.kind != kind:
            continue
        key = entry.value.strip().lower()
        if key not in latest or entry.seq > latest[key].seq:
            latest[key] = entry
    return [entry.value for entry in latest.values() if not entry.withdrawn]


def _ip_value(value: str) -> str:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        raise ZoneError(f"not an IP address: {value!r}") from None
    mapped = address.ipv4_mapped if isinstance(address, ipaddress.IPv6Address) else None
    if address.is_loopback or (mapped is not None and mapped.is_loopback):
        raise ZoneError(f"loopback address {value!r} is never an origin IP (RFC 5782 test addresses live there)")
    return str(mapped or address)  # a mapped client address is looked up as IPv4 by the filters


def _records(lines: list[str], names: dict[str, str], origin: str) -> str:
    for name in sorted(names, key=lambda n: n.split(".")[::-1]):
        lines.append(f"{owner(name, origin)} A {LISTED}")
        lines.append(f"{owner(name, origin)} TXT {quoted(names[name])}")
    return "\n".join(lines) + "\n"
