"""First looks at raw bytes and header decoding, on well-formed, odd and hostile messages."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from benchmarks.mailgen import messages
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.facts import decode, is_feedback_report, not_a_message_reason
from signalement.mail.understanding import understand


def test_encoded_words_are_decoded_and_display_names_with_commas_kept_apart() -> None:
    raw = (
        b"From: =?utf-8?q?Service_client=2C_La_Poste?= <noreply@example.net>\r\n"
        b'To: a@example.org, "Dupont, Jean" <jean@example.org>\r\n'
        b"Subject: =?utf-8?b?Vm90cmUgY29saXMgZXN0IGJsb3F1w6k=?=\r\n"
        b"Date: Tue, 3 Nov 2026 10:00:00 +0100\r\n\r\nbody\r\n"
    )
    result = understand(raw).as_json()
    assert [a["address"] for a in result["sender"]["from"]] == ["noreply@example.net"]
    assert result["sender"]["from"][0]["display_name"] == "Service client, La Poste"
    assert result["subject"] == "Votre colis est bloqué"
    assert decode("=?iso-8859-1?q?=E9t=E9?=") == "été"
    assert decode("=?x-unknown?b?////?=")  # an unknown charset still gives text


def test_defects_are_recorded_not_raised() -> None:
    raw = (
        b"Subject: no from, bad date, unknown charset\r\n"
        b"Date: the day after tomorrow\r\n"
        b"Content-Type: multipart/mixed\r\n\r\n"  # a multipart without a boundary
        b"--x\r\nContent-Type: text/plain; charset=x-unknown-charset\r\n\r\n\xff\xfe\r\n--x--\r\n"
    )
    result = understand(raw).as_json()
    assert "NoBoundaryInMultipartDefect" in result["defects"]
    assert "no-from" in result["sender"]["flags"]
    assert result["date"] == "the day after tomorrow"


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


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4096))
def test_any_bytes_give_facts_or_a_reason_never_an_exception(raw: bytes) -> None:
    not_a_message_reason(raw)
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
    is_feedback_report(raw)
    assert not [d for d in understand(raw).as_json()["defects"] if d.startswith("StageError")]
