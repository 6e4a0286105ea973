"""What an attachment's name and declared type say it is: risky extensions, double extensions, and whether the
content contradicts them (an executable named invoice.pdf)."""

from __future__ import annotations

from signalement.mail.sniff import IMAGES, ZIP_FAMILY

EXECUTABLE_EXT = frozenset(
    "exe dll scr pif com cpl msi msix msixbundle appx appxbundle msp mst sys ocx drv gadget application xbap "
    "apk xapk ipa dmg pkg app deb rpm run xll elf".split()
)
SCRIPT_EXT = frozenset(
    "js jse vbs vbe vb wsf wsh wsc ws ps1 psm1 psd1 ps1xml psc1 bat cmd hta lnk jar reg url scf sct inf chm msc "
    "mobileconfig library-ms searchconnector-ms settingcontent-ms appref-ms iqy slk sh command".split()
)
DISK_IMAGE_EXT = frozenset("iso img vhd vhdx".split())
ARCHIVE_EXT = frozenset("zip zipx rar r00 r01 7z gz tgz bz2 tbz2 xz txz cab tar ace arj lzh lha z".split())
DOCUMENT_EXT = frozenset(
    "pdf doc docx docm xls xlsx xlsm ppt pptx odt ods rtf txt csv jpg jpeg png gif bmp tif tiff mp3 mp4 wav mov "
    "avi zip rar html htm eml msg ics xml".split()
)
HTML_EXT = frozenset("html htm shtml xhtml mht mhtml svg".split())
MACRO_EXT = frozenset("docm dotm xlsm xltm xlam pptm potm ppsm ppam sldm".split())

# Extension -> the kinds its content may sniff as (absent: no expectation).
EXPECTED: dict[str, frozenset[str | None]] = {
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
    **dict.fromkeys(("zip", "zipx"), ZIP_FAMILY),
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
    **dict.fromkeys(("png", "jpg", "jpeg", "jpe", "gif", "bmp", "tif", "tiff", "ico", "webp"), IMAGES),
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


def extension(name: str) -> tuple[str, str | None]:
    """(last extension, the one before) of a file name, lower case, Windows-style: trailing dots and spaces drop."""
    parts = [part.strip().lower() for part in name.rstrip(". ").split(".")]
    if len(parts) < 2:
        return "", None
    return parts[-1], parts[-2] if len(parts) >= 3 else None


def expected_from_declared(declared: str) -> frozenset[str | None] | None:
    kind = _DECLARED.get(declared)
    if kind is not None:
        return EXPECTED.get(kind) or frozenset({kind})
    if declared.startswith(("application/vnd.openxmlformats-officedocument.", "application/vnd.ms-word.")):
        return frozenset({"docx", "xlsx", "pptx", "ooxml"})
    if declared.startswith(("application/vnd.ms-excel.", "application/vnd.ms-powerpoint.")):
        return frozenset({"xlsx", "pptx", "ooxml"})
    return None


def mismatch(expected: frozenset[str | None] | None, kind: str | None) -> bool:
    """Content contradicts the name or the declared type. Unknown content (None) contradicts only a binary format's
    name loosely, so it is not flagged; images among themselves are a benign mix-up."""
    if expected is None or kind is None or kind in expected:
        return False
    if kind in IMAGES and expected & IMAGES:
        return False
    return not (kind == "xml" and expected & {"html", "svg"})
