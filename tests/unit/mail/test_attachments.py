"""describe(): what an attachment really is, from bytes built here (no sample of real malware is needed)."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile
import zlib

import numpy as np
import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pypdf import PdfWriter
from pypdf.annotations import Link

from signalement.mail.attachments import MAX_MEMBERS, describe, passwords_in_text, sniff

PE = b"MZ" + b"\x00" * 0x3A + struct.pack("<I", 0x80) + b"\x00" * 0x40 + b"PE\x00\x00" + b"\x00" * 64
ELF = b"\x7fELF\x02\x01\x01" + b"\x00" * 57
LNK = b"L\x00\x00\x00\x01\x14\x02\x00\x00\x00\x00\x00\xc0\x00\x00\x00\x00\x00\x00F" + b"\x00" * 56


def make_zip(members: list[tuple[str, bytes]], encrypted: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members:
            archive.writestr(name, data)
    patched = bytearray(buffer.getvalue())
    for name in encrypted:  # zipfile cannot encrypt: set bit 0 of the flags as an encrypting tool would
        for signature, flags_at, name_at in ((b"PK\x03\x04", 6, 30), (b"PK\x01\x02", 8, 46)):
            at = patched.find(signature)
            while at >= 0:
                if patched[at + name_at : at + name_at + len(name)] == name.encode():
                    patched[at + flags_at] |= 1
                at = patched.find(signature, at + 4)
    return bytes(patched)


def zipcrypto(name: str, data: bytes, password: bytes) -> bytes:
    """A one-member ZIP, stored and encrypted with the traditional PKWARE cipher (zipfile only decrypts it)."""

    def update(key: int, byte: int) -> int:
        return zlib.crc32(bytes([byte]), key ^ 0xFFFFFFFF) ^ 0xFFFFFFFF

    keys = [0x12345678, 0x23456789, 0x34567890]

    def feed(byte: int) -> None:
        keys[0] = update(keys[0], byte)
        keys[1] = ((keys[1] + (keys[0] & 0xFF)) * 134775813 + 1) & 0xFFFFFFFF
        keys[2] = update(keys[2], keys[1] >> 24)

    for byte in password:
        feed(byte)
    crc = zlib.crc32(data)
    plain = bytes(11) + bytes([crc >> 24]) + data  # the last header byte checks the password
    cipher = bytearray()
    for byte in plain:
        temp = keys[2] | 2
        cipher.append(byte ^ (((temp * (temp ^ 1)) >> 8) & 0xFF))
        feed(byte)
    encoded = name.encode()
    fields = struct.pack("<HHHHHIII", 20, 1, 0, 0, 0x21, crc, len(cipher), len(data))
    local = b"PK\x03\x04" + fields + struct.pack("<HH", len(encoded), 0) + encoded + bytes(cipher)
    central = b"PK\x01\x02" + struct.pack("<H", 20) + fields
    central += struct.pack("<HHHHHII", len(encoded), 0, 0, 0, 0, 0, 0) + encoded
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 1, 1, len(central), len(local), 0)
    return local + central + end


def make_ole(storages: dict[str, list[str]], streams: tuple[str, ...] = (), clsid: bytes = b"\x00" * 16) -> bytes:
    """A minimal Compound File (v3, 512-byte sectors): a FAT sector, one directory sector, empty streams.
    storages: {storage name: [child storage names]}; streams: empty streams under the root."""
    entries: list[tuple[str, int]] = [("Root Entry", 5)]
    children: dict[int, list[int]] = {0: []}
    for stream in streams:
        entries.append((stream, 2))
        children[0].append(len(entries) - 1)
    for storage, inner in storages.items():
        entries.append((storage, 1))
        index = len(entries) - 1
        children[0].append(index)
        children[index] = []
        for name in inner:
            entries.append((name, 1))
            children[index].append(len(entries) - 1)
    assert len(entries) <= 4
    none = 0xFFFFFFFF
    directory = b""
    right_of = {kids[i]: kids[i + 1] for kids in children.values() for i in range(len(kids) - 1)}
    for index, (name, kind) in enumerate(entries):
        encoded = (name + "\x00").encode("utf-16-le")
        child = children.get(index, [])
        directory += (
            encoded.ljust(64, b"\x00")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", none, right_of.get(index, none), child[0] if child else none)
            + (clsid if index == 0 else b"\x00" * 16)
            + b"\x00" * 20
            + struct.pack("<IQ", 0xFFFFFFFE, 0)
        )
    directory = directory.ljust(512, b"\x00")
    header = (
        b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
        + b"\x00" * 16
        + struct.pack("<HHHHH", 0x3E, 3, 0xFFFE, 9, 6)
        + b"\x00" * 6
        + struct.pack("<IIIIIIIII", 0, 1, 1, 0, 4096, 0xFFFFFFFE, 0, 0xFFFFFFFE, 0)
        + struct.pack("<I", 0)
        + b"\xff" * 4 * 108
    )
    fat = struct.pack("<II", 0xFFFFFFFD, 0xFFFFFFFE).ljust(512, b"\xff")
    return header + fat + directory


def qr_png(text: str, size: int = 400) -> bytes:
    barcode = zxingcpp.create_barcode(text, zxingcpp.BarcodeFormat.QRCode)
    code = Image.fromarray(np.asarray(zxingcpp.write_barcode_to_image(barcode, scale=1)))
    canvas = Image.new("L", (size, size), 255)
    canvas.paste(code.resize((size // 2, size // 2), Image.Resampling.NEAREST), (size // 4, size // 4))
    buffer = io.BytesIO()
    canvas.save(buffer, "PNG")
    return buffer.getvalue()


def rar5(names: list[str]) -> bytes:
    def vint(value: int) -> bytes:
        out = bytearray()
        while True:
            byte, value = value & 0x7F, value >> 7
            out.append(byte | (0x80 if value else 0))
            if not value:
                return bytes(out)

    def block(body: bytes) -> bytes:
        return b"\x00" * 4 + vint(len(body)) + body

    out = b"Rar!\x1a\x07\x01\x00" + block(vint(1) + vint(0) + vint(0))
    for name in names:
        encoded = name.encode()
        fields = vint(0) + vint(10) + vint(0x20) + vint(0) + vint(2) + vint(len(encoded)) + encoded
        out += block(vint(2) + vint(2) + vint(0) + fields)  # type file, flags: data area (empty)
    return out + block(vint(5) + vint(0) + vint(0))


def rar4(names: list[str], encrypted: bool = False) -> bytes:
    out = b"Rar!\x1a\x07\x00" + struct.pack("<HBHH", 0, 0x73, 0, 13) + b"\x00" * 6
    for name in names:
        encoded = name.encode()
        flags = 0x8000 | (0x04 if encrypted else 0)
        head = struct.pack("<IIBIIBBHI", 0, 0, 2, 0, 0, 29, 0x30, len(encoded), 0x20) + encoded
        out += struct.pack("<HBHH", 0, 0x74, flags, 7 + len(head)) + head
    return out + struct.pack("<HBHH", 0, 0x7B, 0, 7)


def iso(names: list[str]) -> bytes:
    def record(name: bytes, extent: int, size: int, directory: bool) -> bytes:
        """A directory record: length, extended attributes, extent and size (both byte orders), date, flags..."""
        body = b"\x00" + struct.pack("<I", extent) + struct.pack(">I", extent)
        body += struct.pack("<I", size) + struct.pack(">I", size) + b"\x00" * 7
        body += bytes([2 if directory else 0, 0, 0]) + struct.pack("<H", 1) + struct.pack(">H", 1)
        body += bytes([len(name)]) + name
        body += b"\x00" * (len(body) % 2 == 0)  # records have an even length
        return bytes([len(body) + 1]) + body

    root = record(b"\x00", 18, 2048, True)
    pvd = b"\x01CD001\x01".ljust(156, b"\x00") + root.ljust(34, b"\x00")
    listing = root + record(b"\x01", 18, 2048, True)
    for name in names:
        listing += record(f"{name};1".encode(), 19, 10, False)
    image = b"\x00" * (16 * 2048) + pvd.ljust(2048, b"\x00") + b"\xffCD001\x01".ljust(2048, b"\x00")
    return image + listing.ljust(2048, b"\x00") + b"\x00" * 2048


def cab(names: list[str]) -> bytes:
    files = b"".join(struct.pack("<IIHHHH", 10, 0, 0, 0, 0, 0x20) + n.encode() + b"\x00" for n in names)
    offset = 36 + 8
    header = b"MSCF" + struct.pack("<IIIIIBBHHHHH", 0, 0, 0, offset, 0, 3, 1, 1, len(names), 0, 0, 0)
    return header + b"\x00" * 8 + files


# --- sniffing and names -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (PE, "pe"),
        (b"MZ" + b"\x00" * 100, "dos"),
        (ELF, "elf"),
        (b"\xcf\xfa\xed\xfe" + b"\x00" * 28, "macho"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x02", "macho"),
        (b"\xca\xfe\xba\xbe\x00\x00\x00\x34", "java-class"),
        (b"Rar!\x1a\x07\x01\x00", "rar"),
        (b"7z\xbc\xaf\x27\x1c\x00\x04", "7z"),
        (gzip.compress(b"x"), "gzip"),
        (b"BZh91AY&SY", "bzip2"),
        (b"\xfd7zXZ\x00\x00", "xz"),
        (b"MSCF\x00\x00\x00\x00", "cab"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "ole"),
        (b"{\\rtf1\\ansi", "rtf"),
        (b"\x89PNG\r\n\x1a\n", "png"),
        (b"\xff\xd8\xff\xe0", "jpeg"),
        (b"GIF89a", "gif"),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "webp"),
        (b"II*\x00", "tiff"),
        (LNK, "lnk"),
        (b"junk\n%PDF-1.7\n", "pdf"),
        (b"#!/bin/sh\ncurl x | sh", "shell"),
        (b"\xef\xbb\xbf<!DOCTYPE html><html>", "html"),
        ("<html><body>x</body></html>".encode("utf-16"), "html"),
        (b"<?xml version='1.0'?><svg xmlns='http://www.w3.org/2000/svg'/>", "svg"),
        (b"<html><head><hta:application id=x></head>", "hta"),
        (b"<?xml version='1.0'?><root/>", "xml"),
        (b"\x00" * 0x8001 + b"CD001", "iso"),
        (b"just some text", None),
        (b"MZ is the code of Mazowieckie", None),
        (b"", None),
    ],
)
def test_sniff(data: bytes, kind: str | None) -> None:
    assert sniff(data) == kind


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


# --- archives -----------------------------------------------------------------------------------------------------


def test_encrypted_zip_opened_with_the_password_of_the_message() -> None:
    data = zipcrypto("facture.pdf", PE, b"4521")
    locked = describe("facture.zip", "application/zip", data)
    assert {"archive", "encrypted-archive"} <= set(locked.flags)
    assert "executable-in-archive" not in locked.flags
    text = "Votre facture est jointe. Le mot de passe du fichier est « 4521 »."
    opened = describe("facture.zip", "application/zip", data, passwords=passwords_in_text(text))
    assert {"encrypted-archive", "executable-in-archive", "password-in-message"} <= set(opened.flags)


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


def test_zip_listing_nested_and_executables() -> None:
    inner = make_zip([("payload.exe", PE)])
    data = make_zip(
        [("invoice.pdf.exe", PE), ("docs/readme.txt", b"hi"), ("inner.zip", inner), ("looks.pdf", ELF)],
        encrypted=("docs/readme.txt",),
    )
    facts = describe("archive.zip", "application/zip", data)
    assert facts.sniffed_type == "application/zip"
    assert {"archive", "executable-in-archive", "double-extension", "nested-archive", "encrypted-archive"} <= set(
        facts.flags
    )
    assert facts.members == ["invoice.pdf.exe", "docs/readme.txt", "inner.zip", "inner.zip!payload.exe", "looks.pdf"]


def test_executable_content_under_a_harmless_name_in_a_zip() -> None:
    facts = describe("a.zip", "application/zip", make_zip([("invoice.pdf", PE)]))
    assert "executable-in-archive" in facts.flags


def test_truncated_zip_is_listed_from_local_headers() -> None:
    data = make_zip([("a.exe", PE), ("b.txt", b"b" * 100)])
    facts = describe("a.zip", "application/zip", data[: data.find(b"PK\x01\x02")])
    assert facts.members == ["a.exe", "b.txt"]
    assert "executable-in-archive" in facts.flags
    assert "zip-central-directory-unreadable" in facts.defects


def test_zip_bomb_is_listed_not_inflated() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("zeros.bin", b"\x00" * (64 * 1024 * 1024))
        archive.writestr("nested.zip", make_zip([("x.txt", b"\x00" * (16 * 1024 * 1024))]))
    facts = describe("bomb.zip", "application/zip", buffer.getvalue())
    assert facts.members[:2] == ["zeros.bin", "nested.zip"]


def test_many_members_are_capped() -> None:
    data = make_zip([(f"f{i}.txt", b"") for i in range(MAX_MEMBERS + 50)])
    facts = describe("many.zip", "application/zip", data)
    assert len(facts.members) == MAX_MEMBERS
    assert "members-truncated" in facts.defects


def test_a_directory_declaring_too_many_entries_is_not_parsed() -> None:
    data = bytearray(make_zip([("a.txt", b"a")]))
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, end + 8, 0xFFFE, 0xFFFE)  # zipfile would build 65,534 objects
    facts = describe("a.zip", "application/zip", bytes(data))
    assert "zip-too-many-entries" in facts.defects
    assert facts.members == ["a.txt"]  # from the local headers


def test_gzip_name_and_content() -> None:
    buffer = io.BytesIO()
    with gzip.GzipFile(filename="invoice.exe", fileobj=buffer, mode="wb") as stream:
        stream.write(PE)
    facts = describe("invoice.gz", "application/gzip", buffer.getvalue())
    assert facts.members == ["invoice.exe"]
    assert {"archive", "executable-in-archive"} <= set(facts.flags)


def test_tar_gz_listing() -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as archive:
        for name in ("readme.txt", "setup.exe"):
            info = tarfile.TarInfo(name)
            info.size = 2
            archive.addfile(info, io.BytesIO(b"hi"))
    facts = describe("a.tgz", "application/gzip", buffer.getvalue())
    assert facts.members == ["readme.txt", "setup.exe"]
    assert "executable-in-archive" in facts.flags


def test_rar5_and_rar4_names() -> None:
    facts = describe("a.rar", "application/vnd.rar", rar5(["doc/invoice.js", "b.txt"]))
    assert facts.members == ["doc/invoice.js", "b.txt"]
    assert {"archive", "executable-in-archive"} <= set(facts.flags)
    facts = describe("a.rar", "application/x-rar", rar4(["setup.exe"], encrypted=True))
    assert facts.members == ["setup.exe"]
    assert {"encrypted-archive", "executable-in-archive"} <= set(facts.flags)


def test_rar_with_encrypted_headers_is_unlisted() -> None:
    data = b"Rar!\x1a\x07\x00" + struct.pack("<HBHH", 0, 0x73, 0x80, 13) + b"\x00" * 6
    facts = describe("a.rar", "application/x-rar", data)
    assert {"archive-unlisted", "encrypted-archive"} <= set(facts.flags)


def test_iso_root_directory() -> None:
    facts = describe("photos.iso", "application/octet-stream", iso(["INVOICE.LNK", "README.TXT"]))
    assert facts.sniffed_type == "application/x-iso9660-image"
    assert facts.members == ["INVOICE.LNK", "README.TXT"]
    assert {"disk-image", "archive", "executable-in-archive"} <= set(facts.flags)


def test_cab_names() -> None:
    facts = describe("a.cab", "application/vnd.ms-cab-compressed", cab(["a.txt", "run.vbs"]))
    assert facts.members == ["a.txt", "run.vbs"]
    assert "executable-in-archive" in facts.flags


def test_7z_is_flagged_unlisted() -> None:
    facts = describe("a.7z", "application/x-7z-compressed", b"7z\xbc\xaf\x27\x1c\x00\x04" + b"\x00" * 40)
    assert {"archive", "archive-unlisted"} <= set(facts.flags)


# --- office documents ---------------------------------------------------------------------------------------------

RELS = (
    b'<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/'
    b'attachedTemplate" Target="https://evil.example/t.dotm?a=1&amp;b=2" TargetMode="External"/>'
    b'<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" '
    b'Target="styles.xml"/></Relationships>'
)


def docx(*extra: tuple[str, bytes]) -> bytes:
    base = [("[Content_Types].xml", b"<Types/>"), ("word/document.xml", b"<w:document/>")]
    return make_zip([*base, ("word/_rels/settings.xml.rels", RELS), *extra])


def test_docx_with_macros_remote_template_and_link() -> None:
    facts = describe("f.docm", "application/octet-stream", docx(("word/vbaProject.bin", b"\xd0\xcf\x11\xe0")))
    assert facts.sniffed_type == "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    assert {"macro", "remote-template"} <= set(facts.flags)
    assert "archive" not in facts.flags
    assert facts.urls == [("https://evil.example/t.dotm?a=1&b=2", "office")]
    assert facts.members == []


def test_docx_without_macros_and_a_qr_code_in_its_media() -> None:
    facts = describe("f.docx", "", docx(("word/media/image1.png", qr_png("https://quish.example/a"))))
    assert "macro" not in facts.flags
    assert "qr-code" in facts.flags
    assert ("https://quish.example/a", "qr") in facts.urls


def test_xlsx_and_jar_and_apk_refinements() -> None:
    xlsx = make_zip([("[Content_Types].xml", b""), ("xl/workbook.xml", b""), ("xl/macrosheets/sheet1.xml", b"")])
    assert describe("a.xlsx", "", xlsx).sniffed_type.endswith("spreadsheetml.sheet")  # type: ignore[union-attr]
    assert "macro" in describe("a.xlsx", "", xlsx).flags
    jar = make_zip([("META-INF/MANIFEST.MF", b""), ("a/Main.class", b"\xca\xfe\xba\xbe")])
    assert describe("a.jar", "", jar).sniffed_type == "application/java-archive"
    apk = make_zip([("AndroidManifest.xml", b""), ("classes.dex", b"dex\n035")])
    facts = describe("colis.apk", "", apk)
    assert facts.sniffed_type == "application/vnd.android.package-archive"
    assert "executable" in facts.flags


def test_ole_with_vba_storage_is_a_macro_document() -> None:
    data = make_ole({"Macros": ["VBA"]}, streams=("WordDocument",))
    facts = describe("old.doc", "application/msword", data)
    assert facts.sniffed_type == "application/msword"
    assert "macro" in facts.flags
    assert "extension-mismatch" not in facts.flags


def test_ole_without_macros_and_encrypted_office() -> None:
    assert "macro" not in describe("b.xls", "", make_ole({}, streams=("Workbook",))).flags
    encrypted = describe("c.docx", "", make_ole({}, streams=("EncryptionInfo", "EncryptedPackage")))
    assert "encrypted-document" in encrypted.flags
    assert encrypted.sniffed_type == "application/x-ms-office-encrypted"


def test_msi_is_executable() -> None:
    clsid = bytes.fromhex("84100C0000000000C000000000000046")
    facts = describe("setup.msi", "", make_ole({}, streams=("x",), clsid=clsid))
    assert facts.sniffed_type == "application/x-msi"
    assert "executable" in facts.flags


def test_short_ole_bytes_are_never_a_path() -> None:
    facts = describe("a.doc", "", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1/etc/passwd")
    assert facts.sniffed_type == "application/x-ole-storage"
    assert any(defect.startswith("ole-kind-failed:") for defect in facts.defects)


def test_rtf_with_an_object_and_a_hyperlink() -> None:
    rtf = rb'{\rtf1{\field{\*\fldinst HYPERLINK "https://rtf.example/x"}}{\object\objemb{\objdata 0105}}}'
    facts = describe("a.doc", "application/msword", rtf)
    assert {"embedded-object", "extension-mismatch"} <= set(facts.flags)
    assert facts.urls == [("https://rtf.example/x", "office")]


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
