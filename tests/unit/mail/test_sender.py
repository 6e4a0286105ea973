"""Sender-controlled identity fields and their cheap inconsistency flags."""

from __future__ import annotations

import email
from email.message import Message
from email.policy import compat32

from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.sender import sender


def message(raw: bytes) -> Message:
    return email.message_from_bytes(raw + b"\r\n\r\nbody\r\n", policy=compat32)


def test_sender_fields() -> None:
    msg = message(
        b"From: =?utf-8?q?Service_client_=E2=80=93_support=40bank=2Eexample?= <no-reply@Mail.Example.NET>\r\n"
        b"Reply-To: helper@example.com, other@sub.example.net\r\n"
        b"Return-Path: <bounce+abc@bounces.example.org>\r\n"
        b"Sender: robot@example.net\r\n"
        b"Message-ID: <abc.123@mta.Example.org>\r\n"
        b"List-Unsubscribe: <mailto:unsub@example.net?subject=u>,\r\n <https://example.net/u?id=1>\r\n"
        b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
        b"List-Id: News <news.example.net>\r\n"
        b"Feedback-ID: 123:campaign:mailer:SenderId42\r\n"
        b"CFBL-Address: fbl@example.net; report=arf\r\n"
        b"CFBL-Feedback-ID: 111:222\r\n"
        b"X-Mailer: PHPMailer 6.9.1 (https://github.com/PHPMailer/PHPMailer)"
    )
    result = sender(msg)
    assert result.from_domain == "mail.example.net"
    assert result.from_[0].address == "no-reply@mail.example.net"
    assert result.from_[0].display_name == "Service client – support@bank.example"
    assert result.reply_to_domains == ["example.com", "sub.example.net"]
    assert (result.return_path, result.return_path_domain) == ("bounce+abc@bounces.example.org", "bounces.example.org")
    assert result.sender is not None and result.sender.domain == "example.net"
    assert result.message_id_domain == "mta.example.org"
    assert result.unsubscribe_mailto == ["mailto:unsub@example.net?subject=u"]
    assert result.unsubscribe_http == ["https://example.net/u?id=1"]
    assert result.unsubscribe_post == "List-Unsubscribe=One-Click"
    assert result.list_id == "News <news.example.net>"
    assert result.feedback_id is not None and result.feedback_id.sender_id == "SenderId42"
    assert result.feedback_id.fields == ("123", "campaign", "mailer", "SenderId42")
    assert result.cfbl_address == "fbl@example.net; report=arf" and result.cfbl_feedback_id == "111:222"
    assert result.mailer is not None and result.mailer.startswith("PHPMailer")
    assert set(result.flags) == {
        "display-name-address-mismatch",
        "reply-to-domain-differs",
        "return-path-domain-differs",
    }
    assert result.as_json()["from"][0]["domain"] == "mail.example.net"


def test_multiple_from_idn_and_raw_bytes() -> None:
    result = sender(message(b"From: a@example.net, \xc3\xa9lise <b@\xc3\xa9xample.fr>\r\nX-Mailer: caf\xe9"))
    assert [a.domain for a in result.from_] == ["example.net", "xn--xample-9ua.fr"]
    assert "multiple-from" in result.flags
    assert result.mailer is not None and "\ufffd" in result.mailer


def test_unquoted_comma_in_display_name_is_one_sender() -> None:
    result = sender(message(b"From: Microsoft account team ,_<no-reply@example.net>"))
    assert [a.address for a in result.from_] == ["no-reply@example.net"]
    assert "multiple-from" not in result.flags


def test_no_from() -> None:
    result = sender(message(b"Subject: x"))
    assert result.from_ == [] and result.from_domain is None and result.flags == ("no-from",)


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_never_raise(value: bytes) -> None:
    clean = value.replace(b"\r", b" ").replace(b"\n", b" ")
    msg = message(
        b"From: "
        + clean
        + b"\r\nReply-To: "
        + clean
        + b"\r\nReturn-Path: "
        + clean
        + b"\r\nList-Unsubscribe: "
        + clean
        + b"\r\nFeedback-ID: "
        + clean
        + b"\r\nMessage-ID: "
        + clean
    )
    sender(msg).as_json()
