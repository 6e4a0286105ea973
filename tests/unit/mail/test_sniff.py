"""sniff(): what a file is by its bytes, whatever its name."""

from __future__ import annotations

import gzip

import pytest

from signalement.mail.sniff import sniff
from tests.unit.mail.attachment_samples import ELF, LNK, PE


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
