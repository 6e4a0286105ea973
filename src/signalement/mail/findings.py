"""What the inspectors of one attachment find, in one accumulator: flags (in their order of discovery, without
duplicates), archive member names, URLs with where they were found, QR texts and defects. Each inspector takes the
bytes and the findings; safely() turns an inspector's exception on hostile bytes into a defect."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from signalement.mail.qr import qr_scan

MAX_MEMBERS = 200  # member names kept
MAX_URLS = 200
_URL_LIKE = re.compile(r"(?i)^\s*(?:[a-z][a-z0-9+.-]{1,15}://|www\.)\S+")


@dataclass
class Findings:
    """Mutable accumulator; flags keep their order of discovery, without duplicates."""

    passwords: tuple[str, ...] = ()
    sha256: bytes | None = None  # of the attachment, when the caller has it
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

    def qr(self, image: bytes, sha256: bytes | None = None) -> None:
        """QR codes in an image: their texts, and those that are URLs as URLs."""
        scan = qr_scan(image, sha256)
        for defect in scan.defects:
            self.defect(defect)
        for text in scan.texts:
            self.flag("qr-code")
            if text not in self.qr_texts:
                self.qr_texts.append(text)
            if _URL_LIKE.match(text):
                self.url(text, "qr")


def safely(inspector: Callable[..., Any], *args: Any, default: Any = None) -> Any:
    """Run one inspector; a parser bug on hostile bytes becomes a defect, never an exception. args[-1] is the
    findings."""
    try:
        return inspector(*args)
    except Exception as error:  # the parsers (zipfile, olefile, tarfile, struct...) raise many kinds
        findings: Findings = args[-1]
        findings.defect(f"{inspector.__name__.strip('_').replace('_', '-')}-failed:{type(error).__name__}")
        return default
