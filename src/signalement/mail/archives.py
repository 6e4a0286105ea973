"""Archives listed from their directories, never unpacked: ZIP (and what its members make it: OOXML, ODF, JAR, APK,
IPA, APPX), RAR 4 and 5, CAB, ISO 9660 / Joliet, tar, and single gzip, bzip2 and xz streams. A member is
decompressed only to sniff its first bytes, or to list a nested ZIP, under byte caps; an encrypted ZIP member is
opened with the passwords the message gives. 7z, ACE and disk images are flagged, not listed."""

from __future__ import annotations

import bz2
import lzma
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Callable
from io import BytesIO
from typing import Any

from signalement.mail.filenames import (
    ARCHIVE_EXT,
    DISK_IMAGE_EXT,
    DOCUMENT_EXT,
    EXECUTABLE_EXT,
    HTML_EXT,
    SCRIPT_EXT,
    extension,
)
from signalement.mail.findings import MAX_MEMBERS, Findings
from signalement.mail.sniff import ARCHIVES, NATIVE, sniff

MAX_ENTRIES = 10_000  # archive entries read from a directory
MAX_SNIFFED_MEMBERS = 50  # archive members whose first bytes are decompressed
SNIFF_BYTES = 1024
MAX_NESTED_BYTES = 4 * 1024 * 1024  # a nested ZIP decompressed to list it
MAX_NESTED_TOTAL = 8 * 1024 * 1024
MAX_COMPRESSED_PREFIX = 1024 * 1024  # of a gzip/bzip2/xz stream, to sniff or list the tar inside
MAX_TAR_ENTRIES = 2_000
MAX_ISO_DIRECTORIES = 20
MAX_ISO_RECORDS = 4_000  # directory records read in one ISO directory


def _zip_infos(data: bytes, facts: Findings) -> list[zipfile.ZipInfo] | None:
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


def zip_kind(data: bytes, facts: Findings) -> str:
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


def inspect_zip(data: bytes, facts: Findings) -> None:
    infos = _zip_infos(data, facts)
    if infos is None:
        for name, flags in _local_headers(data):
            archive_member(name, facts, encrypted=bool(flags & 1))
        return
    archive = zipfile.ZipFile(BytesIO(data))
    budget = [MAX_NESTED_TOTAL]
    for index, info in enumerate(infos):
        archive_member(info.filename, facts, encrypted=bool(info.flag_bits & 1))
        if index < MAX_SNIFFED_MEMBERS and not info.is_dir() and info.file_size:
            if not info.flag_bits & 1:
                _sniff_zip_member(archive, info, facts, budget)
            elif facts.passwords:
                _sniff_encrypted_member(archive, info, facts)


def _sniff_encrypted_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, facts: Findings) -> None:
    """An encrypted member (ZipCrypto; zipfile cannot read AES) opened with a password the message gives."""
    for password in facts.passwords:
        try:
            with archive.open(info, pwd=password.encode("utf-8")) as member:
                head = member.read(SNIFF_BYTES)
        except (RuntimeError, zipfile.BadZipFile, NotImplementedError, OSError, EOFError, zlib.error, ValueError):
            continue  # a wrong password, or one that passes ZipCrypto's 1-byte check and then fails
        facts.flag("password-in-message")
        sniffed_member(sniff(head), facts)
        return


def sniffed_member(kind: str | None, facts: Findings) -> None:
    if kind in NATIVE or kind in ("lnk", "hta", "msi"):
        facts.flag("executable-in-archive")
    if kind in ARCHIVES:
        facts.flag("nested-archive")


def _sniff_zip_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, facts: Findings, budget: list[int]) -> None:
    """The member's first bytes: an executable named invoice.pdf is still an executable. A nested ZIP is listed."""
    try:
        with archive.open(info) as member:
            head = member.read(SNIFF_BYTES)
            kind = sniff(head)
            sniffed_member(kind, facts)
            if kind == "zip" and info.file_size <= min(MAX_NESTED_BYTES, budget[0]):
                budget[0] -= info.file_size
                inner = head + member.read(info.file_size - len(head) + 1)
                _list_nested_zip(info.filename, inner, facts)
    except zipfile.BadZipFile:
        facts.defect("zip-member-mismatch")  # local and central names differ (an evasion), or a bad CRC
    except (NotImplementedError, RuntimeError, OSError, EOFError, zlib.error, lzma.LZMAError, ValueError):
        facts.defect("zip-member-unreadable")


def _list_nested_zip(outer: str, data: bytes, facts: Findings) -> None:
    infos = _zip_infos(data, facts)
    listing = [(i.filename, i.flag_bits) for i in infos] if infos is not None else _local_headers(data)
    for name, flags in listing:
        archive_member(f"{outer}!{name}", facts, encrypted=bool(flags & 1))


def archive_member(name: str, facts: Findings, encrypted: bool = False) -> None:
    facts.member(name)
    if encrypted:
        facts.flag("encrypted-archive")
    base = name.rstrip("/").rsplit("/", 1)[-1].rsplit("!", 1)[-1]
    ext, before = extension(base)
    if ext in EXECUTABLE_EXT or ext in SCRIPT_EXT:
        facts.flag("executable-in-archive")
    if ext in ARCHIVE_EXT or ext in DISK_IMAGE_EXT:
        facts.flag("nested-archive")
    if before in DOCUMENT_EXT and ext in (EXECUTABLE_EXT | SCRIPT_EXT | HTML_EXT) and before != ext:
        facts.flag("double-extension")


def inspect_rar(data: bytes, facts: Findings) -> None:
    listing = _rar5_names(data) if data[6:8] == b"\x01\x00" else _rar4_names(data)
    if listing is None:
        facts.flag("archive-unlisted", "encrypted-archive")  # headers are encrypted (rar -hp)
        return
    for name, encrypted in listing:
        archive_member(name, facts, encrypted=encrypted)
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


def inspect_cab(data: bytes, facts: Findings) -> None:
    if len(data) < 36:
        return
    (offset,) = struct.unpack_from("<I", data, 16)
    (count,) = struct.unpack_from("<H", data, 28)
    for _ in range(min(count, MAX_ENTRIES)):
        end = data.find(b"\x00", offset + 16, offset + 16 + 512)
        if end < 0:
            break
        archive_member(data[offset + 16 : end].decode("utf-8", "replace"), facts)
        offset = end + 1


def inspect_iso(data: bytes, facts: Findings) -> None:
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
    data: bytes, path: str, extent: int, size: int, joliet: bool, facts: Findings
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
                archive_member(path + name, facts)
        at += length
    return subdirectories


def inspect_tar(data: bytes, facts: Findings) -> None:
    with tarfile.open(fileobj=BytesIO(data), mode="r:") as archive:
        for _ in range(MAX_TAR_ENTRIES):  # tarfile parses each header in Python: ~20 µs
            member = archive.next()
            if member is None:
                break
            archive_member(member.name, facts)


DECOMPRESSORS: dict[str, Callable[[], Any]] = {
    "gzip": lambda: zlib.decompressobj(16 + zlib.MAX_WBITS),
    "bzip2": bz2.BZ2Decompressor,
    "xz": lzma.LZMADecompressor,
}


def inspect_compressed(kind: str) -> Callable[[bytes, Findings], None]:
    def inspect(data: bytes, facts: Findings) -> None:
        """A single compressed stream: its stored name (gzip), and what its first decompressed bytes are."""
        name = _gzip_name(data) if kind == "gzip" else None
        head = DECOMPRESSORS[kind]().decompress(data, MAX_COMPRESSED_PREFIX)
        inner = sniff(head[:SNIFF_BYTES]) if head else None
        if inner == "tar":
            try:
                inspect_tar(head, facts)
            except tarfile.TarError:
                facts.defect("tar-listing-partial")
            return
        if name:
            archive_member(name, facts)
        sniffed_member(inner, facts)

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


def unlisted(data: bytes, facts: Findings) -> None:
    facts.flag("archive-unlisted")  # 7z, ACE, VHD: the directory is compressed or needs a file system reader


INSPECTORS: dict[str, Callable[[bytes, Findings], None]] = {
    "zip": inspect_zip,
    "jar": inspect_zip,
    "apk": inspect_zip,
    "ipa": inspect_zip,
    "appx": inspect_zip,
    "rar": inspect_rar,
    "cab": inspect_cab,
    "iso": inspect_iso,
    "tar": inspect_tar,
    **{kind: inspect_compressed(kind) for kind in DECOMPRESSORS},
    **dict.fromkeys(("7z", "ace", "vhd", "vhdx", "img"), unlisted),
}
