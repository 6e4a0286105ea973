"""Archives listed from their directories, through describe(): ZIP, RAR, CAB, ISO, tar and compressed streams."""

from __future__ import annotations

import gzip
import io
import struct
import tarfile
import zipfile

from signalement.mail.attachments import MAX_MEMBERS, describe, passwords_in_text
from tests.unit.mail.attachment_samples import ELF, PE, cab, iso, make_zip, rar4, rar5, zipcrypto


def test_encrypted_zip_opened_with_the_password_of_the_message() -> None:
    data = zipcrypto("facture.pdf", PE, b"4521")
    locked = describe("facture.zip", "application/zip", data)
    assert {"archive", "encrypted-archive"} <= set(locked.flags)
    assert "executable-in-archive" not in locked.flags
    text = "Votre facture est jointe. Le mot de passe du fichier est « 4521 »."
    opened = describe("facture.zip", "application/zip", data, passwords=passwords_in_text(text))
    assert {"encrypted-archive", "executable-in-archive", "password-in-message"} <= set(opened.flags)


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
