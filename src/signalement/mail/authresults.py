"""SPF, DKIM, DMARC and ARC results as the trusted receiving system recorded them, and the DKIM signatures.

Authentication-Results (RFC 8601) is read by hand: the `authres` library rejects fields without an authserv-id,
which is how Exchange Online writes them. A result is taken only from a field that is both
  - above the Received field of the origin hop (trust.Origin.boundary), or, when that field was written by a
    provider that stamps its results just below its own Received (Gmail), the first such field below it: the
    sender writes everything further down, and
  - written by a trusted authserv-id (registry or member), or, with no authserv-id, placed just above a Received
    field written by a provider known to omit it (Exchange Online);
and only from the topmost contiguous block of such fields. Received-SPF (RFC 7208 §9.1) is read under the same
position rule, as a fallback for SPF. DKIM-Signature fields are always listed, unverified.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import Message
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from signalement.mail.domains import normalize_host, registered_domain
from signalement.mail.received import Hop, build, header_fields, parse_received
from signalement.mail.trust import Origin, TrustContext, is_trusted_authserv_id, origin, registry, writer_of

MAX_FIELDS = 20  # of each kind: more is an attack or a loop
MAX_VALUE = 8192
_RESULT_FIELDS = ("authentication-results", "arc-authentication-results", "received-spf")

_COMMENTS = re.compile(r"(\((?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+\))")  # captured, for split()
_SEGMENT = re.compile(r'(?:[^;"]++|"(?:[^"\\]|\\.)*+")++')
_RESULT = re.compile(r"\s*([A-Za-z][\w.-]*)(?:/\d+)?\s*=\s*([A-Za-z][\w-]*)")
_PROPERTY = re.compile(r'([A-Za-z][\w-]*)\.([A-Za-z][\w-]*)\s*=\s*("(?:[^"\\]|\\.)*"|[^\s;]+)')
_POLICY = re.compile(r"\bp=(\w+)", re.IGNORECASE)
_SPF_DOMAIN = re.compile(r"(?:domain of|:)\s+(?:\S+@)?([A-Za-z0-9][\w.-]*\.[A-Za-z]{2,})\b")
_ENVELOPE = re.compile(r"envelope-from=\"?<?(?:[^@\s;>]*@)?([^\s;>\"]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Spf:
    result: str
    domain: str | None
    aligned: bool | None  # relaxed: same registered domain as From
    strict: bool | None  # same host name as From
    source: str = "authentication-results"


@dataclass(frozen=True)
class Signature:
    """A DKIM-Signature field, parsed, not verified."""

    domain: str | None
    selector: str | None
    algorithm: str | None
    headers: tuple[str, ...]
    identity: str | None
    has_length: bool  # l= lets anyone append content under the signature
    timestamp: int | None
    expiration: int | None
    aligned: bool | None


@dataclass(frozen=True)
class Dkim:
    result: str
    domain: str | None
    selector: str | None
    headers: tuple[str, ...]
    algorithm: str | None
    aligned: bool | None
    strict: bool | None


@dataclass(frozen=True)
class Dmarc:
    result: str
    policy: str | None
    domain: str | None


@dataclass(frozen=True)
class Authentication:
    authserv_id: str | None = None
    trusted_by: str | None = None
    spf: Spf | None = None
    dkim: list[Dkim] = field(default_factory=list)
    dmarc: Dmarc | None = None
    arc: str | None = None
    from_arc: bool = False  # the results come from an ARC-Authentication-Results field
    signatures: list[Signature] = field(default_factory=list)
    note: str | None = None

    def as_json(self) -> dict[str, Any]:
        spf, dmarc = self.spf, self.dmarc
        return {  # written out, as asdict() would give it: asdict() deep-copies every value first
            "authserv_id": self.authserv_id,
            "trusted_by": self.trusted_by,
            "spf": (
                {
                    "result": spf.result,
                    "domain": spf.domain,
                    "aligned": spf.aligned,
                    "strict": spf.strict,
                    "source": spf.source,
                }
                if spf is not None
                else None
            ),
            "dkim": [
                {
                    "result": d.result,
                    "domain": d.domain,
                    "selector": d.selector,
                    "headers": d.headers,
                    "algorithm": d.algorithm,
                    "aligned": d.aligned,
                    "strict": d.strict,
                }
                for d in self.dkim
            ],
            "dmarc": (
                {"result": dmarc.result, "policy": dmarc.policy, "domain": dmarc.domain} if dmarc is not None else None
            ),
            "arc": self.arc,
            "from_arc": self.from_arc,
            "signatures": [
                {
                    "domain": s.domain,
                    "selector": s.selector,
                    "algorithm": s.algorithm,
                    "headers": s.headers,
                    "identity": s.identity,
                    "has_length": s.has_length,
                    "timestamp": s.timestamp,
                    "expiration": s.expiration,
                    "aligned": s.aligned,
                }
                for s in self.signatures
            ],
            "note": self.note,
        }


_NO_CONTEXT = TrustContext()
_AUTHENTICATION_DEFAULTS = {
    "authserv_id": None,
    "trusted_by": None,
    "spf": None,
    "dmarc": None,
    "arc": None,
    "from_arc": False,
    "note": None,
}


def _authentication(**values: Any) -> Authentication:
    return build(Authentication, {**_AUTHENTICATION_DEFAULTS, "dkim": [], "signatures": [], **values})


_Result = tuple[str, str, Mapping[str, str], str]  # (method, result, properties, comments)


@dataclass(frozen=True)
class _Field:
    position: int
    authserv_id: str | None
    results: list[_Result]
    arc: bool


def _mask(text: str) -> tuple[str, list[str]]:
    if "(" not in text:
        return text, []
    pieces = _COMMENTS.split(text)  # [text, comment, text, comment, ..., text]: one pass for both
    return (" \x00 ".join(pieces[::2]) if len(pieces) > 1 else text), pieces[1::2]


def parse_authentication_results(value: str, arc: bool = False, position: int = -1) -> _Field:
    """One Authentication-Results (or ARC-Authentication-Results) value; tolerant of a missing authserv-id."""
    masked, comments = _mask(" ".join(value[:MAX_VALUE].split()))
    segments = [s.strip() for s in _SEGMENT.findall(masked)]
    seen = 0
    authserv_id: str | None = None
    results: list[_Result] = []
    for index, segment in enumerate(segments):
        count = segment.count("\x00") if comments else 0
        own = " ".join(comments[seen : seen + count]) if count else ""
        seen += count
        text = segment.replace("\x00", " ").strip() if "\x00" in segment else segment  # segments come stripped
        if arc and index == 0 and text.lower().startswith("i="):
            continue
        if authserv_id is None and not results and "=" not in text.split(" ", 1)[0]:
            words = text.split()
            authserv_id = normalize_host(words[0]) if words else None  # a version number may follow
            continue
        found = _result(text) if len(text) <= _MEMO_MAX else _read_result(text)
        if found is not None:
            results.append((*found, own))
    return build(_Field, {"position": position, "authserv_id": authserv_id, "results": results, "arc": arc})


# A result (`spf=pass smtp.mailfrom=example.net`), its comments masked, repeats from message to message (about 60%
# of them within the dev corpus): read once, for the usual lengths. Its properties are then shared between
# messages, hence read-only.
_MEMO_MAX = 512


def _read_result(text: str) -> tuple[str, str, Mapping[str, str]] | None:
    """(method, result, properties) of one result, or None when the text is none."""
    match = _RESULT.match(text)
    if match is None:
        return None
    props = {f"{p.lower()}.{n.lower()}": v.strip('"') for p, n, v in _PROPERTY.findall(text, match.end())}
    return match.group(1).lower(), match.group(2).lower(), MappingProxyType(props)


_result = lru_cache(maxsize=4096)(_read_result)


def _domain_of(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip().strip("<>\"'")
    return normalize_host(value.rpartition("@")[2]) or None


def _aligned(domain: str | None, from_domain: str | None) -> tuple[bool | None, bool | None]:
    if not domain or not from_domain:
        return None, None
    return _alignment(domain, from_domain)


@lru_cache(maxsize=4096)
def _alignment(domain: str, from_domain: str) -> tuple[bool, bool]:
    a, b = normalize_host(domain), normalize_host(from_domain)
    relaxed_a, relaxed_b = registered_domain(a) or a, registered_domain(b) or b
    return relaxed_a == relaxed_b, a == b


def parse_signature(value: str, from_domain: str | None = None) -> Signature:
    tags: dict[str, str] = {}
    for part in value[:MAX_VALUE].split(";"):
        name, _, text = part.partition("=")
        name = name.strip().lower()
        if name and name not in ("b", "bh") and name not in tags:
            tags[name] = "".join(text.split())
    domain = normalize_host(tags["d"]) if tags.get("d") else None
    return build(
        Signature,
        {
            "domain": domain,
            "selector": tags.get("s") or None,
            "algorithm": tags.get("a") or None,
            "headers": tuple(h.strip().lower() for h in tags.get("h", "").split(":") if h.strip())[:100],
            "identity": tags.get("i") or None,
            "has_length": "l" in tags,
            "timestamp": _int(tags.get("t")),
            "expiration": _int(tags.get("x")),
            "aligned": _aligned(domain, from_domain)[0],
        },
    )


def _int(text: str | None) -> int | None:
    return int(text) if text and text.isdigit() and len(text) < 19 else None


def _trust(item: _Field, received: list[tuple[int, str]], walk: Origin, context: TrustContext) -> str | None:
    if item.authserv_id:
        return is_trusted_authserv_id(item.authserv_id, context)
    for below in received:  # the Received field just below
        if below[0] > item.position:
            break
    else:
        return None
    position, text = below
    hop = _walked_hop(walk, position) or parse_received(text, position)
    writer = writer_of(hop, context)
    return writer if writer in registry().authres_without_id else None


def _walked_hop(walk: Origin, position: int) -> Hop | None:
    """The hop of the walk at this header position, if the walk went there (the last one is the boundary)."""
    hops = walk.hops
    if hops and hops[-1].hop.position == position:
        return hops[-1].hop
    for walked in hops:
        if walked.hop.position == position:
            return walked.hop
    return None


def _block(
    items: list[_Field], received: list[tuple[int, str]], walk: Origin, context: TrustContext
) -> tuple[list[_Field], str]:
    block: list[_Field] = []
    trusted_by = ""
    for item in items:
        label = _trust(item, received, walk, context)
        if block and label != trusted_by:
            break  # the block is contiguous: a field from anyone else ends it
        if label:
            block.append(item)
            trusted_by = label
    return block, trusted_by


def _spf(results: list[_Result], from_domain: str | None) -> Spf | None:
    for method, result, props, _ in results:
        if method == "spf":
            domain = _domain_of(props.get("smtp.mailfrom") or props.get("smtp.mail") or props.get("smtp.helo"))
            return _spf_result(result, domain, from_domain, "authentication-results")
    return None


def _spf_result(result: str, domain: str | None, from_domain: str | None, source: str) -> Spf:
    aligned, strict = _aligned(domain, from_domain)
    return build(Spf, {"result": result, "domain": domain, "aligned": aligned, "strict": strict, "source": source})


def _dkim(results: list[_Result], from_domain: str | None, signatures: list[Signature]) -> list[Dkim]:
    out: list[Dkim] = []
    for method, result, props, _ in results:
        if method != "dkim":
            continue
        domain = normalize_host(props["header.d"]) if props.get("header.d") else _domain_of(props.get("header.i"))
        selector = props.get("header.s")
        match = next(
            (s for s in signatures if s.domain == domain and (selector is None or s.selector == selector)), None
        )
        aligned, strict = _aligned(domain, from_domain)
        out.append(
            build(
                Dkim,
                {
                    "result": result,
                    "domain": domain,
                    "selector": selector or (match.selector if match else None),
                    "headers": match.headers if match else (),
                    "algorithm": props.get("header.a") or (match.algorithm if match else None),
                    "aligned": aligned,
                    "strict": strict,
                },
            )
        )
    return out


def _dmarc(results: list[_Result]) -> Dmarc | None:
    for method, result, props, comments in results:
        if method == "dmarc":
            policy = props.get("policy.published-domain-policy") or props.get("policy.dmarc")
            if policy is None:
                match = _POLICY.search(comments)
                policy = match.group(1) if match else None
            return build(
                Dmarc,
                {
                    "result": result,
                    "policy": policy.lower() if policy else None,
                    "domain": _domain_of(props.get("header.from")),
                },
            )
    return None


def _zone_end(walk: Origin, found: dict[str, list[tuple[int, str]]], context: TrustContext) -> int:
    """The first position the sender may have written: the boundary Received field, or, when its writer is a
    provider that writes its results just below its own Received (Gmail), the position after that one field."""
    boundary = walk.boundary if walk.boundary is not None else -1
    hop = _walked_hop(walk, boundary)
    if hop is None or writer_of(hop, context) not in registry().authres_below_received:
        return boundary
    results = {p for name in _RESULT_FIELDS for p, _ in found.get(name, [])}
    plain = {p for p, _ in found.get("authentication-results", [])}
    end = boundary + 1
    while end in results:  # Received-SPF and ARC fields may come first; stop after the first plain one
        end += 1
        if end - 1 in plain:
            break
    return end


def _received_spf(values: list[tuple[int, str]], boundary: int, from_domain: str | None) -> Spf | None:
    for position, value in values:
        if position >= boundary:
            break
        words = value.split(None, 1)
        if not words:
            continue
        envelope = _ENVELOPE.search(value)
        found = envelope or _SPF_DOMAIN.search(value)
        domain = normalize_host(found.group(1)) if found else None
        return _spf_result(words[0].lower().rstrip(";"), domain, from_domain, "received-spf")
    return None


def authentication(
    msg: Message,
    from_domain: str | None,
    context: TrustContext | None = None,
    known_origin: Origin | None = None,
) -> Authentication:
    """The trusted authentication results of `msg`, aligned with `from_domain`; pass the Origin if already known."""
    context = context or _NO_CONTEXT
    found = header_fields(msg)
    signatures = [parse_signature(v, from_domain) for _, v in found.get("dkim-signature", [])[:MAX_FIELDS]]
    walk = known_origin if known_origin is not None else origin(msg, context)
    if walk.boundary is None:
        return _authentication(signatures=signatures, note="no Received field: the results cannot be placed")
    received = found.get("received", [])
    end = _zone_end(walk, found, context)
    plain = [
        parse_authentication_results(v, position=p)
        for p, v in found.get("authentication-results", [])[:MAX_FIELDS]
        if p < end
    ]
    block, trusted_by = _block(plain, received, walk, context)
    from_arc = False
    if not block:
        arc_fields = [
            parse_authentication_results(v, arc=True, position=p)
            for p, v in found.get("arc-authentication-results", [])[:MAX_FIELDS]
            if p < end
        ]
        block, trusted_by = _block(arc_fields, received, walk, context)
        from_arc = bool(block)
    results = [r for item in block for r in item.results] if block else []
    spf = _spf(results, from_domain) if results else None
    if spf is None and "received-spf" in found:
        spf = _received_spf(found["received-spf"], end, from_domain)
    if not block:
        return _authentication(
            spf=spf,
            signatures=signatures,
            note="no Authentication-Results field above the origin was written by a trusted authserv-id",
        )
    return _authentication(
        authserv_id=block[0].authserv_id,
        trusted_by=trusted_by or None,
        spf=spf,
        dkim=_dkim(results, from_domain, signatures),
        dmarc=_dmarc(results),
        arc=next((result for method, result, _, _ in results if method == "arc"), None),
        from_arc=from_arc,
        signatures=signatures,
    )
