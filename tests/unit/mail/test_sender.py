"""Sender-controlled identity fields and their cheap inconsistency flags."""

from __future__ import annotations

import dataclasses
import email
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.facts import decode
from signalement.mail.sender import _SIMPLE, MAX_ADDRESSES, MAX_TEXT, _addresses, _split_address, sender


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


def _as_before(value: str) -> list[tuple[str | None, str | None, str | None]]:
    """The addresses as read before the shortcuts: _SIMPLE, else the stdlib parser; then the same clean-up."""
    text = " ".join(value.split())
    match = _SIMPLE.fullmatch(text)
    if match:
        quoted, plain, bracketed, bare = match.groups()
        pairs = [((quoted if quoted is not None else plain or "").strip(), bracketed or bare)]
    else:
        pairs = getaddresses([text])
    out = []
    for name, addr in pairs[:MAX_ADDRESSES]:
        if not addr and not name:
            continue
        address, domain = _split_address(decode(addr) if "=?" in addr else addr)
        display = (decode(name) if "=?" in name else name).strip()[:MAX_TEXT] if name else None
        out.append((address, domain, display or None))
    real = [a for a in out if a[1]]
    return real if real and len(real) < len(out) else out


@pytest.mark.parametrize(
    "value",
    [
        "Santander < sitesantander@santander.com.br >",
        '"Q" <a@b.example >',
        "< a@b.example>",
        "harley@argote.example (Robert Harley)",
        "mike@winners.example ()",
        "a@b.example ( x )",
        "Trouver une femme russe , <laredoute@krj.example>",
        "Ninja Department - BLACK_FRIDAY! ,_<tj7vv@x.example>",
        '"Paypal x", "Paypal x", <service@otto.example>',
        "Edeka, Edeka <telekom@email.example>",
        "Mr. A, <x@y.example>",
        "a, b, c, d, e, f, g <x@y.example>",  # more bits than the shortcut reads
        "=?utf-8?q?a=40b.example?=, <x@y.example>",  # a bit that decodes to an address
        "a@b.example, c <d@e.example>",
    ],
)
def test_shortcut_shapes_read_as_before(value: str) -> None:
    addresses = [(a.address, a.domain, a.display_name) for a in _addresses([(0, value)])]
    assert addresses == _as_before(value)


_NAMES = st.sampled_from(["", "A B", "Mr. X", "x.y", "Glück", "a,b", "_", "=?utf-8?q?a=40b?=", '"q"', "a@b", "[x]"])
_ADDRESSES = st.sampled_from(["a@b.example", "a.b@c.example", "a.@b.example", "a_b@c.example", "a@b", "é@x.example"])


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_NAMES, _ADDRESSES, st.sampled_from(["<{}>", "< {} >", "<{} >", "{} ({})"])), max_size=4))
def test_generated_values_read_as_before(parts: list[tuple[str, str, str]]) -> None:
    value = ",".join(shape.format(a, n) if shape.startswith("{") else f"{n} {shape.format(a)}" for n, a, shape in parts)
    addresses = [(a.address, a.domain, a.display_name) for a in _addresses([(0, value)])]
    assert addresses == _as_before(value)


def test_sender_json_is_the_dataclass_as_a_dict() -> None:
    result = sender(
        message(
            b"From: A <a@example.net>\r\nReply-To: b@example.org\r\nSender: c@example.net\r\n"
            b"Feedback-ID: 1:2:3\r\nReturn-Path: <x@example.com>"
        )
    )
    expected = dataclasses.asdict(result)
    expected["from"] = expected.pop("from_")
    expected["flags"] = list(result.flags)
    assert result.as_json() == expected and list(result.as_json()) == list(expected)
