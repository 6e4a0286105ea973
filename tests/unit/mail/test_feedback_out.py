"""Complaints sent to members (signalement.mail.feedback_out): the Feedback-Type table, ARF read back by the intake's
reader and by the standard library's MIME parser on its own, X-ARF validated against the pinned schemas.

The originals are real reported messages from tests/fixtures/mail (provenance in tests/fixtures/README.md)."""

from __future__ import annotations

import base64
import email
import email.policy
import hashlib
import json
import re
from datetime import UTC, datetime, timedelta, timezone
from email.message import EmailMessage, Message
from email.utils import parsedate_to_datetime
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.domain.reports import ReportedCategory, VerdictCategory
from signalement.mail.arf import FeedbackKind, read_feedback
from signalement.mail.facts import header_block, is_feedback_report
from signalement.mail.feedback_out import (
    USER_AGENT,
    Complaint,
    FeedbackError,
    Organization,
    build_arf,
    build_xarf,
    complaint_category,
    complaint_from_facts,
    complaint_message_id,
    complaint_report_id,
    feedback_type,
    xarf_type,
)
from signalement.mail.understanding import understand
from signalement.mail.xarf import parse_xarf

MAIL = Path(__file__).parents[2] / "fixtures" / "mail"
DOCS = Path(__file__).parents[3] / "docs" / "feedback-formats.md"
REPORTED_AT = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SENT_AT = datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
ASSOCIATION = Organization("Signal Spam", "abuse@signal-spam.example", "signal-spam.example")
REPORT_ID = complaint_report_id(4242, 17)

# The table as the RFCs give it, written out here on its own: (verdict, reported) -> Feedback-Type.
BY_VERDICT = {
    VerdictCategory.SPAM: "abuse",
    VerdictCategory.PHISHING: "fraud",
    VerdictCategory.SCAM: "fraud",
    VerdictCategory.MALWARE: "virus",
    VerdictCategory.LEGITIMATE: None,
}
BY_REPORTED = {
    None: "abuse",
    ReportedCategory.SPAM: "abuse",
    ReportedCategory.UNKNOWN: "abuse",
    ReportedCategory.PHISHING: "fraud",
    ReportedCategory.SCAM: "fraud",
}


@cache
def fixture(name: str) -> bytes:
    return (MAIL / name).read_bytes()


@cache
def facts_of(name: str) -> dict[str, Any]:
    return understand(fixture(name)).as_json()


def on_the_wire(data: bytes) -> bytes:
    """What the report carries of an original: its bytes with bare LF line endings made CRLF."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", data)


def complaint_of(name: str, category: VerdictCategory = VerdictCategory.SPAM, **extra: Any) -> Complaint:
    return complaint_from_facts(
        facts_of(name), fixture(name), category=category, report_id=REPORT_ID, reported_at=REPORTED_AT, **extra
    )


def arf_of(complaint: Complaint, **extra: Any) -> bytes:
    return build_arf(
        complaint,
        from_addr="Signal Spam FBL <fbl@signal-spam.example>",
        to_addr="abuse@router.example",
        subject="Plainte / complaint",
        message_id=complaint_message_id(4242, 17, "signal-spam.example"),
        date=SENT_AT,
        **extra,
    )


def parts_of(arf: bytes) -> tuple[Message, list[Message]]:
    """The independent reader: the standard library's parser with its default policy, walking the MIME tree."""
    message = email.message_from_bytes(arf, policy=email.policy.default)
    assert message.is_multipart()
    payload = message.get_payload()
    assert isinstance(payload, list)
    return message, [part for part in payload if isinstance(part, Message)]


def report_fields_of(arf: bytes) -> Message:
    """The message/feedback-report part's fields: the parser reads a message/* part's body as header fields."""
    _, parts = parts_of(arf)
    (report,) = [p for p in parts if p.get_content_type() == "message/feedback-report"]
    payload = report.get_payload()
    assert isinstance(payload, list) and len(payload) == 1
    fields = payload[0]
    assert isinstance(fields, Message)
    return fields


def raw_parts(arf: bytes) -> list[tuple[bytes, bytes]]:
    """(header block, content) of each body part, cut from the bytes at the boundary lines, nothing decoded."""
    boundary = re.search(rb'boundary="([^"]+)"', header_block(arf))
    assert boundary is not None
    delimiter = b"\r\n--" + boundary.group(1)
    body = arf.split(b"\r\n\r\n", 1)[1]
    pieces = (b"\r\n" + body).split(delimiter)
    assert pieces[-1] == b"--\r\n"  # the close delimiter ends the message
    found = []
    for piece in pieces[1:-1]:
        head, _, content = piece.removeprefix(b"\r\n").partition(b"\r\n\r\n")
        found.append((head, content))
    return found


def words(value: str) -> str:
    return " ".join(value.split())


def header_fields(data: bytes) -> list[tuple[str, str]]:
    """The header fields of a message, names and unfolded values: what a re-serialization must keep."""
    parsed = email.message_from_bytes(header_block(data) + b"\r\n\r\n", policy=email.policy.compat32)
    return [(name.lower(), words(str(value))) for name, value in parsed.items()]


def reported_domains_read(feedback: Any, complaint: Complaint) -> tuple[str, ...]:
    """What the intake reads as Reported-Domain: the report's, or (its own fallback) the original's From domain."""
    if complaint.reported_domains:
        assert "reported-domain" not in feedback.recovered
        return tuple(feedback.reported_domain)
    assert "reported-domain" in feedback.recovered or feedback.reported_domain == ()
    return ()


# --- the Feedback-Type mapping ---


@pytest.mark.parametrize("verdict", [*VerdictCategory, None])
@pytest.mark.parametrize("reported", [*ReportedCategory, None])
def test_the_feedback_type_of_every_verdict_and_reported_category(
    verdict: VerdictCategory | None, reported: ReportedCategory | None
) -> None:
    expected = BY_VERDICT[verdict] if verdict is not None else BY_REPORTED[reported]
    if verdict is VerdictCategory.LEGITIMATE and reported is ReportedCategory.SPAM:
        expected = "abuse"  # a genuine newsletter its reader no longer wants: still a complaint to its sender
    assert feedback_type(verdict, reported) == expected
    assert feedback_type(verdict, reported, report_kind=FeedbackKind.COMPLAINT) == expected
    # As stored (strings) it is the same.
    assert feedback_type(verdict.value if verdict else None, reported.value if reported else None) == expected
    category = complaint_category(verdict, reported)
    assert (category is None) == (expected is None)
    assert category is not VerdictCategory.LEGITIMATE


@pytest.mark.parametrize("kind", [k for k in FeedbackKind if k is not FeedbackKind.COMPLAINT])
@pytest.mark.parametrize("verdict", [*VerdictCategory, None])
def test_a_feedback_report_that_is_no_complaint_is_never_sent_as_one(
    kind: FeedbackKind, verdict: VerdictCategory | None
) -> None:
    for reported in [*ReportedCategory, None]:
        assert feedback_type(verdict, reported, report_kind=kind) is None
        assert feedback_type(verdict, reported, report_kind=kind.value) is None


def test_the_table_in_the_docs_is_the_one_in_the_code() -> None:
    lines = DOCS.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| verdict"))
    header = [cell.strip() for cell in lines[start].strip("|").split("|")][1:]
    reported = [None if c == "(none)" else ReportedCategory(c) for c in header]
    rows = 0
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        cells = [cell.strip().strip("`") for cell in line.strip("|").split("|")]
        verdict = None if cells[0].startswith("(none") else VerdictCategory(cells[0])
        for column, cell in zip(reported, cells[1:], strict=True):
            assert feedback_type(verdict, column) == (None if cell == "-" else cell), (verdict, column)
        rows += 1
    assert rows == len(VerdictCategory) + 1


def test_unknown_category_values_are_refused() -> None:
    with pytest.raises(ValueError, match="not-a-verdict"):
        feedback_type("not-a-verdict", None)
    with pytest.raises(ValueError, match="ham"):
        feedback_type(None, "ham")


# --- ARF, read back ---

ORIGINALS = [
    ("spam-ru-marketing-dkim-authres-images.eml", VerdictCategory.SPAM, "abuse"),
    ("spam-dmarc-reject-spoof-gmail-ipv6.eml", VerdictCategory.SPAM, "abuse"),
    ("phishing-openphish-url-html.eml", VerdictCategory.PHISHING, "fraud"),
    ("phishing-bbva-mx-spoof-replyto-authres.eml", VerdictCategory.PHISHING, "fraud"),
    ("phishing-ru-tax-lure-zip-malspam.eml", VerdictCategory.MALWARE, "virus"),
    ("spam-cn-fake-invoice-utf8-body-declared-gb2312.eml", VerdictCategory.SCAM, "fraud"),
]


@pytest.mark.parametrize(("name", "category", "expected_type"), ORIGINALS)
def test_an_arf_report_read_back_by_the_standard_library(
    name: str, category: VerdictCategory, expected_type: str
) -> None:
    complaint = complaint_of(name, category)
    arf = arf_of(complaint)
    message, parts = parts_of(arf)
    assert message.get_content_type() == "multipart/report"
    assert message.get_param("report-type") == "feedback-report"
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/feedback-report", "message/rfc822"]
    assert message["Message-ID"] == complaint_message_id(4242, 17, "signal-spam.example")
    assert message["Auto-Submitted"] == "auto-generated"
    assert message["MIME-Version"] == "1.0"
    assert parsedate_to_datetime(message["Date"]) == SENT_AT
    assert message["Subject"] == "Plainte / complaint"
    assert isinstance(message, EmailMessage) and message["From"].addresses[0].addr_spec == "fbl@signal-spam.example"

    fields = report_fields_of(arf)
    assert fields["Feedback-Type"] == expected_type
    assert fields["User-Agent"] == USER_AGENT and re.fullmatch(r"signalement/\d+\.\d+\.\d+", USER_AGENT)
    assert fields["Version"] == "1"
    assert parsedate_to_datetime(fields["Arrival-Date"]) == complaint.arrival_date
    assert fields["Source-IP"] == complaint.source_ip
    if complaint.original_mail_from is None:
        assert "Original-Mail-From" not in fields
    else:
        assert fields["Original-Mail-From"] == f"<{complaint.original_mail_from}>"
    assert tuple(fields.get_all("Reported-Domain") or ()) == complaint.reported_domains
    assert tuple(fields.get_all("Reported-URI") or ()) == complaint.reported_uris
    assert tuple(words(v) for v in fields.get_all("Authentication-Results") or ()) == tuple(
        words(v) for v in complaint.authentication_results
    )
    assert "Original-Rcpt-To" not in fields and b"original-rcpt-to" not in arf.lower()

    human = parts[0]
    assert isinstance(human, EmailMessage)
    text = human.get_content()
    assert "RFC 5965" in text and "Ceci est un signalement" in text and REPORT_ID in text
    # The original: cut from the bytes at its boundaries, it is what was given (CRLF, as on the wire).
    head, content = raw_parts(arf)[2]
    assert content == on_the_wire(fixture(name))
    assert b"Content-Type: message/rfc822" in head


@pytest.mark.parametrize(("name", "category", "expected_type"), ORIGINALS)
def test_an_arf_report_read_back_by_the_intake(name: str, category: VerdictCategory, expected_type: str) -> None:
    complaint = complaint_of(name, category)
    arf = arf_of(complaint)
    assert is_feedback_report(arf)
    (feedback,) = read_feedback(arf)
    assert feedback.kind is FeedbackKind.COMPLAINT and feedback.is_complaint
    assert feedback.feedback_type == expected_type
    assert feedback.user_agent == USER_AGENT and feedback.version == "1"
    assert feedback.source_ip == complaint.source_ip
    assert feedback.arrival_date == complaint.arrival_date
    assert feedback.original_mail_from == complaint.original_mail_from
    assert reported_domains_read(feedback, complaint) == complaint.reported_domains
    assert feedback.reported_uri == complaint.reported_uris
    assert feedback.authentication_results == complaint.authentication_results
    assert "original-rcpt-to" not in feedback.fields
    assert feedback.incidents == 1 and not feedback.headers_only and not feedback.truncated
    # The intake writes the original out again (its bytes are compared above, cut from the report itself).
    assert feedback.original is not None
    assert header_fields(feedback.original) == header_fields(on_the_wire(fixture(name)))


def test_what_the_analysis_gives_each_field() -> None:
    """spam-ru-marketing: Exim recorded the client's port; the recipient's relay wrote Received-SPF."""
    complaint = complaint_of("spam-ru-marketing-dkim-authres-images.eml")
    assert complaint.source_ip == "66.202.209.213" and complaint.source_port == 59716
    assert complaint.original_mail_from == "noreply@ggg.com"
    assert complaint.arrival_date == datetime(2017, 7, 15, 9, 18, 41, tzinfo=UTC)
    # No trusted Authentication-Results: the SPF result is written under the name of the relay that received it.
    assert complaint.authentication_results == ("mx34.test.it; spf=pass smtp.mailfrom=ggg.com",)
    assert complaint.reported_domains[0] == "ggg.com"  # SPF pass, then the URLs' hosts
    assert "professionali.ru" in complaint.reported_domains
    assert all(uri.startswith("https://") for uri in complaint.reported_uris)
    assert len(complaint.reported_uris) <= 20

    ipv6 = complaint_of("spam-dmarc-reject-spoof-gmail-ipv6.eml")
    assert ipv6.source_ip == "2409:4063:231e:c527:1997:664a:34e5:7d88" and ipv6.source_port is None
    assert ipv6.arrival_date == datetime(2021, 6, 15, 9, 55, 43, tzinfo=UTC)

    gmail = complaint_of("ham-gmail-secureserver-authres-srs.eml")
    assert gmail.authentication_results == (
        "mx.google.com; spf=pass smtp.mailfrom=bounce.secureserver.net; dkim=pass header.d=yahoo.com header.s=s1024",
    )
    assert gmail.reported_domains[:2] == ("yahoo.com", "bounce.secureserver.net")

    untrusted = complaint_of("phishing-bbva-mx-spoof-replyto-authres.eml", VerdictCategory.PHISHING)
    assert untrusted.source_ip is None and untrusted.authentication_results == ()
    assert untrusted.arrival_date == REPORTED_AT  # no trusted hop: when the platform received the report
    assert b"Source-IP" not in arf_of(untrusted)


def test_the_headers_only_variant() -> None:
    name = "phishing-openphish-url-html.eml"
    arf = arf_of(complaint_of(name, VerdictCategory.PHISHING), headers_only=True)
    _, parts = parts_of(arf)
    assert [p.get_content_type() for p in parts] == ["text/plain", "message/feedback-report", "text/rfc822-headers"]
    _, content = raw_parts(arf)[2]
    assert content == header_block(on_the_wire(fixture(name))) + b"\r\n"
    assert b"<html" not in arf.lower().split(b"text/rfc822-headers", 1)[1]
    (feedback,) = read_feedback(arf)
    assert feedback.headers_only and feedback.is_complaint
    assert feedback.original is not None
    assert header_fields(feedback.original) == header_fields(on_the_wire(fixture(name)))
    # An original given as a header block only goes as one, whatever is asked.
    given = complaint_from_facts(
        facts_of(name),
        header_block(fixture(name)),
        category=VerdictCategory.PHISHING,
        report_id=REPORT_ID,
        reported_at=REPORTED_AT,
        original_is_headers=True,
    )
    assert parts_of(arf_of(given))[1][2].get_content_type() == "text/rfc822-headers"


def test_an_original_with_crlf_is_copied_byte_for_byte_and_8bit_is_declared() -> None:
    crlf = "phishing-openphish-url-html.eml"
    assert b"\r\n" in fixture(crlf)
    head, content = raw_parts(arf_of(complaint_of(crlf, VerdictCategory.PHISHING)))[2]
    assert content == fixture(crlf) and b"Content-Transfer-Encoding" not in head  # 7bit, the default
    eight_bit = "spam-cn-fake-invoice-utf8-body-declared-gb2312.eml"
    assert not fixture(eight_bit).isascii()
    head, content = raw_parts(arf_of(complaint_of(eight_bit)))[2]
    assert b"Content-Transfer-Encoding: 8bit" in head and content == on_the_wire(fixture(eight_bit))


def test_repeatable_fields_keep_their_order() -> None:
    complaint = Complaint(
        category=VerdictCategory.SPAM,
        report_id=REPORT_ID,
        arrival_date=datetime(2024, 2, 29, 23, 30, tzinfo=timezone(timedelta(hours=-5))),
        original=fixture("spam-dmarc-reject-spoof-gmail-ipv6.eml"),
        source_ip="192.0.2.7",
        original_mail_from="",
        original_envelope_id="QQ314159",
        reported_domains=("c.example", "a.example", "b.example"),
        reported_uris=("https://c.example/1", "http://a.example/2?x=(y)", "https://b.example/3#z"),
        authentication_results=("mx.example; spf=fail smtp.mailfrom=a.example", "mx.example; dkim=none"),
        incidents=3,
    )
    arf = arf_of(complaint)
    fields = report_fields_of(arf)
    assert fields.get_all("Reported-Domain") == ["c.example", "a.example", "b.example"]
    assert fields.get_all("Reported-URI") == list(complaint.reported_uris)
    assert fields.get_all("Authentication-Results") == list(complaint.authentication_results)
    assert fields["Original-Mail-From"] == "<>"  # the null reverse-path
    assert fields["Original-Envelope-Id"] == "QQ314159" and fields["Incidents"] == "3"
    assert fields["Arrival-Date"] == "Fri, 01 Mar 2024 04:30:00 +0000"
    (feedback,) = read_feedback(arf)
    assert feedback.reported_domain == complaint.reported_domains and feedback.reported_uri == complaint.reported_uris
    assert feedback.original_mail_from == "" and feedback.incidents == 3
    assert feedback.authentication_results == complaint.authentication_results


def test_a_long_authentication_results_is_folded_and_reads_back_the_same() -> None:
    value = "mx.example; " + "; ".join(f"dkim=pass header.d=d{i}.example header.s=selector{i}" for i in range(8))
    complaint = Complaint(
        category=VerdictCategory.SPAM,
        report_id=REPORT_ID,
        arrival_date=REPORTED_AT,
        original=fixture("spam-dmarc-reject-spoof-gmail-ipv6.eml"),
        authentication_results=(value,),
    )
    arf = arf_of(complaint)
    assert all(len(line) <= 998 for line in arf.split(b"\r\n"))
    assert b";\r\n dkim=pass" in arf
    assert report_fields_of(arf)["Authentication-Results"] == value
    assert read_feedback(arf)[0].authentication_results == (value,)


@pytest.mark.parametrize(("category", "expected"), [(c, t) for c, t in BY_VERDICT.items() if t is not None])
def test_the_intake_takes_each_feedback_type_as_a_complaint(category: VerdictCategory, expected: str) -> None:
    arf = arf_of(complaint_of("spam-2001-ip-literal-url.eml", category))
    assert is_feedback_report(arf)
    (feedback,) = read_feedback(arf)
    assert (feedback.kind, feedback.feedback_type) == (FeedbackKind.COMPLAINT, expected)


def test_the_same_complaint_gives_the_same_bytes_and_message_id() -> None:
    assert complaint_message_id(4242, 17, "signal-spam.example") == complaint_message_id(
        "4242", "17", "Signal-Spam.Example."
    )
    first = complaint_message_id(4242, 17, "signal-spam.example")
    assert re.fullmatch(r"<[0-9a-f-]{36}@signal-spam\.example>", first)
    assert first != complaint_message_id(4242, 18, "signal-spam.example")
    assert first != complaint_message_id(4243, 17, "signal-spam.example")
    assert complaint_report_id(1, 23) != complaint_report_id(12, 3)
    assert first == f"<{complaint_report_id(4242, 17)}@signal-spam.example>"
    complaint = complaint_of("spam-2001-ip-literal-url.eml")
    assert arf_of(complaint) == arf_of(complaint)  # a retry is the same message
    with pytest.raises(FeedbackError, match="domain"):
        complaint_message_id(1, 2, "not a domain")


def test_no_other_header_can_be_slipped_in() -> None:
    complaint = complaint_of("spam-2001-ip-literal-url.eml")
    for field, value in [
        ("subject", "Complaint\r\nBcc: everyone@example.org"),
        ("to_addr", "abuse@router.example\nBcc: x@example.org"),
        ("from_addr", "not an address"),
        ("message_id", "<no-at-sign>"),
    ]:
        envelope: dict[str, Any] = {
            "from_addr": "fbl@signal-spam.example",
            "to_addr": "abuse@router.example",
            "subject": "s",
            "message_id": "<a@signal-spam.example>",
            "date": SENT_AT,
            field: value,
        }
        with pytest.raises(FeedbackError):
            build_arf(complaint, **envelope)
    with pytest.raises(FeedbackError, match="timezone"):
        build_arf(
            complaint,
            from_addr="fbl@signal-spam.example",
            to_addr="abuse@router.example",
            subject="s",
            message_id="<a@signal-spam.example>",
            date=datetime(2024, 1, 1),
        )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"category": VerdictCategory.LEGITIMATE}, "never sent as a complaint"),
        ({"category": "spam"}, "not a VerdictCategory"),
        ({"report_id": "4242"}, "not a UUID"),
        ({"arrival_date": datetime(2024, 1, 1)}, "timezone-aware"),
        ({"original": b"  \r\n"}, "original is empty"),
        ({"source_ip": "300.1.2.3"}, "not an IP address"),
        ({"source_port": 70000}, "not a port"),
        ({"original_mail_from": "a b@example.org"}, "not an address"),
        ({"original_mail_from": "x@example.org>\r\nOriginal-Rcpt-To: <v@example.org"}, "not an address"),
        ({"reported_domains": ("exa mple.org",)}, "not a domain"),
        ({"reported_domains": ("192.0.2.1",)}, "not a domain"),
        ({"reported_uris": ("https://example.org/a b",)}, "cannot be written"),
        ({"reported_uris": ("https://example.org/" + "a" * 1000,)}, "cannot be written"),
        ({"reported_uris": ("http://[::1/broken",)}, "cannot be written"),
        ({"reported_uris": ("https://example.org/\r\nOriginal-Rcpt-To: v@example.org",)}, "cannot be written"),
        ({"authentication_results": ("mx.example;\r\n spf=pass",)}, "printable line"),
        ({"incidents": 0}, "positive"),
    ],
)
def test_a_wrong_complaint_is_refused_with_the_reason(change: dict[str, Any], message: str) -> None:
    values: dict[str, Any] = {
        "category": VerdictCategory.SPAM,
        "report_id": REPORT_ID,
        "arrival_date": REPORTED_AT,
        "original": fixture("spam-2001-ip-literal-url.eml"),
        **change,
    }
    with pytest.raises(FeedbackError, match=message):
        Complaint(**values)


def test_facts_are_picked_and_the_reporters_address_left_out() -> None:
    """An analysis document written by hand, in the shape of docs/analysis.md."""
    reporter = "Jeanne.Martin@example.org"
    facts = {
        "origin": {
            "ip": "198.51.100.23",
            "received_at": "2024-02-28T10:00:00+00:00",
            "hops": [
                {"ip": "192.0.2.1", "by_host": "mx.provider.example", "raw": "from a by mx.provider.example"},
                {
                    "ip": "198.51.100.23",
                    "by_host": "in.provider.example",
                    "raw": "from x.example ([198.51.100.23]:41234 helo=x) by in.provider.example with esmtp",
                },
            ],
        },
        "sender": {"return_path": "bounce-123@esp.example"},
        "authentication": {
            "authserv_id": "provider.example",
            "spf": {"result": "softfail", "domain": "esp.example"},
            "dkim": [
                {"result": "pass", "domain": "esp.example", "selector": "s1"},
                {"result": "fail", "domain": "forged.example", "selector": "x"},
            ],
            "dmarc": {"result": "pass", "domain": "shop.example"},
            "arc": None,
        },
        "urls": [
            {"url": "https://cdn.example/logo.png", "host": "cdn.example", "where": ["html:img"]},
            {"url": "https://shop.example/offer", "host": "shop.example", "where": ["html:a"]},
            {
                "url": "https://track.example/o?e=jeanne.martin%40example.org",
                "host": "track.example",
                "where": ["html:a"],
            },
            {
                "url": "https://track.example/u/" + base64.urlsafe_b64encode(reporter.encode()).decode(),
                "host": "track.example",
                "where": ["text"],
            },
            {"url": "https://steal.example/login", "host": "steal.example", "where": ["html:form", "html:a"]},
            {"url": "https://bank.example/", "host": "bank.example", "where": ["html:a"]},
            {"url": "https://ex.example/a b", "canonical": "https://ex.example/a%20b", "host": "ex.example"},
            {"url": "http://[::1/broken"},
            "not a url entry",
        ],
    }
    complaint = complaint_from_facts(
        facts,
        fixture("spam-2001-ip-literal-url.eml"),
        category=VerdictCategory.PHISHING,
        report_id=REPORT_ID,
        reported_at=REPORTED_AT,
        reporter_addresses=[reporter],
        benign_host=lambda host: host == "bank.example",
    )
    assert complaint.source_ip == "198.51.100.23" and complaint.source_port == 41234
    assert complaint.arrival_date == datetime(2024, 2, 28, 10, tzinfo=UTC)
    assert complaint.original_mail_from == "bounce-123@esp.example"
    assert complaint.reported_uris == (
        "https://steal.example/login",  # a form's action first
        "https://shop.example/offer",
        "https://ex.example/a%20b",  # the canonical form when the URL as written cannot go in a field
        "https://cdn.example/logo.png",  # images last
    )
    assert complaint.reported_domains == ("esp.example", "steal.example", "shop.example", "ex.example", "cdn.example")
    assert complaint.authentication_results == (
        "provider.example; spf=softfail smtp.mailfrom=esp.example; dkim=pass header.d=esp.example header.s=s1;"
        " dkim=fail header.d=forged.example header.s=x; dmarc=pass header.from=shop.example",
    )
    arf = arf_of(complaint)
    assert b"jeanne.martin" not in arf.lower() and b"Original-Rcpt-To" not in arf
    # The reporter as the envelope sender is left out too.
    facts["sender"] = {"return_path": "jeanne.martin@example.org"}
    again = complaint_from_facts(
        facts,
        fixture("spam-2001-ip-literal-url.eml"),
        category=VerdictCategory.SPAM,
        report_id=REPORT_ID,
        reported_at=REPORTED_AT,
        reporter_addresses=[reporter],
    )
    assert again.original_mail_from is None


def test_an_empty_or_broken_analysis_still_gives_a_complaint() -> None:
    broken: list[dict[str, Any]] = [{}, {"origin": None, "sender": "x", "authentication": [], "urls": {"a": 1}}]
    for facts in broken:
        complaint = complaint_from_facts(
            facts,
            fixture("spam-2001-ip-literal-url.eml"),
            category=VerdictCategory.SPAM,
            report_id=REPORT_ID,
            reported_at=REPORTED_AT,
        )
        assert complaint.source_ip is None and complaint.reported_uris == () and complaint.arrival_date == REPORTED_AT
        assert read_feedback(arf_of(complaint))[0].is_complaint


@settings(max_examples=40, deadline=None)
@given(
    domains=st.lists(st.from_regex(r"[a-z][a-z0-9]{0,10}\.(?:example|fr|com)", fullmatch=True), max_size=6),
    paths=st.lists(st.from_regex(r"/[A-Za-z0-9._~%!$&'()*+,;=:@/?-]{0,60}", fullmatch=True), max_size=6),
)
def test_any_valid_values_read_back_the_same(domains: list[str], paths: list[str]) -> None:
    uris = tuple(f"https://x.example{p}" for p in paths)
    complaint = Complaint(
        category=VerdictCategory.SPAM,
        report_id=REPORT_ID,
        arrival_date=REPORTED_AT,
        original=fixture("spam-dmarc-reject-spoof-gmail-ipv6.eml"),
        reported_domains=tuple(domains),
        reported_uris=uris,
    )
    arf = arf_of(complaint)
    fields = report_fields_of(arf)
    assert fields.get_all("Reported-Domain", []) == domains
    assert tuple(fields.get_all("Reported-URI", [])) == uris
    (feedback,) = read_feedback(arf)
    assert reported_domains_read(feedback, complaint) == tuple(dict.fromkeys(domains))
    assert feedback.reported_uri == uris


# --- X-ARF ---


def test_an_xarf_spam_report_is_valid_and_carries_the_complaint() -> None:
    name = "spam-ru-marketing-dkim-authres-images.eml"
    complaint = complaint_of(name)
    data = build_xarf(complaint, reporter=ASSOCIATION)
    report = parse_xarf(data)
    assert (report.category, report.type) == ("messaging", "spam")
    assert report.report_id == REPORT_ID and report.reported_at == complaint.arrival_date
    assert (report.source_identifier, report.source_port) == ("66.202.209.213", 59716)
    assert report.reporter_domain == report.sender_domain == "signal-spam.example"
    document = json.loads(data)
    assert document["protocol"] == "smtp" and document["smtp_from"] == "noreply@ggg.com"
    assert document["evidence_source"] == "user_complaint"
    assert document["message_id"] == "<20170715091841.33B7F81021@smtp11.ggg.com>"
    assert document["subject"].startswith("Быстрее")
    assert document["spam_indicators"]["suspicious_links"] == list(complaint.reported_uris)
    assert "smtp_to" not in document  # the reporter's address
    (evidence,) = report.evidence
    assert evidence.content_type == "message/rfc822" and evidence.payload == on_the_wire(fixture(name))
    assert evidence.hash == "sha256:" + hashlib.sha256(evidence.payload).hexdigest()
    assert build_xarf(complaint, reporter=ASSOCIATION) == data  # a retry is the same document


def test_an_xarf_spam_report_without_the_client_port_says_the_smtp_port() -> None:
    complaint = complaint_of("spam-dmarc-reject-spoof-gmail-ipv6.eml")
    report = parse_xarf(build_xarf(complaint, reporter=ASSOCIATION, headers_only=True))
    assert report.source_port == 25 and report.source_identifier == complaint.source_ip
    (evidence,) = report.evidence
    assert evidence.content_type == "text/rfc822-headers"
    assert evidence.payload == header_block(on_the_wire(fixture("spam-dmarc-reject-spoof-gmail-ipv6.eml"))) + b"\r\n"


def test_an_xarf_phishing_report_names_the_page() -> None:
    complaint = complaint_of("phishing-openphish-url-html.eml", VerdictCategory.PHISHING)
    assert xarf_type(complaint) == ("content", "phishing")
    provider = Organization("Mailbox Provider", "fbl@mailbox.example", "mailbox.example")
    data = build_xarf(complaint, reporter=provider, sender=ASSOCIATION)
    report = parse_xarf(data)
    assert (report.category, report.type) == ("content", "phishing")
    assert (report.reporter_domain, report.sender_domain) == ("mailbox.example", "signal-spam.example")
    document = json.loads(data)
    assert document["url"] == complaint.reported_uris[0] and document["url"].startswith("https://ottobenecker.org/")
    assert document["domain"] == "ottobenecker.org"
    assert document["source_identifier"] == "8.8.8.8"
    assert document["tags"] == ["feedback-type:fraud", "verdict:phishing"]
    assert report.evidence[0].payload == fixture("phishing-openphish-url-html.eml")


def test_an_xarf_scam_report_with_a_url_is_content_fraud() -> None:
    complaint = complaint_of("spam-html-moneytrack-top.eml", VerdictCategory.SCAM)
    report = parse_xarf(build_xarf(complaint, reporter=ASSOCIATION))
    assert (report.category, report.type) == ("content", "fraud")
    assert report.document["fraud_type"] == "other"


def test_phishing_without_a_url_and_malware_are_reported_as_the_message() -> None:
    no_url = complaint_of("spam-dmarc-reject-spoof-gmail-ipv6.eml", VerdictCategory.PHISHING)
    assert no_url.reported_uris == () and xarf_type(no_url) == ("messaging", "spam")
    report = parse_xarf(build_xarf(no_url, reporter=ASSOCIATION))
    assert report.document["smtp_from"] == "test@dmarc3.spamassassin.org"
    assert report.document["tags"] == ["feedback-type:fraud", "verdict:phishing"]
    malware = complaint_of("phishing-ru-tax-lure-zip-malspam.eml", VerdictCategory.MALWARE)
    report = parse_xarf(build_xarf(malware, reporter=ASSOCIATION))
    assert (report.type, report.document["tags"]) == ("spam", ["feedback-type:virus", "verdict:malware"])


def test_a_wrong_xarf_input_is_refused_clearly() -> None:
    no_sender = complaint_of("phishing-phishtank-url-html-no-content-type.eml", VerdictCategory.SPAM)
    assert no_sender.original_mail_from is None
    with pytest.raises(FeedbackError, match=r"envelope sender \(smtp_from\)"):
        build_xarf(no_sender, reporter=ASSOCIATION)
    complaint = complaint_of("spam-ru-marketing-dkim-authres-images.eml")
    with pytest.raises(FeedbackError, match=r"\$\.reporter\.contact"):
        build_xarf(complaint, reporter=Organization("Signal Spam", "not-an-address", "signal-spam.example"))
    with pytest.raises(FeedbackError, match=r"\$\.sender\.domain"):
        build_xarf(complaint, reporter=ASSOCIATION, sender=Organization("X", "a@x.example", "not a host"))
    # No trusted origin, no authenticated domain, no URL: nothing to name as the source (nor to match a member).
    untrusted = complaint_of("phishing-bbva-mx-spoof-replyto-authres.eml", VerdictCategory.PHISHING)
    with pytest.raises(FeedbackError, match="source_identifier"):
        build_xarf(untrusted, reporter=ASSOCIATION)
    nowhere = Complaint(
        category=VerdictCategory.SPAM,
        report_id=REPORT_ID,
        arrival_date=REPORTED_AT,
        original=fixture("spam-2001-ip-literal-url.eml"),
        original_mail_from="a@example.org",
    )
    with pytest.raises(FeedbackError, match="source_identifier"):
        build_xarf(nowhere, reporter=ASSOCIATION)


@pytest.mark.parametrize("name", sorted(p.name for p in MAIL.glob("*.eml")))
def test_every_real_message_makes_a_report_or_a_clear_refusal(name: str) -> None:
    complaint = complaint_of(name, VerdictCategory.PHISHING)
    arf = arf_of(complaint)
    assert all(len(line) <= 998 for line in header_block(arf).split(b"\r\n"))
    assert raw_parts(arf)[2][1] == on_the_wire(fixture(name))
    assert [p.get_content_type() for p in parts_of(arf)[1]][:2] == ["text/plain", "message/feedback-report"]
    feedbacks = read_feedback(arf)
    assert feedbacks[0].is_complaint and feedbacks[0].feedback_type == "fraud"
    assert feedbacks[0].reported_uri == complaint.reported_uris
    if complaint.source_ip is None and not complaint.reported_domains and not complaint.reported_uris:
        with pytest.raises(FeedbackError, match="source_identifier"):
            build_xarf(complaint, reporter=ASSOCIATION)
    elif not complaint.reported_uris and not complaint.original_mail_from:
        with pytest.raises(FeedbackError, match="smtp_from"):
            build_xarf(complaint, reporter=ASSOCIATION)
    else:
        assert parse_xarf(build_xarf(complaint, reporter=ASSOCIATION)).report_id == REPORT_ID
