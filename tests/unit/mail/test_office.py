"""Office documents, through describe(): OOXML macros, remote templates and media QR codes, OLE storages, RTF."""

from __future__ import annotations

from signalement.mail.attachments import describe
from tests.unit.mail.attachment_samples import docx, make_ole, make_zip, qr_png


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
