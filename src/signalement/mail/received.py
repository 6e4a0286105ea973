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
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import Message
from functools import cached_property, lru_cache
from typing import Any, TypeVar

_T = TypeVar("_T")

MAX_HOPS = 50  # a real chain has under 20 hops; past that it is a loop or an attack
MAX_VALUE = 4096  # characters of one field parsed; the rest is hostile or noise
RAW_KEPT = 500  # characters of the raw field kept in the result

# A comment, nested up to three levels; possessive quantifiers keep it linear on unbalanced input.
_COMMENT = r"\((?:[^()]++|\((?:[^()]++|\([^()]*+\))*+\))*+\)"
_COMMENTS = re.compile(f"({_COMMENT})")  # captured: split() returns the comments between the other text
# Case variants spelled out: an IGNORECASE alternation is several times slower, and this runs on every field.
_KEYWORD = re.compile(r" (from|by|via|with|id|for|FROM|BY|VIA|WITH|ID|FOR|From|By|Via|With|Id|For) ")
_KEYWORDS = {spelling: spelling.lower() for spelling in _KEYWORD.pattern[2:-2].split("|")}
_NOT_CANONICAL = re.compile(r"(?:^|:)0(?:[0-9a-f]|:|$)|\.")
_IPV4 = re.compile(r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(?:\.(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}")
_MARK = "\x00"  # stands for a removed comment in the masked text
_MASK = f" {_MARK} "
# `IPv6:` in any case, spelled out (İ and ı match I case-insensitively): the literal `[` lets the scan skip ahead.
_IP_BRACKET = re.compile(r"\[(?:[Iiİı][Pp][Vv]6:)?([0-9A-Fa-f:.]{2,45})(?:%[\w.]+)?\]")
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
        return {  # written out: asdict() deep-copies every value first
            "helo": self.helo,
            "rdns": self.rdns,
            "ip": self.ip,
            "by_host": self.by_host,
            "by_ip": self.by_ip,
            "protocol": self.protocol,
            "tls": self.tls,
            "id": self.id,
            "via": self.via,
            "date": self.date,
            "raw": self.raw,
            "defects": list(self.defects),
            "position": self.position,
            "for": self.for_,
            "received_at": self.received_at,
        }


@lru_cache(maxsize=16384)
def ip_value(text: str) -> tuple[int, int] | None:
    """(version, integer) of a canonical address text (as normalize_ip returns it), or None; what ipaddress would
    read, without building its objects (the trust walk only compares integers)."""
    if ":" in text:
        value = _ipv6_int(text) if text.isascii() else None
        return None if value is None else (6, value)
    if not text.isascii() or not _IPV4.fullmatch(text):
        return None
    a, b, c, d = text.split(".")
    return 4, (int(a) << 24) | (int(b) << 16) | (int(c) << 8) | int(d)


def ip_object(text: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address object of a canonical address text (as normalize_ip returns it)."""
    address = ip_value(text) if text else None
    if address is None:
        return None
    return ipaddress.IPv4Address(address[1]) if address[0] == 4 else ipaddress.IPv6Address(address[1])


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
    return text if not _NOT_CANONICAL.search(text) and text.count(":") < 7 else _ipv6_text(value)


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
        if not _is_hextet(group):
            return None
        value = (value << 16) | int(group, 16)
    value <<= 16 * (8 - count)  # the groups `::` stands for (none without it)
    for group in tail:
        if not _is_hextet(group):
            return None
        value = (value << 16) | int(group, 16)
    return value


def _is_hextet(group: str) -> bool:
    """One to four lower-case hex digits; strip() leaves nothing of a text made only of them (a regex is slower)."""
    return 0 < len(group) <= 4 and not group.strip("0123456789abcdef")


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
    match = _IP_BRACKET.search(text) if "[" in text else None
    while match is not None:  # search() from the last end, as finditer() would, without its iterator
        ip = normalize_ip(match.group(1))
        if ip is not None:
            return ip
        match = _IP_BRACKET.search(text, match.end())
    match = _IP_BARE.search(text)
    while match is not None:
        ip = normalize_ip(match.group(1))
        if ip is not None:
            return ip
        match = _IP_BARE.search(text, match.end())
    return None


def _from_ip(body: str, comments: str) -> tuple[str, str | None, str | None]:
    """The main word of a `from` clause, the address it is (if one), and the sending address."""
    words = body.split(None, 1)
    main = words[0] if words and words[0] != _MARK else ""
    main_ip = normalize_ip(main) if main and (main[0] in "[0123456789" or ":" in main) else None
    return main, main_ip, _first_ip(comments) or main_ip or (_first_ip(body) if "[" in body else None)


def _helo_rdns(
    main: str, main_ip: str | None, comments: str, lowercase_protocol: bool
) -> tuple[str | None, str | None]:
    """The HELO and the reverse name of a `from` clause, from its main word and its comments."""
    helo_match = None
    if comments:
        lower = comments.lower()  # a cheap test first: the case-insensitive search is slow, and rarely finds
        if "helo" in lower or "ehlo" in lower:
            helo_match = _HELO.search(comments)
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
    return helo, rdns


def _tls(protocol: str | None, text: str) -> bool | str:
    version = _TLS_VERSION.search(text) if "TLS" in text or "SSL" in text else None
    if version:
        cipher = _TLS_CIPHER.search(text)
        label = version.group(1).rstrip(":")
        return f"{label} {cipher.group(1) or cipher.group(2)}" if cipher and ":" not in label else label
    if "Google Transport Security" in text:
        return True
    return bool(protocol) and _tls_protocol(protocol)


@lru_cache(maxsize=256)
def _tls_protocol(protocol: str) -> bool:
    """Whether the protocol says TLS (`ESMTPS`): a few names, over and over."""
    return _TLS_PROTOCOL.match(protocol) is not None


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
        moment = datetime(year, month, int(day), int(hour), int(minute), int(second or 0))
        if offset:  # most fields are written in UTC: skip the timedelta then
            moment -= timedelta(minutes=offset)
    except (ValueError, OverflowError):
        return None
    return moment.isoformat() + "+00:00"


# The shape nearly every MTA writes, read in one match (95% of the fields of the dev corpus): lower-case keywords
# in this order, each followed by its words (none of them a keyword, but for the first) and then its comments;
# `;` and the date, maybe followed by comments. On the normalized text a space is the only blank.
_WORDS = rf"[^ ();\x00]++(?:[ ](?!(?:{_KEYWORD.pattern[2:-2]})[ ;])[^ ();\x00]++)*+"
_RUN = rf"{_COMMENT}(?:[ ]{_COMMENT})*+"  # comments in a row


def _clause(keyword: str) -> str:
    return rf"(?:[ ]{keyword}[ ]({_WORDS})(?:[ ]({_RUN}))?)?"


_SHAPE = re.compile(
    rf"(?:from[ ]({_WORDS})(?:[ ]({_RUN}))?[ ])?by[ ]({_WORDS})(?:[ ]({_RUN}))?"
    + "".join(_clause(keyword) for keyword in ("with", "id", "via", "for"))
    + rf";([^;()\x00]*)(?:[ ]({_RUN}))?"
)

# What _clauses() reads of a field: each keyword's text with its comments masked, None when the keyword is absent
# (the first occurrence of a keyword wins): `from`, `by`, `with`, `id`, `via`, `for`; then the comments of the
# `from` and of the `by` clause, joined (only those two read their own); every comment, in order (None for a
# missing run: joined only when a hop is built); the date text.
_Clauses = tuple[
    str | None, str | None, str | None, str | None, str | None, str | None, str, str, Sequence[str | None], str
]


def _clauses(text: str) -> _Clauses:
    """The clauses of a normalized field: one match for the common shape, else the general reading."""
    match = _SHAPE.fullmatch(text) if _MARK not in text else None
    if match is None:
        return _general(text)
    # A clause's text is then its words alone, without the marks of its comments or the space that ends the last
    # one before `;` in the general reading: nothing read from a clause depends on them (its first word; its words
    # for `via`; an address among them for `from`; the TLS words of `with`, searched in its text followed by the
    # comments, where a word cannot run into a mark or a space).
    (from_, from_comments, by, by_comments, with_, with_comments, id_, id_comments, via, via_comments, for_,
     for_comments, date, date_comments) = match.groups()  # fmt: skip
    runs = (from_comments, by_comments, with_comments, id_comments, via_comments, for_comments, date_comments)
    return from_, by, with_, id_, via, for_, from_comments or "", by_comments or "", runs, date.strip()[:100]


def _general(text: str) -> _Clauses:
    """_clauses() of any field: the comments masked, then the text split at the keywords."""
    comments: list[str] = []
    masked = text
    if "(" in text:
        pieces = _COMMENTS.split(text)  # [text, comment, text, comment, ..., text]: one pass for both
        if len(pieces) > 1:
            comments = pieces[1::2]
            masked = _MASK.join(pieces[::2])
        if "(" in masked or ")" in masked:  # unbalanced: what is left of a comment is read as text
            masked = masked.replace("(", " ").replace(")", " ")
    head, semicolon, date_text = masked.rpartition(";")
    if not semicolon:
        head, date_text = masked, ""
    if _MARK in date_text:
        date_text = date_text.replace(_MARK, "")
    date = date_text.strip()[:100]
    parts = _KEYWORD.split(f" {head} ")  # [text before, keyword, its text, keyword, its text, ...]
    if len(parts) == 1:
        return None, None, None, None, None, None, "", "", comments, date
    keys = parts[1::2]
    if not "".join(keys).islower():
        keys = [_KEYWORDS[key] for key in keys]
    clauses = dict(zip(reversed(keys), reversed(parts[2::2]), strict=True))  # the first occurrence of a keyword wins
    from_comments = _own(comments, parts, keys, "from") if comments else ""
    by_comments = _own(comments, parts, keys, "by") if comments else ""
    from_, by, with_, id_, via, for_ = (clauses.get(keyword) for keyword in ("from", "by", "with", "id", "via", "for"))
    return from_, by, with_, id_, via, for_, from_comments, by_comments, comments, date


def _own(comments: list[str], parts: list[str], keys: list[str], key: str) -> str:
    """The comments of a clause, joined: those whose marks fall in its text (the marks are in comment order)."""
    if key not in keys:
        return ""
    index = 2 * keys.index(key) + 2
    count = parts[index].count(_MARK)
    if not count:
        return ""
    seen = parts[0].count(_MARK) if index == 2 else "".join(parts[:index]).count(_MARK)
    return " ".join(comments[seen : seen + count])


def received_ip(value: str) -> str | None:
    """parse_received(value).ip, reading only what it needs: for the fields the walk looks at but does not walk."""
    from_, _, _, _, _, _, from_comments, _, _, _ = _clauses(" ".join(value[:MAX_VALUE].split()))
    return None if from_ is None else _from_clause(from_, from_comments)[2]


# The `from` and `by` clauses name relays, which come back message after message (about 60% of them within the
# dev corpus alone, where whole fields almost never repeat): what is read from them is memoized, for clauses of a
# bounded length (the memo must not hold megabytes of a hostile sender's text).
_MEMO_MAX = 512  # characters of a clause (words and comments) whose reading is memoized
_MEMO_SIZE = 4096


def _from_clause(body: str, comments: str) -> tuple[str, str | None, str | None]:
    """_from_ip(), memoized for the usual lengths."""
    if len(body) + len(comments) > _MEMO_MAX:
        return _from_ip(body, comments)
    return _from_ip_memo(body, comments)


def _helo_rdns_of(main: str, main_ip: str | None, comments: str, protocol: str | None) -> tuple[str | None, str | None]:
    """_helo_rdns(), memoized for the usual lengths."""
    lowercase = bool(protocol and protocol.islower())
    if len(main) + len(comments) > _MEMO_MAX:
        return _helo_rdns(main, main_ip, comments, lowercase)
    return _helo_rdns_memo(main, main_ip, comments, lowercase)


_from_ip_memo = lru_cache(maxsize=_MEMO_SIZE)(_from_ip)
_helo_rdns_memo = lru_cache(maxsize=_MEMO_SIZE)(_helo_rdns)


def _by_clause(body: str, comments: str) -> tuple[str | None, str | None]:
    """The writer's name and address from a `by` clause; memoized for the usual lengths."""
    if len(body) + len(comments) > _MEMO_MAX:
        return _read_by(body, comments)
    return _read_by_memo(body, comments)


def _read_by(body: str, comments: str) -> tuple[str | None, str | None]:
    """The main word of a `by` clause, and an address in it or in its comments."""
    words = body.split(None, 1)
    by_host = _host(words[0]) if words and words[0] != _MARK else None
    by_ip = (normalize_ip(by_host) if by_host else None) or _first_ip(comments)
    if by_host and by_ip and by_host.strip("[]") == by_ip:
        by_host = by_ip
    return by_host, by_ip


_read_by_memo = lru_cache(maxsize=_MEMO_SIZE)(_read_by)


def _protocol(with_body: str | None) -> str | None:
    """The first word of the `with` clause."""
    if not with_body:
        return None
    first = with_body.split(None, 1)
    if not first or first[0] == _MARK:
        return None
    return "Microsoft SMTP Server" if first[0].lower() == "microsoft" else first[0][:40]


class Reading:
    """A Received field read for what the trust walk asks of each field it looks at (the sending address, the
    writer, the protocol); `hop()` reads the rest, for the fields it keeps. parse_received() does both."""

    __slots__ = (
        "by_host",
        "by_ip",
        "comments",
        "date",
        "for_",
        "from_comments",
        "has_by",
        "has_from",
        "id_",
        "ip",
        "main",
        "main_ip",
        "position",
        "protocol",
        "text",
        "truncated",
        "via",
        "with_",
    )

    def __init__(self, value: str, position: int = -1) -> None:
        self.text = text = " ".join(value[:MAX_VALUE].split())  # unfolded, a space the only blank
        self.truncated = len(value) > MAX_VALUE
        self.position = position
        (from_, by, with_, self.id_, self.via, self.for_, from_comments, by_comments, self.comments,
         self.date) = _clauses(text)  # fmt: skip
        self.with_, self.from_comments = with_, from_comments
        self.protocol = _protocol(with_)
        self.has_from = from_ is not None
        if from_ is not None:
            self.main, self.main_ip, self.ip = _from_clause(from_, from_comments)
        else:
            self.main, self.main_ip, self.ip = "", None, None
        self.has_by = by is not None
        self.by_host, self.by_ip = _by_clause(by, by_comments) if by is not None else (None, None)

    def helo_rdns(self) -> tuple[str | None, str | None]:
        """The HELO and the reverse name: worked out for the hops kept, and the few fields without an address."""
        if not self.has_from:
            return None, None
        return _helo_rdns_of(self.main, self.main_ip, self.from_comments, self.protocol)

    @property
    def has_clauses(self) -> bool:
        """Hop.has_clauses, working out the HELO only when it decides."""
        return self.by_host is not None or self.ip is not None or self.helo_rdns()[0] is not None

    def hop(self) -> Hop:
        text, protocol = self.text, self.protocol
        defects: list[str] = ["truncated"] if self.truncated else []
        if not self.date:
            defects.append("no-date")
        helo, rdns = self.helo_rdns()
        if self.has_from:
            if "may be forged" in self.from_comments:
                defects.append("rdns-may-be-forged")
            if not self.has_by:
                defects.append("no-by")
        with_body = self.with_ or ""
        via_body = self.via
        via = " ".join(via_body.replace(_MARK, " ").split())[:60] if via_body is not None else None
        if via is None and "(via HTTP" in text:
            via = "HTTP"
        comments = " ".join(filter(None, self.comments))
        id_body, for_body = self.id_, self.for_
        return build(
            Hop,
            {
                "helo": helo,
                "rdns": rdns,
                "ip": self.ip,
                "by_host": self.by_host,
                "by_ip": self.by_ip,
                "protocol": protocol,
                "tls": _tls(protocol, f"{with_body} {comments}" if comments else with_body),
                "id": _first_word(id_body) if id_body is not None else None,
                "for_": _host(_first_word(for_body)) if for_body is not None else None,
                "via": via,
                "date": self.date or None,
                "raw": text[:RAW_KEPT],
                "defects": tuple(defects),
                "position": self.position,
            },
        )


def parse_received(value: str, position: int = -1) -> Hop:
    """One Received field value as a Hop; what cannot be read is left None and named in `defects`."""
    return Reading(value, position).hop()


_new = object.__new__


def build(cls: type[_T], values: dict[str, Any]) -> _T:
    """An instance of the frozen dataclass `cls` with these field values, every field given: the generated
    __init__ sets each field through object.__setattr__, several times slower (this runs for every result)."""
    made = _new(cls)
    made.__dict__.update(values)
    return made


def _first_word(body: str) -> str | None:
    words = body.split(None, 1)
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
_CACHE = "_signalement_header_fields"  # attribute of the message holding (field count, fields)
_NAMES: dict[str, str] = {}  # field name as written -> its key in FIELDS, or "" when not read


def header_fields(msg: Message) -> dict[str, list[tuple[int, str]]]:
    """The FIELDS of `msg`: {lower-case name: [(position among all fields, text)]}, read in one pass per message.

    The three analyses of a message share this pass (kept on the message object while its field count is
    unchanged). The raw (name, value) pairs are read as compat32 keeps them, skipping its per-value sanitizing of
    every field and raw_items()'s copy; the values kept are made printable here (raw 8-bit bytes, held as
    surrogates, become U+FFFD)."""
    headers: list[tuple[str, Any]] | None = getattr(msg, "_headers", None)
    if headers is None:
        headers = list(msg.raw_items())
    count = len(headers)
    seen: tuple[int, dict[str, list[tuple[int, str]]]] | None = msg.__dict__.get(_CACHE)
    if seen is not None and seen[0] == count:
        return seen[1]
    found: dict[str, list[tuple[int, str]]] = {}
    names = _NAMES
    for position, (name, value) in enumerate(headers):
        key = names.get(name)
        if key is None:
            key = _key(name)
        if key:
            text = value if type(value) is str and value.isascii() else _text(value)
            if key in found:
                found[key].append((position, text))
            else:
                found[key] = [(position, text)]
    msg.__dict__[_CACHE] = (count, found)
    return found


def _key(name: str) -> str:
    if len(_NAMES) > 4096:  # names are the sender's: bound the memo
        _NAMES.clear()
    lowered = name.lower()
    key = _NAMES[name] = lowered if lowered in FIELDS else ""
    return key


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
