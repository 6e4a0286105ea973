"""Office documents: macros, embedded objects, external relationship targets (links, remote templates) and QR
codes in the media of OOXML files; the same flags from OLE storages (and what an OLE file is: Word, Excel,
PowerPoint, MSI, Outlook message, encrypted OOXML); macros and objects of ODF files; objects and hyperlinks of
RTF."""

from __future__ import annotations

import html
import re
import zipfile
from collections.abc import Callable
from io import BytesIO

import olefile

from signalement.mail.archives import MAX_ENTRIES, SNIFF_BYTES
from signalement.mail.findings import Findings
from signalement.mail.sniff import QR_IMAGES, sniff

MAX_OLE_BYTES = 32 * 1024 * 1024
MAX_OFFICE_PARTS = 50  # relationship parts read from an OOXML file
MAX_OFFICE_PART_BYTES = 1024 * 1024
MAX_OFFICE_IMAGES = 2  # media images of an OOXML file scanned for QR codes
MAX_TEXT_SCAN = 2 * 1024 * 1024  # of RTF scanned

_VBA_STORAGES = frozenset({"vba", "_vba_project", "_vba_project_cur", "macros"})
_OLE_OBJECTS = frozenset({"\x01ole10native", "equation native", "objectpool"})
_MSI_CLSID = "000C1084-0000-0000-C000-000000000046"


def _ole_entries(data: bytes) -> tuple[list[list[str]], str]:
    # A file object, never bytes: olefile takes bytes shorter than 1536 for a file name and would open that path.
    with olefile.OleFileIO(BytesIO(data[:MAX_OLE_BYTES])) as ole:
        entries = [list(path) for path in ole.listdir(streams=True, storages=True)[:MAX_ENTRIES]]
        clsid = str(ole.root.clsid or "") if ole.root is not None else ""
    return entries, clsid


def ole_kind(data: bytes, facts: Findings) -> str:
    entries, clsid = _ole_entries(data)
    names = {part.lower() for path in entries for part in path}
    tops = {path[0].lower() for path in entries if path}
    if names & _VBA_STORAGES:
        facts.flag("macro")
    if names & _OLE_OBJECTS:
        facts.flag("embedded-object")
    if {"encryptioninfo", "encryptedpackage"} <= tops:
        facts.flag("encrypted-document")
        return "office-encrypted"
    if clsid.upper() == _MSI_CLSID:
        return "msi"
    for stream, kind in (("worddocument", "doc"), ("workbook", "xls"), ("book", "xls"), ("powerpoint document", "ppt")):
        if stream in tops:
            return kind
    return "msg" if any(top.startswith("__substg1.0_") for top in tops) else "ole"


_RELATIONSHIP = re.compile(rb"<Relationship\b[^>]*>")  # XML is case-sensitive: no re.I, which would scan slowly
_ATTRIBUTE = re.compile(rb'([A-Za-z]+)\s*=\s*"([^"]*)"|([A-Za-z]+)\s*=\s*\'([^\']*)\'')
_RELS_PART = re.compile(r"(?:^|/)_rels/[^/]*\.rels$", re.I)


def inspect_ooxml(data: bytes, facts: Findings) -> None:
    """Macros, embedded objects, external relationship targets (links, remote templates), QR codes in media."""
    archive = zipfile.ZipFile(BytesIO(data))
    infos = archive.infolist()[:MAX_ENTRIES]
    lowered = [info.filename.lower() for info in infos]
    if any(name.endswith("vbaproject.bin") or "/macrosheets/" in name for name in lowered):
        facts.flag("macro")
    if any("/embeddings/" in name or name.endswith("activex.bin") for name in lowered):
        facts.flag("embedded-object")
    if any(info.flag_bits & 1 for info in infos):
        facts.flag("encrypted-archive")
    rels = [info for info in infos if _RELS_PART.search(info.filename)][:MAX_OFFICE_PARTS]
    for info in rels:
        with archive.open(info) as part:
            _relationships(part.read(MAX_OFFICE_PART_BYTES), facts)
    media = [i for i in infos if "/media/" in i.filename.lower() and i.file_size <= MAX_OFFICE_PART_BYTES * 4]
    for info in media[:MAX_OFFICE_IMAGES]:
        with archive.open(info) as part:
            image = part.read(MAX_OFFICE_PART_BYTES * 4)
        if sniff(image[:SNIFF_BYTES]) in QR_IMAGES:
            facts.qr(image)


def _relationships(xml: bytes, facts: Findings) -> None:
    for element in _RELATIONSHIP.finditer(xml):
        attributes = {
            (m.group(1) or m.group(3)).decode("ascii").lower(): (m.group(2) or m.group(4) or b"")
            for m in _ATTRIBUTE.finditer(element.group(0))
        }
        if attributes.get("targetmode", b"").lower() != b"external":
            continue
        target = html.unescape(attributes.get("target", b"").decode("utf-8", "replace"))
        facts.url(target, "office")
        kind = attributes.get("type", b"").lower()
        if kind.endswith((b"/attachedtemplate", b"/oleobject", b"/frame", b"/subdocument")):
            facts.flag("remote-template")


def inspect_odf(data: bytes, facts: Findings) -> None:
    names = [info.filename.lower() for info in zipfile.ZipFile(BytesIO(data)).infolist()[:MAX_ENTRIES]]
    if any(name.startswith(("basic/", "scripts/")) for name in names):
        facts.flag("macro")
    if any(name.startswith("object ") for name in names):
        facts.flag("embedded-object")


_RTF_HYPERLINK = re.compile(rb'HYPERLINK\s+(?:\\\\l\s+)?"([^"\s]{4,2048})"')


def inspect_rtf(data: bytes, facts: Findings) -> None:
    head = data[:MAX_TEXT_SCAN]
    if b"\\objdata" in head or b"\\object" in head:
        facts.flag("embedded-object")
    if b"HYPERLINK" in head:
        for match in _RTF_HYPERLINK.finditer(head):
            facts.url(match.group(1).decode("latin-1"), "office")


INSPECTORS: dict[str, Callable[[bytes, Findings], None]] = {
    "docx": inspect_ooxml,
    "xlsx": inspect_ooxml,
    "pptx": inspect_ooxml,
    "ooxml": inspect_ooxml,
    "odf": inspect_odf,
    "rtf": inspect_rtf,
}
