"""Received header fields (RFC 5321 §4.4) as hops, newest first. Pure, offline, never raises on hostile input.

The clause grammar is `from X (comment) by Y (comment) via V with W id I for F; date`, but every MTA fills it its own
way. The shapes read here (the first field of each hop is the newest):
  Postfix   from HELO (RDNS [IP]) (using TLSv1.3 with cipher ...) by HOST (Postfix) with ESMTPS id ID for <R>; DATE
  Sendmail  from HELO (RDNS [IP] (may be forged)) by HOST (8.15.2/8.15.2) with ESMTPS id ID (version=TLSv1.3 ...)
  Exim      from RDNS ([IP]:PORT helo=HELO) by HOST with esmtps (TLS1.3) tls CIPHER (Exim 4.96) id ID
            from [IP] (helo=HELO) by HOST ...
  qmail     from RDNS (HELO HELO) (IP) by HOST with SMTP; DATE      and   (qmail 123 invoked from network); DATE
  Exchange  from HELO (IP) by HOST (IP) with Microsoft SMTP Server (version=TLS1_2, cipher=...) id 15.20.x via ...
  Gmail     from HELO (RDNS. [IP]) by mx.google.com with ESMTPS id ID for <R> (Google Transport Security); DATE
            by 2002:a05:...  with SMTP id ID; DATE         (internal hop: no `from` clause)
  webmail   by HOST with HTTP; DATE  /  from [IP] by HOST (via HTTP)  /  from N named unknown by HOST with HTTPREST
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from email.message import Message
from functools import cached_property, lru_cache
from typing import Any
from weakref import WeakKeyDictionary

MAX_HOPS = 50  # a real chain has under 20 hops; past that it is a loop or an attack
MAX_VALUE = 4096  # characters of one field parsed; the rest is hostile or noise
RAW_KEPT = 500  # characters of the raw field kept in the result

# A comment, nested up to three levels; possessive quantifiers keep it linear on unbalanced input.
_COMMENT = re.compile(r"\((?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+\)")
# Case variants spelled out: an IGNORECASE alternation is several times slower, and this runs on every field.
_KEYWORD = re.compile(r" (from|by|via|with|id|for|FROM|BY|VIA|WITH|ID|FOR|From|By|Via|With|Id|For) ")
_HEXTET = re.compile(r"[0-9a-f]{1,4}")
_NOT_CANONICAL = re.compile(r"(?:^|:)0(?:[0-9a-f]|:|$)|\.")
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
_MARK = "\x00"  # stands for a removed comment in the masked text
_MASK = f" {_MARK} "
_IP_BRACKET = re.compile(r"\[(?:IPv6:)?([0-9A-Fa-f:.]{2,45})(?:%[\w.]+)?\]", re.IGNORECASE)
_IP_BARE = re.compile(
    r"(?:^|(?<=[\s(@=\[]))((?:\d{1,3}\.){3}\d{1,3}|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f:.]{1,43})(?:%[\w.]+)?(?=$|[\s)\],;])"
)
_HELO = re.compile(r"\b(?:helo|ehlo)[=\s]\s*([^\s()\[\]=]+|\[[^\]]*\])", re.IGNORECASE)
_RDNS = re.compile(r"\((?:[^\s@()]+@)?([A-Za-z0-9][A-Za-z0-9._-]*)\.?\s+\[")
# Case-sensitive on purpose (speed): MTAs write TLS in capitals (Microsoft, Gmail, Sendmail, Postfix, Exim).
_TLS_VERSION = re.compile(r"(?:version=|using |\()((?:TLS|SSL)[\w.:]*)")
_TLS_CIPHER = re.compile(r"cipher[= ]([\w-]+)| tls ([A-Z0-9_]+)")
_TLS_PROTOCOL = re.compile(r"^(?:E?SMTPS|E?SMTPSA|LMTPS|UTF8SMTPSA?|UTF8SMTPS|ESMTPSA|HTTPS)$", re.IGNORECASE)
_DATE = re.compile(
    r"(\d{1,2})\s+([A-Za-z]{3})[a-z]*\.?\s+(\d{2,4})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?\s*([+-]\d{4}|[A-Za-z]{1,5})?"
)
_MONTHS = {m: i for i, m in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split(), start=1)}
_ZONES = {"ut": 0, "utc": 0, "gmt": 0, "z": 0, "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6}
_ZONES |= {"pst": -8, "pdt": -7, "cet": 1, "cest": 2, "bst": 1, "jst": 9, "ist": 1}


@dataclass(frozen=True)
class Hop:
    """One Received field. `ip` is the address the writer (`by_host`) saw; helo is what the sender claimed."""

    helo: str | None = None
    rdns: str | None = None
    ip: str | None = None
    by_host: str | None = None
    by_ip: str | None = None
    protocol: str | None = None
    tls: bool | str = False
    id: str | None = None
    for_: str | None = None
    via: str | None = None
    date: str | None = None  # the text after the last `;`, as written
    raw: str = ""
    defects: tuple[str, ...] = ()
    position: int = -1  # index of this field among all header fields of the message; -1 when parsed alone

    @property
    def has_clauses(self) -> bool:
        return self.by_host is not None or self.ip is not None or self.helo is not None

    @cached_property
    def received_at(self) -> str | None:
        """The date in ISO 8601 UTC; computed on first use, as most walks read only one hop's date."""
        return parse_date(self.date) if self.date else None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["for"] = data.pop("for_")
        data["received_at"] = self.received_at
        data["defects"] = list(self.defects)
        return data


_OBJECTS: dict[str, ipaddress.IPv4Address | ipaddress.IPv6Address] = {}  # canonical text -> address, bounded


def ip_object(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address object of a canonical address text (as normalize_ip returns it), parsed once and cached."""
    if not text:
        return None
    ip = _OBJECTS.get(text)
    if ip is None:
        try:  # the version is known from the text: ip_address() would try IPv4 first and fail on every IPv6
            ip = ipaddress.IPv6Address(text) if ":" in text else ipaddress.IPv4Address(text)
        except ValueError:
            return None
        _remember(text, ip)
    return ip


def _remember(text: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> None:
    if len(_OBJECTS) > 16384:
        _OBJECTS.clear()
    _OBJECTS[text] = ip


@lru_cache(maxsize=8192)
def normalize_ip(text: str) -> str | None:
    """The canonical text of an address (IPv4-mapped IPv6 as IPv4, no zone), or None if it is not one."""
    text = text.strip().strip("[]")
    if text[:5].lower() == "ipv6:":
        text = text[5:]
    text = text.split("%", 1)[0]
    if ":" not in text:  # IPv4 without leading zeros is already canonical; skip ipaddress (three times slower)
        return text if _IPV4.fullmatch(text) else None
    text = text.lower()
    value = _ipv6_int(text)
    if value is None:
        return None
    if value >> 32 == 0xFFFF:  # IPv4-mapped
        return str(ipaddress.IPv4Address(value & 0xFFFFFFFF))
    # Already canonical (no zero group left, no leading zero, `::` for 2+ groups)? Then skip formatting it again.
    canonical = text if not _NOT_CANONICAL.search(text) and text.count(":") < 7 else _ipv6_text(value)
    _remember(canonical, ipaddress.IPv6Address(value))  # the trust walk needs the object: spare it a parse
    return canonical


def _ipv6_int(text: str) -> int | None:
    """IPv6 text to its integer; by groups, three times faster than ipaddress on the addresses mail carries."""
    head_text, double, tail_text = text.partition("::")
    if "::" in tail_text:
        return None
    head = head_text.split(":") if head_text else []
    tail = tail_text.split(":") if tail_text else []
    last = tail if tail else head
    if last and "." in last[-1]:  # an embedded IPv4 address ends the text
        v4 = last.pop()
        if not _IPV4.fullmatch(v4):
            return None
        a, b, c, d = (int(x) for x in v4.split("."))
        last += [f"{a * 256 + b:x}", f"{c * 256 + d:x}"]
    count = len(head) + len(tail)
    if (double and count > 7) or (not double and count != 8):
        return None
    value = 0
    for group in head:
        if not _HEXTET.fullmatch(group):
            return None
        value = (value << 16) | int(group, 16)
    value <<= 16 * (8 - count)  # the groups `::` stands for (none without it)
    for group in tail:
        if not _HEXTET.fullmatch(group):
            return None
        value = (value << 16) | int(group, 16)
    return value


def _ipv6_text(value: int) -> str:
    """RFC 5952 text: lower case, no leading zeros, the longest run (2+) of zero groups as `::`."""
    groups = [(value >> shift) & 0xFFFF for shift in range(112, -1, -16)]
    best_start, best_len, start = -1, 0, -1
    for index, group in enumerate([*groups, 1]):
        if group == 0 and start < 0:
            start = index
        elif group != 0 and start >= 0:
            if index - start > best_len:
                best_start, best_len = start, index - start
            start = -1
    words = [f"{g:x}" for g in groups]
    if best_len < 2:
        return ":".join(words)
    return ":".join(words[:best_start]) + "::" + ":".join(words[best_start + best_len :])


def _host(text: str | None) -> str | None:
    if not text:
        return None
    text = text.strip().strip("<>").rstrip(".").lower()
    if not text or len(text) > 255:
        return None
    return text


def _first_ip(text: str) -> str | None:
    """The first address in bracketed form (`[192.0.2.1]`, `[IPv6:...]`), else the first bare one."""
    if not text:
        return None
    for pattern in (_IP_BRACKET, _IP_BARE):
        for match in pattern.finditer(text):
            ip = normalize_ip(match.group(1))
            if ip is not None:
                return ip
    return None


def _parse_from(body: str, comments: str, lowercase_protocol: bool) -> tuple[str | None, str | None, str | None, bool]:
    words = body.split()
    main = words[0] if words and words[0] != _MARK else ""
    main_ip = normalize_ip(main) if main and (main[0] in "[0123456789" or ":" in main) else None
    ip = _first_ip(comments) or main_ip or (_first_ip(body) if "[" in body else None)
    helo_match = _HELO.search(comments) if comments else None
    rdns: str | None = None
    if helo_match:  # qmail and Exim: the main word is the reverse name, the HELO sits in a comment
        helo = _host(helo_match.group(1))
        rdns = None if main_ip or main.lower() == "unknown" else _host(main)
    else:  # Postfix, Sendmail, Exchange, Gmail: the main word is the HELO, the reverse name precedes [IP]
        helo = _host(main)
        rdns_match = _RDNS.search(comments) if comments else None
        if rdns_match:
            rdns = _host(rdns_match.group(1))
        elif lowercase_protocol and not main_ip:  # Exim omits helo= when it equals the verified name
            rdns = helo
    if rdns == "unknown":
        rdns = None
    return helo, rdns, ip, "may be forged" in comments


def _tls(protocol: str | None, text: str) -> bool | str:
    version = _TLS_VERSION.search(text) if "TLS" in text or "SSL" in text else None
    if version:
        cipher = _TLS_CIPHER.search(text)
        label = version.group(1).rstrip(":")
        return f"{label} {cipher.group(1) or cipher.group(2)}" if cipher and ":" not in label else label
    if "Google Transport Security" in text:
        return True
    return bool(protocol and _TLS_PROTOCOL.match(protocol))


def parse_date(text: str) -> str | None:
    """An RFC 5322 date (lenient: missing weekday, two-digit year, zone names) as ISO 8601 UTC, or None."""
    match = _DATE.search(text)
    if not match:
        return None
    day, month_name, year_text, hour, minute, second, zone = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    year = int(year_text)
    if year < 100:
        year += 2000 if year < 50 else 1900
    offset = 0
    if zone and zone[0] in "+-":
        offset = (int(zone[1:3]) * 60 + int(zone[3:5])) * (1 if zone[0] == "+" else -1)
    elif zone:
        offset = _ZONES.get(zone.lower(), 0) * 60
    try:
        moment = datetime(year, month, int(day), int(hour), int(minute), int(second or 0)) - timedelta(minutes=offset)
    except (ValueError, OverflowError):
        return None
    return moment.isoformat() + "+00:00"


def _split(head: str, comments: list[str]) -> dict[str, tuple[str, str]]:
    """Each keyword's masked text and its comments joined (the first occurrence of a keyword wins)."""
    parts = _KEYWORD.split(f" {head} ")
    seen = parts[0].count(_MARK)
    clauses: dict[str, tuple[str, str]] = {}
    for index in range(1, len(parts) - 1, 2):
        key, body = parts[index].lower(), parts[index + 1]
        count = body.count(_MARK)
        if key not in clauses:
            clauses[key] = (body, " ".join(comments[seen : seen + count]) if count else "")
        seen += count
    return clauses


def parse_received(value: str, position: int = -1) -> Hop:
    """One Received field value as a Hop; what cannot be read is left None and named in `defects`."""
    text = " ".join(value[:MAX_VALUE].split())
    defects: list[str] = ["truncated"] if len(value) > MAX_VALUE else []
    comments: list[str] = []
    masked = text
    if "(" in text:
        comments = _COMMENT.findall(text)
        masked = _COMMENT.sub(_MASK, text) if comments else text
        if "(" in masked or ")" in masked:  # unbalanced: what is left of a comment is read as text
            masked = masked.replace("(", " ").replace(")", " ")
    head, semicolon, date_text = masked.rpartition(";")
    if not semicolon:
        head, date_text = masked, ""
    date_text = date_text.replace(_MARK, "").strip()[:100]
    if not date_text:
        defects.append("no-date")
    clauses = _split(head, comments)
    with_body = clauses["with"][0] if "with" in clauses else ""
    with_words = with_body.split()
    protocol = None
    if with_words and with_words[0] != _MARK:
        protocol = "Microsoft SMTP Server" if with_words[0].lower() == "microsoft" else with_words[0][:40]
    helo = rdns = ip = None
    if "from" in clauses:
        body, from_comments = clauses["from"]
        helo, rdns, ip, forged = _parse_from(body, from_comments, bool(protocol and protocol.islower()))
        if forged:
            defects.append("rdns-may-be-forged")
    by_host = by_ip = None
    if "by" in clauses:
        body, by_comments = clauses["by"]
        words = body.split()
        by_host = _host(words[0]) if words and words[0] != _MARK else None
        by_ip = (normalize_ip(by_host) if by_host else None) or _first_ip(by_comments)
        if by_host and by_ip and by_host.strip("[]") == by_ip:
            by_host = by_ip
    elif "from" in clauses:
        defects.append("no-by")
    via = " ".join(clauses["via"][0].replace(_MARK, " ").split())[:60] if "via" in clauses else None
    if via is None and "(via HTTP" in text:
        via = "HTTP"
    return Hop(
        helo=helo,
        rdns=rdns,
        ip=ip,
        by_host=by_host,
        by_ip=by_ip,
        protocol=protocol,
        tls=_tls(protocol, f"{with_body} {' '.join(comments)}" if comments else with_body),
        id=_first_word(clauses.get("id")),
        for_=_host(_first_word(clauses.get("for"))),
        via=via,
        date=date_text or None,
        raw=text[:RAW_KEPT],
        defects=tuple(defects),
        position=position,
    )


def _first_word(clause: tuple[str, str] | None) -> str | None:
    if clause is None:
        return None
    words = clause[0].split()
    return words[0][:100] if words and words[0] != _MARK else None


# The fields any of the header analyses reads (received, trust, authresults, sender): collected in one pass.
FIELDS = frozenset(
    {
        "received",
        "x-originating-ip",
        "authentication-results",
        "arc-authentication-results",
        "received-spf",
        "dkim-signature",
        "from",
        "reply-to",
        "return-path",
        "sender",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "list-id",
        "feedback-id",
        "cfbl-address",
        "cfbl-feedback-id",
        "x-mailer",
        "user-agent",
        "x-mimeole",
    }
)
_SEEN: WeakKeyDictionary[Message, tuple[int, dict[str, list[tuple[int, str]]]]] = WeakKeyDictionary()


def header_fields(msg: Message) -> dict[str, list[tuple[int, str]]]:
    """The FIELDS of `msg`: {lower-case name: [(position among all fields, text)]}, read in one pass per message.

    The three analyses of a message share this pass (kept while the message object lives and its field count is
    unchanged). raw_items() skips compat32's per-value sanitizing of every field; the values kept are made
    printable here (raw 8-bit bytes, held as surrogates, become U+FFFD)."""
    count = len(msg)
    seen = _SEEN.get(msg)
    if seen is not None and seen[0] == count:
        return seen[1]
    found: dict[str, list[tuple[int, str]]] = {}
    for position, (name, value) in enumerate(msg.raw_items()):
        key = name.lower()
        if key in FIELDS:
            found.setdefault(key, []).append((position, _text(value)))
    _SEEN[msg] = (count, found)
    return found


def _text(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text.isascii():
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def received_fields(msg: Message, found: dict[str, list[tuple[int, str]]] | None = None) -> list[tuple[int, str]]:
    """The Received fields (position among all fields, text), newest first, at most MAX_HOPS."""
    found = header_fields(msg) if found is None else found
    return found.get("received", [])[:MAX_HOPS]


def hops(msg: Message) -> list[Hop]:
    """Every Received field of the message as a Hop, top (newest) first, at most MAX_HOPS."""
    return [parse_received(text, position) for position, text in received_fields(msg)]
