"""describe(): what an attachment really is, from bytes built here (no sample of real malware is needed). Typing by
bytes is tested in test_sniff.py, archives in test_archives.py, office documents in test_office.py."""

from __future__ import annotations

import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfWriter
from pypdf.annotations import Link

from signalement.mail.attachments import describe, passwords_in_text
from tests.unit.mail.attachment_samples import ELF, LNK, PE, cab, docx, make_ole, make_zip, qr_png, rar4, rar5

# --- names and content --------------------------------------------------------------------------------------------


def test_an_executable_named_as_a_document() -> None:
    facts = describe("invoice.pdf", "application/pdf", PE)
    assert facts.sniffed_type == "application/vnd.microsoft.portable-executable"
    assert {"executable", "extension-mismatch"} <= set(facts.flags)
    assert facts.size == len(PE) and len(facts.sha256) == 64


@pytest.mark.parametrize(
    ("name", "flags"),
    [
        ("invoice.pdf.exe", {"executable", "double-extension"}),
        ("scan.pdf.html", {"double-extension"}),
        ("Facture.PDF   .js", {"script", "double-extension"}),
        ("payload.exe. . ", {"executable"}),
        ("invoice\u202efdp.scr", {"executable", "bidi-filename"}),
        ("update.lnk", {"script"}),
        ("photos.iso", {"disk-image"}),
        ("budget.xlsm", {"macro"}),
        ("C:\\Users\\x\\run.bat", {"script"}),
    ],
)
def test_flags_from_the_name(name: str, flags: set[str]) -> None:
    assert flags <= set(describe(name, "application/octet-stream", b"plain text").flags)


def test_harmless_names_raise_no_flag() -> None:
    for name in ("report.2024.pdf", "photo.jpg", "notes.txt", "archive.tar.gz.txt"):
        assert describe(name, "text/plain", b"hello").flags == []


def test_a_png_named_jpg_is_not_a_mismatch_but_a_zip_named_pdf_is() -> None:
    png = qr_png("x", 60)
    assert "extension-mismatch" not in describe("photo.jpg", "image/jpeg", png).flags
    assert "extension-mismatch" in describe("doc.pdf", "application/pdf", make_zip([("a.txt", b"a")])).flags
    assert "extension-mismatch" in describe("doc", "application/pdf", make_zip([("a.txt", b"a")])).flags


def test_content_says_script_or_executable() -> None:
    assert "script" in describe("x", "application/octet-stream", LNK).flags
    assert "script" in describe("a.txt", "text/plain", b'Set s = CreateObject("WScript.Shell")').flags
    assert "executable" in describe("x.bin", "application/octet-stream", ELF).flags


@pytest.mark.parametrize(
    ("text", "passwords"),
    [
        ("SENHA DE ACESSO DO ARQUIVO EM ANEXO: 123", ["123"]),
        ("Senha PDF: 123\nProtocolo: 888", ["123"]),
        ("Le mot de passe du fichier est « 4521 ».", ["4521"]),
        ("Password: Inv2024!", ["Inv2024!", "Inv2024"]),
        ("The password for the document is abc123.", ["abc123.", "abc123"]),
        ("Pour vous connecter, changez votre mot de passe.", []),
        ("password\n: x", []),
    ],
)
def test_passwords_in_text(text: str, passwords: list[str]) -> None:
    assert passwords_in_text(text) == passwords


# --- PDF, images, markup ------------------------------------------------------------------------------------------

PDF = (
    b"%PDF-1.4\n1 0 obj << /Type /Catalog /OpenAction << /S /JavaScript /JS (app.alert\\(1\\)) >> >> endobj\n"
    b"2 0 obj << /Type /Annot /Subtype /Link /A << /S /URI /URI (https://pdf.example/login) >> >> endobj\n"
    b"3 0 obj << /Type /Page >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
)


def test_pdf_flags_and_urls() -> None:
    facts = describe("a.pdf", "application/pdf", PDF)
    assert {"pdf-links", "pdf-javascript", "pdf-openaction"} <= set(facts.flags)
    assert facts.urls == [("https://pdf.example/login", "pdf")]


def test_password_protected_pdf() -> None:
    writer = PdfWriter()
    writer.add_blank_page(200, 200)
    writer.add_annotation(0, Link(rect=(0, 0, 100, 100), url="https://locked.example/"))
    writer.encrypt("123", "owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    locked = describe("a.pdf", "application/pdf", buffer.getvalue())
    assert {"pdf-encrypted", "password-protected"} <= set(locked.flags)
    assert "pdf-password-protected" in locked.defects
    opened = describe("a.pdf", "application/pdf", buffer.getvalue(), passwords=["123"])
    assert {"password-protected", "password-in-message", "pdf-links"} <= set(opened.flags)
    assert opened.urls == [("https://locked.example/", "pdf")]


def test_image_with_a_qr_code() -> None:
    facts = describe("scan.png", "image/png", qr_png("https://quish.example/login?u=1"))
    assert "qr-code" in facts.flags
    assert facts.urls == [("https://quish.example/login?u=1", "qr")]
    assert facts.qr_texts == ["https://quish.example/login?u=1"]


def test_a_qr_code_that_is_not_a_url_is_kept_as_text() -> None:
    facts = describe("scan.png", "image/png", qr_png("SMSTO:38123:STOP"))
    assert facts.qr_texts == ["SMSTO:38123:STOP"]
    assert facts.urls == []


def test_html_attachment_flags() -> None:
    page = (
        b"<!DOCTYPE html><html><body><form action='https://x.example/p'>"
        b'<input name=u><input type="password" name=p></form>'
        b"<script>var b = new Blob([atob('TVqQ')]); a.download = 'x.iso'; window.location = 'https://x.example';"
        b"</script></body></html>"
    )
    facts = describe("Facture.pdf.html", "text/html", page)
    expected = {"html-form", "html-password", "html-redirect", "html-smuggling", "html-obfuscated", "double-extension"}
    assert expected <= set(facts.flags)
    assert facts.urls == []  # the HTML reader extracts them


def test_utf16_html_attachment_is_read_too() -> None:
    page = "<html><body><FORM action=x><INPUT TYPE=password></FORM></body></html>".encode("utf-16")
    facts = describe("login.htm", "application/octet-stream", page)
    assert facts.sniffed_type == "text/html"
    assert {"html-form", "html-password"} <= set(facts.flags)


def test_svg_with_script() -> None:
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="location=\'https://x.example\'"><rect/></svg>'
    facts = describe("logo.svg", "image/svg+xml", svg)
    assert "svg-script" in facts.flags
    assert "svg-script" not in describe("logo.svg", "image/svg+xml", b'<svg xmlns="x"><rect/></svg>').flags


def test_as_json() -> None:
    data = describe("a.pdf", "application/pdf", PDF).as_json()
    assert data["urls"] == [["https://pdf.example/login", "pdf"]]
    assert set(data) == {
        "name",
        "declared_type",
        "sniffed_type",
        "size",
        "sha256",
        "flags",
        "members",
        "urls",
        "qr_texts",
        "defects",
    }


# --- hostile bytes ------------------------------------------------------------------------------------------------

MAGICS = [
    b"PK\x03\x04",
    b"Rar!\x1a\x07\x01\x00",
    b"Rar!\x1a\x07\x00",
    b"\x1f\x8b\x08\x08",
    b"BZh9",
    b"\xfd7zXZ\x00",
    b"MSCF",
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
    b"{\\rtf",
    b"%PDF-1.7\n",
    b"\x89PNG\r\n\x1a\n",
    b"\xff\xd8\xff",
    b"GIF89a",
    b"MZ",
    b"<html>",
    b"<svg ",
    b"",
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(MAGICS), st.binary(max_size=3000), st.text(max_size=40))
def test_describe_never_raises(magic: bytes, tail: bytes, name: str) -> None:
    facts = describe(name or None, "application/octet-stream", magic + tail)
    assert facts.size == len(magic) + len(tail)


@settings(max_examples=60, deadline=None)
@given(st.integers(min_value=1, max_value=400))
def test_truncated_archives_never_raise(cut: int) -> None:
    samples = [
        make_zip([("a.exe", PE), ("b.zip", make_zip([("c.js", b"x")]))]),
        rar5(["a.exe", "b.txt"]),
        rar4(["a.exe"]),
        cab(["a.exe"]),
        make_ole({"Macros": ["VBA"]}),
        docx(),
    ]
    for sample in samples:
        describe("x", "", sample[: max(1, len(sample) - cut)])
