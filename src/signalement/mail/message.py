"""A raw message as the analysis reads it: parsed once with compat32, parts walked with limits, bodies decoded
lazily and tolerantly (unknown, wrong or missing charsets never raise; what was wrong is listed as a defect).
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import Message
from email.policy import compat32
from functools import lru_cache
from typing import Any

from signalement.mail.facts import decode, header_block

MAX_PARTS = 500  # hostile messages nest thousands of parts
MAX_DEPTH = 30
MAX_TEXT = 1_000_000  # characters kept of one text part
MAX_PARSED = 25_000_000  # bytes of body given to the parser; beyond, headers and the start only

# Charset names that mail uses but Python spells otherwise, or that lie (ks_c_5601 is cp949 in practice).
_ALIASES = {
    "ks_c_5601-1987": "cp949",
    "x-sjis": "shift_jis",
    "x-euc-jp": "euc_jp",
    "unicode-1-1-utf-7": "utf-7",
    "x-unknown": "",
    "unknown-8bit": "",
    "default": "",
    "_iso-2022-jp$esc": "iso2022_jp",
}
_HTML_CHARSET = re.compile(rb"""<meta[^>]{0,200}?charset\s*=\s*["']?([A-Za-z0-9_.:-]{1,40})""", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class PartRef:
    """One leaf part of the message, its body not yet decoded."""

    part: Message
    index: int
    depth: int
    content_type: str
    filename: str | None
    disposition: str | None

    @property
    def is_attachment(self) -> bool:
        if self.disposition == "attachment" or self.filename:
            return True
        return not self.content_type.startswith(("text/", "multipart/", "message/"))


@dataclass
class ParsedMessage:
    raw: bytes
    message: Message
    parts: list[PartRef] = field(default_factory=list)
    defects: list[str] = field(default_factory=list)

    def payload(self, ref: PartRef) -> bytes:
        """A part's body with its transfer encoding (base64, quoted-printable, uuencode) undone."""
        data = ref.part.get_payload(decode=True)
        if isinstance(data, bytes):
            return data
        return b""

    def text(self, ref: PartRef) -> str:
        data = self.payload(ref)
        declared = content_charset(ref.part)
        if declared is None and ref.content_type == "text/html":
            found = _HTML_CHARSET.search(data[:4096])
            declared = found.group(1).decode("ascii").lower() if found else None
        text, problem = decode_text(data, declared)
        if problem:
            self.defects.append(problem)
        return text[:MAX_TEXT]


def parse(raw: bytes) -> ParsedMessage:
    body_cut = len(raw) > MAX_PARSED
    source = raw[:MAX_PARSED] if body_cut else raw
    defects: list[str] = ["TooLargeBodyTruncated"] if body_cut else []
    try:
        msg = message_from_bytes(source, policy=compat32)
    except RecursionError:  # the stdlib parser recurses per nesting level
        msg = message_from_bytes(header_block(source) + b"\r\n\r\n", policy=compat32)
        defects.append("TooDeeplyNested")
    parsed = ParsedMessage(raw=raw, message=msg, defects=defects)
    _walk(parsed)
    return parsed


def _walk(parsed: ParsedMessage) -> None:
    stack: list[tuple[Message, int]] = [(parsed.message, 0)]
    seen = 0
    while stack:
        part, depth = stack.pop()
        seen += 1
        if seen > MAX_PARTS:
            parsed.defects.append("TooManyParts")
            return
        parsed.defects.extend(type(defect).__name__ for defect in part.defects)
        # is_multipart() first: get_payload() of a leaf checks its whole body for raw 8-bit bytes, and decodes
        # it if there are any; of a multipart it is the list of sub-parts.
        if part.is_multipart():
            if depth >= MAX_DEPTH:
                parsed.defects.append("TooDeeplyNested")
                continue
            payload = part.get_payload()
            children = payload if isinstance(payload, list) else []  # always the list: for the type checker
            stack.extend((child, depth + 1) for child in reversed(children) if isinstance(child, Message))
            continue
        parsed.parts.append(_ref(part, len(parsed.parts), depth))


def _ref(part: Message, index: int, depth: int) -> PartRef:
    content_type, disposition_header = _type_fields(part)
    filename: str | None = None
    disposition: str | None = None
    # Parameter parsing is the costly part of compat32: only do it when a file name or disposition can be there.
    if disposition_header is not None or "name" in str(content_type or "").lower():
        try:
            filename = part.get_filename()
        except (LookupError, UnicodeError, ValueError):  # RFC 2231 names in charsets Python does not know
            filename = None
        disposition = part.get_content_disposition() if disposition_header is not None else None
    return PartRef(
        part=part,
        index=index,
        depth=depth,
        content_type=_content_type(part, content_type),
        filename=decode(filename)[:300] if filename else None,
        disposition=disposition,
    )


def _type_fields(part: Message) -> tuple[Any, Any]:
    """The first Content-Type and Content-Disposition values, as part.get() gives them, in one pass over the
    fields (part.get() reads them all once per call)."""
    headers: list[tuple[str, Any]] | None = getattr(part, "_headers", None)
    if headers is None:
        return part.get("content-type"), part.get("content-disposition")
    content_type = disposition = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == "content-type":
            if content_type is None:
                content_type = part.policy.header_fetch_parse(name, value)
                if disposition is not None:
                    break
        elif lowered == "content-disposition" and disposition is None:
            disposition = part.policy.header_fetch_parse(name, value)
            if content_type is not None:
                break
    return content_type, disposition


def _content_type(part: Message, value: Any) -> str:
    """Message.get_content_type(), from the Content-Type value already found."""
    if value is None:
        return part.get_default_type()
    content_type = str(value).partition(";")[0].strip().lower()
    return content_type if content_type.count("/") == 1 else "text/plain"  # RFC 2045 §5.2


def content_charset(part: Message) -> str | None:
    """part.get_content_charset(). Its parameter parsing is most of a text part's decoding cost, and depends on the
    Content-Type value alone, which repeats from message to message (`text/html; charset="utf-8"`): memoized."""
    headers: list[tuple[str, Any]] | None = getattr(part, "_headers", None)
    if headers is None or part.policy is not compat32:
        return part.get_content_charset()
    for name, value in headers:
        if name.lower() == "content-type":  # the first one, as get_content_charset() reads
            if type(value) is str and len(name) + len(value) <= _CHARSET_MEMO_MAX:
                return _charset_of(name, value)
            return part.get_content_charset()
    return None


_CHARSET_MEMO_MAX = 500  # characters of a Content-Type field whose charset is memoized


@lru_cache(maxsize=1024)
def _charset_of(name: str, value: str) -> str | None:
    """The charset of a message whose only field is this Content-Type: what get_content_charset() reads."""
    probe = Message(policy=compat32)
    probe.set_raw(name, value)
    return probe.get_content_charset()


@lru_cache(maxsize=256)
def text_codec(name: str | None) -> str | None:
    """The Python text codec for a declared charset, or None when there is none (only text codecs: a declared
    charset of `zlib` or `rot13` must not reach bytes.decode)."""
    if not name:
        return None
    name = name.strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    if not name:
        return None
    try:
        info = codecs.lookup(name)
    except (LookupError, ValueError):
        return None
    return info.name if getattr(info, "_is_text_encoding", True) else None


def decode_text(data: bytes, charset: str | None) -> tuple[str, str | None]:
    """Bytes as text, never raising: the declared charset; when it is unknown or wrong, UTF-8 (the usual truth
    of a wrong label), else the declared codec or Windows-1252 with replacement characters. Returns the text and
    a defect naming what was wrong."""
    codec = text_codec(charset)
    if codec is not None:
        try:
            return data.decode(codec), None
        except (UnicodeError, LookupError, ValueError, TypeError):  # utf-7 and CJK codecs raise more than one kind
            problem: str | None = "WrongCharset"
    else:
        problem = "UnknownCharset" if charset else None
    if data.isascii():
        return data.decode("ascii"), problem
    try:
        return data.decode("utf-8"), problem
    except UnicodeDecodeError:
        pass
    try:
        return data.decode(codec or "cp1252", "replace"), problem or "UndeclaredCharset"
    except (UnicodeError, LookupError, ValueError, TypeError):
        return data.decode("cp1252", "replace"), problem or "UndeclaredCharset"
