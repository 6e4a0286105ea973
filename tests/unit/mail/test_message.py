"""Parts, bodies and charsets: what real mail gets wrong is read anyway and listed as a defect."""

from __future__ import annotations

from email import message_from_bytes
from email.policy import compat32

import pytest

from signalement.mail.message import MAX_PARTS, content_charset, decode_text, parse, text_codec


@pytest.mark.parametrize(
    ("text", "charset"),
    [
        ("Привет, мир", "koi8-r"),
        ("Привет, мир", "windows-1251"),
        ("日本語のメール", "iso-2022-jp"),
        ("日本語のメール", "shift_jis"),
        ("Ünïcödé ✓", "utf-7"),
        ("été à Noël", "iso-8859-15"),
        ("한국어", "ks_c_5601-1987"),
    ],
)
def test_declared_charsets_decode(text: str, charset: str) -> None:
    codec = text_codec(charset)
    assert codec is not None
    assert decode_text(text.encode(codec), charset) == (text, None)


@pytest.mark.parametrize(
    ("data", "charset", "expected", "defect"),
    [
        ("é".encode(), "us-ascii", "é", "WrongCharset"),  # mislabelled UTF-8
        (b"\xe9t\xe9", "x-no-such-charset", "été", "UnknownCharset"),
        (b"\xe9t\xe9", None, "été", "UndeclaredCharset"),
        (b"plain", "zlib", "plain", "UnknownCharset"),  # a bytes-to-bytes codec is not a charset
        (b"plain", "rot13", "plain", "UnknownCharset"),
        (b"+\xff\xfe-", "utf-7", "\ufffd\ufffd-", "WrongCharset"),
        (b"ascii only", None, "ascii only", None),
    ],
)
def test_wrong_or_unknown_charsets_fall_back(data: bytes, charset: str | None, expected: str, defect: str) -> None:
    text, problem = decode_text(data, charset)
    assert problem == defect
    assert expected.strip("\ufffd-") in text


def test_html_meta_charset_is_used_when_the_header_has_none() -> None:
    html = '<html><head><meta charset="windows-1251"></head><body>Привет</body></html>'.encode("cp1251")
    raw = b"From: a@example.com\nContent-Type: text/html\nContent-Transfer-Encoding: 8bit\n\n" + html
    parsed = parse(raw)
    assert "Привет" in parsed.text(parsed.parts[0])


def test_multipart_walk_separates_bodies_and_attachments() -> None:
    raw = (
        b"From: a@example.com\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=X\n\n"
        b"--X\nContent-Type: text/plain; charset=utf-8\n\nbonjour\n"
        b"--X\nContent-Type: application/pdf; name=f.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0=\n"
        b"--X\nContent-Type: image/png\nContent-Disposition: inline\n\nxx\n--X--\n"
    )
    parsed = parse(raw)
    assert [(r.content_type, r.is_attachment) for r in parsed.parts] == [
        ("text/plain", False),
        ("application/pdf", True),
        ("image/png", True),
    ]
    assert parsed.payload(parsed.parts[1]) == b"%PDF-"
    assert parsed.parts[1].filename == "f.pdf"


def test_endless_nesting_is_cut_and_said() -> None:
    depth = 2000
    head = b"".join(b"Content-Type: multipart/mixed; boundary=b%d\n\n--b%d\n" % (i, i) for i in range(depth))
    parsed = parse(b"From: a@example.com\n" + head + b"Content-Type: text/plain\n\nx\n")
    assert "TooDeeplyNested" in parsed.defects


def test_too_many_parts_are_cut_and_said() -> None:
    parts = b"".join(b"--X\nContent-Type: text/plain\n\n%d\n" % i for i in range(MAX_PARTS + 50))
    parsed = parse(b"From: a@example.com\nContent-Type: multipart/mixed; boundary=X\n\n" + parts + b"--X--\n")
    assert "TooManyParts" in parsed.defects
    assert len(parsed.parts) < MAX_PARTS


def test_broken_boundary_keeps_the_text() -> None:
    raw = b"From: a@example.com\nContent-Type: multipart/mixed; boundary=NOPE\n\n--X\nContent-Type: text/plain\n\nhi\n"
    parsed = parse(raw)
    assert parsed.defects  # the parser says the boundary was never found
    assert any("hi" in parsed.text(r) for r in parsed.parts)


@pytest.mark.parametrize(
    "fields",
    [
        b"Content-Type: text/plain; charset=UTF-8\n",
        b'Content-Type: text/html; charset="ISO-8859-1"; format=flowed\n',
        b"Content-Type: text/plain; charset*=utf-8''%E2%82%AC\n",
        b"Content-Type: text/plain; charset*0=utf; charset*1=-8\n",
        b"Content-Type: text/plain\n",
        b"Content-type: text/plain; charset=koi8-r\nContent-Type: text/plain; charset=utf-8\n",
        b"Content-Type: text/plain; charset=\xe9t\xe9\n",
        b"Subject: none\n",
    ],
)
def test_the_declared_charset_is_the_stdlib_one(fields: bytes) -> None:
    part = message_from_bytes(b"From: a@example.com\n" + fields + b"\nbody\n", policy=compat32)
    assert content_charset(part) == content_charset(part) == part.get_content_charset()


def test_part_types_and_names_are_the_stdlib_ones() -> None:
    raw = (
        b"From: a@example.com\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: TEXT/Plain\n\nhi\n"
        b'--X\nContent-Type: application/pdf; name="a.pdf"\n\n%PDF\n--X\nContent-Disposition: attachment\n\nx\n'
        b"--X\nContent-Type: nonsense\n\nx\n--X--\n"
    )
    parsed = parse(raw)
    expected = [
        (r.part.get_content_type(), r.part.get_filename(), r.part.get_content_disposition()) for r in parsed.parts
    ]
    assert [(r.content_type, r.filename, r.disposition) for r in parsed.parts] == expected
    assert [r.content_type for r in parsed.parts] == ["text/plain", "application/pdf", "text/plain", "text/plain"]
