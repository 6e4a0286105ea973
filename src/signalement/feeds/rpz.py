"""The confirmed phishing domains and hosts as a DNS Response Policy Zone (RPZ): a resolver that loads it answers
NXDOMAIN for them (`CNAME .`), so every client behind it is protected whatever software it runs.

Only what the evidence confirmed whole is written: a `domain` listing blocks the domain and every name under it
(`d` and `*.d`), a `host` listing blocks that host only. A URL or a path prefix is never turned into a DNS block:
that would block a whole site (a compromised one, a shared host) for one phishing page. IP-literal hosts are left
out too: a QNAME trigger cannot match them, and an IP trigger would block every site on a shared address.

The SOA serial comes from the caller: `serial_for(seq)` of the feed's last change (withdrawals included), so it
grows on every change and secondaries transfer the zone again (see zonefile.serial_for).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime

from signalement.feeds.entry import Level, UrlEntry, UrlState
from signalement.feeds.zonefile import ZoneError, domain_name, header, owner, serial_for

__all__ = ["ZoneError", "blocked_names", "serial_for", "zone"]

TTL = 300  # resolvers re-read a listing within 5 minutes


def zone(
    entries: Iterable[UrlEntry],
    *,
    origin: str,
    serial: int,
    now: datetime,
    ns: str,
    contact: str,
) -> str:
    """The RPZ zone file text. Raises ZoneError on a name a zone cannot hold, naming the entry."""
    lines = header(
        origin=origin, serial=serial, now=now, ns=ns, contact=contact, ttl=TTL, title="signalement RPZ: NXDOMAIN"
    )
    for name, wildcard in blocked_names(entries):
        lines.append(f"{owner(name, origin)} CNAME .")
        if wildcard:
            lines.append(f"{owner('*.' + name, origin)} CNAME .")
    return "\n".join(lines) + "\n"


def blocked_names(entries: Iterable[UrlEntry]) -> list[tuple[str, bool]]:
    """(name, with its wildcard) for each listing, sorted, each once. The latest entry of a URL id wins, so a change
    log with its withdrawals can be passed as is; a host under a listed domain is already covered by `*.d`."""
    latest: dict[int, UrlEntry] = {}
    for entry in entries:
        if entry.id not in latest or entry.seq > latest[entry.id].seq:
            latest[entry.id] = entry
    domains: set[str] = set()
    hosts: set[str] = set()
    for entry in latest.values():
        if entry.withdrawn or entry.state != UrlState.CONFIRMED or entry.level not in (Level.DOMAIN, Level.HOST):
            continue
        name = _name(entry)
        if name is not None:
            (domains if entry.level == Level.DOMAIN else hosts).add(name)
    hosts = {h for h in hosts if h not in domains and not _under(h, domains)}
    return sorted([(d, True) for d in domains] + [(h, False) for h in hosts], key=_dns_order)


def _name(entry: UrlEntry) -> str | None:
    try:
        ipaddress.ip_address(entry.listed.strip("[]"))
    except ValueError:
        pass
    else:
        return None
    try:
        return domain_name(entry.listed)
    except ZoneError as exc:
        raise ZoneError(f"URL {entry.id} (seq {entry.seq}): {exc}") from None


def _under(host: str, domains: set[str]) -> bool:
    labels = host.split(".")
    return any(".".join(labels[i:]) in domains for i in range(1, len(labels)))


def _dns_order(item: tuple[str, bool]) -> list[str]:
    # Sorted by reversed labels: a domain and its hosts sit together, as in a DNSSEC-ordered zone.
    return item[0].split(".")[::-1]
