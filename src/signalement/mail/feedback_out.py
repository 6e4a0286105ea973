"""Complaints sent to members: ARF (RFC 5965, with the fields RFC 6650 asks for) and X-ARF v4 JSON. Pure, offline.

A complaint is one report about a message that a member's feedback-loop subscription matched. Its Feedback-Type
(RFC 5965 §7.3 registry: abuse, fraud, virus, other; not-spam from RFC 6430; auth-failure from RFC 6591) comes from
the platform's verdict when there is one, else from what the reporter said:

| verdict \\ reported    | (none) | spam  | phishing | scam  | unknown |
|-----------------------|--------|-------|----------|-------|---------|
| (none: not analysed)  | abuse  | abuse | fraud    | fraud | abuse   |
| spam                  | abuse  | abuse | abuse    | abuse | abuse   |
| phishing              | fraud  | fraud | fraud    | fraud | fraud   |
| scam                  | fraud  | fraud | fraud    | fraud | fraud   |
| malware               | virus  | virus | virus    | virus | virus   |
| legitimate            | -      | abuse | -        | -     | -       |

`-`: nothing is sent. Nothing is sent either for a feedback report that is not a complaint (a `not-spam`,
`auth-failure` or unknown type read by signalement.mail.arf): `not-spam` is never sent as a complaint. `other` is
never produced. The verdict wins over the reporter's word: it is the analysis of the message itself, but for one
case: a person who calls a message the analysis finds legitimate spam (a newsletter they no longer want) did not
want it, and its sender should stop sending to them, as mailbox providers' own loops report every such click.

Why phishing is `fraud` and not `abuse`: the registry defines `fraud` as "some kind of fraud or phishing activity"
and `abuse` as "unsolicited email or some other kind of email abuse"; and the receiver acts differently. On `abuse`
a sender removes the complainer from its list and watches its complaint rate; on `fraud` a router or an ESP looks
for a compromised account or a fraudulent customer and stops it, which removing one address would not do.
signalement's own intake (signalement.mail.arf) counts abuse, fraud and virus as complaints alike.

The ARF report (multipart/report; report-type=feedback-report) carries Feedback-Type, User-Agent, Version,
Original-Mail-From, Original-Envelope-Id (when known), Arrival-Date, Source-IP, Incidents (when more than one),
Authentication-Results, Reported-Domain and Reported-URI (both repeatable), and never Original-Rcpt-To: that is the
reporter's address. The third part is the original as given (the caller has already redacted it, RFC 6590) as
message/rfc822, or its header block only as text/rfc822-headers. The report is written with CRLF line endings, as
on the wire: a given original with bare LF endings gets CRLF, and is otherwise copied byte for byte (never
re-serialized, so DKIM signatures in it still verify). The same inputs always give the same bytes (Message-ID,
Date and the MIME boundary come from the caller's ids and times), so a retried delivery is the same message.

The X-ARF v4 document (validated against the pinned schemas before it is returned) is content/phishing for a
phishing complaint with a URL, content/fraud for a scam with a URL, and messaging/spam otherwise. See
docs/feedback-formats.md.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import re
import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from email import message_from_bytes
from email.errors import HeaderParseError
from email.message import EmailMessage, MIMEPart
from email.policy import SMTP, compat32
from email.utils import format_datetime
from types import MappingProxyType
from typing import Any
from urllib.parse import quote, urlsplit

from signalement import __version__
from signalement.domain.reports import ReportedCategory, VerdictCategory
from signalement.mail.arf import FeedbackKind
from signalement.mail.domains import is_ip, normalize_host
from signalement.mail.facts import decode, header_block
from signalement.mail.xarf import MAX_EVIDENCE_ITEM, XarfError, parse_xarf

USER_AGENT = f"signalement/{__version__}"
XARF_VERSION = "4.2.0"  # the version of the pinned schemas' examples (xarf-spec @37820dac)
MAX_REPORTED = 20  # Reported-Domain and Reported-URI values written by complaint_from_facts
MAX_VALUES = 100  # values of one repeatable field a Complaint accepts
MAX_URI = 900  # a longer URI cannot be written on one header line (998) and a URI cannot be folded: left out
MAX_AUTH_RESULTS = 2000
SMTP_PORT = 25  # written as source_port when the client's port is unknown (see _messaging)
CRLF = b"\r\n"

# RFC 5965 §7.3 and RFC 6650: what each verdict category is sent as; None: never sent.
FEEDBACK_TYPES: Mapping[VerdictCategory, str | None] = MappingProxyType(
    {
        VerdictCategory.SPAM: "abuse",
        VerdictCategory.PHISHING: "fraud",
        VerdictCategory.SCAM: "fraud",
        VerdictCategory.MALWARE: "virus",
        VerdictCategory.LEGITIMATE: None,
    }
)
# Before there is a verdict: what the reporter said. A person who reports "unknown" still says it is unwanted.
_FROM_REPORTED: Mapping[ReportedCategory | None, VerdictCategory] = MappingProxyType(
    {
        None: VerdictCategory.SPAM,
        ReportedCategory.SPAM: VerdictCategory.SPAM,
        ReportedCategory.UNKNOWN: VerdictCategory.SPAM,
        ReportedCategory.PHISHING: VerdictCategory.PHISHING,
        ReportedCategory.SCAM: VerdictCategory.SCAM,
    }
)
_WORDS = {  # the human-readable part, English and French
    VerdictCategory.SPAM: ("spam", "spam"),
    VerdictCategory.PHISHING: ("phishing", "hameçonnage"),
    VerdictCategory.SCAM: ("a scam", "escroquerie"),
    VerdictCategory.MALWARE: ("malware", "logiciel malveillant"),
}
# Links first (a form's action is where credentials go), images and style sheets last: the first URI is the one
# an X-ARF content report names.
_FORM_PLACES = frozenset({"html:form", "attachment:html:form"})
_WEAK_PLACES = frozenset({"html:img", "html:css", "attachment:html:img", "attachment:html:css"})
_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://signalement.invalid/feedback-loop/complaint")
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")
_PRINTABLE = re.compile(r"[!-~]+")  # visible ASCII, no space
_MESSAGE_ID = re.compile(r"<[^<>@\s]+@[^<>@\s]+>")
_BARE_LF = re.compile(rb"(?<!\r)\n")
_XARF_DOMAIN = re.compile(r"([a-z0-9]+(-[a-z0-9]+)*\.)+[a-z]{2,}")  # content-base.json's `domain` pattern


class FeedbackError(ValueError):
    """The complaint or the envelope cannot make a valid report; the message says which value and why."""


# --- the Feedback-Type mapping ---


def complaint_category(
    verdict: VerdictCategory | str | None,
    reported: ReportedCategory | str | None,
    *,
    report_kind: FeedbackKind | str | None = None,
) -> VerdictCategory | None:
    """What a complaint is about (never `legitimate`), or None when no complaint is sent. `report_kind` is the
    kind of a feedback report the report came in as (signalement.mail.arf), None for any other report."""
    if report_kind is not None and FeedbackKind(report_kind) is not FeedbackKind.COMPLAINT:
        return None
    category = VerdictCategory(verdict) if verdict is not None else _FROM_REPORTED[_reported(reported)]
    if category is VerdictCategory.LEGITIMATE and _reported(reported) is ReportedCategory.SPAM:
        return VerdictCategory.SPAM  # unwanted, if genuine: its sender should stop sending to this person
    return None if FEEDBACK_TYPES[category] is None else category


def feedback_type(
    verdict: VerdictCategory | str | None,
    reported: ReportedCategory | str | None,
    *,
    report_kind: FeedbackKind | str | None = None,
) -> str | None:
    """The RFC 5965 Feedback-Type of the complaint (abuse, fraud or virus), or None: not sent (see the table)."""
    category = complaint_category(verdict, reported, report_kind=report_kind)
    return None if category is None else FEEDBACK_TYPES[category]


def _reported(value: ReportedCategory | str | None) -> ReportedCategory | None:
    return None if value is None else ReportedCategory(value)


# --- the complaint ---


@dataclass(frozen=True)
class Complaint:
    """One complaint for one recipient, as the reports will state it. Values are checked, not corrected:
    complaint_from_facts builds a valid one from an analysis document."""

    category: VerdictCategory  # from complaint_category; gives the Feedback-Type and the X-ARF type
    report_id: str  # a UUID, stable per complaint and recipient: complaint_report_id()
    arrival_date: datetime  # timezone-aware
    original: bytes  # the reported message, already redacted for this recipient; or its header block only
    original_is_headers: bool = False  # `original` is a header block only
    source_ip: str | None = None
    source_port: int | None = None  # the client's port, when a trusted Received field recorded it
    original_mail_from: str | None = None  # the envelope sender without brackets; "" for the null reverse-path
    original_envelope_id: str | None = None  # RFC 3461 ENVID, when known
    reported_domains: tuple[str, ...] = ()  # lower case, IDN in punycode
    reported_uris: tuple[str, ...] = ()  # most telling first
    authentication_results: tuple[str, ...] = ()  # RFC 8601 values, without the field name
    incidents: int = 1

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise FeedbackError("invalid complaint: " + "; ".join(problems))

    @property
    def feedback_type(self) -> str:
        found = FEEDBACK_TYPES[self.category]
        assert found is not None  # __post_init__ refused `legitimate`
        return found


def _problems(c: Complaint) -> list[str]:
    problems: list[str] = []
    if not isinstance(c.category, VerdictCategory):
        problems.append(f"category {c.category!r} is not a VerdictCategory (see complaint_category)")
    elif FEEDBACK_TYPES[c.category] is None:
        problems.append(f"category {c.category.value!r} is never sent as a complaint")
    if not _is_uuid(c.report_id):
        problems.append(f"report_id {c.report_id!r} is not a UUID")
    if not isinstance(c.arrival_date, datetime) or c.arrival_date.tzinfo is None:
        problems.append("arrival_date must be a timezone-aware datetime")
    if not isinstance(c.original, bytes) or not c.original.strip():
        problems.append("original is empty")
    if c.source_ip is not None and _ip(c.source_ip) is None:
        problems.append(f"source_ip {c.source_ip!r} is not an IP address")
    if c.source_port is not None and not (isinstance(c.source_port, int) and 1 <= c.source_port <= 65535):
        problems.append(f"source_port {c.source_port!r} is not a port number")
    if c.original_mail_from is not None and c.original_mail_from != "" and not _is_mailbox(c.original_mail_from):
        problems.append(f"original_mail_from {c.original_mail_from!r} is not an address")
    if c.original_envelope_id is not None and not (
        _PRINTABLE.fullmatch(c.original_envelope_id) and len(c.original_envelope_id) <= 100
    ):
        problems.append(f"original_envelope_id {c.original_envelope_id!r} is not an RFC 3461 envelope id")
    problems.extend(f"reported domain {d!r} is not a domain name" for d in c.reported_domains if not _is_domain(d))
    problems.extend(f"reported URI {u!r} cannot be written in a report" for u in c.reported_uris if not _is_uri(u))
    problems.extend(
        f"authentication result {a!r} is not one printable line" for a in c.authentication_results if not _is_line(a)
    )
    for name in ("reported_domains", "reported_uris", "authentication_results"):
        if not isinstance(getattr(c, name), tuple) or len(getattr(c, name)) > MAX_VALUES:
            problems.append(f"{name} must be a tuple of at most {MAX_VALUES} values")
    if not isinstance(c.incidents, int) or c.incidents < 1:
        problems.append("incidents must be a positive integer")
    return problems


@dataclass(frozen=True)
class Organization:
    """An X-ARF party (reporter or sender): the association, or the source that granted the feedback loop."""

    org: str
    contact: str  # an address
    domain: str


def complaint_report_id(complaint_id: str | int, subscription_id: str | int) -> str:
    """A UUID (version 5) stable for one complaint and one subscription: the same on every retry, different for
    each recipient. It is the X-ARF report_id and the left part of the Message-ID, so both formats correlate."""
    return str(uuid.uuid5(_NAMESPACE, json.dumps([str(complaint_id), str(subscription_id)])))


def complaint_message_id(complaint_id: str | int, subscription_id: str | int, domain: str) -> str:
    """`<uuid@domain>`: stable across retries, so the member's side can drop a delivery it already has."""
    host = normalize_host(domain)
    if not (_is_domain(host) or (host.isalnum() and _LABEL.fullmatch(host))):  # `localhost` on a test platform
        raise FeedbackError(f"Message-ID domain {domain!r} is not a domain name")
    return f"<{complaint_report_id(complaint_id, subscription_id)}@{host}>"


# --- ARF ---


def build_arf(
    complaint: Complaint,
    *,
    from_addr: str,
    to_addr: str,
    subject: str,
    message_id: str,
    date: datetime,
    headers_only: bool = False,
    platform: str = "signalement",
) -> bytes:
    """The RFC 5965 report as bytes (CRLF), ready for SMTP: the 8BITMIME extension is needed when the original
    holds 8-bit bytes (its part then says `Content-Transfer-Encoding: 8bit`, or `binary` for lines over 998)."""
    third, third_type = _third_part(complaint, headers_only)
    parts = [_human_part(complaint, platform), _report_part(complaint), _original_part(third, third_type)]
    boundary = _boundary(complaint.report_id, parts)
    head = _head(from_addr, to_addr, subject, message_id, date, boundary)
    body = b"".join(b"--" + boundary + CRLF + part + CRLF for part in parts) + b"--" + boundary + b"--" + CRLF
    return head + CRLF + body


def report_fields(complaint: Complaint) -> list[tuple[str, str]]:
    """The fields of the message/feedback-report part, in order."""
    c = complaint
    fields = [("Feedback-Type", c.feedback_type), ("User-Agent", USER_AGENT), ("Version", "1")]
    if c.original_mail_from is not None:
        fields.append(("Original-Mail-From", f"<{c.original_mail_from}>"))
    if c.original_envelope_id:
        fields.append(("Original-Envelope-Id", c.original_envelope_id))
    fields.append(("Arrival-Date", format_datetime(c.arrival_date.astimezone(UTC))))
    if c.source_ip:
        fields.append(("Source-IP", str(_ip(c.source_ip))))
    if c.incidents > 1:
        fields.append(("Incidents", str(c.incidents)))
    fields.extend(("Authentication-Results", a) for a in c.authentication_results)
    fields.extend(("Reported-Domain", d) for d in c.reported_domains)
    fields.extend(("Reported-URI", u) for u in c.reported_uris)
    return fields


def _report_part(complaint: Complaint) -> bytes:
    text = "".join(_field_line(name, value) for name, value in report_fields(complaint))
    data = text.encode("utf-8")
    cte = b"" if data.isascii() else b"Content-Transfer-Encoding: 8bit\r\n"  # an SMTPUTF8 envelope sender
    return b"Content-Type: message/feedback-report\r\n" + cte + CRLF + data


def _field_line(name: str, value: str) -> str:
    line = f"{name}: {value}"
    if len(line) <= 78 or name != "Authentication-Results":
        return line + "\r\n"
    # Folded before the space after each `;` (a line stays under 998: _is_line bounds each segment).
    return f"{name}: " + ";\r\n ".join(s.strip() for s in value.split(";")) + "\r\n"


def _third_part(complaint: Complaint, headers_only: bool) -> tuple[bytes, str]:
    data = _crlf(complaint.original)
    if headers_only or complaint.original_is_headers:
        return header_block(data) + CRLF, "text/rfc822-headers"
    return data, "message/rfc822"


def _original_part(data: bytes, content_type: str) -> bytes:
    head = f"Content-Type: {content_type}\r\nContent-Disposition: inline\r\n"
    cte = _transfer_encoding(data)
    if cte != "7bit":  # message/rfc822 may not be base64-encoded (RFC 2046 §5.2.1): the bytes go as they are
        head += f"Content-Transfer-Encoding: {cte}\r\n"
    return head.encode("ascii") + CRLF + data


def _transfer_encoding(data: bytes) -> str:
    if b"\x00" in data or any(len(line) > 998 for line in data.split(CRLF)):
        return "binary"
    return "7bit" if data.isascii() else "8bit"


def _human_part(complaint: Complaint, platform: str) -> bytes:
    part = MIMEPart(policy=SMTP)
    part.set_content(_human_text(complaint, platform), charset="utf-8", cte="quoted-printable")
    return part.as_bytes(policy=SMTP)


def _human_text(c: Complaint, platform: str) -> str:
    english, french = _WORDS[c.category]
    when = format_datetime(c.arrival_date.astimezone(UTC))
    ip = _ip(c.source_ip) if c.source_ip else None
    source_en = f"from {ip}" if ip else "from a source that could not be established"
    source_fr = f"de {ip}" if ip else "d'une source qui n'a pas pu être établie"
    report_id = str(uuid.UUID(c.report_id))
    return (
        f"This is an email abuse report (Abuse Reporting Format, RFC 5965) for a message received {source_en}"
        f" on {when}.\n"
        f"A person who received this message reported it to {platform}; it is reported as {english}"
        f" (Feedback-Type: {c.feedback_type}).\n"
        "The address of the person who reported it was removed from this report or replaced by a keyed hash"
        " (RFC 6590).\n"
        f"Complaint reference: {report_id}\n"
        "\n"
        f"Ceci est un signalement d'abus (format ARF, RFC 5965) concernant un message reçu {source_fr}"
        f" le {when}.\n"
        f"Une personne qui a reçu ce message l'a signalé à {platform} ; il est signalé comme {french}"
        f" (Feedback-Type : {c.feedback_type}).\n"
        "L'adresse de la personne qui l'a signalé a été retirée de ce rapport ou remplacée par une empreinte à clé"
        " (RFC 6590).\n"
        f"Référence de la plainte : {report_id}\n"
    )


def _boundary(seed: str, parts: Sequence[bytes]) -> bytes:
    """Derived from the complaint (same bytes on a retry); `=_` never occurs in quoted-printable text."""
    for attempt in range(1000):
        boundary = b"=_arf_" + hashlib.sha256(f"{seed}/{attempt}".encode()).hexdigest()[:32].encode()
        if not any(boundary in part for part in parts):
            return boundary
    raise FeedbackError("no MIME boundary absent from the parts was found")  # pragma: no cover


def _head(from_addr: str, to_addr: str, subject: str, message_id: str, date: datetime, boundary: bytes) -> bytes:
    if not isinstance(date, datetime) or date.tzinfo is None:
        raise FeedbackError("the report's Date must be a timezone-aware datetime")
    if not _MESSAGE_ID.fullmatch(message_id):
        raise FeedbackError(f"Message-ID {message_id!r} is not <left@right>")
    head = EmailMessage(policy=SMTP)
    try:  # the policy refuses CR and LF in every value: no header injection through the caller's values
        head["From"] = from_addr
        head["To"] = to_addr
        head["Date"] = date
        head["Subject"] = subject
        head["Message-ID"] = message_id
    except (ValueError, TypeError, HeaderParseError) as error:
        raise FeedbackError(f"invalid report header: {error}") from None
    for name in ("From", "To"):
        field = head[name]
        if field.defects or not field.addresses or any(not a.username or not a.domain for a in field.addresses):
            raise FeedbackError(f"{name} {str(field)!r} is not an address")
    lines = b"".join(SMTP.fold_binary(name, value) for name, value in head.items())
    return (
        lines
        + b"MIME-Version: 1.0\r\n"
        + b"Auto-Submitted: auto-generated\r\n"
        + b'Content-Type: multipart/report; report-type=feedback-report;\r\n\tboundary="'
        + boundary
        + b'"\r\n'
    )


# --- X-ARF ---


def xarf_type(complaint: Complaint) -> tuple[str, str]:
    """(category, type): a phishing or scam page is content the member can act on when the message links to it;
    anything else, or one without a URL, is a message the member's network sent: messaging/spam."""
    if complaint.reported_uris and complaint.category is VerdictCategory.PHISHING:
        return "content", "phishing"
    if complaint.reported_uris and complaint.category is VerdictCategory.SCAM:
        return "content", "fraud"
    return "messaging", "spam"


def build_xarf(
    complaint: Complaint, *, reporter: Organization, sender: Organization | None = None, headers_only: bool = False
) -> bytes:
    """The X-ARF v4 report as UTF-8 JSON, valid against the pinned schemas; FeedbackError says why it cannot be."""
    document = xarf_document(complaint, reporter=reporter, sender=sender, headers_only=headers_only)
    return json.dumps(document, ensure_ascii=False, indent=2).encode("utf-8") + b"\n"


def xarf_document(
    complaint: Complaint, *, reporter: Organization, sender: Organization | None = None, headers_only: bool = False
) -> dict[str, Any]:
    category, kind = xarf_type(complaint)
    document: dict[str, Any] = {
        "xarf_version": XARF_VERSION,
        "report_id": str(uuid.UUID(complaint.report_id)),
        "timestamp": complaint.arrival_date.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "reporter": asdict(reporter),
        "sender": asdict(sender or reporter),
        "category": category,
        "type": kind,
        "evidence_source": "user_complaint",
    }
    if category == "messaging":
        document.update(_messaging(complaint))
    else:
        document.update(_content(complaint, kind))
    document["evidence"] = [_evidence(complaint, headers_only)]
    document["tags"] = [f"feedback-type:{complaint.feedback_type}", f"verdict:{complaint.category.value}"]
    try:
        parse_xarf(document)
    except XarfError as error:
        raise FeedbackError(f"the X-ARF {category}/{kind} report would be invalid: {error}") from None
    return document


def _messaging(c: Complaint) -> dict[str, Any]:
    source = _source_identifier(c, None)
    if not c.original_mail_from:
        raise FeedbackError(
            "an X-ARF messaging/spam report over SMTP needs the envelope sender (smtp_from), and this complaint"
            " has none (no Return-Path, or the null reverse-path)"
        )
    found: dict[str, Any] = {
        "source_identifier": source,
        # The schema requires source_port with protocol=smtp. The client's port is known only when a trusted
        # Received field recorded it; otherwise 25, the SMTP port, as the spec's own messaging/spam example has.
        "source_port": c.source_port or SMTP_PORT,
        "protocol": "smtp",
        "smtp_from": c.original_mail_from,
    }
    found.update(_headers_of(c.original))
    if c.reported_uris:
        found["spam_indicators"] = {"suspicious_links": list(c.reported_uris)}
    return found


def _content(c: Complaint, kind: str) -> dict[str, Any]:
    url = c.reported_uris[0]
    host = _host(url)
    found: dict[str, Any] = {"source_identifier": _source_identifier(c, host), "url": url}
    if c.source_port:
        found["source_port"] = c.source_port
    if _XARF_DOMAIN.fullmatch(host):
        found["domain"] = host
    if kind == "fraud":
        found["fraud_type"] = "other"  # the analysis does not tell investment from romance or advance-fee fraud
    return found


def _source_identifier(c: Complaint, host: str | None) -> str:
    """The IP the message came from (the member's own network, which matched); else an authenticated domain or
    the content's host."""
    found = str(_ip(c.source_ip)) if c.source_ip else (c.reported_domains[0] if c.reported_domains else host)
    if not found:
        raise FeedbackError("an X-ARF report needs a source_identifier: the complaint has no source IP nor domain")
    return found


def _headers_of(original: bytes) -> dict[str, Any]:
    """Subject and Message-ID of the (redacted) original, within the schema's lengths."""
    headers = message_from_bytes(header_block(original) + b"\r\n\r\n", policy=compat32)
    found: dict[str, Any] = {}
    subject = " ".join(decode(headers.get("subject")).split())
    if subject:
        found["subject"] = subject[:500]
    message_id = " ".join(decode(headers.get("message-id")).split())
    if message_id and len(message_id) <= 200:
        found["message_id"] = message_id
    return found


def _evidence(c: Complaint, headers_only: bool) -> dict[str, Any]:
    payload, content_type = _third_part(c, headers_only)
    if len(payload) > MAX_EVIDENCE_ITEM:  # X-ARF's limit for one item: the header block still identifies it
        payload, content_type = _third_part(c, True)
    what = "header block" if content_type == "text/rfc822-headers" else "message"
    return {
        "content_type": content_type,
        "description": f"The reported {what}, the reporter's address redacted (RFC 6590)",
        "payload": base64.b64encode(payload).decode("ascii"),
        "hash": "sha256:" + hashlib.sha256(payload).hexdigest(),
        "size": len(payload),
    }


# --- from an analysis document ---


def complaint_from_facts(
    facts: Mapping[str, Any],
    original: bytes,
    *,
    category: VerdictCategory,
    report_id: str,
    reported_at: datetime,
    original_is_headers: bool = False,
    original_envelope_id: str | None = None,
    reporter_addresses: Collection[str] = (),
    benign_host: Callable[[str], bool] | None = None,
) -> Complaint:
    """A complaint from the stored analysis (`reports.facts`, docs/analysis.md) of the reported message.

    - Source-IP: `origin.ip`, the address that handed the message to the first trusted relay (null when the chain
      could not be trusted: then no Source-IP); its port when that relay's Received field recorded it;
    - Arrival-Date: `origin.received_at`, when that relay received it; else `reported_at`;
    - Original-Mail-From: `sender.return_path`, the envelope sender the receiving system recorded;
    - Authentication-Results: written from `authentication` (only the trusted block is in it), under its
      authserv-id, or the name of the trusted relay that received the message when the results had none;
    - Reported-Domain: the domains that authenticated (DKIM pass `d=`, SPF pass), then the hosts of the URLs;
    - Reported-URI: the URLs, those in forms and links first, images and style sheets last.
    A value holding one of `reporter_addresses` (as is, percent- or base64-encoded) is left out, and so are URLs
    whose host `benign_host` says is no part of the abuse (a brand's own site linked from a phishing page)."""
    hidden = _hidden_forms(reporter_addresses)
    origin, sender, auth = (_mapping(facts.get(key)) for key in ("origin", "sender", "authentication"))
    source_ip = _ip(origin.get("ip"))
    urls = _kept_urls(facts.get("urls"), hidden, benign_host)
    return Complaint(
        category=category,
        report_id=report_id,
        arrival_date=_iso_date(origin.get("received_at")) or reported_at,
        original=original,
        original_is_headers=original_is_headers,
        source_ip=str(source_ip) if source_ip else None,
        source_port=_source_port(origin, str(source_ip)) if source_ip else None,
        original_mail_from=_mail_from(sender.get("return_path"), hidden),
        original_envelope_id=original_envelope_id,
        reported_domains=_reported_domains(auth, urls),
        reported_uris=tuple(uri for uri, _ in urls),
        authentication_results=_authentication_results(auth, origin),
    )


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _kept_urls(found: Any, hidden: Collection[str], benign_host: Callable[[str], bool] | None) -> list[tuple[str, str]]:
    """(URI as written in the report, host), most telling first, at most MAX_REPORTED."""
    ranked: list[tuple[int, str, str]] = []
    for item in found if isinstance(found, list) else []:
        if not isinstance(item, Mapping):
            continue
        uri = next((u for u in (item.get("url"), item.get("canonical")) if isinstance(u, str) and _is_uri(u)), None)
        host = normalize_host(str(item.get("host") or _host(uri))) if uri else ""
        if uri is None or not host or _hides(uri, hidden) or (benign_host is not None and benign_host(host)):
            continue
        where = {str(w) for w in item.get("where") or () if isinstance(w, str)}
        rank = 0 if where & _FORM_PLACES else 2 if where and where <= _WEAK_PLACES else 1
        ranked.append((rank, uri, host))
    ranked.sort(key=lambda r: r[0])  # stable: the analysis' order within a rank
    kept = dict.fromkeys((uri, host) for _, uri, host in ranked)
    return list(kept)[:MAX_REPORTED]


def _reported_domains(auth: Mapping[str, Any], urls: list[tuple[str, str]]) -> tuple[str, ...]:
    found: list[str] = []
    for dkim in auth.get("dkim") or ():
        if isinstance(dkim, Mapping) and dkim.get("result") == "pass" and isinstance(dkim.get("domain"), str):
            found.append(dkim["domain"])
    spf = _mapping(auth.get("spf"))
    if spf.get("result") == "pass" and isinstance(spf.get("domain"), str):
        found.append(spf["domain"])
    found.extend(host for _, host in urls)
    names = (normalize_host(d) for d in found)
    return tuple(dict.fromkeys(d for d in names if _is_domain(d)))[:MAX_REPORTED]


def _authentication_results(auth: Mapping[str, Any], origin: Mapping[str, Any]) -> tuple[str, ...]:
    results: list[str] = []
    spf = _mapping(auth.get("spf"))
    if _is_token(spf.get("result")):
        results.append(_result("spf", spf["result"], ("smtp.mailfrom", spf.get("domain"))))
    for dkim in auth.get("dkim") or ():
        if isinstance(dkim, Mapping) and _is_token(dkim.get("result")):
            properties = (("header.d", dkim.get("domain")), ("header.s", dkim.get("selector")))
            results.append(_result("dkim", dkim["result"], *properties))
    dmarc = _mapping(auth.get("dmarc"))
    if _is_token(dmarc.get("result")):
        results.append(_result("dmarc", dmarc["result"], ("header.from", dmarc.get("domain"))))
    if _is_token(auth.get("arc")):
        results.append(f"arc={auth['arc']}")
    authserv_id = auth.get("authserv_id") if _is_token(auth.get("authserv_id")) else _receiver(origin)
    if not results or not authserv_id:
        return ()
    value = f"{authserv_id}; " + "; ".join(results)
    return (value,) if len(value) <= MAX_AUTH_RESULTS else ()


def _result(method: str, result: str, *properties: tuple[str, Any]) -> str:
    written = [f"{method}={result.lower()}"]
    written.extend(f"{name}={value}" for name, value in properties if _is_token(value))
    return " ".join(written)


def _receiver(origin: Mapping[str, Any]) -> str | None:
    """The trusted relay that received the message from its origin: the `by` host of the last hop walked."""
    hops = [h for h in origin.get("hops") or () if isinstance(h, Mapping)]
    if not origin.get("ip") or not hops:
        return None
    by_host = hops[-1].get("by_host")
    return by_host if isinstance(by_host, str) and _is_domain(normalize_host(by_host)) else None


def _source_port(origin: Mapping[str, Any], ip: str) -> int | None:
    """The client port a trusted relay wrote in its Received field (Exim: `([192.0.2.1]:54321)` or `port=`)."""
    for hop in origin.get("hops") or ():
        if not isinstance(hop, Mapping) or _ip(hop.get("ip")) != _ip(ip) or not isinstance(hop.get("raw"), str):
            continue
        clause = re.split(r"\sby\s", hop["raw"], maxsplit=1)[0]
        address = re.escape(str(hop.get("ip")))
        match = re.search(rf"\[(?:IPv6:)?{address}\]:(\d{{1,5}})\b", clause, re.IGNORECASE)
        match = match or re.search(r"\(port=(\d{1,5})\b", clause)
        if match and 1 <= int(match.group(1)) <= 65535:
            return int(match.group(1))
    return None


def _mail_from(value: Any, hidden: Collection[str]) -> str | None:
    if not isinstance(value, str) or not _is_mailbox(value) or _hides(value, hidden):
        return None
    return value


def _iso_date(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value)
    except ValueError:
        return None
    return when if when.tzinfo is not None else None


def _hidden_forms(addresses: Collection[str]) -> frozenset[str]:
    """The reporter's addresses as they may appear in a link: as is, percent-encoded, base64 (lower-cased)."""
    forms: set[str] = set()
    for address in (a.strip() for a in addresses if isinstance(a, str) and a.strip()):
        raw = address.encode("utf-8")
        forms.update({address, quote(address, safe=""), quote(address, safe="@")})
        forms.update({base64.b64encode(raw).decode().rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")})
    return frozenset(f.lower() for f in forms)


def _hides(value: str, hidden: Collection[str]) -> bool:
    lowered = value.lower()
    return any(form in lowered for form in hidden)


# --- values ---


def _ip(value: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not isinstance(value, str):
        return None
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return isinstance(value, str)


def _is_domain(value: Any) -> bool:
    return (
        isinstance(value, str)
        and 0 < len(value) <= 253
        and "." in value
        and not is_ip(value)
        and all(_LABEL.fullmatch(label) for label in value.split("."))
    )


def _is_mailbox(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and len(value) <= 320 and _is_line(value) and not re.search(r"[\s<>]", value)


def _is_uri(value: Any) -> bool:
    if not (isinstance(value, str) and len(value) <= MAX_URI and _PRINTABLE.fullmatch(value)):
        return False
    try:
        urlsplit(value).port  # noqa: B018 -- raises on an unclosed bracket or a bad port
    except ValueError:
        return False
    return bool(_SCHEME.match(value)) and "<" not in value and ">" not in value


def _is_line(value: Any) -> bool:
    """One printable line, at most MAX_AUTH_RESULTS characters, no `;`-separated piece longer than MAX_URI."""
    return (
        isinstance(value, str)
        and 0 < len(value) <= MAX_AUTH_RESULTS
        and value.isprintable()
        and all(len(piece) <= MAX_URI for piece in value.split(";"))
    )


def _is_token(value: Any) -> bool:
    return isinstance(value, str) and bool(_TOKEN.fullmatch(value))


def _host(uri: str) -> str:
    try:
        return (urlsplit(uri).hostname or "").lower()
    except ValueError:  # an unclosed IPv6 bracket, a bad port
        return ""


def _crlf(data: bytes) -> bytes:
    return _BARE_LF.sub(b"\r\n", data)
