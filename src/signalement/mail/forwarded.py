"""The reported message(s) inside a mail forwarded to the report address. Pure (the stdlib and this package's
`facts.decode` and `message.decode_text`), no I/O, never raises on bad input.

Forwarded as an attachment: every `message/rfc822` (or `message/global`) part at any depth of multipart, and every
attachment named `*.eml` / `*.msg822` whatever its content type, in document order. A message attached inside an
attached message is not returned on its own: it is part of the reported evidence. The bytes are those carried,
with only the transfer encoding undone: the MIME structure is read by a byte scanner of boundaries, not by the
email package, which would re-serialise (refold headers, change line endings) what it parsed.
Outlook `.msg` attachments (OLE compound files) are not parsed: they are skipped, as is a "message" part that
holds one. No other attachment is ever decoded.

Forwarded inline (nothing attached): the original is rebuilt from the forward block that mail clients write in the
text (Gmail, Outlook, Apple Mail, Thunderbird, Yahoo; English, French and German labels), from the text/plain part,
else from the HTML part turned into text. The rebuilt RFC 5322 message carries the fields recovered (From, Reply-To,
To, Cc, Subject, Date), `X-Signalement-Recovered` naming them, `X-Signalement-Original-Date` with the date as the
client wrote it (the Date field only when it parses; `-0000` when the client wrote no zone), and the text after the
block as a UTF-8 text/plain body, quoting (`>`) removed and URLs kept as text.

Bounds: MAX_PARTS parts read, MAX_DEPTH levels of multipart, attached messages over MAX_PART ignored, the first
5000 lines of the text searched for the block; 10,000 parts take about 30 ms of CPU.
"""

from __future__ import annotations

import binascii
import html as entities
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.header import Header
from email.utils import format_datetime, formataddr, getaddresses
from functools import lru_cache
from typing import Literal, NamedTuple
from urllib.parse import unquote_to_bytes

from signalement.mail.facts import decode
from signalement.mail.message import decode_text

__all__ = ["MAX_DEPTH", "MAX_PART", "MAX_PARTS", "Forwarded", "forwarded_messages"]

MAX_PART = 25_000_000  # bytes: a larger attached message (decoded) is ignored
MAX_DEPTH = 30  # multipart nesting levels read
MAX_PARTS = 10_000  # MIME parts read in one mail; hostile mail has tens of thousands, real forwards a few
_MAX_TEXT = 1_000_000  # characters of a text part searched for an inline forward
_MAX_HTML = 1_000_000  # characters of HTML turned into text
_MAX_SECTIONS = 64  # RFC 2231 continuations of one parameter
_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # an Outlook .msg is an OLE compound file
_MESSAGE_TYPES = frozenset({"message/rfc822", "message/global"})
_MESSAGE_NAME = re.compile(r"\.(?:eml|msg822)$", re.IGNORECASE)


@dataclass(frozen=True)
class Forwarded:
    raw: bytes  # the reported message as RFC 5322 bytes
    how: Literal["attached", "inline"]
    name: str | None  # the attachment's file name, if any
    recovered: tuple[str, ...]  # inline only: which header fields were recovered from the quoted header block


def forwarded_messages(raw: bytes, *, max_messages: int = 50) -> list[Forwarded]:
    """The messages forwarded in this mail: attached ones in order, else the one forwarded inline, else []."""
    if isinstance(raw, bytearray | memoryview):
        raw = bytes(raw)
    if not isinstance(raw, bytes) or max_messages <= 0:
        return []
    scan = _Scan(raw, max_messages)
    scan.run()
    if scan.found:
        return scan.found
    inline = _inline(raw, scan.texts)
    return [inline] if inline is not None else []


# --- MIME, read on the bytes -------------------------------------------------------------------------------------

_HEAD_END = re.compile(rb"\n\r?\n")
# The three fields that matter, with their folded continuation lines; the first of each counts, as in the stdlib.
_FIELD = re.compile(
    rb"^content-(type|disposition|transfer-encoding)[ \t]*:([^\n]*(?:\n[ \t][^\n]*)*)", re.IGNORECASE | re.MULTILINE
)
_FOLD = re.compile(rb"\r?\n")
_BIG_BODY = 65_536  # bytes of a multipart body from which its delimiters are found by a regular expression
_PARAM = re.compile(r';\s*([^\s=;"]+)\s*=\s*("(?:[^"\\]|\\.)*"?|[^;]*)')
_SECTION = re.compile(r"([^*]+)(?:\*(\d{1,3}))?(\*)?")
_QUOTED_PAIR = re.compile(r"\\(.)")


class _Part(NamedTuple):
    """One MIME entity as offsets into the raw mail, with the fields read from its header (a tuple: thousands of
    parts are made in hostile mail)."""

    body: int
    end: int
    content_type: str
    params: str  # the Content-Type value after the type, parsed only when needed
    disposition: str
    encoding: str


class _Scan:
    """Walks the MIME tree depth-first in document order, collecting attached messages and the first text/plain
    and text/html body parts."""

    def __init__(self, raw: bytes, max_messages: int) -> None:
        self.raw = raw
        self.max_messages = max_messages
        self.found: list[Forwarded] = []
        self.texts: dict[str, _Part] = {}
        self.parts = 0

    def run(self) -> None:
        self._walk(0, len(self.raw), 0, False)

    def _walk(self, start: int, end: int, depth: int, digest: bool) -> None:
        """One part, and its children if it is a multipart: recursion is bounded by MAX_DEPTH."""
        raw, texts = self.raw, self.texts
        self.parts += 1
        # Searched from the line break before the part, an empty first line (no header) is found the same way.
        match = _HEAD_END.search(raw, start - 1 if start and raw[start - 1] == 0x0A else start, end)
        head_end, body = (match.start() + 1, match.end()) if match else (end, end)
        # A look at the header's bytes first: a hostile mail has thousands of parts of no interest.
        header = raw[start:head_end]
        head = header.lower()
        if not (
            digest
            or b"multipart" in head
            or b"message" in head
            or b".eml" in head
            or b".msg822" in head
            or b"*=" in head  # RFC 2231 names: `filename*=utf-8''x%2Eeml`
            or b"=?" in head  # RFC 2047 names: `name="=?utf-8?B?...?="`
            or (len(texts) < 2 and (b"text/" in head or b"content-type" not in head))
        ):
            return
        part = _Part(body, end, *_fields(header, digest))
        content_type = part.content_type
        if not content_type.startswith("multipart/"):
            self._leaf(part)
            return
        boundary = _param(part.params, "boundary")
        if not boundary or depth >= MAX_DEPTH:
            return
        in_digest = content_type == "multipart/digest"
        for child_start, child_end in _spans(raw, body, end, _header_bytes(boundary)):
            if len(self.found) >= self.max_messages or self.parts >= MAX_PARTS:
                return
            self._walk(child_start, child_end, depth + 1, in_digest)

    def _leaf(self, part: _Part) -> None:
        name = _file_name(part)
        if part.content_type in _MESSAGE_TYPES or (name is not None and _MESSAGE_NAME.search(name.strip(" ."))):
            self._attached(part, name)
        elif part.content_type in ("text/plain", "text/html") and part.content_type not in self.texts:
            shown = name is None and not part.disposition.lstrip().lower().startswith("attachment")
            if shown:  # a text the sender wrote, not an attached file
                self.texts[part.content_type] = part

    def _attached(self, part: _Part, name: str | None) -> None:
        size = part.end - part.body
        if size == 0 or size > 3 * MAX_PART:  # nothing could decode to 25 MB or less from three times that
            return
        if part.encoding not in ("base64", "quoted-printable") and size > MAX_PART:
            return
        data = _decoded(self.raw[part.body : part.end], part.encoding)
        if not data or data.isspace() or len(data) > MAX_PART or data.startswith(_OLE):
            return
        self.found.append(Forwarded(raw=data, how="attached", name=name, recovered=()))


@lru_cache(maxsize=256)
def _fields(head: bytes, digest: bool) -> tuple[str, str, str, str]:
    """Content type, its parameters (`;` first), disposition and transfer encoding of a part's header. Memoized:
    hostile mail repeats the same part thousands of times. The first of each field counts, as in the stdlib."""
    content_type = params = disposition = encoding = ""
    seen: set[bytes] = set()
    for name, value in _FIELD.findall(head):
        name = name.lower()
        if name in seen:
            continue
        seen.add(name)
        text = value.decode("ascii") if value.isascii() and b"\n" not in value else _text(value)
        if name == b"type":
            content_type, _, params = text.partition(";")
        elif name == b"disposition":
            disposition = text
        else:
            encoding = text.strip().lower()
    content_type = content_type.strip().lower()
    if not content_type:
        content_type = "message/rfc822" if digest else "text/plain"
    elif content_type.count("/") != 1:
        content_type = "text/plain"  # RFC 2045 §5.2
    return content_type, ";" + params, disposition, encoding


def _spans(raw: bytes, body: int, end: int, boundary: bytes) -> Iterator[tuple[int, int]]:
    """The parts of a multipart body between its delimiter lines (RFC 2046 §5.1.1): the line break before a
    delimiter belongs to it. Without a close delimiter, the last part runs to the end; the preamble and epilogue
    are not parts. Lazily: the walk stops reading them at its bounds."""
    start: int | None = None
    for found, closing, line_end in _delimiters(raw, body, end, boundary):
        if start is not None:
            stop = found
            if stop > start and raw[stop - 1] == 0x0A:
                stop -= 1
                if stop > start and raw[stop - 1] == 0x0D:
                    stop -= 1
            yield start, stop
        if closing:
            return
        start = line_end
    if start is not None and start < end:
        yield start, end


def _delimiters(raw: bytes, body: int, end: int, boundary: bytes) -> Iterator[tuple[int, bool, int]]:
    """The delimiter lines of a multipart body: where each starts, whether it closes, where the next line starts.
    A boundary followed by other text than spaces is not a delimiter."""
    if end - body > _BIG_BODY:  # a regular expression finds them faster, once compiled
        after_break = body - 1 if body and raw[body - 1] == 0x0A else body  # the body starts after a line break
        for match in _delimiter_line(boundary).finditer(raw, after_break, end):
            yield match.start() + 1, match.group(1) is not None, min(match.end() + 1, end)
        return
    marker = b"--" + boundary
    position = body
    while (found := raw.find(marker, position, end)) >= 0:
        position = found + len(marker)
        if found != body and raw[found - 1] != 0x0A:
            continue  # not at the start of a line
        closing = raw.startswith(b"--", position, end)
        line_end = raw.find(b"\n", position, end)
        rest_end = end if line_end < 0 else line_end
        if not raw[position + 2 * closing : rest_end].strip(b" \t\r"):
            yield found, closing, rest_end + 1 if line_end >= 0 else end
            position = rest_end


@lru_cache(maxsize=64)
def _delimiter_line(boundary: bytes) -> re.Pattern[bytes]:
    # A literal first (`\n--`), not `^` with MULTILINE: the engine then skips ahead as fast as bytes.find.
    return re.compile(rb"\n--" + re.escape(boundary) + rb"(--)?[ \t\r]*(?=\n|\Z)")


def _decoded(data: bytes, encoding: str) -> bytes:
    """A body with its transfer encoding undone, tolerantly; unknown encodings leave it as it is."""
    if encoding == "base64":
        return _base64(data)
    if encoding == "quoted-printable":
        return binascii.a2b_qp(data)
    return data


_NOT_BASE64 = bytes(set(range(256)) - set(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))


def _base64(data: bytes) -> bytes:
    """Base64 as mail readers decode it: stray characters and missing or extra padding ignored."""
    data = data.translate(None, _NOT_BASE64)
    data = data[: len(data) - 1] if len(data) % 4 == 1 else data
    try:
        return binascii.a2b_base64(data + b"=" * (-len(data) % 4))
    except binascii.Error:  # cannot happen once cleaned; kept so that bad input never raises
        return b""


def _text(value: bytes) -> str:
    """A header value as text: folding removed, raw 8-bit bytes read as UTF-8 (else Windows-1252)."""
    if b"\n" in value:
        value = _FOLD.sub(b"", value)
    if value.isascii():
        return value.decode("ascii")
    try:
        return value.decode("utf-8")
    except UnicodeDecodeError:
        return value.decode("cp1252", "replace")


def _header_bytes(value: str) -> bytes:
    return value.encode("utf-8", "surrogatepass")


def _file_name(part: _Part) -> str | None:
    """The Content-Disposition filename, else the Content-Type name; RFC 2231 and RFC 2047 decoded."""
    if "name" not in part.disposition.lower() and "name" not in part.params.lower():
        return None  # the usual case, found without parsing
    disposition = part.disposition.partition(";")[2]
    name = _param(";" + disposition, "filename") or _param(part.params, "name")
    if not name:
        return None
    return decode(name)[:300] if "=?" in name else name[:300]


@lru_cache(maxsize=256)  # hostile mail repeats the same Content-Type thousands of times
def _param(params: str, wanted: str) -> str | None:
    """A parameter of a `; name=value` list, with RFC 2231 continuations and charsets; tolerant of bad quoting."""
    plain: str | None = None
    sections: dict[int, tuple[str, bool]] = {}
    for match in _PARAM.finditer(params):
        section = _SECTION.fullmatch(match.group(1).lower())
        if section is None or section.group(1) != wanted:
            continue
        value = match.group(2).strip()
        if value.startswith('"'):
            value = _QUOTED_PAIR.sub(r"\1", value[1:-1] if len(value) > 1 and value.endswith('"') else value[1:])
        index, encoded = section.group(2), section.group(3) is not None
        if index is None and not encoded:
            plain = value if plain is None else plain
        elif len(sections) < _MAX_SECTIONS:
            sections.setdefault(int(index or 0), (value, encoded))
    if not sections:
        return plain
    return _rfc2231([sections[i] for i in sorted(sections)])


def _rfc2231(sections: list[tuple[str, bool]]) -> str:
    charset: str | None = None
    data = b""
    for number, (value, encoded) in enumerate(sections):
        if encoded and number == 0 and value.count("'") >= 2:
            charset, _, value = value.split("'", 2)  # charset'language'value
        data += unquote_to_bytes(value) if encoded else value.encode("utf-8", "surrogatepass")
    return decode_text(data, charset or "utf-8")[0]


# --- Inline forwards ---------------------------------------------------------------------------------------------

# Labels of the quoted header block, by client language, to the field they stand for.
_LABELS = {
    "from": "From",
    "de": "From",
    "von": "From",
    "reply-to": "Reply-To",
    "répondre à": "Reply-To",
    "antwort an": "Reply-To",
    "to": "To",
    "à": "To",
    "a": "To",
    "pour": "To",
    "an": "To",
    "cc": "Cc",
    "copie à": "Cc",
    "kopie": "Cc",
    "subject": "Subject",
    "objet": "Subject",
    "sujet": "Subject",
    "betreff": "Subject",
    "date": "Date",
    "sent": "Date",
    "envoyé": "Date",
    "envoye": "Date",
    "envoyé le": "Date",
    "gesendet": "Date",
    "datum": "Date",
}
_FIELD_ORDER = ("From", "Reply-To", "To", "Cc", "Subject", "Date")
# `Label: value`, `Label : value` (French, often with a no-break space), `*Label:* value` (bold rendered as text).
_LABEL = re.compile(
    r"\s*\*?\s*(" + "|".join(sorted(map(re.escape, _LABELS), key=len, reverse=True)) + r")\s*:(?:\s*\*)?(?:\s+|$)(.*)",
    re.IGNORECASE,
)
# The line a client writes above the quoted header block.
_MARKER = re.compile(
    r"[\s\-_=*]*(?:"
    r"forwarded message|original message|begin forwarded message"
    r"|message transf[ée]r[ée]|message d['’]origine|d[ée]but du message (?:r[ée]exp[ée]di[ée]|transf[ée]r[ée])"
    r"|weitergeleitete nachricht|urspr[üu]ngliche nachricht|anfang der weitergeleiteten nachricht"
    r")\s*:?[\s\-_=*]*",
    re.IGNORECASE,
)
_RULE = re.compile(r"\s*_{10,}\s*")  # Outlook's separator line, and an HTML <hr> as this module renders it
_QUOTE = re.compile(r"((?:[ \t]*>){0,100})[ \t]?")  # deeper quoting is kept in the text
_MAILTO = re.compile(r"\[mailto:([^\]\s]+)\]|<mailto:([^>\s]+)>", re.IGNORECASE)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")
_MAX_SEARCHED = 5000  # lines searched for the block: the forwarder writes a few lines above it
_MAX_LINE = 10_000  # characters: a longer line is no marker nor header line
_HEADER_TAIL = 3  # blank lines allowed between the marker and the header block


@dataclass(frozen=True, slots=True)
class _Block:
    fields: dict[str, str]  # field name -> value as written
    body: list[str]
    day_first: bool


# What a forward block's HTML holds somewhere: a marker's word, Outlook's separator, or a From/De/Von label with its
# colon (after spaces or a tag). HTML without any is not turned into text, which is most of the cost of reading a
# report that forwards nothing. Literals first, then one regex that starts on a character class: 7x faster than one
# case-insensitive alternation.
_FORWARD_WORDS = ("forward", "original", "transf", "weitergeleitet", "urspr", "__________")
_LABEL_COLON = re.compile(r"[fdv](?:rom|e|on)(?:\s|&nbsp;|<[^>]{0,20}>)*:")


def _might_forward(html: str) -> bool:
    lowered = html.lower()
    return any(word in lowered for word in _FORWARD_WORDS) or _LABEL_COLON.search(lowered) is not None


def _inline(raw: bytes, texts: dict[str, _Part]) -> Forwarded | None:
    for kind in ("text/plain", "text/html"):
        part = texts.get(kind)
        if part is None:
            continue
        if kind == "text/html" and not _might_forward(_text_of(raw, part)[:_MAX_HTML]):
            continue
        block = _find_block(_part_text(raw, part, html=kind == "text/html").splitlines())
        if block is not None:
            return _rebuild(block)
    return None


def _text_of(raw: bytes, part: _Part) -> str:
    return decode_text(_decoded(raw[part.body : part.end], part.encoding), _param(part.params, "charset"))[0]


def _part_text(raw: bytes, part: _Part, *, html: bool) -> str:
    content = _text_of(raw, part)
    if html:
        return _html_text(content[:_MAX_HTML])
    content = content[:_MAX_TEXT]
    if (_param(part.params, "format") or "").lower() == "flowed":
        content = _unflow(content, (_param(part.params, "delsp") or "").lower() == "yes")
    return content


def _find_block(lines: list[str]) -> _Block | None:
    """The first forward block: a marker line and the header block after it; or Outlook's separator and a block
    with From and Sent or Subject; or, without either, a block with From, Date and Subject."""
    for index, line in enumerate(lines[:_MAX_SEARCHED]):
        if len(line) > _MAX_LINE:
            continue
        depth, content = _unquote(line)
        if not content.strip() or len(content) > 200:
            continue
        if _MARKER.fullmatch(content):
            block = _header_block(lines, index + 1, depth, needs=1)
            if block is None:  # a marker with no header after it is still a forward
                return _Block({}, _body(lines, index + 1, depth), day_first=False)
            return block
        if _RULE.fullmatch(content):
            block = _header_block(lines, index + 1, depth, needs=2, required=("From",))
        elif _LABEL.match(content):
            block = _header_block(lines, index, depth, needs=3, required=("From", "Date", "Subject"), skip=0)
        else:
            continue
        if block is not None:
            return block
    return None


def _header_block(
    lines: list[str], start: int, depth: int, *, needs: int, required: tuple[str, ...] = (), skip: int = _HEADER_TAIL
) -> _Block | None:
    index = start
    while index < len(lines) and skip and not _unquote(lines[index])[1].strip():
        index, skip = index + 1, skip - 1
    fields: dict[str, str] = {}
    labels: list[str] = []
    last: str | None = None
    while index < len(lines):
        line_depth, content = _unquote(lines[index])
        match = _LABEL.match(content) if line_depth == depth else None
        if match is not None:
            name = _LABELS[match.group(1).lower()]
            if name in fields:
                break  # a field again: this is not the same block any more
            fields[name], last = match.group(2).strip(), name
            labels.append(match.group(1).lower())
        elif last in ("To", "Cc", "Subject") and line_depth == depth and content[:1].isspace() and content.strip():
            fields[last] += " " + content.strip()  # a long value wrapped by the client
        else:
            break
        index += 1
    if len(fields) < needs or any(name not in fields for name in required):
        return None
    if len(fields) == 1 and "Date" in fields and labels == ["date"]:
        return None  # a lone `Date:` line is prose, not a header block
    day_first = any(label not in ("from", "to", "cc", "subject", "date", "sent", "reply-to") for label in labels)
    return _Block(fields, _body(lines, index, depth), day_first)


def _body(lines: list[str], start: int, depth: int) -> list[str]:
    """The text after the block at its quote level, the quoting removed; it ends where the quoting does."""
    body: list[str] = []
    for line in lines[start:]:
        line_depth, content = _unquote(line, depth)
        if line_depth < depth and content.strip():
            break
        body.append(content.rstrip())
    while body and not body[0].strip():
        body.pop(0)
    while body and not body[-1].strip():
        body.pop()
    return body


def _unquote(line: str, limit: int = 1000) -> tuple[int, str]:
    """The quote depth of a line (`>`, `> >`, `>>`) and its text with at most `limit` levels of quoting removed."""
    if ">" not in line[:200]:
        return 0, line
    match = _QUOTE.match(line)
    assert match is not None  # the pattern matches the empty string
    depth = match.group(1).count(">")
    if depth <= limit:
        return depth, line[match.end() :]
    cut = 0
    for _ in range(limit):  # only `limit` levels come off: cut after the limit-th `>` and one space
        cut = line.index(">", cut) + 1
    if limit and line[cut : cut + 1] in (" ", "\t"):
        cut += 1
    return depth, line[cut:]


def _unflow(text: str, delsp: bool) -> str:
    """format=flowed (RFC 3676): a line ending in a space goes on in the next line of the same quote depth."""
    out: list[str] = []
    pending: tuple[int, str] | None = None
    for line in text.splitlines():
        depth = len(line) - len(line.lstrip(">"))
        content = line[depth:]
        content = content[1:] if content.startswith(" ") else content  # space-stuffing
        if pending is not None and pending[0] == depth:
            content = pending[1] + content
        elif pending is not None:
            out.append(_quoted(*pending))
        pending = None
        if content.endswith(" ") and content != "-- ":
            pending = (depth, content[:-1] if delsp else content)
        else:
            out.append(_quoted(depth, content))
    if pending is not None:
        out.append(_quoted(*pending))
    return "\n".join(out)


def _quoted(depth: int, content: str) -> str:
    return ">" * depth + (" " if depth else "") + content


# --- The rebuilt message -----------------------------------------------------------------------------------------


def _rebuild(block: _Block) -> Forwarded:
    lines: list[str] = []
    recovered = tuple(name for name in _FIELD_ORDER if name in block.fields)
    for name in recovered:
        value = _CONTROL.sub(" ", _valid(block.fields[name])).strip()
        if name == "Date":
            when = _parse_date(value, day_first=block.day_first)
            if when is not None:
                lines.append(f"Date: {format_datetime(when)}")
            lines.append(_header("X-Signalement-Original-Date", value))
        elif name == "Subject":
            lines.append(_header(name, value))
        else:
            lines.append(_addresses(name, value))
    lines.append(f"X-Signalement-Recovered: inline forward; {', '.join(recovered) or 'no header field'}")
    data = _valid("\r\n".join(block.body) + "\r\n").encode("utf-8")
    if any(len(line) > 998 for line in data.split(b"\r\n")):
        encoding = "quoted-printable"
        data = b"\r\n".join(binascii.b2a_qp(line).replace(b"=\n", b"=\r\n") for line in data.split(b"\r\n"))
    else:
        encoding = "7bit" if data.isascii() else "8bit"
    lines += [
        "MIME-Version: 1.0",
        'Content-Type: text/plain; charset="utf-8"',
        f"Content-Transfer-Encoding: {encoding}",
    ]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")
    return Forwarded(raw=head + data, how="inline", name=None, recovered=recovered)


def _valid(text: str) -> str:
    """Lone surrogates (UTF-7 can decode to them) as `?`: they cannot be encoded."""
    return text if text.isascii() else text.encode("utf-8", "replace").decode("utf-8")


def _header(name: str, value: str) -> str:
    """A header field, RFC 2047-encoded when not ASCII and folded at 78 characters."""
    charset = "us-ascii" if value.isascii() else "utf-8"
    return f"{name}: " + Header(value, charset, header_name=name).encode(linesep="\r\n")


def _addresses(name: str, value: str) -> str:
    """An address field from what a client shows: `Name [mailto:a@b]` and `a@b<mailto:a@b>` as Outlook writes
    them, `;` between addresses; kept as text when it holds no address (Outlook shows names alone)."""
    value = _MAILTO.sub(lambda m: f"<{m.group(1) or m.group(2)}>", value)
    value = re.sub(r"<([^<>\s]+)<([^<>\s]+)>>", r"<\1>", value)  # `Name <a@b<a@b>>`
    value = re.sub(r"([^\s<>,;]+@[^\s<>,;]+)<\1>", r"\1", value)  # `a@b<a@b>`
    pairs = getaddresses([value.replace(";", ",")])
    if pairs and all("@" in address and address.isascii() for _, address in pairs):
        return f"{name}: " + ",\r\n ".join(formataddr(pair) for pair in pairs)
    return _header(name, value)


# --- Dates as clients show them ----------------------------------------------------------------------------------

_MONTHS = {
    **dict.fromkeys(("jan", "january", "janv", "janvier", "januar", "jän", "jänner"), 1),
    **dict.fromkeys(("feb", "february", "févr", "fevr", "février", "fevrier", "februar"), 2),
    **dict.fromkeys(("mar", "march", "mars", "märz", "maerz", "mrz"), 3),
    **dict.fromkeys(("apr", "april", "avr", "avril"), 4),
    **dict.fromkeys(("may", "mai"), 5),
    **dict.fromkeys(("jun", "june", "juin", "juni"), 6),
    **dict.fromkeys(("jul", "july", "juil", "juillet", "juli"), 7),
    **dict.fromkeys(("aug", "august", "août", "aout"), 8),
    **dict.fromkeys(("sep", "sept", "september", "septembre"), 9),
    **dict.fromkeys(("oct", "october", "octobre", "okt", "oktober"), 10),
    **dict.fromkeys(("nov", "november", "novembre"), 11),
    **dict.fromkeys(("dec", "december", "déc", "décembre", "decembre", "dez", "dezember"), 12),
}
_ZONES = {"ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0, "west": 60, "bst": 60, "cet": 60, "met": 60}
_ZONES |= {"cest": 120, "mest": 120, "eet": 120, "eest": 180, "est": -300, "edt": -240, "cst": -360, "cdt": -300}
_ZONES |= {"mst": -420, "mdt": -360, "pst": -480, "pdt": -420}
_OFFSET = re.compile(r"(?:\b(?:gmt|utc)\s*|(?<=\s))([+-])(\d{1,2})(?::?(\d{2}))?\b(?!\s*[:h]\d)")
_ZONE = re.compile(r"\b(" + "|".join(_ZONES) + r")\b")
_TIME = re.compile(r"\b(\d{1,2})\s*[:h]\s*(\d{2})(?::(\d{2}))?(?:\s*([ap])\.?m\.?)?", re.IGNORECASE)
_NUMERIC = re.compile(r"\b(\d{1,4})[./-](\d{1,2})[./-](\d{2,4})\b")
_WORD = re.compile(r"[^\W\d_]+")


def _parse_date(text: str, *, day_first: bool) -> datetime | None:
    """A date as Gmail, Outlook, Apple Mail or Thunderbird show it, in English, French or German; naive (shown
    as -0000) when no zone is written. None when it cannot be read."""
    text = text.lower()[:200]
    minutes: int | None = None
    offset = _OFFSET.search(text)
    if offset is not None:
        sign = -1 if offset.group(1) == "-" else 1
        minutes = sign * (int(offset.group(2)) * 60 + int(offset.group(3) or 0))
        minutes = None if minutes == 0 and sign < 0 else minutes  # -0000: the zone is unknown (RFC 5322 §3.3)
        text = text[: offset.start()] + " " + text[offset.end() :]
    elif (zone := _ZONE.search(text)) is not None:
        minutes = _ZONES[zone.group(1)]
        text = text[: zone.start()] + " " + text[zone.end() :]
    hour = minute = second = 0
    time = _TIME.search(text)
    if time is not None:
        hour, minute, second = int(time.group(1)), int(time.group(2)), int(time.group(3) or 0)
        if time.group(4):
            hour = hour % 12 + (12 if time.group(4).lower() == "p" else 0)
        text = text[: time.start()] + " " + text[time.end() :]
    day_month_year = _day_month_year(text, day_first)
    if day_month_year is None:
        return None
    day, month, year = day_month_year
    if not 1970 <= year <= 2100 or (minutes is not None and abs(minutes) > 14 * 60):
        return None
    try:
        zone_info = timezone(timedelta(minutes=minutes)) if minutes is not None else None
        return datetime(year, month, day, hour, minute, second, tzinfo=zone_info)
    except ValueError:
        return None


def _day_month_year(text: str, day_first: bool) -> tuple[int, int, int] | None:
    numeric = _NUMERIC.search(text)
    if numeric is not None:
        first, second, third = (int(n) for n in numeric.groups())
        if len(numeric.group(1)) == 4:
            return third, second, first  # ISO 8601
        year = third + 2000 if third < 100 else third
        if first > 12 or (day_first and second <= 12):
            return first, second, year
        return second, first, year
    months = [_MONTHS[word.rstrip(".")] for word in _WORD.findall(text) if word.rstrip(".") in _MONTHS]
    years = re.findall(r"\b(\d{4})\b", text)
    days = re.findall(r"\b(\d{1,2})\b", text)
    if not months or not years or not days:
        return None
    return int(days[0]), months[-1], int(years[0])  # the last month name: `mar.` first is a French Tuesday


# --- HTML as text ------------------------------------------------------------------------------------------------

_BLOCKS = frozenset(
    "address article aside blockquote center dd details div dl dt fieldset figcaption figure footer form h1 h2 h3"
    " h4 h5 h6 header li main nav ol p pre section summary table tbody tfoot thead tr ul".split()
)
# Tag names in explicit classes, not re.IGNORECASE: Python's engine runs those far slower on every `<`.
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9:]{0,40})(?![a-zA-Z0-9:])([^<>]{0,4000})>")
_DECLARATION = re.compile(r"<[!?][^<>]{0,4000}>")
_HIDDEN_START = re.compile(r"<(?:!--|script|style|title|template)")  # on an ASCII-lower-cased copy
_HREF = re.compile(r"""\b[hH][rR][eE][fF]\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+))""")
_HTML_SPACE = re.compile(r"[ \t\r\n\f]+")
_LINE_EDGES = re.compile(r"[ \xa0]*\n[ \xa0]*")
_BLANK_LINES = re.compile(r"\n{3,}")
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
_NOT_WEB = ("mailto:", "tel:", "#", "javascript:", "cid:", "data:")
_MAX_LINK_TEXT = 500  # characters of a link's content searched for its own URL
_RULE_TEXT = "\n" + "_" * 32 + "\n"


def _html_text(html: str) -> str:
    """Text with the line structure a reader sees (blocks, `<br>`, table cells); `<hr>` as Outlook's underscore
    line; links as `text <url>`, as Gmail writes them in plain text, so that their targets stay in the text.
    Regular expressions and one pass over the tags, no tree: linear, and hostile nesting costs nothing
    (html.parser is quadratic on unclosed tags). `<pre>` is not kept apart: its line breaks become spaces."""
    html = _without_hidden(html.replace("\x00", "").replace("\x01", ""))
    html = _HTML_SPACE.sub(" ", _DECLARATION.sub("", html))  # source line breaks are spaces; tags make the lines
    opened: list[tuple[str, int]] = []

    def replace(match: re.Match[str]) -> str:
        closing, name = match.group(1), match.group(2).lower()
        if name == "a":
            return _link(match, opened, closing == "")
        if name == "br":
            return "\n"
        if name == "hr":
            return _RULE_TEXT
        if name in ("td", "th"):
            return " "
        return "\n" if name in _BLOCKS else ""

    text = entities.unescape(_TAG.sub(replace, html)).replace("\x00", "<").replace("\x01", ">")
    return _BLANK_LINES.sub("\n\n", _LINE_EDGES.sub("\n", text)).strip()


def _without_hidden(html: str) -> str:
    """Comments, scripts, styles, titles and templates removed; unclosed, they run to the end, as browsers read."""
    lower = html.translate(_ASCII_LOWER)  # same length: str.lower() is not, for some characters
    kept: list[str] = []
    position = 0
    while (found := _HIDDEN_START.search(lower, position)) is not None:
        kept.append(html[position : found.start()])
        if lower.startswith("<!--", found.start()):
            end = lower.find("-->", found.start() + 4)
            position = len(html) if end < 0 else end + 3
        else:
            name = found.group()[1:]
            close = re.compile(rf"</{name}\s*>").search(lower, found.end())
            position = len(html) if close is None else close.end()
    kept.append(html[position:])
    return " ".join(kept)


def _link(match: re.Match[str], opened: list[tuple[str, int]], start: bool) -> str:
    """A link's target written after its text as `\x00url\x01` (brackets once the tags are gone), unless the
    text already shows it; links to mail addresses, phones and anchors are left alone."""
    if start:
        found = _HREF.search(match.group(3))
        href = next((g for g in found.groups() if g is not None), "") if found else ""
        opened.append((entities.unescape(href).strip(), match.end()))
        return ""
    if not opened:
        return ""
    href, begin = opened.pop()
    if not href or href.lower().startswith(_NOT_WEB) or "<" in href or ">" in href:
        return ""
    if match.string.find(href, max(begin, match.start() - _MAX_LINK_TEXT), match.start()) >= 0:
        return ""
    return f" \x00{href}\x01"
