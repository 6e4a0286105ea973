"""What a member claims as its own, and how each claim is proven before anything is shared because of it.

- A domain (for DKIM `d=`, Return-Path and From) and a List-Id's domain are proven by their owner: a DNS TXT
  record holding the claim's token, or a link mailed to the domain's postmaster.
- IP ranges, a mailbox provider's relay networks, Feedback-ID sender ids and authserv-ids need a staff
  abuse manager's approval, with the evidence shown to them: whoever controls a domain's DNS does not thereby
  control an address block, and sender ids and authserv-ids have no owner to ask.

Overlaps between members (two claims of one domain, nested IP ranges) are found and shown, never resolved silently.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from enum import StrEnum

from signalement.mail.domains import is_ip, is_subdomain, normalize_host, registered_domain

TXT_PREFIX = "signalement-claim="  # the TXT record's text: signalement-claim=<token>
TXT_LABEL = "_signalement"  # looked up at _signalement.<domain>, so the apex's TXT records stay untouched

# The widest ranges a member may claim: a /8 of IPv4 or a /19 of IPv6 is already a regional registry's allocation.
MIN_PREFIX = {4: 8, 6: 19}
_TOKEN = re.compile(r"[A-Za-z0-9._:@+-]{1,200}")


class ClaimKind(StrEnum):
    IP_RANGE = "ip_range"  # where the member's mail leaves from (IPv4 or IPv6 CIDR)
    DOMAIN = "domain"  # DKIM d=, Return-Path, From
    FEEDBACK_ID = "feedback_id"  # the SenderId of a Feedback-ID header (its last field)
    LIST_ID = "list_id"  # RFC 2919 List-Id
    RELAY_NETWORK = "relay_network"  # a mailbox provider's own relays: trusted hops of the Received chain
    AUTHSERV_ID = "authserv_id"  # a mailbox provider's Authentication-Results authserv-id


class ClaimState(StrEnum):
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"
    REVOKED = "revoked"


class Proof(StrEnum):
    DNS_TXT = "dns_txt"
    POSTMASTER = "postmaster"
    STAFF_APPROVAL = "staff_approval"


PROVEN_BY_OWNER = frozenset({ClaimKind.DOMAIN, ClaimKind.LIST_ID})
MAILBOX_PROVIDER_ONLY = frozenset({ClaimKind.RELAY_NETWORK, ClaimKind.AUTHSERV_ID})


class InvalidClaimError(ValueError):
    pass


def proofs(kind: ClaimKind) -> tuple[Proof, ...]:
    """The ways a claim of this kind may be proven."""
    return (Proof.DNS_TXT, Proof.POSTMASTER) if kind in PROVEN_BY_OWNER else (Proof.STAFF_APPROVAL,)


def normalize(kind: ClaimKind, value: str) -> str:
    """The claim's canonical value, or InvalidClaimError saying why it cannot be claimed."""
    value = value.strip()
    if kind in (ClaimKind.IP_RANGE, ClaimKind.RELAY_NETWORK):
        return _network(value)
    if kind is ClaimKind.DOMAIN:
        return _domain(value)
    if kind is ClaimKind.LIST_ID:
        list_id = value.strip("<>").lower()
        _domain(list_id)  # a List-Id is a dotted name under a domain the list's owner controls
        return list_id
    if not _TOKEN.fullmatch(value):
        raise InvalidClaimError(f"{kind} must be 1 to 200 letters, digits or ._:@+-")
    return value.lower() if kind is ClaimKind.AUTHSERV_ID else value


def proving_domain(kind: ClaimKind, value: str) -> str | None:
    """The domain whose owner proves a claim (its DNS holds the token, its postmaster gets the link)."""
    if kind is ClaimKind.DOMAIN:
        return value
    if kind is ClaimKind.LIST_ID:
        return registered_domain(value)
    return None


def txt_name(domain: str) -> str:
    return f"{TXT_LABEL}.{domain}"


def txt_proves(records: list[str], token: str) -> bool:
    return any(r.strip() == f"{TXT_PREFIX}{token}" for r in records)


@dataclass(frozen=True)
class ClaimRef:
    id: int
    organization_id: int
    kind: ClaimKind
    value: str
    state: ClaimState


def overlap(a: ClaimRef, b: ClaimRef) -> bool:
    """Whether two claims cover some of the same addresses or names."""
    if a.id == b.id:
        return False
    networks = (ClaimKind.IP_RANGE, ClaimKind.RELAY_NETWORK)
    if a.kind in networks and b.kind in networks:
        first, second = ipaddress.ip_network(a.value), ipaddress.ip_network(b.value)
        return first.version == second.version and first.overlaps(second)
    if a.kind is not b.kind:
        return False
    if a.kind is ClaimKind.DOMAIN:
        return is_subdomain(a.value, b.value) or is_subdomain(b.value, a.value)
    return a.value == b.value


def conflicts(claim: ClaimRef, others: list[ClaimRef]) -> list[ClaimRef]:
    """Live claims of other organizations that overlap this one."""
    live = (ClaimState.PENDING, ClaimState.VERIFIED)
    return [o for o in others if o.organization_id != claim.organization_id and o.state in live and overlap(claim, o)]


def _network(value: str) -> str:
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as error:
        raise InvalidClaimError(f"not a CIDR network without host bits: {error}") from None
    if network.prefixlen < MIN_PREFIX[network.version]:
        raise InvalidClaimError(f"wider than /{MIN_PREFIX[network.version]}: claim the blocks you hold")
    if network.is_loopback or network.is_multicast or network.is_unspecified or network.is_link_local:
        raise InvalidClaimError("not a range of addresses that send mail")
    return str(network)


def _domain(value: str) -> str:
    host = normalize_host(value)
    if not host or is_ip(host) or "." not in host or not host.isascii():
        raise InvalidClaimError("not a domain name")
    if registered_domain(host) is None:
        raise InvalidClaimError("a public suffix, or a name under a suffix the Public Suffix List does not know")
    return host
