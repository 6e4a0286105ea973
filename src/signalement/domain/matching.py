"""Which verified claims a report concerns, and whether the identity that matched is authenticated (issue 9).

A report is reduced once to its `Identities` (`identities_from_facts`, from the analysis document,
docs/analysis.md), then matched against a `ClaimIndex` built once from every claim that subscriptions use:

- `ip_range`: authenticated when the origin IP, found through a trusted Received chain, lies in the range; an
  origin that is not trusted matches nothing.
- `domain`: authenticated when a passing DKIM `d=`, or the MAIL FROM domain with SPF pass, is the domain or a name
  under it; unverified when only the From domain, the Return-Path domain or the `d=` of a signature not known to
  pass is.
- `feedback_id` (the sender id) and `list_id`: authenticated when the field is covered (`h=`) by a passing
  signature, else unverified.

Unverified matches are counted in statistics, never delivered: forged mail cannot send complaints to a member.
Authenticated means: read from the trusted part of the message (Authentication-Results of a trusted authserv-id,
Received-SPF above the trusted origin) or checked by the platform itself. A passing signature is one that trusted
Authentication-Results say passed, or one the platform verified: `authentication.verified_dkim` in the facts, a
list of `{"domain", "selector", "headers"}` or of bare `d=` strings (what `signalement.mail.dkim.passing_domains`
returns; the covered headers are then those every DKIM-Signature of that `d=` lists).

Lookups are dictionary probes: an IP costs one probe per distinct prefix length among the claims (IPv4 and IPv6
apart, an IPv4-mapped IPv6 address looked up as IPv4), a domain one probe per label.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Generic, TypeVar

from signalement.domain.claims import ClaimKind
from signalement.mail.domains import is_subdomain, normalize_host

K = TypeVar("K")
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
MATCHED_KINDS = frozenset({ClaimKind.IP_RANGE, ClaimKind.DOMAIN, ClaimKind.FEEDBACK_ID, ClaimKind.LIST_ID})
_V4_MAPPED = int(ipaddress.IPv6Address("::ffff:0:0"))
_ANGLED = re.compile(r"<([^<>]*)>")


class Identity(StrEnum):
    """Which identity of the report matched a claim."""

    ORIGIN_IP = "origin_ip"  # the origin IP from a trusted Received chain
    DKIM = "dkim"  # the d= of a passing signature
    SPF = "spf"  # the MAIL FROM domain, SPF pass
    FROM = "from"
    RETURN_PATH = "return_path"
    SIGNATURE = "signature"  # the d= of a signature that failed or was not verified
    FEEDBACK_ID = "feedback_id"
    LIST_ID = "list_id"


@dataclass(frozen=True)
class Identities:
    """What a report can be matched on. Domains are normalized (lower case, punycode)."""

    origin_ip: IPAddress | None = None  # only from a trusted chain; an IPv4-mapped address as IPv4
    origin_trusted_by: str | None = None  # who vouched for the chain (`registry:gmail`, `member`, `recipient`)
    dkim_pass_domains: tuple[str, ...] = ()
    spf_pass_domain: str | None = None
    return_path_domain: str | None = None  # as written: unauthenticated
    from_domain: str | None = None  # unauthenticated
    unverified_dkim_domains: tuple[str, ...] = ()  # d= of signatures not known to pass, passing ones left out
    feedback_ids: tuple[str, ...] = ()  # sender ids (the last field), case kept
    list_ids: tuple[str, ...] = ()  # lower case, without the angle brackets
    feedback_id_signers: tuple[str, ...] = ()  # d= of the passing signatures whose h= covers Feedback-ID
    list_id_signers: tuple[str, ...] = ()  # d= of the passing signatures whose h= covers List-Id


@dataclass(frozen=True)
class Match(Generic[K]):
    key: K  # what the caller attached to the claim
    kind: ClaimKind
    value: str  # the claim's value
    identity: Identity
    found: str  # what matched in the report: the IP, the domain, the sender id, the List-Id
    authenticated: bool
    signed_by: tuple[str, ...] = ()  # for a Feedback-ID or List-Id: the passing signatures' d= that cover it


_Entries = tuple[tuple[Any, str], ...]  # (key, claim value) of the claims sharing one lookup key
_Table = tuple[int, dict[int, _Entries]]  # (right shift, {address >> shift: entries})


class ClaimIndex(Generic[K]):
    """Claims indexed for matching; immutable once built. `claims` holds (key, kind, value), values as
    `signalement.domain.claims.normalize` returns them (domains and List-Ids are normalized again here)."""

    def __init__(self, claims: Iterable[tuple[K, ClaimKind | str, str]]) -> None:
        v4: dict[int, dict[int, _Entries]] = {}
        v6: dict[int, dict[int, _Entries]] = {}
        self._domains: dict[str, _Entries] = {}
        self._feedback_ids: dict[str, _Entries] = {}
        self._list_ids: dict[str, _Entries] = {}
        self.size = 0
        for key, kind, value in claims:
            kind = ClaimKind(kind)
            if kind is ClaimKind.IP_RANGE:
                bits, prefix, address = _range(value)
                tables = v4 if bits == 32 else v6
                _add(tables.setdefault(prefix, {}), address >> (bits - prefix), key, value)
            elif kind is ClaimKind.DOMAIN:
                _add(self._domains, normalize_host(value), key, value)
            elif kind is ClaimKind.FEEDBACK_ID:
                _add(self._feedback_ids, value.strip(), key, value)
            elif kind is ClaimKind.LIST_ID:
                _add(self._list_ids, value.strip().strip("<>").lower(), key, value)
            else:
                raise ValueError(f"a {kind} claim identifies no sender: it is not matched")
            self.size += 1
        # Longest prefixes first, so the most specific range comes first among a report's matches.
        self._v4: tuple[_Table, ...] = tuple((32 - p, v4[p]) for p in sorted(v4, reverse=True))
        self._v6: tuple[_Table, ...] = tuple((128 - p, v6[p]) for p in sorted(v6, reverse=True))

    @property
    def prefix_lengths(self) -> tuple[int, int]:
        """How many distinct prefix lengths an IPv4 and an IPv6 lookup probe."""
        return len(self._v4), len(self._v6)

    def match(self, who: Identities) -> list[Match[K]]:
        """Every claim the report concerns, once per (key, kind, value): authenticated when any authenticated
        identity matches it, else unverified."""
        found: dict[tuple[Any, ClaimKind, str], Match[K]] = {}
        if who.origin_ip is not None:
            self._ip(who.origin_ip, found)
        for domain in who.dkim_pass_domains:
            self._domain(domain, Identity.DKIM, True, found)
        if who.spf_pass_domain:
            self._domain(who.spf_pass_domain, Identity.SPF, True, found)
        if who.feedback_ids:
            feedback = self._feedback_ids, ClaimKind.FEEDBACK_ID, Identity.FEEDBACK_ID
            _exact(*feedback, who.feedback_ids, who.feedback_id_signers, found)
        if who.list_ids:
            _exact(self._list_ids, ClaimKind.LIST_ID, Identity.LIST_ID, who.list_ids, who.list_id_signers, found)
        # The unauthenticated ones last: a claim already matched by an authenticated identity stays so.
        for domain in who.unverified_dkim_domains:
            self._domain(domain, Identity.SIGNATURE, False, found)
        if who.from_domain:
            self._domain(who.from_domain, Identity.FROM, False, found)
        if who.return_path_domain:
            self._domain(who.return_path_domain, Identity.RETURN_PATH, False, found)
        return list(found.values())

    def _ip(self, ip: IPAddress, found: dict[tuple[Any, ClaimKind, str], Match[K]]) -> None:
        number = int(ip)
        tables = self._v4 if ip.version == 4 else self._v6
        for shift, table in tables:
            entries = table.get(number >> shift)
            if entries is not None:
                _record(found, entries, ClaimKind.IP_RANGE, Identity.ORIGIN_IP, str(ip), True, ())

    def _domain(
        self, domain: str, identity: Identity, authenticated: bool, found: dict[tuple[Any, ClaimKind, str], Match[K]]
    ) -> None:
        name, domains = domain, self._domains
        while True:  # the name, then each parent: a claim covers the names under it
            entries = domains.get(name)
            if entries is not None:
                _record(found, entries, ClaimKind.DOMAIN, identity, domain, authenticated, ())
            dot = name.find(".")
            if dot < 0:
                return
            name = name[dot + 1 :]


def authenticated_for(match: Match[Any], own_domains: Iterable[str]) -> bool:
    """Whether a match authenticates for the claimant whose domain claims are `own_domains`: a Feedback-ID or
    List-Id only under a passing signature of one of them (anyone can sign a header with a domain of their own)."""
    if not match.authenticated:
        return False
    if match.kind not in (ClaimKind.FEEDBACK_ID, ClaimKind.LIST_ID):
        return True
    return any(is_subdomain(signer, domain) for signer in match.signed_by for domain in own_domains)


def _exact(
    table: dict[str, _Entries],
    kind: ClaimKind,
    identity: Identity,
    values: tuple[str, ...],
    signers: tuple[str, ...],
    found: dict[tuple[Any, ClaimKind, str], Match[K]],
) -> None:
    for value in values:
        entries = table.get(value)
        if entries is not None:
            _record(found, entries, kind, identity, value, bool(signers), signers)


def _add(table: dict[Any, _Entries], lookup: Any, key: Any, value: str) -> None:
    # Tuples, not lists: nearly every lookup key holds one claim, and a 1-tuple is the smallest container.
    table[lookup] = (*table.get(lookup, ()), (key, value))


def _record(
    found: dict[tuple[Any, ClaimKind, str], Match[K]],
    entries: _Entries,
    kind: ClaimKind,
    identity: Identity,
    what: str,
    authenticated: bool,
    signed_by: tuple[str, ...],
) -> None:
    for key, value in entries:
        slot = (key, kind, value)
        if slot not in found:
            found[slot] = Match(key, kind, value, identity, what, authenticated, signed_by)


def _range(value: str) -> tuple[int, int, int]:
    """(address bits, prefix length, network address as an integer) of a CIDR range; IPv4-mapped as IPv4."""
    text, slash, length = value.strip().partition("/")
    address = ipaddress.ip_address(text)
    bits = address.max_prefixlen
    prefix = int(length) if slash else bits
    if not 0 <= prefix <= bits:
        raise ValueError(f"not a prefix length: {value}")
    number = int(address)
    if bits == 128 and prefix >= 96 and number >> 32 == _V4_MAPPED >> 32:
        return 32, prefix - 96, number & 0xFFFFFFFF
    return bits, prefix, number


def identities_from_facts(facts: Mapping[str, Any]) -> Identities:
    """The identities of a report, from its analysis document (`reports.facts`, `signalement analyze`)."""
    origin, auth, sender = _section(facts, "origin"), _section(facts, "authentication"), _section(facts, "sender")
    ip = _origin_ip(origin)
    signatures = _items(auth.get("signatures"))
    passing = _passing_signatures(auth, signatures)
    passing_domains = tuple(dict.fromkeys(domain for domain, _ in passing))
    others = [_host(s.get("domain")) for s in signatures]
    if auth.get("trusted_by"):
        others += [_host(d.get("domain")) for d in _items(auth.get("dkim")) if d.get("result") != "pass"]
    feedback = _section(sender, "feedback_id").get("sender_id")
    feedback = feedback.strip() if isinstance(feedback, str) else None
    list_id = _list_id(sender.get("list_id"))
    return Identities(
        origin_ip=ip,
        origin_trusted_by=str(origin["trusted_by"]) if ip else None,
        dkim_pass_domains=passing_domains,
        spf_pass_domain=_spf_pass_domain(auth, ip is not None),
        return_path_domain=_host(sender.get("return_path_domain")),
        from_domain=_host(sender.get("from_domain")),
        unverified_dkim_domains=tuple(d for d in dict.fromkeys(others) if d and d not in passing_domains),
        feedback_ids=(feedback,) if feedback else (),
        list_ids=(list_id,) if list_id else (),
        feedback_id_signers=tuple(dict.fromkeys(d for d, covered in passing if "feedback-id" in covered)),
        list_id_signers=tuple(dict.fromkeys(d for d, covered in passing if "list-id" in covered)),
    )


# Facts are JSON: plain dicts and lists (an isinstance check against the Mapping ABC costs several times more).
def _section(parent: Mapping[str, Any], name: str) -> dict[str, Any]:
    value = parent.get(name)
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, (list, tuple)) else []


def _host(value: Any) -> str | None:
    return normalize_host(value) or None if isinstance(value, str) else None


def _origin_ip(origin: dict[str, Any]) -> IPAddress | None:
    """The origin IP when a trusted party vouched for the chain that found it; IPv4-mapped as IPv4."""
    text = origin.get("ip")
    if not origin.get("trusted_by") or not isinstance(text, str):
        return None
    quad = text.split(".")
    if len(quad) == 4 and all(p.isascii() and p.isdigit() and len(p) <= 3 and (p == "0" or p[0] != "0") for p in quad):
        octets = [int(p) for p in quad]  # the usual case, without ip_address's parsing (a third of its time)
        return ipaddress.IPv4Address(bytes(octets)) if max(octets) < 256 else None
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    mapped = ip.ipv4_mapped if ip.version == 6 else None
    return mapped or ip


def passing_signatures(facts: Mapping[str, Any]) -> list[tuple[str, frozenset[str]]]:
    """(d=, the header names its h= covers, lower case) of each signature of the report known to pass: per trusted
    Authentication-Results, or verified by the platform (`authentication.verified_dkim`)."""
    auth = _section(facts, "authentication")
    return _passing_signatures(auth, _items(auth.get("signatures")))


def _spf_pass_domain(auth: dict[str, Any], trusted_origin: bool) -> str | None:
    """The MAIL FROM domain when SPF passed, per trusted Authentication-Results, or per a Received-SPF field the
    analysis read above a trusted origin (written by the receiving system, not the sender)."""
    spf = _section(auth, "spf")
    if spf.get("result") != "pass":
        return None
    source = spf.get("source", "authentication-results")
    trusted = auth.get("trusted_by") if source == "authentication-results" else trusted_origin
    return _host(spf.get("domain")) if trusted else None


def _passing_signatures(auth: dict[str, Any], signatures: list[dict[str, Any]]) -> list[tuple[str, frozenset[str]]]:
    """(d=, the fields its h= covers) of each signature that passed: per trusted results, or verified here."""
    passing: list[tuple[str, frozenset[str]]] = []
    if auth.get("trusted_by"):
        for result in _items(auth.get("dkim")):
            domain = _host(result.get("domain"))
            if result.get("result") == "pass" and domain:
                passing.append((domain, _fields(result.get("headers"))))
    verified = auth.get("verified_dkim")
    for item in verified if isinstance(verified, list) else []:
        entry: dict[str, Any] = item if isinstance(item, dict) else {"domain": item}
        domain = _host(entry.get("domain"))
        if not domain:
            continue
        if "headers" in entry:
            passing.append((domain, _fields(entry.get("headers"))))
            continue
        # Only the d= is known: a field counts as signed only if every signature of that d= covers it.
        covers = [_fields(s.get("headers")) for s in signatures if _host(s.get("domain")) == domain]
        passing.append((domain, frozenset.intersection(*covers) if covers else frozenset()))
    return passing


def _fields(value: Any) -> frozenset[str]:
    """The header names of an h= list, lower case (the analysis writes them so; others may not)."""
    if not isinstance(value, (list, tuple)):
        return frozenset()
    try:
        return frozenset(map(str.lower, value))
    except TypeError:  # not all strings
        return frozenset(h.lower() for h in value if isinstance(h, str))


def _list_id(value: Any) -> str | None:
    """The List-Id's identifier (RFC 2919: an optional phrase, then `<list-label.namespace>`), lower case."""
    if not isinstance(value, str):
        return None
    if "<" in value:
        angled = _ANGLED.findall(value)
        value = angled[-1] if angled else value
    text = value.strip().lower()
    return text if text and " " not in text else None
