"""pdf_facts(): links, scripts and automatic actions of PDFs written here, including hidden and encrypted ones."""

from __future__ import annotations

import io
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter
from pypdf.annotations import Link
from pypdf.generic import DecodedStreamObject, NameObject

from signalement.mail.pdf import pdf_facts


def classic_pdf(*objects: bytes) -> bytes:
    """A PDF 1.4 with a cross-reference table: object 1 is the catalog."""
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def object_stream_pdf(*objects: bytes) -> bytes:
    """A PDF 1.5 whose objects 1..n all sit in a compressed object stream, indexed by a cross-reference stream:
    nothing of them is visible in the raw bytes."""
    header, body = b"", b""
    for number, obj in enumerate(objects, 1):
        header += b"%d %d " % (number, len(body))
        body += obj + b"\n"
    stream_number, xref_number = len(objects) + 1, len(objects) + 2
    packed = zlib.compress(header + body)
    out = b"%PDF-1.5\n%\xe2\xe3\xcf\xd3\n"
    stream_at = len(out)
    out += b"%d 0 obj\n<< /Type /ObjStm /N %d /First %d /Filter /FlateDecode /Length %d >>\nstream\n" % (
        stream_number,
        len(objects),
        len(header),
        len(packed),
    )
    out += packed + b"\nendstream\nendobj\n"
    xref_at = len(out)
    rows = b"\x00" + (0).to_bytes(4, "big") + (0xFFFF).to_bytes(2, "big")
    for index in range(len(objects)):
        rows += b"\x02" + stream_number.to_bytes(4, "big") + index.to_bytes(2, "big")
    rows += b"\x01" + stream_at.to_bytes(4, "big") + (0).to_bytes(2, "big")
    rows += b"\x01" + xref_at.to_bytes(4, "big") + (0).to_bytes(2, "big")
    out += b"%d 0 obj\n<< /Type /XRef /Size %d /W [1 4 2] /Root 1 0 R /Length %d >>\nstream\n" % (
        xref_number,
        xref_number + 1,
        len(rows),
    )
    out += rows + b"\nendstream\nendobj\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return out


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"
PAGES = b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>"


def page(annotation: bytes) -> bytes:
    return b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Annots [%s] >>" % annotation


def link(uri: bytes) -> bytes:
    return b"<< /Type /Annot /Subtype /Link /Rect [0 0 10 10] /A << /S /URI /URI %s >> >>" % uri


def test_links_in_literal_and_hex_strings() -> None:
    data = classic_pdf(
        CATALOG,
        PAGES,
        page(link(b"(https://a.example/login?x=\\(1\\)&y=\\\n2)") + link(b"<68747470733a2f2f622e6578616d706c652f>")),
    )
    facts = pdf_facts(data)
    assert facts.urls == ["https://a.example/login?x=(1)&y=2", "https://b.example/"]
    assert facts.pages == 1
    assert not (facts.javascript or facts.open_action or facts.embedded_files or facts.encrypted)
    assert facts.defects == []


def test_octal_escapes_and_utf16_strings() -> None:
    uri = b"(\\150ttps://c.example/)"
    utf16 = b"<" + ("\ufeffhttps://d.example/é").encode("utf-16-be").hex().encode() + b">"
    facts = pdf_facts(classic_pdf(CATALOG, PAGES, page(link(uri) + link(utf16))))
    assert facts.urls == ["https://c.example/", "https://d.example/é"]


def test_javascript_open_action_launch_and_embedded_file() -> None:
    catalog = (
        b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (this.exportDataObject\\(\\)) >>"
        b" /Names << /EmbeddedFiles << /Names [(a.exe) 4 0 R] >> >> >>"
    )
    launch = b"<< /Type /Annot /Subtype /Link /A << /S /Launch /F (cmd.exe) >> >>"
    facts = pdf_facts(classic_pdf(catalog, PAGES, page(launch), b"<< /Type /EmbeddedFile /Length 0 >>"))
    assert facts.javascript and facts.open_action and facts.embedded_files and facts.launch
    assert facts.urls == []  # /F (cmd.exe) is a file, not a URL


def test_submit_form_url_is_kept() -> None:
    action = b"<< /Type /Annot /Subtype /Widget /A << /S /SubmitForm /F << /FS /URL /F (https://post.example/) >> >> >>"
    assert pdf_facts(classic_pdf(CATALOG, PAGES, page(action))).urls == ["https://post.example/"]


def test_names_spelled_with_hex_escapes() -> None:
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /J#61vaScript /J#53 (app.alert\\(1\\)) >> >>"
    facts = pdf_facts(classic_pdf(catalog, PAGES, page(b"<< /A << /S /URI /U#52I (https://e.example/) >> >>")))
    assert facts.javascript and facts.open_action
    assert facts.urls == ["https://e.example/"]
    assert "pdf-escaped-names" in facts.defects


def test_a_url_fragment_is_not_an_escaped_name() -> None:
    facts = pdf_facts(classic_pdf(CATALOG, PAGES, page(link(b"(https://f.example/a#b1)"))))
    assert facts.urls == ["https://f.example/a#b1"]
    assert facts.defects == []


def test_objects_hidden_in_an_object_stream() -> None:
    catalog = b"<< /Type /Catalog /Pages 2 0 R /OpenAction << /S /JavaScript /JS (x) >> >>"
    data = object_stream_pdf(catalog, PAGES, page(b"4 0 R"), link(b"(https://hidden.example/x)"))
    assert b"hidden" not in data and b"/JS" not in data
    facts = pdf_facts(data)
    assert facts.urls == ["https://hidden.example/x"]
    assert facts.javascript and facts.open_action
    assert facts.pages == 1


def encrypted(url: str, user_password: str) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_annotation(0, Link(rect=(0, 0, 100, 100), url=url))
    writer.encrypt(user_password, "owner-secret", algorithm="RC4-128")  # AES needs the cryptography package
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def test_encrypted_with_an_empty_user_password_is_read() -> None:
    data = encrypted("https://enc.example/login", "")
    assert b"enc.example" not in data
    facts = pdf_facts(data)
    assert facts.encrypted
    assert facts.urls == ["https://enc.example/login"]
    assert facts.pages == 1


def test_password_protected_is_a_defect() -> None:
    facts = pdf_facts(encrypted("https://enc.example/login", "secret"))
    assert facts.encrypted and facts.password_protected
    assert facts.urls == []
    assert "pdf-password-protected" in facts.defects


def test_password_given_in_the_message_opens_it() -> None:
    facts = pdf_facts(encrypted("https://enc.example/login", "123"), passwords=["wrong", "123"])
    assert facts.encrypted and facts.password_protected
    assert facts.urls == ["https://enc.example/login"]
    assert facts.defects == []


def test_page_count_of_a_classic_pdf_and_as_json() -> None:
    kids = b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 >>"
    data = classic_pdf(CATALOG, kids, page(b""), page(b""))
    assert pdf_facts(data).pages == 2
    assert pdf_facts(data).as_json()["pages"] == 2


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"%PDF-1.7",
        b"%PDF-1.5\n/ObjStm garbage",
        b"%PDF-1.4 /Encrypt << /Filter /Standard >> trailer",
        b"%PDF-1.4 /URI (never closed",
        b"%PDF-1.4 /URI <zz",
        b"%PDF-1.4 " + b"/JSX " * 5000,
        b"%PDF-1.4 /URI 12 0 R",
    ],
)
def test_broken_files_do_not_raise(data: bytes) -> None:
    facts = pdf_facts(data)
    assert isinstance(facts.defects, list)


def test_truncated_object_stream_pdf_does_not_raise() -> None:
    data = object_stream_pdf(CATALOG, PAGES, page(b""), link(b"(https://x.example/)"))
    for cut in range(20, len(data), 37):
        pdf_facts(data[:cut])


PREFIXES = [b"%PDF-1.4\n", b"%PDF-1.5\n/ObjStm\n", b"%PDF-1.4\n/Encrypt 1 0 R\n", b""]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PREFIXES), st.binary(max_size=2000))
def test_arbitrary_bytes_never_raise(prefix: bytes, tail: bytes) -> None:
    facts = pdf_facts(prefix + tail)
    assert facts.pages is None or facts.pages >= 0


def test_a_locked_file_seen_again_with_passwords_is_opened() -> None:
    """The analysis looks at a locked attachment twice: alone, then with the passwords the message gives."""
    data = encrypted("https://enc.example/second", "4521")
    first = pdf_facts(data)
    assert first.password_protected and first.urls == [] and "pdf-password-protected" in first.defects
    assert pdf_facts(data, passwords=["nope"]).urls == []
    second = pdf_facts(data, passwords=["wrong", "4521"])
    assert second.urls == ["https://enc.example/second"] and second.defects == []
    assert pdf_facts(data).urls == []  # an opened reader is not kept: a look without the password stays locked


def test_stream_data_of_an_encrypted_file_is_not_needed() -> None:
    """Page contents stay ciphered (nothing reads them); the strings of the same objects are read."""
    writer = PdfWriter()
    page = writer.add_blank_page(200, 200)
    contents = DecodedStreamObject()
    contents.set_data(b"BT /F1 12 Tf 10 10 Td (https://not-a-link.example) Tj ET " * 200)
    page[NameObject("/Contents")] = writer._add_object(contents)
    writer.add_annotation(0, Link(rect=(0, 0, 10, 10), url="https://enc.example/link"))
    writer.encrypt("", "owner-secret", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    facts = pdf_facts(buffer.getvalue())
    assert facts.urls == ["https://enc.example/link"] and facts.encrypted and facts.pages == 1
    assert facts.defects == []
