"""The reported messages inside a mail forwarded to the report address: attached ones byte for byte, inline ones
rebuilt from the quoted header block; hostile MIME stays fast and never raises."""

from __future__ import annotations

import base64
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage, Message
from email.policy import compat32
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from signalement.mail.forwarded import MAX_PART, MAX_PARTS, Forwarded, forwarded_messages

FIXTURES = Path(__file__).parents[2] / "fixtures" / "forwarded"


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


R1, R2, R3 = fixture("reported-1-banque.eml"), fixture("reported-2-colis.eml"), fixture("reported-3-invoice.eml")


def parsed(found: Forwarded) -> EmailMessage:
    message = message_from_bytes(found.raw, policy=policy.default)
    assert isinstance(message, EmailMessage)
    return message


def body(found: Forwarded) -> str:
    content = parsed(found).get_content()
    assert isinstance(content, str)
    return content.replace("\r\n", "\n")


def multipart(parts: list[bytes], boundary: bytes = b"b", subtype: bytes = b"mixed") -> bytes:
    head = b"From: alice@example.org\r\nTo: report@signalement.example\r\nSubject: x\r\nMIME-Version: 1.0\r\n"
    head += b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"\r\n\r\n'
    return head + b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"


def attached(message: bytes, headers: bytes = b"Content-Type: message/rfc822\r\n") -> bytes:
    return headers + b"\r\n" + message


# --- Forwarded as attachment -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "reported", "file_name"),
    [
        ("attached-thunderbird.eml", R1, "Votre compte a été suspendu.eml"),  # RFC 2231 continuations, 8bit
        ("attached-outlook.eml", R1, None),  # no name, nested in multipart/mixed after an alternative
        ("attached-gmail.eml", R2, "Votre colis est en attente.eml"),  # LF line endings
        ("attached-eml-octet-base64.eml", R1, "message.eml"),  # application/octet-stream, base64
        ("attached-eml-rfc2231-qp.eml", R2, "reçu ce matin.EML"),  # text/plain named .EML, quoted-printable
    ],
)
def test_an_attached_message_comes_back_byte_for_byte(name: str, reported: bytes, file_name: str | None) -> None:
    assert forwarded_messages(fixture(name)) == [Forwarded(reported, "attached", file_name, ())]


def test_the_email_package_would_have_changed_the_bytes() -> None:
    """Why the module scans boundaries itself: re-serialised, the attached message is not the one received."""
    outer = message_from_bytes(fixture("attached-thunderbird.eml"), policy=compat32)
    parts = outer.get_payload()
    assert isinstance(parts, list)
    attachment = parts[1]
    assert isinstance(attachment, Message)
    inner = attachment.get_payload(0)
    assert isinstance(inner, Message)
    assert inner.as_bytes() != R1


def test_several_attachments_in_order_without_the_messages_they_carry() -> None:
    found = forwarded_messages(fixture("attached-several.eml"))
    assert [(f.raw, f.name) for f in found] == [
        (R1, "Votre compte.eml"),
        (R3, "Invoice INV-2024-117 overdue.eml"),  # its own attached reminder is part of it, not a report
        (R2, "colis.eml"),
    ]
    assert all(f.how == "attached" and f.recovered == () for f in found)


def test_max_messages() -> None:
    mail = fixture("attached-several.eml")
    assert [f.raw for f in forwarded_messages(mail, max_messages=2)] == [R1, R3]
    assert forwarded_messages(mail, max_messages=0) == []


def test_outlook_msg_attachments_are_skipped() -> None:
    # An .msg (OLE) attachment, and an OLE file labelled message/rfc822: neither is a message to return.
    assert forwarded_messages(fixture("attached-outlook-msg.eml")) == []


def test_attachments_at_any_depth_of_multipart() -> None:
    inner = b'Content-Type: multipart/mixed; boundary="in"\r\n\r\n--in\r\n' + attached(R2) + b"\r\n--in--"
    mail = multipart([b"Content-Type: text/plain\r\n\r\nhello", inner, attached(R1)])
    assert [f.raw for f in forwarded_messages(mail)] == [R2, R1]


def test_a_digest_holds_messages_without_content_type() -> None:
    mail = multipart([b"\r\n" + R1, b"\r\n" + R2], subtype=b"digest")
    assert [f.raw for f in forwarded_messages(mail)] == [R1, R2]


def test_base64_and_quoted_printable_message_parts_are_decoded() -> None:
    b64 = attached(base64.encodebytes(R1), b"Content-Type: message/rfc822\r\nContent-Transfer-Encoding: base64\r\n")
    qp = attached(b"Subject: =3D\r\n\r\nsoft=\r\n break\r\n", b"Content-Type: message/rfc822\r\n"
                  b"Content-Transfer-Encoding: Quoted-Printable\r\n")  # fmt: skip
    assert [f.raw for f in forwarded_messages(multipart([b64, qp]))] == [R1, b"Subject: =\r\n\r\nsoft break\r\n"]


@pytest.mark.parametrize(
    "headers",
    [
        b'Content-Type: application/pdf; name="invoice.pdf"\r\nContent-Transfer-Encoding: base64\r\n',
        b'Content-Type: application/octet-stream\r\nContent-Disposition: attachment; filename="notes.emlx"\r\n',
        b"Content-Type: text/rfc822-headers\r\n",
        b'Content-Type: application/vnd.ms-outlook; name="x.msg"\r\n',
    ],
)
def test_other_attachments_are_not_opened(headers: bytes) -> None:
    assert forwarded_messages(multipart([attached(R1, headers)])) == []


def test_attached_messages_win_over_an_inline_block() -> None:
    text = b"Content-Type: text/plain\r\n\r\n---------- Forwarded message ---------\r\nFrom: a@example.com\r\n\r\nx"
    assert forwarded_messages(multipart([text, attached(R2)])) == [Forwarded(R2, "attached", None, ())]


def test_a_message_over_25_mb_is_ignored() -> None:
    big = b"Subject: big\r\n\r\n" + b"x" * (MAX_PART + 1)
    assert forwarded_messages(multipart([attached(big), attached(R2)])) == [Forwarded(R2, "attached", None, ())]


def test_a_mail_that_is_not_multipart_forwards_nothing_attached() -> None:
    assert forwarded_messages(R2) == []
    assert forwarded_messages(fixture("plain-no-forward.eml")) == []


# --- Forwarded inline --------------------------------------------------------------------------------------------

BANQUE = {
    "from": "Service Client <alerte@secure-banque.example>",
    "to": "alice@example.org",
    "subject": "Votre compte a été suspendu",
    "first": "Bonjour,",
    "url": "https://secure-banque.example/verifier?id=8842",
}
BANK_DE = {
    "from": "Kundenservice <alarm@sichere-bank.example>",
    "to": "Alice Martin <alice@example.org>",
    "subject": "Ihr Konto wurde gesperrt",
    "url": "https://sichere-bank.example/login?id=17",
}


@pytest.mark.parametrize(
    ("name", "expected", "date", "recovered"),
    [
        ("inline-gmail-en.eml", BANQUE, "Tue, 12 Mar 2024 10:15:00 -0000", ("From", "To", "Subject", "Date")),
        (
            "inline-gmail-fr.eml",
            BANQUE | {"cc": "Bob Durand <bob@example.org>"},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Cc", "Subject", "Date"),
        ),
        (
            "inline-gmail-de.eml",
            BANK_DE | {"to": "alice@example.org", "first": "Sehr geehrte Kundin,"},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Subject", "Date"),
        ),
        (
            "inline-outlook-en.eml",  # `Name [mailto:address]`, Latin-1 quoted-printable
            BANQUE | {"to": "Alice Martin <alice@example.org>"},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Subject", "Date"),
        ),
        (
            "inline-outlook-fr.eml",  # underscore line, `De :` with a no-break space, two addresses with `;`
            BANQUE
            | {
                "to": "Alice Martin <alice@example.org>, Bob Durand <bob@example.org>",
                "cc": "Carole <carole@example.org>",
            },
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Cc", "Subject", "Date"),
        ),
        (
            "inline-outlook-de.eml",
            BANK_DE | {"first": "Sehr geehrte Kundin,"},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Subject", "Date"),
        ),
        (
            "inline-outlook-html-only.eml",  # no text/plain part: the HTML as text, no marker line
            BANQUE | {"to": "Alice Martin <alice@example.org>"},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Subject", "Date"),
        ),
        (
            "inline-outlook-web-html-de.eml",  # the text/plain part has no block: the HTML one has, after an <hr>
            BANK_DE | {"first": "Ihr Konto wurde gesperrt."},
            "Tue, 12 Mar 2024 10:15:00 -0000",
            ("From", "To", "Subject", "Date"),
        ),
        (
            "inline-apple-mail.eml",
            BANQUE | {"reply-to": "support@secure-banque.example"},
            "Tue, 12 Mar 2024 10:15:00 +0100",
            ("From", "Reply-To", "To", "Subject", "Date"),
        ),
        ("inline-apple-mail-fr.eml", BANQUE, "Tue, 12 Mar 2024 10:15:00 +0100", ("From", "To", "Subject", "Date")),
        ("inline-thunderbird-en.eml", BANQUE, "Tue, 12 Mar 2024 10:15:00 +0100", ("From", "To", "Subject", "Date")),
        ("inline-thunderbird-fr.eml", BANQUE, "Tue, 12 Mar 2024 10:15:00 +0100", ("From", "To", "Subject", "Date")),
        ("inline-quoted.eml", BANQUE, "Tue, 12 Mar 2024 10:15:00 -0000", ("From", "To", "Subject", "Date")),
    ],
)
def test_an_inline_forward_is_rebuilt(
    name: str, expected: dict[str, str], date: str, recovered: tuple[str, ...]
) -> None:
    [found] = forwarded_messages(fixture(name))
    assert (found.how, found.name, found.recovered) == ("inline", None, recovered)
    message = parsed(found)
    for field in ("from", "to", "cc", "reply-to", "subject"):
        assert message[field] == expected.get(field), field
    assert message["date"] == date
    assert message["x-signalement-recovered"] == "inline forward; " + ", ".join(recovered)
    text = body(found)
    assert text.startswith(expected.get("first", "Bonjour,"))
    assert expected["url"] in text  # URLs kept as text, the HTML links' targets too
    assert ">" not in text.replace(f"<{expected['url']}>", "")  # quoting removed
    for forwarder in ("FYI", "Regardez", "Encore un", "Spam again", "This looks like", "Thanks", "Phishing"):
        assert forwarder not in text  # what the forwarder wrote is not part of the reported message


def test_the_original_date_text_is_kept() -> None:
    [found] = forwarded_messages(fixture("inline-gmail-fr.eml"))
    assert parsed(found)["x-signalement-original-date"] == "mar. 12 mars 2024 à 10:15"


def test_an_unparseable_date_is_kept_as_text_only() -> None:
    [found] = forwarded_messages(fixture("inline-unparseable-date.eml"))
    message = parsed(found)
    assert message["date"] is None
    assert message["x-signalement-original-date"] == "hier soir, vers 22 heures"
    assert "Date" in found.recovered


def test_format_flowed_lines_are_joined() -> None:
    [found] = forwarded_messages(fixture("inline-apple-mail.eml"))
    assert "sinon votre compte sera fermé :" in body(found)


def inline(block: str, charset: str = "utf-8") -> bytes:
    head = f"From: alice@example.org\r\nSubject: Fwd\r\nContent-Type: text/plain; charset={charset}\r\n\r\n"
    return (head + block.replace("\n", "\r\n")).encode(charset)


@pytest.mark.parametrize(
    ("labels", "shown", "date"),
    [
        ("From/Date/Subject", "Tue, Mar 12, 2024 at 10:15 PM", "Tue, 12 Mar 2024 22:15:00 -0000"),
        ("From/Sent/Subject", "Tuesday, March 12, 2024 10:15 AM", "Tue, 12 Mar 2024 10:15:00 -0000"),
        ("De/Envoyé/Objet", "mardi 12 mars 2024 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),
        ("De/Date/Objet", "mar. 12 avr. 2024 à 10:15", "Fri, 12 Apr 2024 10:15:00 -0000"),
        ("De/Date/Objet", "12/03/2024 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),  # French order: day first
        ("From/Date/Subject", "03/12/2024 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),  # US order
        ("Von/Gesendet/Betreff", "Dienstag, 12. März 2024 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),
        ("Von/Datum/Betreff", "12.03.2024 um 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),
        ("From/Date/Subject", "12 March 2024 at 10:15:00 CEST", "Tue, 12 Mar 2024 10:15:00 +0200"),
        ("From/Date/Subject", "March 12, 2024 at 10:15:00 AM GMT-5", "Tue, 12 Mar 2024 10:15:00 -0500"),
        ("From/Date/Subject", "2024-03-12 10:15", "Tue, 12 Mar 2024 10:15:00 -0000"),
        ("From/Date/Subject", "Tue, 12 Mar 2024 10:15:00 +0530", "Tue, 12 Mar 2024 10:15:00 +0530"),
        ("From/Date/Subject", "Thu, 30 Feb 2024 10:15", None),  # no such day
    ],
)
def test_dates_as_clients_show_them(labels: str, shown: str, date: str | None) -> None:
    sender, when, subject = labels.split("/")
    block = f"---- Forwarded message ----\n{sender}: a@example.com\n{when}: {shown}\n{subject}: Hi\n\nBody\n"
    [found] = forwarded_messages(inline(block))
    message = parsed(found)
    assert message["date"] == date
    assert message["x-signalement-original-date"] == shown


def test_a_marker_alone_is_a_forward_with_nothing_recovered() -> None:
    [found] = forwarded_messages(inline("see below\n\n-----Original Message-----\n\nBuy now https://x.example/\n"))
    assert found.recovered == ()
    assert body(found) == "Buy now https://x.example/\n"


def test_a_long_body_line_is_quoted_printable() -> None:
    url = "https://x.example/" + "a" * 2000
    [found] = forwarded_messages(inline(f"Begin forwarded message:\n\nFrom: a@example.com\nSubject: s\n\n{url}\n"))
    assert parsed(found)["content-transfer-encoding"] == "quoted-printable"
    assert body(found) == url + "\n"


def test_address_fields_that_hold_no_address_are_kept_as_text() -> None:
    block = "________________________________\nFrom: Service Client\nSent: Tuesday, March 12, 2024 10:15 AM\n"
    [found] = forwarded_messages(inline(block + "To: Équipe Paie\nSubject: s\n\nb\n"))
    assert b"\r\nFrom: Service Client\r\n" in b"\r\n" + found.raw
    message = message_from_bytes(found.raw, policy=compat32)
    assert str(make_header(decode_header(message["to"]))) == "Équipe Paie"


@pytest.mark.parametrize(
    "text",
    [
        "Bonjour,\n\nJ'ai reçu ça hier.\nDate: hier\n",  # a lone label line is prose
        "From: me\n\nplease look\n",  # one field, no marker
        "________________________________\nTo: a@example.com\n\nb\n",  # a rule without From
        "From: a@example.com\nTo: b@example.com\n\nno date nor subject\n",
    ],
)
def test_no_forward_block_gives_nothing(text: str) -> None:
    assert forwarded_messages(inline(text)) == []


# --- Bounds and hostile input ------------------------------------------------------------------------------------


def test_hostile_fixtures() -> None:
    broken = forwarded_messages(fixture("hostile-broken-boundaries.eml"))
    assert [f.raw[:30] for f in broken] == [b"From: a@example.org\nSubject: b", R2[:30]]
    assert broken[1].raw.startswith(R2)  # without a close delimiter, the last part runs to the end
    [wrong] = forwarded_messages(fixture("hostile-wrong-encodings.eml"))
    assert wrong.raw.startswith(b"From: a@example.org\r\nSubject: qp with soft breaks\r\n\r\nbody")


@pytest.mark.parametrize(
    "raw",
    [b"", b"\r\n", b"garbage", b"Content-Type: multipart/mixed\r\n\r\n--\r\n", "text", None, 42, bytearray(R2)],
)
def test_bad_input_gives_nothing(raw: Any) -> None:
    assert forwarded_messages(raw) == []


def test_text_that_decodes_to_lone_surrogates_is_rebuilt() -> None:
    head = b"Content-Type: text/plain; charset=utf-7\r\n\r\n---------- Forwarded message ---------\r\n"
    block = b"From: +2D8-x <a@example.com>\r\nSubject: +2D8-s\r\n\r\nbody +2D8-\r\n"  # +2D8-: a lone U+D83F
    [found] = forwarded_messages(head + block)
    assert found.recovered == ("From", "Subject")
    assert body(found) == "body ?\n"


def test_bytearray_and_memoryview_are_read() -> None:
    mail = fixture("attached-gmail.eml")
    array: Any = bytearray(mail)  # the signature says bytes; the others are read too
    view: Any = memoryview(mail)
    assert forwarded_messages(array) == forwarded_messages(view) == forwarded_messages(mail)


def test_nesting_is_capped() -> None:
    def nested(levels: int) -> bytes:
        head = b"".join(
            b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(levels)
        )
        return b"From: a@example.org\r\n" + head + attached(R2)

    assert [f.raw for f in forwarded_messages(nested(20))] == [R2]
    assert forwarded_messages(nested(40)) == []  # deeper than MAX_DEPTH: not read
    assert forwarded_messages(nested(10_000)) == []  # and it ends (the benchmarks time it)


@pytest.mark.parametrize(
    "part",
    [
        b"Content-Type: text/plain\r\n\r\nhello",
        b'Content-Type: application/octet-stream; name="a.bin"\r\nContent-Transfer-Encoding: base64\r\n\r\nAAAA',
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b',  # the same boundary, nested
        b"",
        attached(b"Subject: s\r\n\r\nx"),
    ],
)
def test_ten_thousand_parts_are_read_within_bounds(part: bytes) -> None:
    mail = multipart([part] * 10_000)
    found = forwarded_messages(mail, max_messages=MAX_PARTS)
    assert len(found) <= MAX_PARTS


@pytest.mark.parametrize(
    "html",
    [
        "<div>" * 100_000,
        "<a " * 100_000,  # unclosed tags: quadratic for html.parser
        "<script>" * 100_000,
        "<" * 500_000,
        "<!--" + "a" * 500_000,
        '<a href="https://x.example/">y' * 20_000 + "</a>" * 20_000,
    ],
)
def test_hostile_html_finds_nothing(html: str) -> None:
    mail = b"From: a@example.org\r\nContent-Type: text/html\r\n\r\n" + html.encode()
    assert forwarded_messages(mail) == []


def test_hostile_text_finds_nothing() -> None:
    lines = inline("From: x\nDate: y\n" * 100_000)
    quoted = inline(("> " * 50 + "From: x\n") * 20_000)
    for mail in (lines, quoted, inline(">" * 1_000_000)):
        assert forwarded_messages(mail) == []


SEEDS = sorted(path.name for path in FIXTURES.glob("*.eml"))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(SEEDS),
    cuts=st.lists(st.tuples(st.integers(0, 5000), st.integers(0, 64), st.binary(max_size=16)), max_size=6),
)
def test_mangled_mail_never_raises(name: str, cuts: list[tuple[int, int, bytes]]) -> None:
    mail = fixture(name)
    for at, length, insert in cuts:
        at %= len(mail) + 1
        mail = mail[:at] + insert + mail[at + length :]
    for found in forwarded_messages(mail):
        assert isinstance(found, Forwarded)
        assert found.raw
        assert found.how in ("attached", "inline")
