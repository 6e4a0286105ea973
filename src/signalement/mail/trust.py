"""Where a message entered the trusted mail system: a SpamCop-like walk down the Received chain.

Every Received field below the first one written by a system we trust can be forged by the sender, so the walk
starts at the top and goes down only while each hop is vouched for:

1. Anchor. The topmost field is written by the system that delivered the message to the reporter. Local hops on top
   (fetchmail, amavis, Gmail's `by 2002:a05:...` internal hops: no sending address, or a private one) are skipped.
   The first hop whose writer (`by` host) is recognized (registry host pattern or network, member network, reporter
   host) is the anchor. A first hop from a public address written by an unknown host is accepted ("recipient") only
   when nothing below it states another public address, or when its sender is itself trusted (a provider relay
   forwarding to the reporter's own server); otherwise the walk refuses to guess which hop is the border.
2. Walk. From the anchor down, a hop's sending address is trusted when it is private/loopback/link-local/CGNAT
   (inside the receiving system), in a member network, in a reporter host (CIDR, or a declared name equal to the
   writer-verified reverse name), in a registry network, or in a registry entry's internal network when both the
   writer and the sender carry that entry's host names. Host names alone never trust an address.
3. Consistency. A trusted sender must be the writer of the next field down: the next `by` address equals the sending
   address, or the next `by` name equals the sender's reverse name or HELO (the address is trusted, so its HELO is
   the relay speaking), or the next writer belongs to the party that trusted the address (same registry entry, member
   or reporter host), or, for a private sender, the next writer is in the same registered domain as this writer, is
   unqualified (`localhost`) or has a private address. A hop with no sending address (`by X with SMTP id`) is
   followed when the next writer is of the same party. Anything else stops the walk: no origin, and the reason.
4. Origin. The first hop whose sending address is public and untrusted gives the origin (ip, helo, rdns); fields
   below it are the sender's and are ignored. When the chain ends inside a trusted system at a webmail submission
   hop (`with HTTP`, `via HTTP`, `with mapi`), the origin is the X-Originating-IP field when present and public.
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache
from importlib.resources import files
from typing import Any

from signalement.mail.domains import registered_domain
from signalement.mail.received import (
    Hop,
    Reading,
    build,
    header_fields,
    ip_value,
    normalize_ip,
    received_fields,
    received_ip,
)

IP = ipaddress.IPv4Address | ipaddress.IPv6Address

_INTERNAL = (
    "10.0.0.0/8",
    "172.16.0.0/12",
    "192.168.0.0/16",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "100.64.0.0/10",  # CGNAT: a provider's own network, never a sender on the Internet
    "0.0.0.0/8",
    "192.0.0.0/24",
    "198.18.0.0/15",
    "224.0.0.0/3",  # multicast and 240/4: never a real sender
    "::/127",
    "fe80::/10",
    "fc00::/7",
    "ff00::/8",
)
_WEBMAIL = frozenset({"http", "https", "httpa", "httpsa", "mapi", "httprest", "httpsrest"})
_WEBMAIL_API = frozenset({"httprest", "httpsrest"})  # an API takes a raw message: its X-Originating-IP is the sender's
_RETRIEVAL = ("IMAP", "POP")  # fetchmail & co: the reporter pulling from their own mailbox, above the real chain


@dataclass(frozen=True)
class TrustContext:
    """What the submitting member and the reporter declare as theirs."""

    networks: tuple[str, ...] = ()  # the member's relay networks (CIDR)
    hosts: tuple[str, ...] = ()  # the reporter's mail hosts: names or CIDR (SpamCop's "mailhosts")
    authserv_ids: tuple[str, ...] = ()  # the member's Authentication-Results authserv-ids


@dataclass(frozen=True)
class Relay:
    name: str
    label: str
    hosts: tuple[str, ...]
    networks: tuple[str, ...]
    internal_networks: tuple[str, ...]
    authserv_ids: tuple[str, ...]
    authres_without_id: bool
    authres_below_received: bool
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class WalkedHop:
    """A hop as the walk saw it, with the reason its sender was trusted (or that it is the origin)."""

    hop: Hop
    trust: str

    def as_json(self) -> dict[str, Any]:
        return {**self.hop.as_json(), "trust": self.trust}


@dataclass(frozen=True)
class Origin:
    ip: str | None
    helo: str | None = None
    rdns: str | None = None
    received_at: str | None = None
    hops: list[WalkedHop] = field(default_factory=list)
    trusted_by: str | None = None
    untrusted_reason: str | None = None
    x_originating_ip: str | None = None
    webmail: bool = False
    boundary: int | None = None  # header position of the last hop examined: fields below it are the sender's

    def as_json(self) -> dict[str, Any]:
        return {  # written out: asdict() would deep-copy every hop only for the copies to be replaced
            "ip": self.ip,
            "helo": self.helo,
            "rdns": self.rdns,
            "received_at": self.received_at,
            "hops": [hop.as_json() for hop in self.hops],
            "trusted_by": self.trusted_by,
            "untrusted_reason": self.untrusted_reason,
            "x_originating_ip": self.x_originating_ip,
            "webmail": self.webmail,
            "boundary": self.boundary,
        }


_ORIGIN_DEFAULTS = {
    "ip": None,
    "helo": None,
    "rdns": None,
    "received_at": None,
    "trusted_by": None,
    "untrusted_reason": None,
    "x_originating_ip": None,
    "webmail": False,
    "boundary": None,
}


def _origin(**values: Any) -> Origin:
    return build(Origin, {**_ORIGIN_DEFAULTS, "hops": [], **values})


def _walked(hop: Hop, trust: str) -> WalkedHop:
    return build(WalkedHop, {"hop": hop, "trust": trust})


class Networks:
    """CIDR blocks to labels; lookup by prefix length, most specific first (a dict per length: a few µs)."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._tables: dict[int, dict[int, dict[int, str]]] = {4: {}, 6: {}}
        for cidr, label in items:
            try:
                net = ipaddress.ip_network(cidr.strip(), strict=False)
            except ValueError:
                continue  # a bad entry in a member's settings must not break the analysis
            table = self._tables[net.version].setdefault(net.prefixlen, {})
            table.setdefault(int(net.network_address) >> (net.max_prefixlen - net.prefixlen), label)
        # (bits to shift away, table) per prefix length, most specific first
        self._shifts = {
            version: tuple((bits - length, self._tables[version][length]) for length in sorted(tables, reverse=True))
            for version, bits, tables in ((4, 32, self._tables[4]), (6, 128, self._tables[6]))
        }
        self._any = any(self._shifts.values())

    def get(self, ip: IP | None) -> str | None:
        return None if ip is None else self.lookup(ip.version, int(ip))

    def lookup(self, version: int, value: int) -> str | None:
        """The label of the most specific block holding the address `value` of IP `version` (4 or 6)."""
        for shift, table in self._shifts[version]:
            label = table.get(value >> shift)
            if label is not None:
                return label
        return None

    def __bool__(self) -> bool:
        return self._any


class Names:
    """Host-name patterns (`name` exact, `*.name` any name under it) to labels: a dict lookup per suffix."""

    def __init__(self, items: Iterable[tuple[str, str]]) -> None:
        self._exact: dict[str, str] = {}
        self._under: dict[str, str] = {}
        for pattern, label in items:
            pattern = pattern.strip().lower().rstrip(".")
            if pattern.startswith("*."):
                self._under.setdefault(pattern[2:], label)
            elif pattern and "*" not in pattern:
                self._exact.setdefault(pattern, label)
        self._any = bool(self._exact or self._under)
        self._seen: dict[str, str | None] = {}  # name -> label: the same relay names come back in every message

    def get(self, name: str | None) -> str | None:
        if not name or not self._any:
            return None
        seen = self._seen
        if name in seen:
            return seen[name]
        if len(seen) > 8192:
            seen.clear()
        label = seen[name] = self._find(name)
        return label

    def _find(self, name: str) -> str | None:
        name = name.lower().rstrip(".")
        label = self._exact.get(name)
        if label is not None or not self._under:
            return label
        dot = name.find(".")
        while dot >= 0:
            label = self._under.get(name[dot + 1 :])
            if label is not None:
                return label
            dot = name.find(".", dot + 1)
        return None

    def __bool__(self) -> bool:
        return self._any


@dataclass(frozen=True)
class Registry:
    relays: tuple[Relay, ...]
    hosts: Names
    networks: Networks
    internal: Networks
    authserv_ids: Names
    authres_without_id: frozenset[str]
    authres_below_received: frozenset[str]


@lru_cache(maxsize=1)
def registry() -> Registry:
    """The providers of relays.toml (beside this module), compiled once."""
    data = tomllib.loads(files("signalement.mail").joinpath("relays.toml").read_text(encoding="utf-8"))
    relays = tuple(
        Relay(
            name=item["name"],
            label=item["label"],
            hosts=tuple(item["hosts"]),
            networks=tuple(item["networks"]),
            internal_networks=tuple(item["internal_networks"]),
            authserv_ids=tuple(item["authserv_ids"]),
            authres_without_id=bool(item["authres_without_id"]),
            authres_below_received=bool(item.get("authres_below_received", False)),
            evidence=tuple(item["evidence"]),
        )
        for item in data["relay"]
    )
    tag = {r.name: f"registry:{r.name}" for r in relays}
    return Registry(
        relays=relays,
        hosts=Names((h, tag[r.name]) for r in relays for h in r.hosts),
        networks=Networks((n, tag[r.name]) for r in relays for n in r.networks),
        internal=Networks((n, tag[r.name]) for r in relays for n in r.internal_networks),
        authserv_ids=Names((a, tag[r.name]) for r in relays for a in r.authserv_ids),
        authres_without_id=frozenset(tag[r.name] for r in relays if r.authres_without_id),
        authres_below_received=frozenset(tag[r.name] for r in relays if r.authres_below_received),
    )


@dataclass(frozen=True)
class _Context:
    networks: Networks  # member networks and reporter-host CIDRs
    names: Names  # reporter host names
    authserv_ids: Names
    declared: bool  # networks or names: most reports declare neither, and the walk then skips both lookups


def _looks_like_cidr(text: str) -> bool:
    return bool(text) and (text[0].isdigit() or ":" in text) and all(c in "0123456789abcdefABCDEF:./" for c in text)


@lru_cache(maxsize=256)
def _compiled(context: TrustContext) -> _Context:
    cidrs = [(h, "reporter-host") for h in context.hosts if _looks_like_cidr(h.strip())]
    names = [(h, "reporter-host") for h in context.hosts if not _looks_like_cidr(h.strip())]
    networks = Networks([*((n, "member") for n in context.networks), *cidrs])
    hosts = Names(names)
    return _Context(
        networks=networks,
        names=hosts,
        authserv_ids=Names((a, "member") for a in context.authserv_ids),
        declared=bool(networks) or bool(hosts),
    )


_NO_CONTEXT = _compiled(TrustContext())


def _context(context: TrustContext | None) -> _Context:
    """The compiled context; an empty one (the usual case) without hashing the dataclass."""
    if context is None or not (context.networks or context.hosts or context.authserv_ids):
        return _NO_CONTEXT
    return _compiled(context)


_INTERNAL_NETWORKS = Networks((n, "private") for n in _INTERNAL)


def _internal(version: int, value: int) -> bool:
    if _INTERNAL_NETWORKS.lookup(version, value):
        return True
    # 6to4 (2002::/16) of an internal IPv4 address: Google's `2002:a05:...` hops
    return version == 6 and value >> 112 == 0x2002 and _internal(4, (value >> 80) & 0xFFFFFFFF)


@lru_cache(maxsize=8192)
def is_internal(ip: IP | None) -> bool:
    """Private, loopback, link-local, CGNAT, ULA or reserved; 6to4 of such an address too (Google's `2002:a05:`).
    The documentation ranges count as public: they are what the tests send from."""
    return ip is not None and _internal(ip.version, int(ip))


# What the walk asks of an address: (version, integer, internal, registry network label, registry internal label)
_Facts = tuple[int, int, bool, str | None, str | None]


@lru_cache(maxsize=16384)
def _facts(text: str) -> _Facts | None:
    """The facts of a canonical address text (as normalize_ip returns it), or None; cached: addresses repeat."""
    address = ip_value(text)
    if address is None:
        return None
    version, value = address
    reg = registry()
    return (
        version,
        value,
        _internal(version, value),
        reg.networks.lookup(version, value),
        reg.internal.lookup(version, value),
    )


def _is_internal_ip(text: str | None) -> bool:
    facts = _facts(text) if text else None
    return facts is not None and facts[2]


def _is_public_ip(text: str | None) -> bool:
    facts = _facts(text) if text else None
    return facts is not None and not facts[2]


def _writer(hop: Hop | Reading, reg: Registry, ctx: _Context) -> str | None:
    """Who wrote the hop, from its `by` address or name; None when unknown."""
    facts = _facts(hop.by_ip) if hop.by_ip else None
    if ctx.declared:
        label = (ctx.networks.lookup(facts[0], facts[1]) if facts else None) or ctx.names.get(hop.by_host)
        if label:
            return label
    if facts is not None:
        label = facts[3] or facts[4]
        if label:
            return label
    return reg.hosts.get(hop.by_host)


def _sender_trust(hop: Hop, writer: str | None, reg: Registry, ctx: _Context) -> str | None:
    """Why the hop's sending address is trusted, or None."""
    facts = _facts(hop.ip) if hop.ip else None
    if facts is None:
        return None
    if facts[2]:
        return "private"
    if ctx.declared:
        label = ctx.networks.lookup(facts[0], facts[1])
        if label:
            return label
        if hop.rdns and "rdns-may-be-forged" not in hop.defects and ctx.names.get(hop.rdns):
            return "reporter-host"  # the reverse name was looked up by the trusted writer, not claimed by the sender
    public, internal = facts[3], facts[4]
    if public:
        return public
    if internal and writer == internal and internal in (reg.hosts.get(hop.rdns), reg.hosts.get(hop.helo)):
        return internal
    return None


def _same_site(upper: Hop, lower: Hop | Reading) -> bool:
    name = lower.by_host
    if not name or "." not in name or name.startswith("localhost.") or _is_internal_ip(lower.by_ip):
        return True  # `localhost`, an unqualified internal name, or a private address of the same system
    upper_domain = registered_domain(upper.by_host) if upper.by_host else None
    return upper_domain is not None and upper_domain == registered_domain(name)


def _consistent(
    upper: Hop, lower: Hop | Reading, trust: str | None, upper_writer: str | None, lower_writer: str | None
) -> bool:
    """Whether `lower` was written by the host that `upper` says it received the message from."""
    if upper.ip and lower.by_ip == upper.ip:
        return True
    if lower.by_host and lower.by_host in (upper.rdns, upper.helo):
        return True
    if trust is None or trust == "private":  # no sending address, or a private one: a hand-off inside the writer
        return (lower_writer is not None and lower_writer == upper_writer) or _same_site(upper, lower)
    return lower_writer == trust


def _is_webmail(hop: Hop) -> bool:
    protocol = (hop.protocol or "").lower()
    return protocol in _WEBMAIL or (hop.via or "").lower().startswith("http")


def _header_ip(found: dict[str, list[tuple[int, str]]]) -> str | None:
    values = found.get("x-originating-ip")
    return normalize_ip(values[0][1].strip()[:60]) if values else None


_NOT_YET = "\x00not yet"  # a writer not worked out yet (no label looks like this)


class _Chain:
    """The Received fields, read only when the walk reaches them (most walks stop before the bottom): first for
    what the walk asks of every field it looks at, then in full for the fields it keeps; a field that the walk
    only asks for its sending address is read for that alone."""

    def __init__(self, fields: list[tuple[int, str]], reg: Registry, ctx: _Context) -> None:
        self.fields = fields
        self.reg, self.ctx = reg, ctx
        self._readings: list[Reading | None] = [None] * len(fields)
        self._hops: list[Hop | None] = [None] * len(fields)
        self._writers: list[str | None] = [_NOT_YET] * len(fields)

    def reading(self, index: int) -> Reading:
        reading = self._readings[index]
        if reading is None:
            position, text = self.fields[index]
            reading = self._readings[index] = Reading(text, position)
        return reading

    def hop(self, index: int) -> Hop:
        hop = self._hops[index]
        if hop is None:
            hop = self._hops[index] = self.reading(index).hop()
        return hop

    def writer(self, index: int) -> str | None:
        """Who wrote the field at `index` (see _writer), worked out once."""
        writer = self._writers[index]
        if writer is _NOT_YET:
            writer = self._writers[index] = _writer(self.reading(index), self.reg, self.ctx)
        return writer

    def public(self, index: int) -> bool:
        """Whether the field at `index` states a public sending address."""
        reading = self._readings[index]
        return _is_public_ip(reading.ip if reading is not None else received_ip(self.fields[index][1]))

    def next(self, index: int) -> int | None:
        """The next field down that has clauses: qmail's "(qmail 123 invoked from network)" notes have none."""
        for lower in range(index + 1, len(self.fields)):
            if (self._readings[lower] or self.reading(lower)).has_clauses:
                return lower
        return None


def _public(hop: Hop | Reading) -> bool:
    return _is_public_ip(hop.ip)


def _anchor(chain: _Chain, ctx: _Context) -> tuple[int | None, str | None, str | None]:
    """Index of the first trusted writer and why it is trusted, or (None, None, reason)."""
    index = 0 if chain.reading(0).has_clauses else chain.next(0)
    while index is not None:
        writer = chain.writer(index)
        if writer:
            return index, writer, None
        reading = chain.reading(index)
        if not _is_public_ip(reading.ip) or (reading.protocol or "").upper().startswith(_RETRIEVAL):
            index = chain.next(index)  # a local hop on the reporter's side (fetchmail, filter, internal hand-off)
            continue
        hop = chain.hop(index)
        lower_public = any(chain.public(i) for i in range(index + 1, len(chain.fields)))
        if not lower_public or _sender_trust(hop, None, chain.reg, ctx):
            return index, "recipient", None
        return (
            None,
            None,
            f"the receiving system {hop.by_host or 'an unnamed host'} is neither a known provider nor declared by the "
            "member or the reporter, and the fields below it cannot be told apart from forged ones",
        )
    return None, None, "no Received field states a sending address"


def origin(msg: Message, context: TrustContext | None = None) -> Origin:
    """Walk the Received chain of `msg` from the top; see the module docstring for the rules."""
    reg, ctx = registry(), _context(context)
    found = header_fields(msg)
    header_ip = _header_ip(found)
    chain = _Chain(received_fields(msg, found), reg, ctx)
    if not chain.fields:
        return _origin(ip=None, untrusted_reason="the message has no Received field", x_originating_ip=header_ip)
    start, anchor_by, reason = _anchor(chain, ctx)
    if start is None:
        first = next((i for i in range(len(chain.fields)) if chain.public(i)), 0)
        stop = chain.hop(first)
        return _origin(
            ip=None,
            untrusted_reason=reason,
            x_originating_ip=header_ip,
            boundary=stop.position,
            hops=[_walked(stop, "not trusted: unknown receiving system")],
        )
    return _walk(chain, start, anchor_by or "recipient", reg, ctx, header_ip)


def _walk(chain: _Chain, start: int, writer: str, reg: Registry, ctx: _Context, header_ip: str | None) -> Origin:
    walked: list[WalkedHop] = []
    index: int | None = start
    hop = chain.hop(start)
    while index is not None:
        hop = chain.hop(index)
        own = chain.writer(index)
        if index != start and own:
            writer = own  # consistency tied this writer to the hop above; an unknown one inherits the party
        trust = _sender_trust(hop, None if writer == "recipient" else writer, reg, ctx)
        if trust is None and _is_public_ip(hop.ip):  # the first public, untrusted sender: the origin
            walked.append(_walked(hop, f"origin, received by {writer}"))
            return _origin(
                ip=hop.ip,
                helo=hop.helo,
                rdns=hop.rdns,
                received_at=hop.received_at,
                hops=walked,
                trusted_by=writer,
                x_originating_ip=header_ip,
                webmail=_is_webmail(hop),
                boundary=hop.position,
            )
        walked.append(_walked(hop, trust or f"no sending address: internal hop of {writer}"))
        lower_index = chain.next(index)
        if lower_index is None:
            break
        lower = chain.reading(lower_index)
        if not _consistent(hop, lower, trust, own or writer, chain.writer(lower_index)):
            return _origin(
                ip=None,
                hops=walked,
                trusted_by=writer,
                x_originating_ip=header_ip,
                boundary=hop.position,
                untrusted_reason=(
                    f"the chain breaks below {hop.by_host}: it received from {hop.ip or 'no stated address'} "
                    f"({trust or 'internal'}), but the next field down was written by "
                    f"{lower.by_host or 'an unnamed host'}"
                ),
            )
        index = lower_index
    return _chain_end(hop, walked, writer, header_ip)


def _chain_end(hop: Hop, walked: list[WalkedHop], writer: str, header_ip: str | None) -> Origin:
    """The chain ends inside trusted systems: a submission with no external address in the Received fields."""
    webmail = _is_webmail(hop)
    if webmail and (hop.protocol or "").lower() not in _WEBMAIL_API and _is_public_ip(header_ip):
        return _origin(
            ip=header_ip,
            hops=walked,
            trusted_by=writer,
            x_originating_ip=header_ip,
            webmail=True,
            boundary=hop.position,
        )
    if webmail:
        how = "a webmail, client or API submission"
    elif _public(hop):
        how = f"its relay {hop.ip}, the fields before it were not kept"
    else:
        how = "a hop with no external sending address"
    return _origin(
        ip=None,
        hops=walked,
        trusted_by=writer,
        x_originating_ip=header_ip,
        webmail=webmail,
        boundary=hop.position,
        untrusted_reason=f"the chain ends inside {writer} at {how}; the client address is not disclosed",
    )


def trusted_authserv_ids(context: TrustContext | None = None) -> dict[str, tuple[str, ...]]:
    """The authserv-id patterns trusted for a report: each registry entry's, and the member's."""
    ids = {f"registry:{r.name}": r.authserv_ids for r in registry().relays}
    if context and context.authserv_ids:
        ids["member"] = context.authserv_ids
    return ids


def is_trusted_authserv_id(authserv_id: str | None, context: TrustContext | None = None) -> str | None:
    """`member` or `registry:<name>` when the authserv-id is one we trust, else None."""
    if not authserv_id:
        return None
    return _context(context).authserv_ids.get(authserv_id) or registry().authserv_ids.get(authserv_id)


def writer_of(hop: Hop, context: TrustContext | None = None) -> str | None:
    """Who wrote a hop (registry entry, member, reporter host), for callers that place other fields by it."""
    return _writer(hop, registry(), _context(context))
