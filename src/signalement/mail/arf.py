"""ARF feedback reports read into Feedback records. Pure, offline, never raises on bad input.

Standards: RFC 5965 (the format), RFC 6650 (what solicited and unsolicited reports carry), RFC 6591 (auth-failure
reports), RFC 7489 §7.3 (DMARC failure reports: auth-failure with `Auth-Failure: dmarc` or `Identity-Alignment`).

What providers really send, and is read here:
- the third part as message/rfc822 (the whole message), text/rfc822-headers (its header block only), or missing;
  rarely base64-encoded, or as an attachment of another type that holds a message;
- Yahoo (`Received-Date` instead of `Arrival-Date`, Version 0.1), AOL (`Redacted-Address`, few fields), Microsoft
  JMRP (only Feedback-Type, User-Agent and Version; the recipient once in `X-HmXmrOriginalRecipient`);
- several reports in one message: several message/feedback-report parts in one multipart/report, each followed by
  its original, or a multipart/mixed or digest whose message/rfc822 parts are each a report.
A field the report lacks is recovered only from what the embedded message states about itself (Return-Path, the
recipient fields, Date, the From domain) and named in `recovered`; the embedded Received fields are never used for
Source-IP: anyone upstream of the reporter could have written them.

compat32 is used as in facts.py: fast, and tolerant of what spam carries.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import ipaddress
import quopri
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.generator import BytesGenerator
from email.message import Message
from email.policy import Compat32, compat32
from email.utils import getaddresses, parsedate_to_datetime
from enum import StrEnum
from typing import Any

from signalement.mail.facts import decode, header_block, not_a_message_reason

MAX_REPORTS = 500  # reports read from one message; a digest from a big feedback loop stays far below
MAX_DEPTH = 5  # message/rfc822 and multipart levels followed to find reports
MAX_PARTS = 1000  # parts of one container looked at
MAX_FIELD_LINES = 20_000  # lines of one machine-readable part; past that it is hostile
MAX_VALUES = 100  # values kept per field name (Reported-URI, Original-Rcpt-To, Authentication-Results...)
MAX_NAMES = 100  # distinct field names kept
MAX_VALUE = 8192  # characters of one field value
MAX_ORIGINAL = 10 * 1024 * 1024  # bytes of the reported message kept

# Feedback types that mean "a user or a filter says this message is unwanted" (RFC 5965 §7.3 and what is seen).
COMPLAINT_TYPES = frozenset({"abuse", "fraud", "virus", "opt-out", "opt-out-list", "unsubscribe", "complaint", "spam"})
_ORIGINAL_TYPES = frozenset(
    {"message/rfc822", "text/rfc822-headers", "message/rfc822-headers", "message/global", "message/global-headers"}
)
_ENCODED = frozenset({"base64", "quoted-printable"})
_TOKEN = re.compile(r"[a-z0-9][a-z0-9._-]*")
_FOLD = re.compile(r"\r?\n[ \t]*")
_FIELD = re.compile(r"([!-9;-~]+)[ \t]*:(.*)")


class FeedbackKind(StrEnum):
    COMPLAINT = "complaint"
    NOT_SPAM = "not-spam"
    AUTH_FAILURE = "auth-failure"
    DMARC_FAILURE = "dmarc-failure"
    OTHER = "other"


@dataclass(frozen=True)
class Feedback:
    kind: FeedbackKind
    feedback_type: str  # as sent, lowercased, comments removed; "" when the report has none
    user_agent: str | None
    version: str | None
    source_ip: str | None  # a valid IP address as text, else None
    arrival_date: datetime | None  # Arrival-Date, or Received-Date, aware UTC
    original_mail_from: str | None  # the address without angle brackets; "" for the null reverse-path
    original_rcpt_to: tuple[str, ...]
    reported_domain: tuple[str, ...]
    reported_uri: tuple[str, ...]
    incidents: int  # 1 when absent or unreadable
    authentication_results: tuple[str, ...]
    fields: Mapping[str, tuple[str, ...]]  # every field of the machine-readable part, names lowercased
    original: bytes | None  # the reported message, or its header block when headers_only
    headers_only: bool
    recovered: tuple[str, ...]  # names of the fields filled from the embedded headers
    truncated: bool = False  # a bound was hit: fields, values or the original were cut

    @property
    def is_complaint(self) -> bool:
        return self.kind is FeedbackKind.COMPLAINT

    def as_json(self) -> dict[str, Any]:
        """JSON-ready; the original itself is left out (it is stored as a blob), its size and SHA-256 kept."""
        return {
            "kind": self.kind.value,
            "feedback_type": self.feedback_type,
            "user_agent": self.user_agent,
            "version": self.version,
            "source_ip": self.source_ip,
            "arrival_date": self.arrival_date.isoformat() if self.arrival_date else None,
            "original_mail_from": self.original_mail_from,
            "original_rcpt_to": list(self.original_rcpt_to),
            "reported_domain": list(self.reported_domain),
            "reported_uri": list(self.reported_uri),
            "incidents": self.incidents,
            "authentication_results": list(self.authentication_results),
            "fields": {name: list(values) for name, values in self.fields.items()},
            "original_size": len(self.original) if self.original is not None else None,
            "original_sha256": hashlib.sha256(self.original).hexdigest() if self.original is not None else None,
            "headers_only": self.headers_only,
            "recovered": list(self.recovered),
            "truncated": self.truncated,
        }


def might_carry_feedback(raw: bytes) -> bool:
    """Cheap test: can read_feedback find anything here? (Also true for a digest or a forward of reports.)"""
    lowered = raw.lower()
    return b"feedback-report" in lowered or b"feedback-type:" in lowered


def read_feedback(raw: bytes) -> list[Feedback]:
    """The feedback reports this message is or carries, in order; [] when it carries none. Never raises."""
    found: list[Feedback] = []
    try:
        if not might_carry_feedback(raw):
            return found
        linesep = "\r\n" if b"\r\n" in raw[:65536] else "\n"
        _collect(message_from_bytes(raw, policy=compat32), 0, linesep, found)
    except Exception:  # noqa: S110 -- hostile MIME (recursion, broken encodings): keep what was read
        pass
    return found


# --- walking the MIME tree ---


def _collect(msg: Message, depth: int, linesep: str, found: list[Feedback]) -> None:
    if depth > MAX_DEPTH or len(found) >= MAX_REPORTS or not msg.is_multipart():
        return
    payload = msg.get_payload()
    if not isinstance(payload, list):
        return
    parts = [p for p in payload[:MAX_PARTS] if isinstance(p, Message)]
    if msg.get_content_maintype() == "message":  # message/rfc822: the payload is the one enclosed message
        if msg.get_content_type() in ("message/rfc822", "message/global") and parts:
            _collect(parts[0], depth + 1, linesep, found)
        return
    reports = _feedback_positions(msg, parts)
    if reports:
        for position in reports:
            if len(found) >= MAX_REPORTS:
                return
            found.append(_feedback(parts, position, reports, linesep))
        return
    for part in parts:  # not a report itself: a digest, a forward, a mixed bag of reports
        if part.is_multipart():
            _collect(part, depth + 1, linesep, found)


def _feedback_positions(msg: Message, parts: list[Message]) -> list[int]:
    positions = [i for i, p in enumerate(parts) if p.get_content_type() == "message/feedback-report"]
    if positions or not parts:
        return positions
    # A mislabelled machine-readable part (text/plain) in a container that says it is a feedback report.
    if msg.get_content_type() != "multipart/report":
        return []
    if str(msg.get_param("report-type", "", header="content-type")).lower() != "feedback-report":
        return []
    for i, part in enumerate(parts[:3]):
        if part.get_content_maintype() == "text" and _body(part)[:200].lstrip().lower().startswith(b"feedback-type"):
            return [i]
    return []


def _feedback(parts: list[Message], position: int, reports: list[int], linesep: str) -> Feedback:
    fields, truncated = _fields(_body(parts[position], linesep))
    original, headers_only, cut = _original(parts, position, reports, linesep)
    return _build(fields, original, headers_only, truncated or cut)


def _original(parts: list[Message], position: int, reports: list[int], linesep: str) -> tuple[bytes | None, bool, bool]:
    """The reported message of the report at `position`: the first original after it and before the next report;
    with a single report, the first original anywhere; else a part right after it that holds a message."""
    end = next((r for r in reports if r > position), len(parts))
    candidates = [i for i in range(position + 1, end) if parts[i].get_content_type() in _ORIGINAL_TYPES]
    if not candidates and len(reports) == 1:
        candidates = [i for i in range(len(parts)) if parts[i].get_content_type() in _ORIGINAL_TYPES]
    if candidates:
        part = parts[candidates[0]]
        data = _body(part, linesep)
        headers_only = part.get_content_type().endswith("-headers")
    elif position + 1 < end and not parts[position + 1].is_multipart():
        data = _body(parts[position + 1], linesep)
        if not_a_message_reason(data) is not None:
            return None, False, False
        headers_only = False
    else:
        return None, False, False
    if not data.strip():
        return None, False, False
    return data[:MAX_ORIGINAL], headers_only, len(data) > MAX_ORIGINAL


def _body(part: Message, linesep: str = "\n") -> bytes:
    """A part's content as bytes, its transfer encoding undone; a message/* part's enclosed message written out."""
    payload = part.get_payload()
    if isinstance(payload, list):
        data = _flatten(payload[0], linesep) if payload and isinstance(payload[0], Message) else b""
        cte = str(part.get("content-transfer-encoding", "")).strip().lower()
        return _undo(data, cte) if cte in _ENCODED else data
    decoded = part.get_payload(decode=True)
    return decoded if isinstance(decoded, bytes) else b""


class _AsParsed(Compat32):
    """Writes each field as it was read: compat32 keeps a folded value verbatim, but its writer folds it again
    (dropping the spaces before a fold), which would change what a DKIM signature with simple canonicalization covers.
    """

    def fold_binary(self, name: str, value: Any) -> bytes:
        if isinstance(value, str):
            return f"{name}: {value}{self.linesep}".encode("utf-8", "surrogateescape")
        return super().fold_binary(name, value)


_WRITERS = {sep: _AsParsed(linesep=sep) for sep in ("\n", "\r\n")}


def _flatten(msg: Message, linesep: str) -> bytes:
    out = io.BytesIO()
    BytesGenerator(out, mangle_from_=False, policy=_WRITERS[linesep]).flatten(msg)
    return out.getvalue()


def _undo(data: bytes, cte: str) -> bytes:
    """The transfer encoding of a message/* part that should have had none: the parser read the text as a message."""
    text = data.split(b"\n\n", 1)[-1] if data.startswith((b"\n", b"\r\n")) else data
    try:
        if cte == "base64":
            return base64.b64decode(re.sub(rb"[^A-Za-z0-9+/=]", b"", text) + b"==", validate=False)
        return quopri.decodestring(text)
    except (binascii.Error, ValueError):
        return data


# --- the machine-readable part ---


def _fields(data: bytes) -> tuple[dict[str, tuple[str, ...]], bool]:
    """Field name (lowercased) -> values in order, unfolded; blank lines and lines without a name skipped."""
    found: dict[str, list[str]] = {}
    truncated = False
    name: str | None = None
    lines = data.split(b"\n", MAX_FIELD_LINES)
    if len(lines) > MAX_FIELD_LINES:
        lines, truncated = lines[:MAX_FIELD_LINES], True
    for line in (_text(raw).rstrip("\r") for raw in lines):
        if line[:1] in (" ", "\t") and name is not None and found[name]:
            if len(found[name][-1]) < MAX_VALUE:
                found[name][-1] += " " + line.strip()
            continue
        match = _FIELD.match(line)
        name = match.group(1).lower() if match else None
        if name is None or match is None:
            continue
        if (name not in found and len(found) >= MAX_NAMES) or len(found.get(name, ())) >= MAX_VALUES:
            truncated, name = True, None
            continue
        found.setdefault(name, []).append(match.group(2).strip())
    values = {n: tuple(v[:MAX_VALUE].strip() for v in vs) for n, vs in found.items()}
    return values, truncated


def _text(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", "replace")


def _build(fields: dict[str, tuple[str, ...]], original: bytes | None, headers_only: bool, cut: bool) -> Feedback:
    def first(name: str) -> str | None:
        return next((v for v in fields.get(name, ()) if v), None)

    feedback_type = _token(first("feedback-type") or "")
    dates = fields.get("arrival-date", ()) + fields.get("received-date", ())
    mail_from = first("original-mail-from")
    values: dict[str, Any] = {
        "original_mail_from": _address(mail_from) if mail_from is not None else None,
        "original_rcpt_to": _addresses(fields.get("original-rcpt-to", ())),
        "arrival_date": next((d for d in map(_date, dates) if d is not None), None),
        "reported_domain": _domains(fields.get("reported-domain", ())),
    }
    recovered = _recover(values, original) if original is not None else ()
    incidents = _uncomment(first("incidents") or "1").strip()
    return Feedback(
        kind=_kind(feedback_type, fields),
        feedback_type=feedback_type,
        user_agent=first("user-agent"),
        version=_uncomment(first("version") or "").strip() or None,
        source_ip=_ip(first("source-ip") or ""),
        arrival_date=values["arrival_date"],
        original_mail_from=values["original_mail_from"],
        original_rcpt_to=values["original_rcpt_to"],
        reported_domain=values["reported_domain"],
        reported_uri=tuple(u for u in (v.strip().strip("<>").strip() for v in fields.get("reported-uri", ())) if u),
        incidents=_incidents(incidents),
        authentication_results=tuple(v for v in fields.get("authentication-results", ()) if v),
        fields=fields,
        original=original,
        headers_only=headers_only,
        recovered=recovered,
        truncated=cut,
    )


def _kind(feedback_type: str, fields: Mapping[str, tuple[str, ...]]) -> FeedbackKind:
    if feedback_type == "auth-failure":
        failures = {_token(v) for v in fields.get("auth-failure", ())}
        dmarc = "dmarc" in failures or "identity-alignment" in fields
        return FeedbackKind.DMARC_FAILURE if dmarc else FeedbackKind.AUTH_FAILURE
    if feedback_type == "not-spam":
        return FeedbackKind.NOT_SPAM
    return FeedbackKind.COMPLAINT if feedback_type in COMPLAINT_TYPES else FeedbackKind.OTHER


def _recover(values: dict[str, Any], original: bytes) -> tuple[str, ...]:
    """Fill what the report lacks from what the embedded message says about itself; return the names filled."""
    headers = message_from_bytes(header_block(original) + b"\n\n", policy=compat32)
    recovered: list[str] = []
    if values["original_mail_from"] is None and headers.get("return-path") is not None:
        values["original_mail_from"] = _address(decode(headers.get("return-path")))
        recovered.append("original-mail-from")
    if not values["original_rcpt_to"]:
        for name in ("x-hmxmroriginalrecipient", "delivered-to", "x-original-to", "to"):
            found = _addresses([decode(v) for v in (headers.get_all(name) or [])[:MAX_VALUES]])
            if found:
                values["original_rcpt_to"] = found
                recovered.append("original-rcpt-to")
                break
    if values["arrival_date"] is None:
        values["arrival_date"] = _date(decode(headers.get("date")))
        if values["arrival_date"] is not None:
            recovered.append("arrival-date")
    if not values["reported_domain"]:
        senders = _addresses([decode(headers.get("from"))])
        values["reported_domain"] = _domains([senders[0].rpartition("@")[2]] if senders else [])
        if values["reported_domain"]:
            recovered.append("reported-domain")
    return tuple(recovered)


# --- field values ---


def _uncomment(text: str) -> str:
    """The text without RFC 5322 comments (nested, quoted strings and escapes respected)."""
    if "(" not in text:
        return text
    out: list[str] = []
    depth, quoted, escaped = 0, False, False
    for char in text[:MAX_VALUE]:
        if escaped:
            escaped = False
            if depth == 0:
                out.append(char)
        elif char == "\\":
            escaped = True
            if depth == 0:
                out.append(char)
        elif char == '"' and depth == 0:
            quoted = not quoted
            out.append(char)
        elif char == "(" and not quoted:
            depth += 1
        elif char == ")" and depth > 0 and not quoted:
            depth -= 1
            if depth == 0:
                out.append(" ")
        elif depth == 0:
            out.append(char)
    return "".join(out)


def _token(text: str) -> str:
    match = _TOKEN.search(_uncomment(text).lower())
    return match.group(0) if match else ""


def _incidents(text: str) -> int:
    if not (text.isascii() and text.isdigit()):
        return 1
    return 1_000_000_000 if len(text) > 9 else max(int(text), 1)


def _ip(text: str) -> str | None:
    value = _uncomment(text).strip().strip("[]")
    if value[:5].lower() == "ipv6:":
        value = value[5:]
    try:
        return str(ipaddress.ip_address(value.split("%", 1)[0]))
    except ValueError:
        return None


def _address(text: str) -> str:
    """One address, without angle brackets or comments; "" for the null reverse-path <>."""
    value = _FOLD.sub(" ", text)
    addresses = [a for _, a in getaddresses([value]) if a]
    return addresses[0] if addresses else _uncomment(value).strip().strip("<>").strip()


def _addresses(values: Any) -> tuple[str, ...]:
    found: list[str] = []
    for value in values:
        found.extend(a for _, a in getaddresses([_FOLD.sub(" ", value)]) if "@" in a)
        if len(found) >= MAX_VALUES:
            break
    return tuple(dict.fromkeys(found[:MAX_VALUES]))


def _domains(values: Any) -> tuple[str, ...]:
    domains = (_uncomment(v).strip().strip("<>").rstrip(".").lower() for v in values)
    return tuple(dict.fromkeys(d for d in domains if d and " " not in d))


def _date(text: str | None) -> datetime | None:
    value = _uncomment(text or "").strip()
    if not value:
        return None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        try:
            when = datetime.fromisoformat(value)
        except ValueError:
            return None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).astimezone(UTC)
