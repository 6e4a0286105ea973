"""Who the message says it is from: From, Reply-To, Return-Path, Sender, list and feedback fields, the mailer.

Every value here is written by the sender and proves nothing; the flags only note cheap inconsistencies between
these claims (a display name showing another address, a Reply-To elsewhere). Domains are lower case, IDNs in
punycode; display names are RFC 2047-decoded (undecodable bytes become U+FFFD).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, replace
from email.message import Message
from email.utils import getaddresses
from typing import Any

from signalement.mail.domains import normalize_host, registered_domain
from signalement.mail.facts import decode
from signalement.mail.received import header_fields

MAX_ADDRESSES = 20
MAX_URIS = 10
MAX_TEXT = 200
_ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_ANGLE = re.compile(r"<([^<>]*)>")
# The common shapes, read without the stdlib's character-by-character address parser (several times slower).
_SIMPLE = re.compile(
    r'\s*(?:"([^"\\]*)"|([^"<>,;:@()\\]*?))\s*<([^<>@\s,;"]+@[^<>@\s,;"]+)>\s*|\s*([^<>@\s,;"()]+@[^<>@\s,;"()]+)\s*'
)


@dataclass(frozen=True)
class Address:
    address: str | None
    domain: str | None
    display_name: str | None = None


@dataclass(frozen=True)
class FeedbackId:
    fields: tuple[str, ...]
    sender_id: str | None


@dataclass(frozen=True)
class Sender:
    from_: list[Address] = field(default_factory=list)
    from_domain: str | None = None
    reply_to: list[Address] = field(default_factory=list)
    reply_to_domains: list[str] = field(default_factory=list)
    return_path: str | None = None
    return_path_domain: str | None = None
    sender: Address | None = None
    message_id_domain: str | None = None
    unsubscribe_mailto: list[str] = field(default_factory=list)
    unsubscribe_http: list[str] = field(default_factory=list)
    unsubscribe_post: str | None = None
    list_id: str | None = None
    feedback_id: FeedbackId | None = None
    cfbl_address: str | None = None
    cfbl_feedback_id: str | None = None
    mailer: str | None = None
    flags: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        data["flags"] = list(self.flags)
        return data


def _split_address(text: str) -> tuple[str | None, str | None]:
    text = text.strip().strip("<>").strip()
    if not text:
        return None, None
    local, at, domain = text.rpartition("@")
    if not at or not domain:
        return text[:MAX_TEXT], None
    host = normalize_host(domain)
    return f"{local}@{host}"[:MAX_TEXT], host or None


def _pairs(values: list[tuple[int, str]]) -> list[tuple[str, str]]:
    texts = [" ".join(v[:4096].split()) for _, v in values[:MAX_ADDRESSES]]
    pairs: list[tuple[str, str]] = []
    for text in texts:
        match = _SIMPLE.fullmatch(text)
        if match is None:  # groups, comments, quoted commas, several addresses: the stdlib parser
            return getaddresses(texts)
        quoted, plain, bracketed, bare = match.groups()
        pairs.append(((quoted if quoted is not None else plain or "").strip(), bracketed or bare))
    return pairs


def _addresses(values: list[tuple[int, str]]) -> list[Address]:
    if not values:
        return []
    # Split the raw values first: a decoded display name may hold commas or angle brackets.
    pairs = _pairs(values)
    out: list[Address] = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        if not addr and not name:
            continue
        address, domain = _split_address(decode(addr) if "=?" in addr else addr)
        display = (decode(name) if "=?" in name else name).strip()[:MAX_TEXT] if name else None
        out.append(Address(address=address, domain=domain, display_name=display or None))
    real = [a for a in out if a.domain]
    # `Team ,_<a@b>`: an unquoted comma in a display name splits it into a fragment with no address; drop those
    return real if real and len(real) < len(out) else out


def _first(found: dict[str, list[tuple[int, str]]], name: str) -> str | None:
    values = found.get(name)
    return values[0][1] if values else None


def _unsubscribe(value: str | None) -> tuple[list[str], list[str]]:
    mailto: list[str] = []
    http: list[str] = []
    for uri in _ANGLE.findall(" ".join(value.split()) if value else "")[:MAX_URIS]:
        uri = uri.strip()
        scheme = uri.split(":", 1)[0].lower()
        if scheme == "mailto":
            mailto.append(uri[:500])
        elif scheme in ("http", "https"):
            http.append(uri[:2000])
    return mailto, http


def _feedback_id(value: str | None) -> FeedbackId | None:
    if not value:
        return None
    parts = tuple(p.strip()[:MAX_TEXT] for p in "".join(value.split()).split(":"))[:10]
    return FeedbackId(fields=parts, sender_id=parts[-1] or None if parts else None)


def _flags(sender: Sender) -> tuple[str, ...]:
    flags: list[str] = []
    if not sender.from_:
        flags.append("no-from")
    if len(sender.from_) > 1:
        flags.append("multiple-from")
    first = sender.from_[0] if sender.from_ else None
    if first and first.display_name:
        shown = {m.lower() for m in _ADDRESS_IN_TEXT.findall(first.display_name)}
        if shown and (first.address or "").lower() not in shown:
            flags.append("display-name-address-mismatch")
    base = registered_domain(sender.from_domain) or sender.from_domain if sender.from_domain else None
    if base and any((registered_domain(d) or d) != base for d in sender.reply_to_domains):
        flags.append("reply-to-domain-differs")
    if base and sender.return_path_domain and (registered_domain(sender.return_path_domain) or "") != base:
        flags.append("return-path-domain-differs")
    return tuple(flags)


def sender(msg: Message) -> Sender:
    """The sender-controlled identity fields of `msg`, with the cheap inconsistency flags."""
    found = header_fields(msg)
    from_ = _addresses(found.get("from", []))
    reply_to = _addresses(found.get("reply-to", []))
    return_path = _first(found, "return-path") or ""
    inside = _ANGLE.findall(return_path)
    rp_address, rp_domain = _split_address(inside[0] if inside else return_path)
    sender_fields = _addresses(found.get("sender", [])[:1])
    message_id = _first(found, "message-id") or ""
    mid_domain = message_id.strip().strip("<>").rpartition("@")[2].strip() if "@" in message_id else ""
    mailto, http = _unsubscribe(_first(found, "list-unsubscribe"))
    mailer = _first(found, "x-mailer") or _first(found, "user-agent") or _first(found, "x-mimeole")
    result = Sender(
        from_=from_,
        from_domain=from_[0].domain if from_ else None,
        reply_to=reply_to,
        reply_to_domains=sorted({a.domain for a in reply_to if a.domain}),
        return_path=rp_address,
        return_path_domain=rp_domain,
        sender=sender_fields[0] if sender_fields else None,
        message_id_domain=normalize_host(mid_domain)[:MAX_TEXT] or None,
        unsubscribe_mailto=mailto,
        unsubscribe_http=http,
        unsubscribe_post=_clean(_first(found, "list-unsubscribe-post")),
        list_id=_clean(_first(found, "list-id")),
        feedback_id=_feedback_id(_first(found, "feedback-id")),
        cfbl_address=_clean(_first(found, "cfbl-address")),
        cfbl_feedback_id=_clean(_first(found, "cfbl-feedback-id")),
        mailer=_clean(decode(mailer) if mailer and "=?" in mailer else mailer),
    )
    return replace(result, flags=_flags(result))


def _clean(value: str | None) -> str | None:
    return " ".join(value.split())[:MAX_TEXT] or None if value else None
