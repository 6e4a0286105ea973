"""Facts of a PDF attachment: link targets, scripts, automatic actions, embedded files. Nothing is rendered.

The fast path reads the raw bytes: action names are found with bytes.find (GB/s) and URI strings parsed where
they stand. Objects can hide in compressed object streams (/ObjStm) and strings are ciphered in an encrypted
file: only then pypdf (strict=False) walks the objects, under caps. pypdf raises many kinds of errors on hostile
files; each step catches them and leaves a defect.

An encrypted file costs most: without the cryptography package pypdf runs RC4 in pure Python (~0.3 µs a byte,
and ~2 ms per password tried). So the walk deciphers the strings of each object but not its stream data (page
contents, images, fonts: nothing this module reads), except object streams; and the reader of a file that the
empty password did not open is kept (by SHA-256, a few of them), so that the second look with the passwords the
message gives (see passwords_in_text) neither parses it nor tries the empty password again.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from io import BytesIO
from itertools import islice
from typing import Any

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError
from pypdf.generic import ArrayObject, DictionaryObject, IndirectObject, NameObject, PdfObject, StreamObject

MAX_SCAN_BYTES = 32 * 1024 * 1024  # raw bytes searched
MAX_PYPDF_BYTES = 12 * 1024 * 1024  # larger files are not parsed with pypdf
MAX_OBJECTS = 3_000  # objects pypdf walks
MAX_PAGES = 50
MAX_URLS = 200
MAX_URL_BYTES = 2048
MAX_URI_STRINGS = 300  # /URI and /F strings parsed: a hostile file can hold millions, each escaped byte by byte
MAX_RAW_PAGES = 10_000  # page objects counted in the raw bytes
MAX_ESCAPED_NAMES = 1_000
MAX_PASSWORDS = 5
MAX_LOCKED_READERS = 8  # parsed readers of locked files kept for the second look
MAX_LOCKED_BYTES = 4 * 1024 * 1024  # larger locked files are parsed again instead
_DEPTH = 4  # direct objects nested in one object (annotation dictionaries inline in an /Annots array...)

# A PDF name may spell any byte as #xx: `/J#61vaScript` is `/JavaScript` to a reader.
_ESCAPED_NAME = re.compile(rb"/[A-Za-z0-9]*#[0-9A-Fa-f]{2}[A-Za-z0-9#]*")
_HEX_ESCAPE = re.compile(rb"#([0-9A-Fa-f]{2})")
_LETTERS_NAME = re.compile(rb"/[A-Za-z]{2,40}")
# /URI (...), /URI <68...>, and a file specification that is a URL (/F (https://...): SubmitForm, /FS /URL).
_URI_VALUE = re.compile(rb"/(URI|F)\s*([(<])")
_URI_REFERENCE = re.compile(rb"/URI\s+\d+\s+\d+\s+R")
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_ENCRYPT = re.compile(rb"/Encrypt\s*(?:\d+\s+\d+\s+R|<<)")
_URL_SCHEME = re.compile(r"(?i)^\s*(?:https?|ftp|file|mailto|javascript|data|tel|sms):")
_DELIMITERS = b" \t\r\n\f\x00/<>[]()%"
_LITERAL_ESCAPES = {ord("n"): b"\n", ord("r"): b"\r", ord("t"): b"\t", ord("b"): b"\b", ord("f"): b"\f"}


@dataclass(frozen=True)
class PdfFacts:
    urls: list[str] = field(default_factory=list)
    javascript: bool = False
    open_action: bool = False
    embedded_files: bool = False
    launch: bool = False
    pages: int | None = None
    encrypted: bool = False
    password_protected: bool = False  # a user password is needed to open it (whether or not one was found)
    defects: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class _Found:
    urls: dict[str, None] = field(default_factory=dict)  # ordered set
    javascript: bool = False
    open_action: bool = False
    embedded_files: bool = False
    launch: bool = False
    pages: int | None = None
    password_protected: bool = False
    defects: list[str] = field(default_factory=list)

    def add_url(self, url: str) -> None:
        url = url.strip().replace("\x00", "")[:MAX_URL_BYTES]
        if _URL_SCHEME.match(url) and len(self.urls) < MAX_URLS:
            self.urls[url] = None


def pdf_facts(data: bytes, passwords: Sequence[str] = ()) -> PdfFacts:
    """What a PDF would link to or do when opened. Never raises; reads at most MAX_SCAN_BYTES. `passwords`: user
    passwords to try on an encrypted file (see passwords_in_text), after the empty one."""
    found = _Found()
    if b"%PDF-" not in data[:1024]:
        found.defects.append("pdf-no-header")
    if len(data) > MAX_SCAN_BYTES:
        found.defects.append("pdf-scan-truncated")
    raw = data[:MAX_SCAN_BYTES]
    escaped = _escaped_names(raw)
    if escaped:
        found.defects.append("pdf-escaped-names")
    encrypted = bool(_ENCRYPT.search(raw)) if b"/Encrypt" in raw else False
    _scan_names(raw, found)
    if escaped:
        _scan_names(b" ".join(escaped) + b" ", found)
    if not encrypted:  # ciphered strings would read as garbage
        _scan_uris(raw, found)
    hidden = b"/ObjStm" in raw or encrypted or bool(escaped) or bool(_URI_REFERENCE.search(raw))
    if hidden and len(data) <= MAX_PYPDF_BYTES:
        _walk_with_pypdf(data, found, passwords, encrypted)
    elif hidden:
        found.defects.append("pdf-too-large-to-parse")
    if found.pages is None and not hidden:
        found.pages = sum(1 for _ in islice(_PAGE.finditer(raw), MAX_RAW_PAGES))
    return PdfFacts(
        urls=list(found.urls),
        javascript=found.javascript,
        open_action=found.open_action,
        embedded_files=found.embedded_files,
        launch=found.launch,
        pages=found.pages,
        encrypted=encrypted,
        password_protected=found.password_protected,
        defects=found.defects,
    )


def _escaped_names(raw: bytes) -> set[bytes]:
    """Names spelled with #xx escapes, decoded (`/J#61vaScript` -> `/JavaScript`): an evasion, never needed for the
    ASCII names of actions. The raw bytes are not rewritten: `#ab` is also a URL fragment inside a string."""
    if b"#" not in raw:
        return set()
    matches = islice(_ESCAPED_NAME.finditer(raw), MAX_ESCAPED_NAMES)
    names = (_HEX_ESCAPE.sub(_unescape, m.group(0)) for m in matches)
    return {name for name in names if _LETTERS_NAME.fullmatch(name)}  # binary stream bytes rarely decode to letters


def _unescape(match: re.Match[bytes]) -> bytes:
    return bytes.fromhex(match.group(1).decode("ascii"))


def _has_name(raw: bytes, name: bytes) -> bool:
    """`name` present as a whole PDF name (`/JS` but not `/JSFoo`)."""
    at = raw.find(name)
    for _ in range(1000):  # a hostile file may repeat `/JSx` a million times
        if at < 0:
            return False
        after = raw[at + len(name) : at + len(name) + 1]
        if not after or after in _DELIMITERS:
            return True
        at = raw.find(name, at + 1)
    return False


def _scan_names(raw: bytes, found: _Found) -> None:
    found.javascript |= _has_name(raw, b"/JS") or _has_name(raw, b"/JavaScript")
    found.open_action |= _has_name(raw, b"/OpenAction")
    found.embedded_files |= _has_name(raw, b"/EmbeddedFile") or _has_name(raw, b"/EmbeddedFiles")
    found.launch |= _has_name(raw, b"/Launch")


def _scan_uris(raw: bytes, found: _Found) -> None:
    if b"/URI" not in raw and b"/F" not in raw:
        return
    for match in islice(_URI_VALUE.finditer(raw), MAX_URI_STRINGS):
        if len(found.urls) >= MAX_URLS:
            break
        start = match.end()
        value = _literal_string(raw, start) if match.group(2) == b"(" else _hex_string(raw, start)
        if value is not None:
            found.add_url(_decode_text(value))


def _literal_string(raw: bytes, start: int) -> bytes | None:
    """A PDF literal string whose `(` ends at `start`: escapes and balanced parentheses, at most MAX_URL_BYTES."""
    close = raw.find(b")", start, start + MAX_URL_BYTES)
    if close < 0:
        return None
    simple = raw[start:close]
    if b"\\" not in simple and b"(" not in simple:
        return simple
    out, depth, i, end = bytearray(), 1, start, min(len(raw), start + MAX_URL_BYTES)
    while i < end:
        c = raw[i]
        i += 1
        if c == 0x5C and i < end:  # backslash
            c = raw[i]
            i += 1
            if c in _LITERAL_ESCAPES:
                out += _LITERAL_ESCAPES[c]
            elif 0x30 <= c <= 0x37:
                digits = bytes([c])
                while len(digits) < 3 and i < end and 0x30 <= raw[i] <= 0x37:
                    digits += raw[i : i + 1]
                    i += 1
                out.append(int(digits, 8) & 0xFF)
            elif c not in (0x0A, 0x0D):  # a backslash at the end of a line continues the string
                out.append(c)
        elif c == 0x28:
            depth += 1
            out.append(c)
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return bytes(out)
            out.append(c)
        else:
            out.append(c)
    return None


def _hex_string(raw: bytes, start: int) -> bytes | None:
    close = raw.find(b">", start, start + 2 * MAX_URL_BYTES)
    if close < 0:
        return None
    digits = re.sub(rb"[^0-9A-Fa-f]", b"", raw[start:close])
    try:
        return bytes.fromhex((digits + b"0" * (len(digits) % 2)).decode("ascii"))
    except ValueError:
        return None


def _decode_text(value: bytes) -> str:
    if value.startswith((b"\xfe\xff", b"\xff\xfe")):
        return value.decode("utf-16", "replace")
    return value.decode("latin-1")


def _walk_with_pypdf(data: bytes, found: _Found, passwords: Sequence[str], encrypted: bool) -> None:
    key = hashlib.sha256(data).digest() if encrypted and len(data) <= MAX_LOCKED_BYTES else None
    reader = _locked_reader(key) if key else None
    try:
        opened: bool | None = False  # by the empty password: a kept reader is one it did not open
        if reader is None:
            reader = PdfReader(BytesIO(data), strict=False)
            opened = _opened_by_empty_password(reader)
        if reader.is_encrypted and not opened and not _decrypted(reader, found, passwords, opened is None):
            if key and found.password_protected:
                _keep_locked_reader(key, reader)
            return
        _decipher_strings_only(reader)
        numbers = sorted({n for table in reader.xref.values() for n in table} | set(reader.xref_objStm))
    except Exception:  # pypdf raises PdfReadError, ValueError, KeyError, RecursionError... on broken files
        found.defects.append("pdf-unparsable")
        return
    if len(numbers) > MAX_OBJECTS:
        found.defects.append("pdf-objects-truncated")
    failures = 0
    for number in numbers[:MAX_OBJECTS]:
        try:
            _inspect(reader.get_object(number), found, _DEPTH)
        except Exception:  # one broken object must not hide the others
            failures += 1
    if failures:
        found.defects.append("pdf-broken-objects")
    found.pages = _page_count(reader, found)


def _decrypted(reader: PdfReader, found: _Found, passwords: Sequence[str], try_empty: bool) -> bool:
    """An empty user password opens most encrypted PDFs (an owner password only restricts printing). Phishing that
    needs a real one gives it in the message ("Senha PDF: 123"): the caller passes such candidates. Each try costs
    ~2 ms (pure-Python RC4): the empty one only when the reader has not tried it, each candidate once."""
    candidates = [p for p in dict.fromkeys(passwords[:MAX_PASSWORDS]) if p]
    try:
        for password in ["", *candidates] if try_empty else candidates:
            if reader.decrypt(password) != PasswordType.NOT_DECRYPTED:
                found.password_protected = bool(password)
                return True
    except DependencyError:
        found.defects.append("pdf-encryption-unsupported")  # AES needs the cryptography package
        return False
    except Exception:
        found.defects.append("pdf-unparsable")
        return False
    found.password_protected = True
    found.defects.append("pdf-password-protected")
    return False


def _opened_by_empty_password(reader: PdfReader) -> bool | None:
    """PdfReader tries the empty password itself when it opens an encrypted file: whether that worked, or None where
    this version of pypdf does not tell."""
    if not reader.is_encrypted:
        return None
    is_decrypted = getattr(getattr(reader, "_encryption", None), "is_decrypted", None)
    return bool(is_decrypted()) if callable(is_decrypted) else None


_LOCKED: OrderedDict[bytes, PdfReader] = OrderedDict()
_LOCKED_LOCK = threading.Lock()


def _locked_reader(key: bytes) -> PdfReader | None:
    """The reader kept for this file, taken out: one caller at a time uses a reader."""
    with _LOCKED_LOCK:
        return _LOCKED.pop(key, None)


def _keep_locked_reader(key: bytes, reader: PdfReader) -> None:
    with _LOCKED_LOCK:
        _LOCKED[key] = reader
        while len(_LOCKED) > MAX_LOCKED_READERS:
            _LOCKED.popitem(last=False)


class _StringsOnly:
    """pypdf's decryption of one file, minus the stream data of objects other than object streams: deciphering a
    page's content stream costs ~0.3 µs a byte in pure-Python RC4, and nothing here reads it."""

    def __init__(self, encryption: Any) -> None:
        self._encryption = encryption

    def __getattr__(self, name: str) -> Any:
        return getattr(self._encryption, name)

    def decrypt_object(self, obj: PdfObject, idnum: int, generation: int, **options: Any) -> PdfObject:
        if isinstance(obj, StreamObject) and obj.get("/Type") != "/ObjStm":
            crypt = self._encryption._make_crypt_filter(idnum, generation)
            for key, value in list(obj.items()):
                obj[key] = crypt.decrypt_object(value, **options)
            return obj
        deciphered: PdfObject = self._encryption.decrypt_object(obj, idnum, generation, **options)
        return deciphered


def _decipher_strings_only(reader: PdfReader) -> None:
    encryption = getattr(reader, "_encryption", None)
    if encryption is not None and hasattr(encryption, "_make_crypt_filter") and hasattr(encryption, "decrypt_object"):
        reader._encryption = _StringsOnly(encryption)  # type: ignore[assignment]


def _page_count(reader: PdfReader, found: _Found) -> int | None:
    try:
        pages = len(reader.pages)
    except Exception:
        found.defects.append("pdf-page-tree-broken")
        return None
    if pages > MAX_PAGES:
        found.defects.append("pdf-many-pages")
    return pages


def _inspect(obj: Any, found: _Found, depth: int) -> None:
    """Facts of one object and of the direct (not referenced) objects inside it."""
    if isinstance(obj, IndirectObject) or depth <= 0:
        return
    if isinstance(obj, ArrayObject):
        for item in obj[:1000]:
            _inspect(item, found, depth - 1)
        return
    if not isinstance(obj, DictionaryObject):
        return
    action = obj.get("/S")
    if "/JS" in obj or action == "/JavaScript":
        found.javascript = True
    if action == "/Launch":
        found.launch = True
    if "/OpenAction" in obj:
        found.open_action = True
    if obj.get("/Type") == "/EmbeddedFile" or "/EmbeddedFiles" in obj:
        found.embedded_files = True
    names = obj.get("/Names")
    if isinstance(names, DictionaryObject) and "/JavaScript" in names:
        found.javascript = True
    for key in ("/URI", "/F"):
        value = obj.get(key)
        if isinstance(value, IndirectObject):
            value = value.get_object()
        if isinstance(value, str | bytes) and not isinstance(value, NameObject):
            found.add_url(_decode_text(value) if isinstance(value, bytes) else str(value))
    for key, value in list(obj.items())[:200]:
        if key not in ("/Parent", "/P") and isinstance(value, DictionaryObject | ArrayObject):
            _inspect(value, found, depth - 1)
