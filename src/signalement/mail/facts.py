"""Header facts of a raw message: who, what, when, and how it is built. Pure, offline, never raises on bad mail.

The stdlib parser with compat32 is used: it is several times faster than policy.default and tolerates what
real spam sends (unknown charsets, multiparts without boundaries, raw 8-bit headers).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from email import message_from_bytes
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parsedate_to_datetime
from typing import Any

# A header line per RFC 5322 (field name, colon), or the mbox "From " separator some clients prepend.
_HEADER_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|From )")
_KNOWN_FIELDS = (b"from", b"to", b"subject", b"date", b"message-id", b"received", b"return-path", b"mime-version")
_MAX_PARTS = 500  # a hostile message can nest thousands of parts; the facts list stops there


@dataclass
class Part:
    content_type: str
    size: int
    charset: str | None = None
    filename: str | None = None
    disposition: str | None = None
    depth: int = 0


@dataclass
class HeaderFacts:
    size: int
    header_size: int
    from_: list[str] = field(default_factory=list)
    to: list[str] = field(default_factory=list)
    cc: list[str] = field(default_factory=list)
    subject: str | None = None
    date: str | None = None
    date_raw: str | None = None
    message_id: str | None = None
    content_type: str = "text/plain"
    is_arf: bool = False
    parts: list[Part] = field(default_factory=list)
    attachments: int = 0
    defects: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["from"] = data.pop("from_")
        return data


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (the whole message if there is none)."""
    match = re.search(rb"\r?\n\r?\n", raw)
    return raw[: match.start()] if match else raw


def not_a_message_reason(raw: bytes) -> str | None:
    """Why these bytes cannot be a mail message, or None if they can. Cheap: reads the header block only."""
    if not raw.strip():
        return "the message is empty"
    head = header_block(raw.lstrip(b"\r\n"))
    if b"\x00" in head:
        return "the header section contains NUL bytes: this is binary data, not a message"
    first_line = head.split(b"\n", 1)[0]
    if not _HEADER_LINE.match(first_line):
        return "the data does not start with a header field (name: value)"
    names = {line.split(b":", 1)[0].strip().lower() for line in head.splitlines() if b":" in line[:80]}
    if not names.intersection(_KNOWN_FIELDS):
        return "no message header field (From, To, Subject, Date, Message-ID, Received) was found"
    return None


def is_feedback_report(raw: bytes) -> bool:
    """True for an RFC 5965 ARF report: multipart/report; report-type=feedback-report."""
    head = header_block(raw)
    if b"feedback-report" not in head.lower():  # the cheap test first: almost no report is one
        return False
    msg = message_from_bytes(head + b"\r\n\r\n", policy=compat32)
    return _is_arf(msg)


def _is_arf(msg: Message) -> bool:
    return (
        msg.get_content_type() == "multipart/report"
        and str(msg.get_param("report-type", "", header="content-type")).lower() == "feedback-report"
    )


def decode(value: Any) -> str:
    """A header value as text, decoding RFC 2047 words; undecodable bytes become U+FFFD."""
    if value is None:
        return ""
    try:
        return str(make_header(decode_header(str(value))))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):
        return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _addresses(msg: Message, name: str) -> list[str]:
    # Split the raw value first: a decoded display name may hold commas or angle brackets.
    values = [str(v) for v in msg.get_all(name, [])]
    return [decode(addr) for _, addr in getaddresses(values) if addr]


def _date(raw: str | None) -> tuple[str | None, str | None]:
    if not raw:
        return None, None
    try:
        return parsedate_to_datetime(raw).isoformat(), raw
    except (TypeError, ValueError, IndexError, OverflowError):
        return None, raw


def _parts(msg: Message, facts: HeaderFacts) -> None:
    stack: list[tuple[Message, int]] = [(msg, 0)]
    while stack and len(facts.parts) < _MAX_PARTS:
        part, depth = stack.pop()
        payload = part.get_payload()
        size = len(payload) if isinstance(payload, str) else 0
        filename = part.get_filename()
        facts.parts.append(
            Part(
                content_type=part.get_content_type(),
                size=size,
                charset=part.get_content_charset(),
                filename=decode(filename) if filename else None,
                disposition=part.get_content_disposition(),
                depth=depth,
            )
        )
        if filename or part.get_content_disposition() == "attachment":
            facts.attachments += 1
        if isinstance(payload, list):
            stack.extend((child, depth + 1) for child in reversed(payload) if isinstance(child, Message))
        for defect in part.defects:
            facts.defects.append(type(defect).__name__)
    if stack:
        facts.defects.append("TooManyParts")


def header_facts(raw: bytes) -> HeaderFacts:
    head = header_block(raw)
    facts = HeaderFacts(size=len(raw), header_size=len(head))
    try:
        msg = message_from_bytes(raw, policy=compat32)
    except RecursionError:  # the stdlib parser recurses per nesting level: a hostile message can nest thousands
        msg = message_from_bytes(head + b"\r\n\r\n", policy=compat32)
        facts.defects.append("TooDeeplyNested")
    facts.from_ = _addresses(msg, "from")
    facts.to = _addresses(msg, "to")
    facts.cc = _addresses(msg, "cc")
    facts.subject = decode(msg["subject"]) if msg["subject"] is not None else None
    # compat32 hands back a Header object, not a str, for a value with raw 8-bit bytes
    facts.date, facts.date_raw = _date(None if msg["date"] is None else str(msg["date"]))
    facts.message_id = decode(msg["message-id"]).strip() or None
    facts.content_type = msg.get_content_type()
    facts.is_arf = _is_arf(msg)
    _parts(msg, facts)
    if msg["from"] is None:
        facts.defects.append("MissingFrom")
    if msg["date"] is not None and facts.date is None:
        facts.defects.append("InvalidDate")
    return facts
