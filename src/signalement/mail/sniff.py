"""What a file is by its bytes: magic numbers (and the markup a text file opens with), never its name.

sniff() returns a short kind ("pe", "zip", "pdf", "png", "html"...), a key of MIME, or None for plain text and unknown
bytes. A ZIP or OLE container is refined by its members (an OOXML document, a JAR, an MSI) in archives.py and
office.py.
"""

from __future__ import annotations

import re
import struct

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

MIME = {  # kind -> the MIME type reported as the attachment's sniffed type
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

IMAGES = frozenset({"png", "jpeg", "gif", "webp", "bmp", "tiff", "ico"})
QR_IMAGES = frozenset({"png", "jpeg", "gif", "webp", "bmp"})
ZIP_FAMILY = frozenset({"zip", "docx", "xlsx", "pptx", "ooxml", "odf", "jar", "apk", "ipa", "appx"})
NATIVE = frozenset({"pe", "dos", "elf", "macho"})
ARCHIVES = frozenset({"zip", "rar", "7z", "gzip", "bzip2", "xz", "cab", "ace", "tar", "iso", "img", "vhd", "vhdx"})
DISK_IMAGES = frozenset({"iso", "img", "vhd", "vhdx"})


def sniff(data: bytes) -> str | None:
    """The kind of file by its content (a key of MIME), or None for text and unknown bytes."""
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
