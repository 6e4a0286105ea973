"""Who the message says it is from: From, Reply-To, Return-Path, Sender, list and feedback fields, the mailer.

Every value here is written by the sender and proves nothing; the flags only note cheap inconsistencies between
these claims (a display name showing another address, a Reply-To elsewhere). Domains are lower case, IDNs in
punycode; display names are RFC 2047-decoded (undecodable bytes become U+FFFD).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses
from typing import Any

from signalement.mail.domains import normalize_host, registered_domain
from signalement.mail.facts import decode
from signalement.mail.received import build, header_fields

MAX_ADDRESSES = 20
MAX_URIS = 10
MAX_TEXT = 200
_ADDRESS_IN_TEXT = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
_ANGLE = re.compile(r"<([^<>]*)>")
# The common shapes, read without the stdlib's character-by-character address parser (several times slower). The
# display name is taken whole (possessive: no backtracking), its trailing blanks stripped by the caller.
_SIMPLE = re.compile(
    r'\s*(?:"([^"\\]*)"|([^"<>,;:@()\\]*+))\s*<([^<>@\s,;"]+@[^<>@\s,;"]+)>\s*|\s*([^<>@\s,;"()]+@[^<>@\s,;"()]+)\s*'
)
# Two more, as the stdlib parser reads them (on the normalized text), for plain dot-atom addresses only:
# `Name < a@b.example >` and the old `a@b.example (Name)`.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_ADDRESS = rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*"
_NAMED = rf'(?:"([^"\\]*)"|([^"()<>@,:;\[\]\\]*?)) ?< ?({_DOT_ATOM_ADDRESS}) ?>'
_SPACED = re.compile(rf'{_NAMED}|({_DOT_ATOM_ADDRESS}) ?\(([^()"\\]*)\)')
# Up to five comma-separated bits of a display name without `@` (read as addresses without a domain), then one.
_FRAGMENT = r'(?: ?"[^"\\@]*" ?|[^"()<>@,:;\[\]\\]*)'
_AFTER_COMMAS = re.compile(rf"{_FRAGMENT}(?:,{_FRAGMENT}){{0,4}}, ?{_NAMED}")


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
        feedback = self.feedback_id
        return {  # written out: asdict() deep-copies every value first
            "from_domain": self.from_domain,
            "reply_to": [_address_json(a) for a in self.reply_to],
            "reply_to_domains": list(self.reply_to_domains),
            "return_path": self.return_path,
            "return_path_domain": self.return_path_domain,
            "sender": _address_json(self.sender) if self.sender is not None else None,
            "message_id_domain": self.message_id_domain,
            "unsubscribe_mailto": list(self.unsubscribe_mailto),
            "unsubscribe_http": list(self.unsubscribe_http),
            "unsubscribe_post": self.unsubscribe_post,
            "list_id": self.list_id,
            "feedback_id": (
                {"fields": feedback.fields, "sender_id": feedback.sender_id} if feedback is not None else None
            ),
            "cfbl_address": self.cfbl_address,
            "cfbl_feedback_id": self.cfbl_feedback_id,
            "mailer": self.mailer,
            "flags": list(self.flags),
            "from": [_address_json(a) for a in self.from_],
        }


def _address_json(address: Address) -> dict[str, Any]:
    return {"address": address.address, "domain": address.domain, "display_name": address.display_name}


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
        if match is not None:
            quoted, plain, bracketed, bare = match.groups()
            pairs.append(((quoted if quoted is not None else plain or "").strip(), bracketed or bare))
            continue
        # The stdlib parser reads all the values then: a value _SIMPLE takes may read otherwise there.
        match = _SPACED.fullmatch(text) if len(texts) == 1 else None
        if match is not None:
            quoted, plain, bracketed, bare, comment = match.groups()
            pairs.append((quoted if quoted is not None else plain, bracketed) if bare is None else (comment, bare))
            continue
        match = _AFTER_COMMAS.fullmatch(text) if len(texts) == 1 and "=?" not in text else None
        if match is None:  # groups, quoted commas, several addresses: the stdlib parser
            return getaddresses(texts)
        # `Team , <a@b>`: the stdlib parser reads the text before each comma as an address of its own, without a
        # domain, which _addresses() drops: only the last one is left.
        quoted, plain, bracketed = match.groups()
        pairs.append((quoted if quoted is not None else plain, bracketed))
    return pairs


def _addresses(values: list[tuple[int, str]] | None) -> list[Address]:
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
        out.append(build(Address, {"address": address, "domain": domain, "display_name": display or None}))
    real = [a for a in out if a.domain]
    # `Team ,_<a@b>`: an unquoted comma in a display name splits it into a fragment with no address; drop those
    return real if real and len(real) < len(out) else out


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
    return build(FeedbackId, {"fields": parts, "sender_id": parts[-1] or None if parts else None})


def _flags(
    from_: list[Address], from_domain: str | None, reply_to_domains: list[str], return_path_domain: str | None
) -> tuple[str, ...]:
    flags: list[str] = []
    if not from_:
        flags.append("no-from")
    if len(from_) > 1:
        flags.append("multiple-from")
    first = from_[0] if from_ else None
    if first and first.display_name and "@" in first.display_name:
        shown = {m.lower() for m in _ADDRESS_IN_TEXT.findall(first.display_name)}
        if shown and (first.address or "").lower() not in shown:
            flags.append("display-name-address-mismatch")
    base = registered_domain(from_domain) or from_domain if from_domain else None
    if base and any((registered_domain(d) or d) != base for d in reply_to_domains):
        flags.append("reply-to-domain-differs")
    if base and return_path_domain and (registered_domain(return_path_domain) or "") != base:
        flags.append("return-path-domain-differs")
    return tuple(flags)


def sender(msg: Message) -> Sender:
    """The sender-controlled identity fields of `msg`, with the cheap inconsistency flags."""
    found = header_fields(msg)
    first = {name: values[0][1] for name, values in found.items()}  # the first value of each field present
    from_ = _addresses(found.get("from"))
    from_domain = from_[0].domain if from_ else None
    reply_to = _addresses(found.get("reply-to"))
    reply_to_domains = sorted({a.domain for a in reply_to if a.domain})
    return_path = first.get("return-path") or ""
    inside = _ANGLE.findall(return_path) if "<" in return_path else None
    rp_address, rp_domain = _split_address(inside[0] if inside else return_path)
    senders = found.get("sender")
    sender_fields = _addresses(senders[:1]) if senders else None
    message_id = first.get("message-id") or ""
    mid_domain = message_id.strip().strip("<>").rpartition("@")[2].strip() if "@" in message_id else ""
    mailto, http = _unsubscribe(first.get("list-unsubscribe"))
    mailer = first.get("x-mailer") or first.get("user-agent") or first.get("x-mimeole")
    return build(
        Sender,
        {
            "from_": from_,
            "from_domain": from_domain,
            "reply_to": reply_to,
            "reply_to_domains": reply_to_domains,
            "return_path": rp_address,
            "return_path_domain": rp_domain,
            "sender": sender_fields[0] if sender_fields else None,
            "message_id_domain": normalize_host(mid_domain)[:MAX_TEXT] or None if mid_domain else None,
            "unsubscribe_mailto": mailto,
            "unsubscribe_http": http,
            "unsubscribe_post": _clean(first.get("list-unsubscribe-post")),
            "list_id": _clean(first.get("list-id")),
            "feedback_id": _feedback_id(first.get("feedback-id")),
            "cfbl_address": _clean(first.get("cfbl-address")),
            "cfbl_feedback_id": _clean(first.get("cfbl-feedback-id")),
            "mailer": _clean(decode(mailer) if mailer and "=?" in mailer else mailer),
            "flags": _flags(from_, from_domain, reply_to_domains, rp_domain),
        },
    )


def _clean(value: str | None) -> str | None:
    return " ".join(value.split())[:MAX_TEXT] or None if value else None
