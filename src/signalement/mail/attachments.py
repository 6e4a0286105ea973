"""Facts of an attachment from its bytes: what it really is, what it would run, what it links to.

Nothing is executed, rendered or written to disk. describe() types the bytes (sniff.py), reads the name and the
declared type (filenames.py), then hands the bytes to the inspector of their kind: archives.py lists archives,
office.py reads office documents, pdf.py PDFs, qr.py images; HTML, SVG and scripts are read here. Every inspector
is bounded (bytes read, members listed, objects walked) and records what it could read, with defect strings, in
one Findings (findings.py).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from signalement.mail import archives, office
from signalement.mail.archives import zip_kind
from signalement.mail.filenames import (
    DISK_IMAGE_EXT,
    DOCUMENT_EXT,
    EXECUTABLE_EXT,
    EXPECTED,
    HTML_EXT,
    MACRO_EXT,
    SCRIPT_EXT,
    expected_from_declared,
    extension,
    mismatch,
)
from signalement.mail.findings import MAX_MEMBERS, Findings, safely
from signalement.mail.office import ole_kind
from signalement.mail.pdf import pdf_facts
from signalement.mail.sniff import ARCHIVES, DISK_IMAGES, MIME, NATIVE, QR_IMAGES, sniff

__all__ = ["MAX_MEMBERS", "MAX_PASSWORDS", "Attachment", "describe", "passwords_in_text", "sniff"]

MAX_TEXT_SCAN = 2 * 1024 * 1024  # HTML, SVG and scripts scanned
MAX_PASSWORDS = 5


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


def describe(filename: str | None, declared_type: str, data: bytes, passwords: Sequence[str] = ()) -> Attachment:
    """Facts of one attachment. Never raises: an inspector that fails leaves a defect. `passwords`: candidates from
    the message (passwords_in_text) for an encrypted PDF or ZIP member."""
    digest = hashlib.sha256(data)
    facts = Findings(passwords=tuple(passwords[:MAX_PASSWORDS]), sha256=digest.digest())
    name = _clean_name(filename, facts) if filename else None
    kind = sniff(data)
    declared = (declared_type or "").split(";")[0].strip().lower()
    if kind == "zip":
        kind = safely(zip_kind, data, facts, default="zip")
    elif kind == "ole":
        kind = safely(ole_kind, data, facts, default="ole")
    ext, before = extension(name) if name else ("", None)
    _name_flags(ext, before, facts)
    if mismatch(EXPECTED.get(ext), kind) or mismatch(expected_from_declared(declared), kind):
        facts.flag("extension-mismatch")
    _content_flags(kind, ext, declared, data, facts)
    return Attachment(
        name=name,
        declared_type=declared_type,
        sniffed_type=MIME.get(kind) if kind else None,
        size=len(data),
        sha256=digest.hexdigest(),
        flags=list(facts.flags),
        members=facts.members,
        urls=list(facts.urls),
        qr_texts=facts.qr_texts,
        defects=facts.defects,
    )


_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069\u200e\u200f]")


def _clean_name(filename: str, facts: Findings) -> str:
    """The base name as a user would see it; right-to-left overrides (`invoice\u202efdp.exe`) flagged and kept."""
    name = filename[-1024:].replace("\\", "/").rsplit("/", 1)[-1].strip()
    if _BIDI.search(name):
        facts.flag("bidi-filename")
    return name


def _name_flags(ext: str, before: str | None, facts: Findings) -> None:
    if ext in EXECUTABLE_EXT:
        facts.flag("executable")
    if ext in SCRIPT_EXT:
        facts.flag("script")
    if ext in DISK_IMAGE_EXT:
        facts.flag("disk-image")
    if ext in MACRO_EXT:
        facts.flag("macro")
    risky = EXECUTABLE_EXT | SCRIPT_EXT | DISK_IMAGE_EXT | HTML_EXT
    if before in DOCUMENT_EXT and ext in risky and before != ext:
        facts.flag("double-extension")


def _content_flags(kind: str | None, ext: str, declared: str, data: bytes, facts: Findings) -> None:
    if kind in NATIVE or kind in ("msi", "apk", "ipa", "appx"):
        facts.flag("executable")
    if kind in ("lnk", "hta", "shell", "jar", "java-class"):
        facts.flag("script")
    if kind in DISK_IMAGES:
        facts.flag("disk-image")
    if kind in ARCHIVES:
        facts.flag("archive")
    inspector = _INSPECTORS.get(kind or "")
    if inspector:
        safely(inspector, data, facts)
    if kind in ("html", "hta", "svg") or (kind is None and (ext in HTML_EXT or declared == "text/html")):
        safely(_markup, data, kind == "svg" or ext == "svg", facts)
    if kind in (None, "shell", "xml", "html", "hta", "svg"):
        safely(_script_content, data, facts)


def _inspect_pdf(data: bytes, facts: Findings) -> None:
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


def _inspect_image(data: bytes, facts: Findings) -> None:
    facts.qr(data, facts.sha256)


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


def _markup(data: bytes, svg: bool, facts: Findings) -> None:
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


def _script_content(data: bytes, facts: Findings) -> None:
    if _SCRIPT_MARKERS.search(_lowered_markup(data, 65_536)):
        facts.flag("script")


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


_INSPECTORS: dict[str, Callable[[bytes, Findings], None]] = {
    **archives.INSPECTORS,
    **office.INSPECTORS,
    "pdf": _inspect_pdf,
    **dict.fromkeys(QR_IMAGES, _inspect_image),
}
