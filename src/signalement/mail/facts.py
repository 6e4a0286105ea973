"""First looks at raw bytes: is this a message at all, is it an ARF feedback report; header values as text.
Pure, offline, never raises on bad mail.

The stdlib parser with compat32 is used: it is several times faster than policy.default and tolerates what
real spam sends (unknown charsets, multiparts without boundaries, raw 8-bit headers).
"""

from __future__ import annotations

import re
from email import message_from_bytes
from email.errors import MessageError
from email.header import Header, decode_header, make_header
from email.message import Message
from email.policy import compat32
from typing import Any

# A header line per RFC 5322 (field name, colon), or the mbox "From " separator some clients prepend.
_HEADER_LINE = re.compile(rb"^(?:[!-9;-~]+[ \t]*:|From )")
_KNOWN_FIELDS = (b"from", b"to", b"subject", b"date", b"message-id", b"received", b"return-path", b"mime-version")


_BLANK_LINE = re.compile(rb"\n\r?\n")


def header_block(raw: bytes) -> bytes:
    """The bytes before the first empty line (the whole message if there is none). The pattern starts with a
    literal `\n` so the regex engine scans for it: `\r?\n\r?\n` cost 57 µs on a real 6 KB header, this 4 µs."""
    match = _BLANK_LINE.search(raw)
    if match is None:
        return raw
    end = match.start()
    return raw[: end - 1] if end and raw[end - 1] == 0x0D else raw[:end]


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


def _eight_bit(raw: bytes) -> str:
    """Unlabelled header bytes: UTF-8 when they are (most are, today), else Windows-1252 as mail clients guess."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def decode(value: Any) -> str:
    """A header value as text, decoding RFC 2047 words; undecodable bytes become U+FFFD."""
    if value is None:
        return ""
    if isinstance(value, Header):  # raw 8-bit bytes in the field: compat32 would show them as U+FFFD
        value = _eight_bit(b"".join(p if isinstance(p, bytes) else p.encode() for p, _ in decode_header(value)))
    try:
        return str(make_header(decode_header(str(value))))
    except (MessageError, LookupError, UnicodeError, ValueError):  # a charset name no codec knows: CharsetError
        return str(value).encode("utf-8", "surrogateescape").decode("utf-8", "replace")
