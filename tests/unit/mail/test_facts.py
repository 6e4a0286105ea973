"""Header facts on well-formed, odd and hostile messages."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from benchmarks.mailgen import messages
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.facts import header_facts, is_feedback_report, not_a_message_reason


def test_generated_message_facts() -> None:
    raw = next(messages(1, seed=11))
    facts = header_facts(raw)
    assert facts.size == len(raw)
    assert facts.from_ and facts.from_[0].startswith("service@")
    assert facts.to and facts.to[0].endswith("@example.org")
    assert facts.date is not None and facts.date.startswith("2026-")
    assert facts.content_type == "multipart/mixed"
    assert [p.content_type for p in facts.parts[:4]] == [
        "multipart/mixed",
        "multipart/alternative",
        "text/plain",
        "text/html",
    ]
    assert facts.defects == []


def test_encoded_words_are_decoded_and_display_names_with_commas_kept_apart() -> None:
    raw = (
        b"From: =?utf-8?q?Service_client=2C_La_Poste?= <noreply@example.net>\r\n"
        b'To: a@example.org, "Dupont, Jean" <jean@example.org>\r\n'
        b"Subject: =?utf-8?b?Vm90cmUgY29saXMgZXN0IGJsb3F1w6k=?=\r\n"
        b"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n\r\nbody\r\n"
    )
    facts = header_facts(raw)
    assert facts.from_ == ["noreply@example.net"]
    assert facts.to == ["a@example.org", "jean@example.org"]
    assert facts.subject == "Votre colis est bloqué"
    assert facts.date == "2026-11-03T10:00:00+01:00"


def test_defects_are_recorded_not_raised() -> None:
    raw = (
        b"Subject: no from, bad date, unknown charset\r\n"
        b"Date: the day after tomorrow\r\n"
        b"Content-Type: multipart/mixed\r\n\r\n"  # a multipart without a boundary
        b"--x\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\n\xff\xfe\r\n--x--\r\n"
    )
    facts = header_facts(raw)
    assert "MissingFrom" in facts.defects
    assert "InvalidDate" in facts.defects
    assert "NoBoundaryInMultipartDefect" in facts.defects
    assert facts.date_raw == "the day after tomorrow"


def test_deeply_nested_message_is_bounded() -> None:
    depth = 2000
    head = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    raw = b"From: a@example.org\r\n" + head + b"Content-Type: text/plain\r\n\r\nx\r\n"
    facts = header_facts(raw)
    assert len(facts.parts) <= 500


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"   \r\n\r\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "NUL"),
        (b"Hello, this is just a sentence.\r\n", "does not start with a header"),
        (b'{"json": true}', "no message header"),
        (b"X-Custom: 1\r\nX-Other: 2\r\n\r\nbody", "no message header"),
    ],
)
def test_not_a_message(raw: bytes, reason: str) -> None:
    found = not_a_message_reason(raw)
    assert found is not None and reason in found


def test_messages_are_messages() -> None:
    assert not_a_message_reason(b"From: a@example.org\r\n\r\nhi") is None
    assert not_a_message_reason(b"From MAILER-DAEMON Thu Nov  5 10:00:00 2026\nSubject: x\n\nhi") is None
    assert not_a_message_reason(b"Received: from x by y; Thu, 5 Nov 2026 10:00:00 +0000\r\nSubject: x\r\n\r\n") is None


def _arf() -> bytes:
    report = EmailMessage()
    report["From"] = "fbl@isp.example"
    report["To"] = "fbl@signalement.example"
    report["Subject"] = "FW: spam"
    report.set_type("multipart/report")
    report.set_param("report-type", "feedback-report")
    return report.as_bytes()


def test_feedback_report_is_recognized() -> None:
    assert is_feedback_report(_arf())
    assert not is_feedback_report(next(messages(1)))
    assert header_facts(_arf()).is_arf


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_give_facts_or_a_reason_never_an_exception(raw: bytes) -> None:
    not_a_message_reason(raw)
    header_facts(raw)
    is_feedback_report(raw)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                b"From: ",
                b"a@b.example",
                b"\r\n",
                b"Content-Type: multipart/mixed; boundary=",
                b'"x"',
                b"--x",
                b"=?utf-8?q?=FF?=",
                b"\xff",
                b"Subject: ",
                b"\r\n\r\n",
                b"Date: ",
            ]
        ),
        max_size=60,
    )
)
def test_mail_shaped_noise_never_raises(chunks: list[bytes]) -> None:
    raw = b"".join(chunks)
    header_facts(raw).as_json()
