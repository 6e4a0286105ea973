"""Facts of an attachment from its bytes: what it really is, what it would run, what it links to.

Nothing is executed, rendered or written to disk. Archives are listed from their directories, not unpacked: a
member is decompressed only to sniff its first bytes, or to list a nested ZIP, under byte caps. Every inspector
is bounded (bytes read, members listed, objects walked) and returns what it could read with defect strings.
"""

from __future__ import annotations

import bz2
import hashlib
import html
import lzma
import re
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any

import olefile

from signalement.mail.pdf import pdf_facts
from signalement.mail.qr import qr_scan

MAX_MEMBERS = 200  # member names kept
MAX_ENTRIES = 10_000  # archive entries read from a directory
MAX_SNIFFED_MEMBERS = 50  # archive members whose first bytes are decompressed
SNIFF_BYTES = 1024
MAX_NESTED_BYTES = 4 * 1024 * 1024  # a nested ZIP decompressed to list it
MAX_NESTED_TOTAL = 8 * 1024 * 1024
MAX_COMPRESSED_PREFIX = 1024 * 1024  # of a gzip/bzip2/xz stream, to sniff or list the tar inside
MAX_TEXT_SCAN = 2 * 1024 * 1024  # HTML, SVG, RTF and scripts scanned
MAX_OLE_BYTES = 32 * 1024 * 1024
MAX_OFFICE_PARTS = 50  # relationship parts read from an OOXML file
MAX_OFFICE_PART_BYTES = 1024 * 1024
MAX_OFFICE_IMAGES = 2  # media images of an OOXML file scanned for QR codes
MAX_URLS = 200
MAX_PASSWORDS = 5
MAX_TAR_ENTRIES = 2_000
MAX_ISO_DIRECTORIES = 20
MAX_ISO_RECORDS = 4_000  # directory records read in one ISO directory

# --- What the bytes are -------------------------------------------------------------------------------------------

# (magic, offset, kind): checked in order, the first match wins.
_MAGIC: tuple[tuple[bytes, int, str], ...] = (
    (b"MZ", 0, "pe"),
    (b"\x7fELF", 0, "elf"),
    *(
        (magic, 0, "macho")
        for magic in (b"\xfe\xed\xfa\xce", b"\xfe\xed\xfa\xcf", b"\xce\xfa\xed\xfe", b"\xcf\xfa\xed\xfe")
    ),
    (b"\xca\xfe\xba\xbe", 0, "cafebabe"),  # a fat Mach-O or a Java class
    (b"PK\x03\x04", 0, "zip"),
    (b"PK\x05\x06", 0, "zip"),
    (b"PK\x07\x08", 0, "zip"),
    (b"Rar!\x1a\x07", 0, "rar"),
    (b"7z\xbc\xaf\x27\x1c", 0, "7z"),
    (b"\x1f\x8b", 0, "gzip"),
    (b"BZh", 0, "bzip2"),
    (b"\xfd7zXZ\x00", 0, "xz"),
    (b"MSCF", 0, "cab"),
    (b"ITSF", 0, "chm"),
    (b"**ACE**", 7, "ace"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 0, "ole"),
    (b"{\\rt", 0, "rtf"),  # Word opens `{\rt` as RTF, `{\rtf1` is not required
    (b"\x89PNG\r\n\x1a\n", 0, "png"),
    (b"\xff\xd8\xff", 0, "jpeg"),
    (b"GIF87a", 0, "gif"),
    (b"GIF89a", 0, "gif"),
    (b"II*\x00", 0, "tiff"),
    (b"MM\x00*", 0, "tiff"),
    (b"L\x00\x00\x00\x01\x14\x02\x00", 0, "lnk"),
    (b"vhdxfile", 0, "vhdx"),
    (b"conectix", 0, "vhd"),
    (b"CD001", 0x8001, "iso"),
    (b"BEA01", 0x8001, "iso"),  # UDF
    (b"CD001", 0x8801, "iso"),
    (b"CD001", 0x9001, "iso"),
    (b"ustar", 257, "tar"),
)

_MIME = {
    "pe": "application/vnd.microsoft.portable-executable",
    "dos": "application/x-dosexec",
    "elf": "application/x-executable",
    "macho": "application/x-mach-binary",
    "java-class": "application/java-vm",
    "zip": "application/zip",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "ooxml": "application/vnd.openxmlformats-officedocument",
    "odf": "application/vnd.oasis.opendocument",
    "jar": "application/java-archive",
    "apk": "application/vnd.android.package-archive",
    "ipa": "application/x-ios-app",
    "appx": "application/vnd.ms-appx",
    "rar": "application/vnd.rar",
    "7z": "application/x-7z-compressed",
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "cab": "application/vnd.ms-cab-compressed",
    "chm": "application/vnd.ms-htmlhelp",
    "ace": "application/x-ace-compressed",
    "tar": "application/x-tar",
    "iso": "application/x-iso9660-image",
    "img": "application/x-raw-disk-image",
    "vhd": "application/x-vhd",
    "vhdx": "application/x-vhdx",
    "ole": "application/x-ole-storage",
    "doc": "application/msword",
    "xls": "application/vnd.ms-excel",
    "ppt": "application/vnd.ms-powerpoint",
    "msi": "application/x-msi",
    "msg": "application/vnd.ms-outlook",
    "office-encrypted": "application/x-ms-office-encrypted",
    "rtf": "application/rtf",
    "pdf": "application/pdf",
    "png": "image/png",
    "jpeg": "image/jpeg",
    "gif": "image/gif",
    "webp": "image/webp",
    "bmp": "image/bmp",
    "tiff": "image/tiff",
    "ico": "image/vnd.microsoft.icon",
    "svg": "image/svg+xml",
    "html": "text/html",
    "hta": "application/hta",
    "xml": "application/xml",
    "lnk": "application/x-ms-shortcut",
    "shell": "text/x-shellscript",
}

_IMAGES = frozenset({"png", "jpeg", "gif", "webp", "bmp", "tiff", "ico"})
_QR_IMAGES = frozenset({"png", "jpeg", "gif", "webp", "bmp"})
_ZIP_FAMILY = frozenset({"zip", "docx", "xlsx", "pptx", "ooxml", "odf", "jar", "apk", "ipa", "appx"})
_NATIVE = frozenset({"pe", "dos", "elf", "macho"})
_ARCHIVES = frozenset({"zip", "rar", "7z", "gzip", "bzip2", "xz", "cab", "ace", "tar", "iso", "img", "vhd", "vhdx"})
_DISK_IMAGES = frozenset({"iso", "img", "vhd", "vhdx"})


def sniff(data: bytes) -> str | None:
    """The kind of file by its content (a key of _MIME), or None for text and unknown bytes."""
    for magic, offset, kind in _MAGIC:
        if data[offset : offset + len(magic)] == magic:
            return _refined(kind, data)
    if b"%PDF-" in data[:1024]:  # readers accept junk before the header
        return "pdf"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:2] == b"BM" and len(data) >= 26 and data[6:10] == b"\x00\x00\x00\x00":
        return "bmp"
    if data[:4] == b"\x00\x00\x01\x00" and len(data) >= 22 and data[4] > 0 and data[5] == 0 and data[9] == 0:
        return "ico"
    if len(data) >= 512 and data[510:512] == b"\x55\xaa" and b"FAT" in data[0x36:0x3E] + data[0x52:0x5A]:
        return "img"
    if len(data) >= 512 and data[-512:-504] == b"conectix":  # fixed VHD: the footer is last
        return "vhd"
    return _sniff_text(data[:1024])


def _refined(kind: str, data: bytes) -> str | None:
    if kind == "pe":
        (offset,) = struct.unpack_from("<I", data, 0x3C) if len(data) >= 0x40 else (0,)
        if 0 < offset < len(data) - 4 and data[offset : offset + 4] == b"PE\x00\x00":
            return "pe"
        return "dos" if b"\x00" in data[:64] else _sniff_text(data[:1024])  # a text may start with "MZ"
    if kind == "cafebabe":  # fat Mach-O: a small architecture count; Java class: major version >= 45
        (count,) = struct.unpack_from(">I", data, 4) if len(data) >= 8 else (0,)
        return "macho" if 0 < count < 40 else "java-class"
    return kind


_TEXT_KINDS = (  # in this order: an HTML page may inline an <svg> icon, an SVG may carry a <script>
    (re.compile(rb"<hta:application", re.I), "hta"),
    (re.compile(rb"<!doctype\s+html|<html[\s>]|<head[\s>]|<body[\s>]", re.I), "html"),
    (re.compile(rb"<svg[\s>]", re.I), "svg"),
    (re.compile(rb"<script[\s>]|<form[\s>]|<iframe[\s>]|<meta\s[^>]*http-equiv", re.I), "html"),
)


def _sniff_text(head: bytes) -> str | None:
    if head.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 markup hides from byte patterns: an evasion
        head = head.decode("utf-16", "replace").encode("utf-8", "replace")
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped.startswith(b"#!"):
        return "shell"
    if b"<" not in head:
        return None
    for pattern, kind in _TEXT_KINDS:
        if pattern.search(head):
            return kind
    return "xml" if stripped.startswith(b"<?xml") else None


# --- What the name says -------------------------------------------------------------------------------------------

_EXECUTABLE_EXT = frozenset(
    "exe dll scr pif com cpl msi msix msixbundle appx appxbundle msp mst sys ocx drv gadget application xbap "
    "apk xapk ipa dmg pkg app deb rpm run xll elf".split()
)
_SCRIPT_EXT = frozenset(
    "js jse vbs vbe vb wsf wsh wsc ws ps1 psm1 psd1 ps1xml psc1 bat cmd hta lnk jar reg url scf sct inf chm msc "
    "mobileconfig library-ms searchconnector-ms settingcontent-ms appref-ms iqy slk sh command".split()
)
_DISK_IMAGE_EXT = frozenset("iso img vhd vhdx".split())
_ARCHIVE_EXT = frozenset("zip zipx rar r00 r01 7z gz tgz bz2 tbz2 xz txz cab tar ace arj lzh lha z".split())
_DOCUMENT_EXT = frozenset(
    "pdf doc docx docm xls xlsx xlsm ppt pptx odt ods rtf txt csv jpg jpeg png gif bmp tif tiff mp3 mp4 wav mov "
    "avi zip rar html htm eml msg ics xml".split()
)
_HTML_EXT = frozenset("html htm shtml xhtml mht mhtml svg".split())
_MACRO_EXT = frozenset("docm dotm xlsm xltm xlam pptm potm ppsm ppam sldm".split())

# Extension -> the kinds its content may sniff as (absent: no expectation).
_EXPECTED: dict[str, frozenset[str | None]] = {
    **{ext: frozenset({"pdf"}) for ext in ("pdf",)},
    **{ext: frozenset({"docx", "ooxml"}) for ext in ("docx", "docm", "dotx", "dotm")},
    **{ext: frozenset({"xlsx", "ooxml"}) for ext in ("xlsx", "xlsm", "xltx", "xltm", "xlam", "xlsb")},
    **{ext: frozenset({"pptx", "ooxml"}) for ext in ("pptx", "pptm", "ppsx", "ppsm", "potx", "potm")},
    **{ext: frozenset({"doc", "ole"}) for ext in ("doc", "dot")},
    **{ext: frozenset({"xls", "ole"}) for ext in ("xls", "xlt")},
    **{ext: frozenset({"ppt", "ole"}) for ext in ("ppt", "pps")},
    "msg": frozenset({"msg", "ole"}),
    "msi": frozenset({"msi", "ole"}),
    **{ext: frozenset({"odf", "zip"}) for ext in ("odt", "ods", "odp")},
    **dict.fromkeys(("zip", "zipx"), _ZIP_FAMILY),
    "jar": frozenset({"jar", "zip"}),
    "apk": frozenset({"apk", "zip", "jar"}),
    "rar": frozenset({"rar"}),
    "7z": frozenset({"7z"}),
    **{ext: frozenset({"gzip"}) for ext in ("gz", "tgz")},
    "bz2": frozenset({"bzip2"}),
    "xz": frozenset({"xz"}),
    "cab": frozenset({"cab"}),
    "tar": frozenset({"tar"}),
    "iso": frozenset({"iso"}),
    "img": frozenset({"img", "iso"}),
    "vhd": frozenset({"vhd"}),
    "vhdx": frozenset({"vhdx"}),
    **{ext: frozenset({"pe", "dos"}) for ext in ("exe", "dll", "scr", "cpl", "sys", "ocx", "com", "pif")},
    **dict.fromkeys(("png", "jpg", "jpeg", "jpe", "gif", "bmp", "tif", "tiff", "ico", "webp"), _IMAGES),
    "svg": frozenset({"svg", "xml"}),
    **{ext: frozenset({"html", "xml", None}) for ext in ("html", "htm", "shtml", "xhtml")},
    "hta": frozenset({"hta", "html", None}),
    "rtf": frozenset({"rtf"}),
    "lnk": frozenset({"lnk"}),
    **{ext: frozenset({None}) for ext in ("txt", "csv", "ics", "vcf", "json")},
}

_DECLARED = {
    "application/pdf": "pdf",
    "application/x-pdf": "pdf",
    "application/zip": "zip",
    "application/x-zip-compressed": "zip",
    "application/x-zip": "zip",
    "application/msword": "doc",
    "application/vnd.ms-excel": "xls",
    "application/vnd.ms-powerpoint": "ppt",
    "application/x-rar-compressed": "rar",
    "application/vnd.rar": "rar",
    "application/x-rar": "rar",
    "application/x-7z-compressed": "7z",
    "application/gzip": "gzip",
    "application/x-gzip": "gzip",
    "application/rtf": "rtf",
    "text/rtf": "rtf",
    "text/html": "html",
    "image/svg+xml": "svg",
    "application/x-msdownload": "pe",
    "application/x-msdos-program": "pe",
    "application/vnd.microsoft.portable-executable": "pe",
    "application/x-iso9660-image": "iso",
    "application/java-archive": "jar",
    "application/vnd.android.package-archive": "apk",
    "image/png": "png",
    "image/jpeg": "jpeg",
    "image/jpg": "jpeg",
    "image/pjpeg": "jpeg",
    "image/gif": "gif",
    "image/bmp": "bmp",
    "image/webp": "webp",
    "image/tiff": "tiff",
    "text/plain": "txt",
}


def _extension(name: str) -> tuple[str, str | None]:
    """(last extension, the one before) of a file name, lower case, Windows-style: trailing dots and spaces drop."""
    parts = [part.strip().lower() for part in name.rstrip(". ").split(".")]
    if len(parts) < 2:
        return "", None
    return parts[-1], parts[-2] if len(parts) >= 3 else None


def _expected_from_declared(declared: str) -> frozenset[str | None] | None:
    kind = _DECLARED.get(declared)
    if kind is not None:
        return _EXPECTED.get(kind) or frozenset({kind})
    if declared.startswith(("application/vnd.openxmlformats-officedocument.", "application/vnd.ms-word.")):
        return frozenset({"docx", "xlsx", "pptx", "ooxml"})
    if declared.startswith(("application/vnd.ms-excel.", "application/vnd.ms-powerpoint.")):
        return frozenset({"xlsx", "pptx", "ooxml"})
    return None


def _mismatch(expected: frozenset[str | None] | None, kind: str | None) -> bool:
    """Content contradicts the name or the declared type. Unknown content (None) contradicts only a binary format's
    name loosely, so it is not flagged; images among themselves are a benign mix-up."""
    if expected is None or kind is None or kind in expected:
        return False
    if kind in _IMAGES and expected & _IMAGES:
        return False
    return not (kind == "xml" and expected & {"html", "svg"})


# --- The result ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attachment:
    name: str | None
    declared_type: str
    sniffed_type: str | None
    size: int
    sha256: str
    flags: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    urls: list[tuple[str, str]] = field(default_factory=list)  # (raw URL, where: pdf, qr, office)
    qr_texts: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "declared_type": self.declared_type,
            "sniffed_type": self.sniffed_type,
            "size": self.size,
            "sha256": self.sha256,
            "flags": list(self.flags),
            "members": list(self.members),
            "urls": [list(url) for url in self.urls],
            "qr_texts": list(self.qr_texts),
            "defects": list(self.defects),
        }


@dataclass
class _Facts:
    """Mutable accumulator; flags keep their order of discovery, without duplicates."""

    passwords: tuple[str, ...] = ()
    flags: dict[str, None] = field(default_factory=dict)
    members: list[str] = field(default_factory=list)
    urls: dict[tuple[str, str], None] = field(default_factory=dict)
    qr_texts: list[str] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def flag(self, *names: str) -> None:
        for name in names:
            self.flags[name] = None

    def url(self, url: str, where: str) -> None:
        url = url.strip()
        if url and len(self.urls) < MAX_URLS:
            self.urls[(url[:4096], where)] = None

    def member(self, name: str) -> None:
        if len(self.members) < MAX_MEMBERS:
            self.members.append(name[:512])
        else:
            self.defect("members-truncated")

    def defect(self, text: str) -> None:
        if text not in self.defects:
            self.defects.append(text)


def describe(filename: str | None, declared_type: str, data: bytes, passwords: Sequence[str] = ()) -> Attachment:
    """Facts of one attachment. Never raises: an inspector that fails leaves a defect. `passwords`: candidates from
    the message (passwords_in_text) for an encrypted PDF or ZIP member."""
    facts = _Facts(passwords=tuple(passwords[:MAX_PASSWORDS]))
    name = _clean_name(filename, facts) if filename else None
    kind = sniff(data)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if kind == "zip":
        kind = _safely(_zip_kind, data, facts, default="zip")
    elif kind == "ole":
        kind = _safely(_ole_kind, data, facts, default="ole")
    ext, before = _extension(name) if name else ("", None)
    _name_flags(ext, before, facts)
    if _mismatch(_EXPECTED.get(ext), kind) or _mismatch(_expected_from_declared(declared), kind):
        facts.flag("extension-mismatch")
    _content_flags(kind, ext, declared, data, facts)
    return Attachment(
        name=name,
        declared_type=declared_type,
        sniffed_type=_MIME.get(kind) if kind else None,
        size=len(data),
        sha256=hashlib.sha256(data).hexdigest(),
        flags=list(facts.flags),
        members=facts.members,
        urls=list(facts.urls),
        qr_texts=facts.qr_texts,
        defects=facts.defects,
    )


def _safely(inspector: Callable[..., Any], *args: Any, default: Any = None) -> Any:
    """Run one inspector; a parser bug on hostile bytes becomes a defect, never an exception. args[-1] is the facts."""
    try:
        return inspector(*args)
    except Exception as error:  # the parsers (zipfile, olefile, tarfile, struct...) raise many kinds
        facts: _Facts = args[-1]
        facts.defect(f"{inspector.__name__.strip('_').replace('_', '-')}-failed:{type(error).__name__}")
        return default


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _clean_name(filename: str, facts: _Facts) -> str:
    """The base name as a user would see it; right-to-left overrides (`invoice\u202efdp.exe`) flagged and kept."""
    name = filename[-1024:].replace("\\", "/").rsplit("/", 1)[-1].strip()
    if _BIDI.search(name):
        facts.flag("bidi-filename")
    return name


def _name_flags(ext: str, before: str | None, facts: _Facts) -> None:
    if ext in _EXECUTABLE_EXT:
        facts.flag("executable")
    if ext in _SCRIPT_EXT:
        facts.flag("script")
    if ext in _DISK_IMAGE_EXT:
        facts.flag("disk-image")
    if ext in _MACRO_EXT:
        facts.flag("macro")
    risky = _EXECUTABLE_EXT | _SCRIPT_EXT | _DISK_IMAGE_EXT | _HTML_EXT
    if before in _DOCUMENT_EXT and ext in risky and before != ext:
        facts.flag("double-extension")


def _content_flags(kind: str | None, ext: str, declared: str, data: bytes, facts: _Facts) -> None:
    if kind in _NATIVE or kind in ("msi", "apk", "ipa", "appx"):
        facts.flag("executable")
    if kind in ("lnk", "hta", "shell", "jar", "java-class"):
        facts.flag("script")
    if kind in _DISK_IMAGES:
        facts.flag("disk-image")
    if kind in _ARCHIVES:
        facts.flag("archive")
    inspector = _INSPECTORS.get(kind or "")
    if inspector:
        _safely(inspector, data, facts)
    if kind in ("html", "hta", "svg") or (kind is None and (ext in _HTML_EXT or declared == "text/html")):
        _safely(_markup, data, kind == "svg" or ext == "svg", facts)
    if kind in (None, "shell", "xml", "html", "hta", "svg"):
        _safely(_script_content, data, facts)


# --- Archives -----------------------------------------------------------------------------------------------------


def _zip_infos(data: bytes, facts: _Facts) -> list[zipfile.ZipInfo] | None:
    """The central directory (None if unreadable). The entry count is checked first: zipfile builds an object per
    entry, and a 1 MB hostile directory can declare a million."""
    if _zip_declared_entries(data) > MAX_ENTRIES:
        facts.defect("zip-too-many-entries")
        return None
    try:
        return zipfile.ZipFile(BytesIO(data)).infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError, struct.error):
        return None


def _zip_declared_entries(data: bytes) -> int:
    end = data.rfind(b"PK\x05\x06", max(0, len(data) - 65_557))
    if end < 0 or end + 22 > len(data):
        return 0
    (count,) = struct.unpack_from("<H", data, end + 10)
    locator = end - 20
    if count == 0xFFFF and locator >= 0 and data[locator : locator + 4] == b"PK\x06\x07":
        (offset,) = struct.unpack_from("<Q", data, locator + 8)
        if data[offset : offset + 4] == b"PK\x06\x06" and offset + 40 <= len(data):
            (count,) = struct.unpack_from("<Q", data, offset + 32)
    return int(count)


def _local_headers(data: bytes) -> list[tuple[str, int]]:
    """(name, flag bits) from local file headers: the listing of a truncated ZIP without its central directory."""
    found: list[tuple[str, int]] = []
    at = data.find(b"PK\x03\x04")
    while at >= 0 and len(found) < MAX_ENTRIES and at + 30 <= len(data):
        flags, name_length = struct.unpack_from("<H", data, at + 6)[0], struct.unpack_from("<H", data, at + 26)[0]
        raw = data[at + 30 : at + 30 + name_length]
        found.append((raw.decode("utf-8" if flags & 0x800 else "cp437", "replace"), flags))
        (size,), (extra,) = struct.unpack_from("<I", data, at + 18), struct.unpack_from("<H", data, at + 28)
        # Skip the member's data when its size is known (bit 3 clear): a stored nested ZIP holds headers too.
        at = data.find(b"PK\x03\x04", at + 30 + name_length + (0 if flags & 0x08 else extra + size))
    return found


def _zip_kind(data: bytes, facts: _Facts) -> str:
    """ZIP refined by its member names: OOXML, ODF, JAR, APK, IPA, APPX."""
    infos = _zip_infos(data, facts)
    names = [info.filename for info in infos] if infos is not None else [name for name, _ in _local_headers(data)]
    if infos is None:
        facts.defect("zip-central-directory-unreadable")
    lowered = {name.lower() for name in names}
    if "[content_types].xml" in lowered:
        for prefix, kind in (("word/", "docx"), ("xl/", "xlsx"), ("ppt/", "pptx")):
            if any(name.startswith(prefix) for name in lowered):
                return kind
        return "appx" if "appxmanifest.xml" in lowered else "ooxml"
    if "mimetype" in lowered and "content.xml" in lowered:
        return "odf"
    if "androidmanifest.xml" in lowered and any(name.endswith(".dex") for name in lowered):
        return "apk"
    if any(name.startswith("payload/") and ".app/" in name for name in lowered):
        return "ipa"
    if "meta-inf/manifest.mf" in lowered and any(name.endswith(".class") for name in lowered):
        return "jar"
    return "zip"


def _inspect_zip(data: bytes, facts: _Facts) -> None:
    infos = _zip_infos(data, facts)
    if infos is None:
        for name, flags in _local_headers(data):
            _archive_member(name, facts, encrypted=bool(flags & 1))
        return
    archive = zipfile.ZipFile(BytesIO(data))
    budget = [MAX_NESTED_TOTAL]
    for index, info in enumerate(infos):
        _archive_member(info.filename, facts, encrypted=bool(info.flag_bits & 1))
        if index < MAX_SNIFFED_MEMBERS and not info.is_dir() and info.file_size:
            if not info.flag_bits & 1:
                _sniff_zip_member(archive, info, facts, budget)
            elif facts.passwords:
                _sniff_encrypted_member(archive, info, facts)


def _sniff_encrypted_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, facts: _Facts) -> None:
    """An encrypted member (ZipCrypto; zipfile cannot read AES) opened with a password the message gives."""
    for password in facts.passwords:
        try:
            with archive.open(info, pwd=password.encode("utf-8")) as member:
                head = member.read(SNIFF_BYTES)
        except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error, ValueError):
            continue  # a wrong password, or one that passes ZipCrypto's 1-byte check and then fails
        facts.flag("password-in-message")
        _sniffed_member(sniff(head), facts)
        return


def _sniffed_member(kind: str | None, facts: _Facts) -> None:
    if kind in _NATIVE or kind in ("lnk", "hta", "msi"):
        facts.flag("executable-in-archive")
    if kind in _ARCHIVES:
        facts.flag("nested-archive")


def _sniff_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, facts: _Facts, budget: list[int]) -> None:
    """The member's first bytes: an executable named invoice.pdf is still an executable. A nested ZIP is listed."""
    try:
        with archive.open(info) as member:
            head = member.read(SNIFF_BYTES)
            kind = sniff(head)
            _sniffed_member(kind, facts)
            if kind == "zip" and info.file_size <= min(MAX_NESTED_BYTES, budget[0]):
                budget[0] -= info.file_size
                inner = head + member.read(info.file_size - len(head) + 1)
                _list_nested_zip(info.filename, inner, facts)
    except zipfile.BadZipFile:
        facts.defect("zip-member-mismatch")  # local and central names differ (an evasion), or a bad CRC
    except (NotImplementedError, RuntimeError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        facts.defect("zip-member-unreadable")


def _list_nested_zip(outer: str, data: bytes, facts: _Facts) -> None:
    infos = _zip_infos(data, facts)
    listing = [(i.filename, i.flag_bits) for i in infos] if infos is not None else _local_headers(data)
    for name, flags in listing:
        _archive_member(f"{outer}!{name}", facts, encrypted=bool(flags & 1))


def _archive_member(name: str, facts: _Facts, encrypted: bool = False) -> None:
    facts.member(name)
    if encrypted:
        facts.flag("encrypted-archive")
    base = name.rstrip("/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    ext, before = _extension(base)
    if ext in _EXECUTABLE_EXT or ext in _SCRIPT_EXT:
        facts.flag("executable-in-archive")
    if ext in _ARCHIVE_EXT or ext in _DISK_IMAGE_EXT:
        facts.flag("nested-archive")
    if before in _DOCUMENT_EXT and ext in (_EXECUTABLE_EXT | _SCRIPT_EXT | _HTML_EXT) and before != ext:
        facts.flag("double-extension")


def _inspect_rar(data: bytes, facts: _Facts) -> None:
    listing = _rar5_names(data) if data[6:8] == b"\x01\x00" else _rar4_names(data)
    if listing is None:
        facts.flag("archive-unlisted", "encrypted-archive")  # headers are encrypted (rar -hp)
        return
    for name, encrypted in listing:
        _archive_member(name, facts, encrypted=encrypted)
    if not listing:
        facts.flag("archive-unlisted")


def _vint(data: bytes, at: int) -> tuple[int, int]:
    """RAR5 variable-length integer: (value, next offset)."""
    value = shift = 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated vint")


def _rar5_names(data: bytes) -> list[tuple[str, bool]] | None:
    names: list[tuple[str, bool]] = []
    at = 8
    while at + 7 <= len(data) and len(names) < MAX_ENTRIES:
        size, body = _vint(data, at + 4)
        end = body + size
        kind, cursor = _vint(data, body)
        flags, cursor = _vint(data, cursor)
        extra = data_size = 0
        if flags & 1:
            extra, cursor = _vint(data, cursor)
        if flags & 2:
            data_size, cursor = _vint(data, cursor)
        if kind == 4:
            return None
        if kind == 5:
            break
        if kind == 2:
            names.append(_rar5_file(data, cursor, end, extra))
        at = end + data_size
    return names


def _rar5_file(data: bytes, at: int, end: int, extra: int) -> tuple[str, bool]:
    file_flags, at = _vint(data, at)
    _, at = _vint(data, at)  # unpacked size
    _, at = _vint(data, at)  # attributes
    at += 4 * bool(file_flags & 2) + 4 * bool(file_flags & 4)  # mtime, CRC32
    _, at = _vint(data, at)  # compression
    _, at = _vint(data, at)  # host OS
    length, at = _vint(data, at)
    name = data[at : at + length].decode("utf-8", "replace")
    encrypted = False
    cursor = end - extra
    while extra and cursor < end:  # extra records: size, type; type 1 is file encryption
        record_size, after_size = _vint(data, cursor)
        record_type, _ = _vint(data, after_size)
        encrypted |= record_type == 1
        cursor = after_size + max(record_size, 1)
    return name, encrypted


def _rar4_names(data: bytes) -> list[tuple[str, bool]] | None:
    names: list[tuple[str, bool]] = []
    at = 7
    while at + 7 <= len(data) and len(names) < MAX_ENTRIES:
        kind, flags, size = data[at + 2], *struct.unpack_from("<HH", data, at + 3)
        if size < 7:
            break
        if kind == 0x73 and flags & 0x80:
            return None
        added = struct.unpack_from("<I", data, at + 7)[0] if flags & 0x8000 and at + 11 <= len(data) else 0
        if kind == 0x74 and at + 32 <= len(data):
            (name_size,) = struct.unpack_from("<H", data, at + 26)
            start = at + 32 + (8 if flags & 0x100 else 0)
            raw = data[start : start + name_size].split(b"\x00", 1)[0]
            names.append((raw.decode("utf-8" if flags & 0x200 else "cp437", "replace"), bool(flags & 0x04)))
        if kind == 0x7B:
            break
        at += size + added
    return names


def _inspect_cab(data: bytes, facts: _Facts) -> None:
    if len(data) < 36:
        return
    (offset,) = struct.unpack_from("<I", data, 16)
    (count,) = struct.unpack_from("<H", data, 28)
    for _ in range(min(count, MAX_ENTRIES)):
        end = data.find(b"\x00", offset + 16, offset + 16 + 512)
        if end < 0:
            break
        _archive_member(data[offset + 16 : end].decode("utf-8", "replace"), facts)
        offset = end + 1


def _inspect_iso(data: bytes, facts: _Facts) -> None:
    """Names of the root directory and its subdirectories (Joliet names when present, else ISO 9660 ones)."""
    root, joliet = None, False
    for sector in range(16, 32):
        at = sector * 2048
        if data[at + 1 : at + 6] != b"CD001" or data[at] == 255:
            break
        is_joliet = data[at] == 2 and data[at + 88 : at + 90] == b"%/" and data[at + 90 : at + 91] in (b"@", b"C", b"E")
        if (data[at] == 1 and root is None) or is_joliet:
            root, joliet = data[at + 156 : at + 190], is_joliet
    if root is None or len(root) < 34:
        facts.flag("archive-unlisted")
        return
    directories = [("", struct.unpack_from("<I", root, 2)[0], struct.unpack_from("<I", root, 10)[0])]
    for _ in range(MAX_ISO_DIRECTORIES):
        if not directories:
            break
        path, extent, size = directories.pop(0)
        directories += _iso_directory(data, path, extent, min(size, 1 << 20), joliet, facts)


def _iso_directory(
    data: bytes, path: str, extent: int, size: int, joliet: bool, facts: _Facts
) -> list[tuple[str, int, int]]:
    subdirectories: list[tuple[str, int, int]] = []
    at, end = extent * 2048, min(len(data), extent * 2048 + size)
    for _ in range(MAX_ISO_RECORDS):
        if at + 34 > end or len(facts.members) >= MAX_MEMBERS:
            break
        length = data[at]
        if length < 34:
            at = (at // 2048 + 1) * 2048  # records do not cross sectors: the rest of this one is padding
            continue
        raw = data[at + 33 : at + 33 + data[at + 32]]
        if raw not in (b"\x00", b"\x01"):  # the directory itself and its parent
            name = raw.decode("utf-16-be" if joliet else "latin-1", "replace").split(";", 1)[0]
            if data[at + 25] & 2:
                child_extent, child_size = (
                    struct.unpack_from("<I", data, at + 2)[0],
                    struct.unpack_from("<I", data, at + 10)[0],
                )
                subdirectories.append((f"{path}{name}/", child_extent, child_size))
            else:
                _archive_member(path + name, facts)
        at += length
    return subdirectories


def _inspect_tar(data: bytes, facts: _Facts) -> None:
    with tarfile.open(fileobj=BytesIO(data), mode="r:") as archive:
        for _ in range(MAX_TAR_ENTRIES):  # tarfile parses each header in Python: ~20 µs
            member = archive.next()
            if member is None:
                break
            _archive_member(member.name, facts)


_DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


def _inspect_compressed(kind: str) -> Callable[[bytes, _Facts], None]:
    def inspect(data: bytes, facts: _Facts) -> None:
        """A single compressed stream: its stored name (gzip), and what its first decompressed bytes are."""
        name = _gzip_name(data) if kind == "gzip" else None
        head = _DECOMPRESSORS[kind]().decompress(data, MAX_COMPRESSED_PREFIX)
        inner = sniff(head[:SNIFF_BYTES]) if head else None
        if inner == "tar":
            try:
                _inspect_tar(head, facts)
            except tarfile.TarError:
                facts.defect("tar-listing-partial")
            return
        if name:
            _archive_member(name, facts)
        _sniffed_member(inner, facts)

    inspect.__name__ = f"_inspect_{kind}"
    return inspect


def _gzip_name(data: bytes) -> str | None:
    """The original file name a gzip header may carry (FNAME flag)."""
    if len(data) < 10 or not data[3] & 0x08:
        return None
    at = 10
    if data[3] & 0x04:  # FEXTRA
        at += 2 + struct.unpack_from("<H", data, at)[0]
    end = data.find(b"\x00", at, at + 1024)
    return data[at:end].decode("latin-1") if end > at else None


def _unlisted(data: bytes, facts: _Facts) -> None:
    facts.flag("archive-unlisted")  # 7z, ACE, VHD: the directory is compressed or needs a file system reader


# --- Office documents ---------------------------------------------------------------------------------------------

_VBA_STORAGES = frozenset({"vba", "_vba_project", "_vba_project_cur", "macros"})
_OLE_OBJECTS = frozenset({"\x01ole10native", "equation native", "objectpool"})
_MSI_CLSID = "000C1084-0000-0000-C000-000000000046"


def _ole_entries(data: bytes) -> tuple[list[list[str]], str]:
    # A file object, never bytes: olefile takes bytes shorter than 1536 for a file name and would open that path.
    with olefile.OleFileIO(BytesIO(data[:MAX_OLE_BYTES])) as ole:
        entries = [list(path) for path in ole.listdir(streams=True, storages=True)[:MAX_ENTRIES]]
        clsid = str(ole.root.clsid or "") if ole.root is not None else ""
    return entries, clsid


def _ole_kind(data: bytes, facts: _Facts) -> str:
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


def _inspect_ooxml(data: bytes, facts: _Facts) -> None:
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
        if sniff(image[:SNIFF_BYTES]) in _QR_IMAGES:
            _qr(image, facts)


def _relationships(xml: bytes, facts: _Facts) -> None:
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


def _inspect_odf(data: bytes, facts: _Facts) -> None:
    names = [info.filename.lower() for info in zipfile.ZipFile(BytesIO(data)).infolist()[:MAX_ENTRIES]]
    if any(name.startswith(("basic/", "scripts/")) for name in names):
        facts.flag("macro")
    if any(name.startswith("object ") for name in names):
        facts.flag("embedded-object")


_RTF_HYPERLINK = re.compile(rb'HYPERLINK\s+(?:\\\\l\s+)?"([^"\s]{4,2048})"')


def _inspect_rtf(data: bytes, facts: _Facts) -> None:
    head = data[:MAX_TEXT_SCAN]
    if b"\\objdata" in head or b"\\object" in head:
        facts.flag("embedded-object")
    if b"HYPERLINK" in head:
        for match in _RTF_HYPERLINK.finditer(head):
            facts.url(match.group(1).decode("latin-1"), "office")


# --- PDF, images, markup, scripts ---------------------------------------------------------------------------------


def _inspect_pdf(data: bytes, facts: _Facts) -> None:
    pdf = pdf_facts(data, facts.passwords)
    if pdf.password_protected:
        facts.flag("password-protected")
        if "pdf-password-protected" not in pdf.defects:
            facts.flag("password-in-message")
    for url in pdf.urls:
        facts.url(url, "pdf")
    if pdf.urls:
        facts.flag("pdf-links")
    for present, name in (
        (pdf.javascript, "pdf-javascript"),
        (pdf.open_action, "pdf-openaction"),
        (pdf.embedded_files, "pdf-embedded-file"),
        (pdf.launch, "pdf-launch"),
        (pdf.encrypted, "pdf-encrypted"),
    ):
        if present:
            facts.flag(name)
    for defect in pdf.defects:
        facts.defect(defect)


_URL_LIKE = re.compile(r"(?i)^\s*(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+")


def _qr(image: bytes, facts: _Facts) -> None:
    scan = qr_scan(image)
    for defect in scan.defects:
        facts.defect(defect)
    for text in scan.texts:
        facts.flag("qr-code")
        if text not in facts.qr_texts:
            facts.qr_texts.append(text)
        if _URL_LIKE.match(text):
            facts.url(text, "qr")


def _inspect_image(data: bytes, facts: _Facts) -> None:
    _qr(data, facts)


# Matched on lower-cased bytes: a case-insensitive regex cannot jump to its literal prefix and scans ~8 ns a byte.
_FORM = re.compile(rb"<form[\s>]")
_PASSWORD = re.compile(rb"<input[^>]{0,400}?type\s*=\s*[\"']?password")
_REDIRECT = re.compile(
    rb"http-equiv\s*=\s*[\"']?refresh|(?:window|document|top|self)\.location(?:\.href)?\s*=|"
    rb"location\.(?:replace|assign)\s*\("
)
_SMUGGLING_BLOB = re.compile(rb"new\s+blob\s*\(")
_SMUGGLING_SAVE = re.compile(rb"mssaveoropenblob|createobjecturl|\.download\s*=")
_OBFUSCATION = re.compile(rb"\b(?:eval|unescape|atob)\s*\(|string\.fromcharcode")
_SVG_SCRIPT = re.compile(rb"<script[\s>]|\son[a-z]{3,20}\s*=|(?:href|src)\s*=\s*[\"']?\s*javascript:")


def _lowered_markup(data: bytes, limit: int) -> bytes:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):  # UTF-16 markup hides from byte patterns: an evasion
        return data[: 2 * limit].decode("utf-16", "replace").encode("utf-8", "replace")[:limit].lower()
    return data[:limit].lower()


def _markup(data: bytes, svg: bool, facts: _Facts) -> None:
    """Credential forms, redirects and HTML smuggling in an HTML (or SVG) attachment. Its URLs are read by the HTML
    reader; here only what it would do."""
    text = _lowered_markup(data, MAX_TEXT_SCAN)
    for pattern, flag in ((_FORM, "html-form"), (_PASSWORD, "html-password"), (_REDIRECT, "html-redirect")):
        if pattern.search(text):
            facts.flag(flag)
    if _SMUGGLING_BLOB.search(text) and _SMUGGLING_SAVE.search(text):
        facts.flag("html-smuggling")
    if _OBFUSCATION.search(text):
        facts.flag("html-obfuscated")
    if svg and _SVG_SCRIPT.search(text):
        facts.flag("svg-script")


_SCRIPT_MARKERS = re.compile(
    rb"wscript\.shell|activexobject\s*\(|createobject\s*\(|powershell(?:\.exe)?\s+-|invoke-expression|\biex\s*\(|"
    rb"frombase64string|net\.webclient|start-process|cmd(?:\.exe)?\s+/c\s"
)


def _script_content(data: bytes, facts: _Facts) -> None:
    if _SCRIPT_MARKERS.search(_lowered_markup(data, 65_536)):
        facts.flag("script")


# --- Passwords given in the message ------------------------------------------------------------------------------

_PASSWORD_GIVEN = re.compile(
    r"(?i)\b(?:mot[ \t]+de[ \t]+passe|password|passwort|passcode|senha|contrase[ñn]a|clave|wachtwoord|pwd|mdp|code)\b"
    r"(?:[ \t]+[^\s:：=]{1,20}){0,6}?"  # "de acesso do arquivo em anexo", "for the file", "du fichier"
    r"[ \t]*(?::|：|=|\bis\b|\best\b)[ \t]*[\"'«“]?[ \t]*([^\s\"'»”<>]{1,32})"
)


def passwords_in_text(text: str) -> list[str]:
    """Passwords a message gives for its attachment ("Senha PDF: 123", "mot de passe : 4521"): phishing encrypts
    the PDF or ZIP so that scanners cannot read it. A regex pass: call it only for a password-protected attachment.
    A candidate ending with punctuation is also tried without it (the end of the sentence, or of the password)."""
    found: list[str] = []
    for match in _PASSWORD_GIVEN.finditer(text[:100_000]):
        for candidate in (match.group(1), match.group(1).rstrip(".,;:!?)")):
            if candidate and candidate not in found and len(found) < MAX_PASSWORDS:
                found.append(candidate)
    return found


_INSPECTORS: dict[str, Callable[[bytes, _Facts], None]] = {
    "zip": _inspect_zip,
    "jar": _inspect_zip,
    "apk": _inspect_zip,
    "ipa": _inspect_zip,
    "appx": _inspect_zip,
    "docx": _inspect_ooxml,
    "xlsx": _inspect_ooxml,
    "pptx": _inspect_ooxml,
    "ooxml": _inspect_ooxml,
    "odf": _inspect_odf,
    "rtf": _inspect_rtf,
    "rar": _inspect_rar,
    "cab": _inspect_cab,
    "iso": _inspect_iso,
    "tar": _inspect_tar,
    **{kind: _inspect_compressed(kind) for kind in _DECOMPRESSORS},
    **dict.fromkeys(("7z", "ace", "vhd", "vhdx", "img"), _unlisted),
    "pdf": _inspect_pdf,
    **dict.fromkeys(_QR_IMAGES, _inspect_image),
}
