"""ARF feedback reports (tests/fixtures/arf, provenance in its README.md): every variant, kind and bound."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.arf import (
    MAX_DEPTH,
    MAX_ORIGINAL,
    MAX_VALUES,
    Feedback,
    FeedbackKind,
    might_carry_feedback,
    read_feedback,
)
from signalement.mail.facts import is_feedback_report

FIXTURES = Path(__file__).parents[2] / "fixtures"
ARF = FIXTURES / "arf"


@cache
def raw(name: str) -> bytes:
    return (ARF / name).read_bytes()


def one(name: str) -> Feedback:
    reports = read_feedback(raw(name))
    assert len(reports) == 1
    return reports[0]


def test_rfc5965_minimal_report_recovers_what_the_original_states() -> None:
    report = one("rfc5965-b1-minimal.eml")
    assert (report.kind, report.feedback_type, report.user_agent, report.version) == (
        FeedbackKind.COMPLAINT,
        "abuse",
        "SomeGenerator/1.0",
        "1",
    )
    # No Source-IP in the report: the embedded Received field names 192.0.2.1, and it must not be believed.
    assert report.source_ip is None
    assert report.recovered == ("arrival-date", "reported-domain")
    assert report.arrival_date == datetime(2004, 9, 2, 17, 31, 3, tzinfo=UTC)
    assert report.reported_domain == ("example.net",)
    assert report.original_mail_from is None  # no Return-Path in the original
    assert report.original is not None and report.original.startswith(b"Received: from mailserver.example.net")
    assert report.original.rstrip().endswith(b"Spam Spam Spam")
    assert not report.headers_only and report.incidents == 1


def test_rfc5965_optional_fields() -> None:
    report = one("rfc5965-b2-optional-fields.eml")
    assert report.source_ip == "192.0.2.1"
    assert report.original_mail_from == "somespammer@example.net"
    assert report.original_rcpt_to == ("user@example.com",)
    assert report.arrival_date == datetime(2005, 3, 8, 18, 0, tzinfo=UTC)  # EDT is -0400
    assert report.reported_uri == ("http://example.net/earn_money.html", "mailto:user@example.com")
    assert report.authentication_results == ("mail.example.com; spf=fail smtp.mail=somespammer@example.com",)
    assert report.fields["removal-recipient"] == ("user@example.com",)
    assert report.fields["reporting-mta"] == ("dns; mail.example.com",)
    assert report.recovered == ()


def test_auth_failure_report_is_kept_apart_with_its_header_block() -> None:
    report = one("rfc6591-auth-failure-dkim.eml")
    assert report.kind is FeedbackKind.AUTH_FAILURE and not report.is_complaint
    assert report.headers_only
    assert report.original is not None and b"DKIM-Signature:" in report.original
    assert report.fields["auth-failure"] == ("bodyhash",)
    assert report.fields["dkim-selector"] == ("news",)
    assert report.arrival_date == datetime(2010, 4, 14, 19, 15, 31, tzinfo=UTC)  # Received-Date, with a comment


def test_dmarc_failure_report_is_its_own_kind() -> None:
    report = one("rfc7489-dmarc-failure.eml")
    assert report.kind is FeedbackKind.DMARC_FAILURE and not report.is_complaint
    assert report.feedback_type == "auth-failure"
    assert report.fields["identity-alignment"] == ("none",)
    assert report.authentication_results[0].startswith("receiver.example.org; dmarc=fail")


@pytest.mark.parametrize(
    ("fields", "kind"),
    [
        ("Feedback-Type: auth-failure\nAuth-Failure: dmarc\n", FeedbackKind.DMARC_FAILURE),
        ("Feedback-Type: auth-failure\nIdentity-Alignment: dkim, spf\n", FeedbackKind.DMARC_FAILURE),
        ("Feedback-Type: auth-failure\nAuth-Failure: spf\n", FeedbackKind.AUTH_FAILURE),
        ("Feedback-Type: AUTH-FAILURE\n", FeedbackKind.AUTH_FAILURE),
        ("Feedback-Type: not-spam\n", FeedbackKind.NOT_SPAM),
        ("Feedback-Type: fraud\n", FeedbackKind.COMPLAINT),
        ("Feedback-Type: virus\n", FeedbackKind.COMPLAINT),
        ("Feedback-Type: opt-out\n", FeedbackKind.COMPLAINT),
        ("Feedback-Type: Abuse (user clicked)\n", FeedbackKind.COMPLAINT),
        ("Feedback-Type: other\n", FeedbackKind.OTHER),
        ("Feedback-Type: something-new\n", FeedbackKind.OTHER),
        ("User-Agent: no type at all\n", FeedbackKind.OTHER),
    ],
)
def test_kinds(fields: str, kind: FeedbackKind) -> None:
    (report,) = read_feedback(_report(fields))
    assert report.kind is kind


def test_not_spam_is_kept_as_such() -> None:
    report = one("rfc6430-not-spam.eml")
    assert (report.kind, report.feedback_type, report.source_ip) == (FeedbackKind.NOT_SPAM, "not-spam", "192.0.2.7")


def test_yahoo_received_date_and_version_0_1() -> None:
    report = one("yahoo-cfl.eml")
    assert (report.user_agent, report.version) == ("Yahoo!-Mail-Feedback/2.0", "0.1")
    assert report.arrival_date == datetime(2026, 11, 3, 11, 59, 12, tzinfo=UTC)  # "PST"
    assert report.original_rcpt_to == ("redacted@yahoo.example",)
    assert report.kind is FeedbackKind.COMPLAINT and report.recovered == ()


def test_real_yahoo_report_with_an_empty_field() -> None:
    report = one("../mail/arf-yahoo-abuse-fbl-anonymized.eml")
    assert (report.feedback_type, report.original_mail_from) == ("abuse", "shironeko@example.com")
    assert report.authentication_results == () and report.fields["authentication-results"] == ("",)
    assert report.original is not None and b"Subject: Nyaaaaaaaan" in report.original


def test_real_hotmail_auth_failure_keeps_the_original_byte_for_byte() -> None:
    data = raw("../mail/arf-hotmail-auth-failure-via-google-groups.eml")
    report = one("../mail/arf-hotmail-auth-failure-via-google-groups.eml")
    assert report.kind is FeedbackKind.AUTH_FAILURE and report.source_ip == "128.91.234.50"
    assert report.original is not None and report.original in data  # folding and trailing spaces untouched


def test_microsoft_jmrp_three_fields_and_everything_else_recovered() -> None:
    report = one("microsoft-jmrp.eml")
    assert (report.feedback_type, report.user_agent, report.version) == ("abuse", "Hotmail FBL", "0.1")
    assert report.source_ip is None  # the Received of 203.0.113.45 is not read
    assert report.recovered == ("original-mail-from", "original-rcpt-to", "arrival-date", "reported-domain")
    assert report.original_mail_from == "bounce+c81@mailer.example.com"
    assert report.original_rcpt_to == ("complainer@hotmail.example",)
    assert report.reported_domain == ("shop.example.com",)
    assert report.arrival_date == datetime(2026, 11, 4, 16, 9, 58, tzinfo=UTC)


def test_aol_redacted_report() -> None:
    report = one("aol-scomp.eml")
    assert (report.user_agent, report.source_ip) == ("AOL SComp", "198.51.100.77")
    assert report.fields["redacted-address"] == ("redacted", "redacted@")
    assert report.recovered == ("original-mail-from", "original-rcpt-to")
    assert report.original_mail_from == "list-owner@lists.example.org"
    assert report.original_rcpt_to == ("redacted@aol.example",)
    assert report.arrival_date == datetime(2026, 11, 5, 14, 58, 2, tzinfo=UTC)


def test_folded_commented_repeated_fields() -> None:
    report = one("comcast-returnpath-folded-comments.eml")
    assert report.feedback_type == "abuse" and report.version == "1"
    assert report.source_ip == "2001:db8::25"
    assert report.incidents == 3
    assert report.original_mail_from == "shipping@store.example.com"
    assert report.original_rcpt_to == ("customer1@comcast.example", "customer2@comcast.example")
    # Parentheses inside a URI are part of it, not a comment.
    assert report.reported_uri == ("https://store.example.com/track?id=1(2)", "https://cdn.example.com/img/logo.png")
    assert report.authentication_results == (
        "mx.comcast.example; spf=pass smtp.mailfrom=store.example.com; dkim=pass header.d=store.example.com",
        "mx.comcast.example; dmarc=pass header.from=store.example.com",
    )


def test_several_feedback_parts_each_with_its_original() -> None:
    reports = read_feedback(raw("several-feedback-parts.eml"))
    assert [r.source_ip for r in reports] == ["192.0.2.11", "192.0.2.12"]
    assert [r.original_mail_from for r in reports] == ["bulk1@sender.example.com", "bulk2@sender.example.com"]
    assert all(r.original and b"Subject: Offer" in r.original for r in reports)


def test_a_digest_of_reports_of_every_kind() -> None:
    reports = read_feedback(raw("digest-of-reports.eml"))
    assert [r.kind for r in reports] == [FeedbackKind.COMPLAINT, FeedbackKind.NOT_SPAM, FeedbackKind.AUTH_FAILURE]
    assert [r.source_ip for r in reports] == ["192.0.2.21", "192.0.2.22", "192.0.2.23"]


def test_reports_forwarded_as_attachments_in_a_mixed_message() -> None:
    reports = read_feedback(raw("mixed-forward-of-reports.eml"))
    assert [(r.feedback_type, r.source_ip) for r in reports] == [("fraud", "192.0.2.24"), ("fraud", "192.0.2.25")]
    assert might_carry_feedback(raw("mixed-forward-of-reports.eml"))
    assert not is_feedback_report(raw("mixed-forward-of-reports.eml"))  # the top level is not a report


def test_the_original_of_a_report_is_not_searched_for_reports() -> None:
    inner = _report("Feedback-Type: abuse\nSource-IP: 192.0.2.1\n")
    outer = _report("Feedback-Type: other\nSource-IP: 192.0.2.2\n", original=inner)
    assert [r.source_ip for r in read_feedback(outer)] == ["192.0.2.2"]


def test_a_report_without_its_original() -> None:
    report = one("no-original.eml")
    assert report.original is None and not report.headers_only and report.recovered == ()
    assert report.source_ip == "192.0.2.1"


def test_base64_encoded_message_parts_are_decoded() -> None:
    report = one("base64-encoded-parts.eml")
    assert report.source_ip == "192.0.2.1" and report.reported_uri[0] == "http://example.net/earn_money.html"
    assert report.original is not None and report.original.startswith(b"From: <somespammer@example.net>")


def test_wrong_content_types_still_read() -> None:
    report = one("hostile-wrong-content-types.eml")
    assert report.source_ip == "192.0.2.1"
    assert report.original is not None and b"Subject: Earn money" in report.original


def test_truncated_mime_keeps_what_arrived() -> None:
    report = one("hostile-truncated.eml")
    assert report.source_ip == "192.0.2.1"
    assert report.original is not None and report.original.rstrip().endswith(b"Subject: Ear")


def test_missing_parts_give_nothing() -> None:
    assert read_feedback(raw("hostile-no-boundary.eml")) == []


def test_bad_values_are_dropped_not_guessed() -> None:
    report = one("hostile-bad-values.eml")
    assert report.feedback_type == "" and report.kind is FeedbackKind.OTHER
    assert report.source_ip is None and report.user_agent is None
    assert report.incidents == 1
    assert report.original_mail_from == ""  # the null reverse-path <>
    assert report.original_rcpt_to == ()
    assert report.recovered == ("arrival-date", "reported-domain")  # both unreadable in the report
    assert report.authentication_results == ()


def test_many_fields_are_capped_and_later_fields_still_read() -> None:
    report = one("hostile-many-fields.eml")
    assert len(report.reported_uri) == MAX_VALUES and report.truncated
    assert report.source_ip == "192.0.2.99"
    assert len(report.fields) <= 100


def test_100000_reported_uris() -> None:
    fields = "Feedback-Type: abuse\n" + "Reported-URI: http://example.com/x\n" * 100_000 + "Source-IP: 192.0.2.5\n"
    start = time.perf_counter()
    (report,) = read_feedback(_report(fields))
    assert time.perf_counter() - start < 5
    assert len(report.reported_uri) == MAX_VALUES and report.truncated


def test_a_5_mb_report() -> None:
    body = ("Spam " * 15 + "\n") * 70_000  # about 5.3 MB
    data = _report("Feedback-Type: abuse\nSource-IP: 192.0.2.5\n", original=f"Subject: big\n\n{body}".encode())
    assert len(data) > 5_000_000
    start = time.perf_counter()
    (report,) = read_feedback(data)
    assert time.perf_counter() - start < 5
    assert report.original is not None and len(report.original) > 5_000_000 and not report.truncated


def test_an_original_over_the_bound_is_cut() -> None:
    data = _report("Feedback-Type: abuse\n", original=b"Subject: x\n\n" + b"a" * (MAX_ORIGINAL + 10))
    (report,) = read_feedback(data)
    assert report.original is not None and len(report.original) == MAX_ORIGINAL and report.truncated


def test_deep_nesting_is_bounded() -> None:
    message = _report("Feedback-Type: abuse\n")
    for _ in range(MAX_DEPTH + 3):
        message = _wrap(message)
    assert read_feedback(message) == []
    message = _report("Feedback-Type: abuse\n")
    for _ in range(2):
        message = _wrap(message)
    assert len(read_feedback(message)) == 1


def test_very_deep_multipart_nesting_never_raises() -> None:
    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(3000))
    read_feedback(b"From: a@example.com\r\nMIME-Version: 1.0\r\n" + head + b"feedback-report")


def test_as_json_is_json() -> None:
    document = one("rfc5965-b2-optional-fields.eml").as_json()
    assert json.loads(json.dumps(document)) == document
    assert document["kind"] == "complaint" and document["arrival_date"] == "2005-03-08T18:00:00+00:00"
    assert document["original_size"] > 0 and len(document["original_sha256"]) == 64
    assert document["fields"]["reported-uri"] == ["http://example.net/earn_money.html", "mailto:user@example.com"]


def test_a_plain_message_is_not_a_report() -> None:
    plain = b"From: a@example.com\r\nSubject: hi\r\n\r\nWe sent a feedback-report yesterday.\r\n"
    assert read_feedback(plain) == []
    assert read_feedback(b"From: a@example.com\r\nSubject: hi\r\n\r\nhi\r\n") == []


@pytest.mark.parametrize("name", sorted(p.name for p in ARF.glob("*.eml")))
def test_every_fixture_is_read_without_error(name: str) -> None:
    for report in read_feedback(raw(name)):
        json.dumps(report.as_json())
        assert report.arrival_date is None or report.arrival_date.tzinfo is UTC


def test_is_feedback_report_still_answers_for_a_report() -> None:
    assert is_feedback_report(raw("rfc5965-b1-minimal.eml"))
    assert might_carry_feedback(raw("rfc5965-b1-minimal.eml"))


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_any_bytes_after_a_report_header_never_raise(noise: bytes) -> None:
    head = b'MIME-Version: 1.0\r\nContent-Type: multipart/report; report-type=feedback-report; boundary="b"\r\n\r\n'
    read_feedback(head + noise)
    read_feedback(noise + b"feedback-report")


@settings(max_examples=150, deadline=None)
@given(st.integers(min_value=0, max_value=3500))
def test_every_truncation_of_a_report_never_raises(cut: int) -> None:
    data = raw("comcast-returnpath-folded-comments.eml")
    read_feedback(data[:cut])


def _report(fields: str, original: bytes | str | None = None) -> bytes:
    """A multipart/report built around these fields; the original is a short spam unless given."""
    if original is None:
        original = "Return-Path: <s@example.net>\nFrom: s@example.net\nTo: u@example.com\nSubject: x\n\nspam\n"
    body = original if isinstance(original, bytes) else original.encode()
    zz = b"zz%d" % len(body)  # a report inside a report needs its own boundary
    return (
        b"From: fbl@example.org\nMIME-Version: 1.0\nContent-Type: multipart/report; report-type=feedback-report;"
        b' boundary="%s"\n\n--%s\nContent-Type: text/plain\n\nA report.\n--%s\n'
        % (zz, zz, zz)
        + b"Content-Type: message/feedback-report\n\n"
        + fields.encode()
        + b"\n--%s\nContent-Type: message/rfc822\n\n" % zz
        + body
        + b"\n--%s--\n" % zz
    )


def _wrap(message: bytes) -> bytes:
    return (
        b'From: fwd@example.org\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="w%d"\n\n--w%d\n'
        b"Content-Type: message/rfc822\n\n" % (len(message), len(message)) + message + b"\n--w%d--\n" % len(message)
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [("7", 7), ("0", 1), ("-4", 1), ("²", 1), ("1" * 5000, 1_000_000_000), ("12 (twelve)", 12), ("x", 1)],
)
def test_incidents(value: str, expected: int) -> None:
    (report,) = read_feedback(_report(f"Feedback-Type: abuse\nIncidents: {value}\n"))
    assert report.incidents == expected
