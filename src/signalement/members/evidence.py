"""What staff are shown before they approve a claim of addresses: the reverse DNS of sample addresses of the range
(a PTR under the member's own domain, or a provider's generic names, says much about who holds it) next to what the
member says. Gathered with short timeouts and in parallel: a slow reverse zone must not hold a request."""

from __future__ import annotations

import ipaddress
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from signalement.dns import DnsLookupError, ptr_names
from signalement.domain.claims import ClaimKind
from signalement.store.sql import utcnow

MAX_SAMPLES = 8
PTR_TIMEOUT_SECONDS = 2.0
NETWORKS = (ClaimKind.IP_RANGE, ClaimKind.RELAY_NETWORK)


def sample_addresses(network: str, count: int = MAX_SAMPLES) -> list[str]:
    """The first and last addresses of a range and evenly spread ones between them, at most `count`. A range of
    more than four addresses skips its own first and last (a network or broadcast address rarely has a PTR)."""
    net = ipaddress.ip_network(network)
    first, last = int(net.network_address), int(net.broadcast_address)
    if last - first + 1 > 4:
        first, last = first + 1, last - 1
    span = last - first
    picks = sorted({first + span * i // (count - 1) for i in range(count)}) if count > 1 else [first]
    return [str(ipaddress.ip_address(p)) for p in picks]


def _reverse(address: str, resolver: str) -> dict[str, Any]:
    try:
        return {"address": address, "names": ptr_names(address, resolver, PTR_TIMEOUT_SECONDS), "error": None}
    except DnsLookupError as error:
        return {"address": address, "names": [], "error": str(error)}


def gather(kind: ClaimKind, value: str, resolver: str) -> dict[str, Any]:
    """The evidence of a claim, as stored with it (JSON). Only address ranges have DNS to show; a sender id or an
    authserv-id is judged on what the member says."""
    evidence: dict[str, Any] = {"gathered_at": utcnow().isoformat(timespec="seconds"), "reverse_dns": []}
    if kind in NETWORKS:
        samples = sample_addresses(value)
        with ThreadPoolExecutor(max_workers=len(samples)) as pool:
            evidence["reverse_dns"] = list(pool.map(lambda a: _reverse(a, resolver), samples))
    return evidence
