"""Facts of an HTML mail part: visible text, title, image alt texts, forms, and every URL with its place.

Parsed with selectolax's Lexbor engine (a C HTML5 parser: fast, and it reads broken markup as browsers do).
URLs come from the attributes a mail client or browser would load or follow, and from CSS `url()`; `mailto:`
and `tel:` targets are kept apart; `cid:`, `data:`, `javascript:` and other non-web schemes are ignored.
Relative URLs are resolved against `<base href>`; without one, only those that name a host
(`www.example.com/x`) are kept. URLs written as text in the page are not searched here: pass
`HtmlFacts.text` to `urls.urls_in_text`.
"""

from __future__ import annotations

import html as entities
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote, urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode

from signalement.mail.urls import is_bare_url

__all__ = ["Form", "HtmlFacts", "read_html"]

_MAX_HTML = 2_000_000  # characters parsed; the rest of a larger part is ignored
_MAX_TEXT = 100_000  # characters of visible text kept
_MAX_TITLE = 1000
_MAX_ITEMS = 2000  # URLs, alt texts, addresses: each list stops there
_MAX_FORMS = 100
_MAX_NODES = 20_000  # link, image, form... elements read; a hostile part can hold hundreds of thousands

# Where URLs are: (tag, attribute) -> place. One query by tag name finds every candidate node.
_PLACES = {
    ("a", "href"): "html:a",
    ("area", "href"): "html:area",
    ("base", "href"): "html:base",
    ("img", "src"): "html:img",
    ("input", "src"): "html:img",
    ("video", "poster"): "html:img",
    ("iframe", "src"): "html:iframe",
    ("frame", "src"): "html:iframe",
    ("form", "action"): "html:form",
    ("button", "formaction"): "html:form",
    ("input", "formaction"): "html:form",
    ("link", "href"): "html:link",
    ("script", "src"): "html:script",
    ("embed", "src"): "html:embed",
    ("object", "data"): "html:embed",
}
_SRCSET_TAGS = frozenset({"img", "source"})
# The same, by tag: each node reads only its own attributes. `input` has two places: read in attribute order.
_PLACES_BY_TAG: dict[str, tuple[tuple[str, str], ...]] = {}
for (_tag, _attribute), _place in _PLACES.items():
    _PLACES_BY_TAG[_tag] = (*_PLACES_BY_TAG.get(_tag, ()), (_attribute, _place))
# Elements whose text is not visible: removed before the text is read.
_HIDDEN = frozenset({"script", "style", "template", "title"})
_READ = frozenset({*_PLACES_BY_TAG, "source", "meta"})  # the tags _read_node reads
# One query finds every candidate node, the title, the hidden elements and those with a `background` (a second walk
# of the tree costs as much as the first). Each selector costs a test of every element: the `href` ones are found by
# their attribute alone, and the rare tags by name. Lexbor gives a node once per selector it matches: a node can
# come twice in a row.
_BY_HREF = {tag for tag, attribute in _PLACES if attribute == "href"}
_TAGS = ",".join(["[href]", *sorted((_READ | _HIDDEN) - _BY_HREF - {"meta"}), "meta[http-equiv]", "[background]"])


_BLOCKS = "p div br hr li ul ol dl dt dd tr td th table tbody thead tfoot h1 h2 h3 h4 h5 h6 blockquote pre section"
_BLOCKS += " article header footer nav aside center form fieldset legend option address figure figcaption main"


def _names_pattern(names: list[str], *, any_case: bool) -> bytes:
    """A regex matching any of the names (lower case, or in any case as a trie of `[pP]` classes), as a trie:
    Python's engine neither shares prefixes of an alternation nor runs re.IGNORECASE as fast as explicit classes.
    A name ends where no letter, digit, `_` or non-ASCII byte follows (a tag name goes on through `<pé>`)."""
    trie: dict[str, Any] = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [_char(c, any_case) + emit(sub) if c else _NAME_END for c, sub in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie).encode("ascii")


_NAME_END = r"(?![0-9A-Za-z_\x80-\xff])"


def _char(char: str, any_case: bool) -> str:
    return f"[{char}{char.upper()}]" if any_case and char.isalpha() else char


# Lexbor's text() has no block boundaries: a space before each block tag keeps `<p>a</p><p>b</p>` apart while
# `Pay<span>Pal</span>` stays one word, as it reads. A tag that whitespace already precedes needs none (the text's
# whitespace is collapsed), and most do: looked at first, it spares the name's test. On bytes, re.IGNORECASE is
# ASCII-only and as fast as `[pP]` classes.
_BLOCK_TAG = re.compile(
    b"<(?<![\t\n\f\r ]<)(?=/?" + _names_pattern(_BLOCKS.split(), any_case=False) + b")", re.IGNORECASE
)
# Lexbor checks the whole stack of open elements at each of these start tags: nested by the ten thousand they
# make parsing quadratic (40,000 `<div>` take seconds). Past Chrome's own depth limit the start tags are dropped.
_CONTAINERS = "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer"
_CONTAINERS += " form header hgroup main menu nav ol section summary ul"
_CONTAINER_TAG = re.compile(b"<(/?)" + _names_pattern(_CONTAINERS.split(), any_case=True) + rb"[^>]*>")
_MAX_DEPTH = 512
_FEW_TAGS = 5000  # below this many `<`, nesting cannot cost much: no need to look
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_WEB_SCHEMES = frozenset({"http", "https", "ftp"})
_STRIP = "\t\n\f\r \x00"  # browsers strip ASCII whitespace around URLs; NUL is noise
_REFRESH_URL = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(['"]?)(.*?)\1\s*$""", re.IGNORECASE | re.DOTALL)
# CSS url() and @import, in <style> blocks and style attributes alike: read on the source, entities decoded.
# Each mark is found from a `(` or `@`, which memchr finds at once; a case-insensitive pattern would scan the whole
# source slowly, and so would a search for each mark.
_CSS_MARKS = (b"url(", b"URL(", b"Url(", b"@import")
_URL_SPELLINGS = {b"url": 0, b"URL": 1, b"Url": 2}
_MAX_MARKS = 256  # `(` and `@` looked at one by one before searching for the marks themselves
# On the UTF-8 source, as on the text: `\s` is every whitespace character Python's `\s` matches, encoded.
_SPACE = rb"(?:[\t-\r\x1c-\x20]|\xc2[\x85\xa0]|\xe1\x9a\x80|\xe2\x80[\x80-\x8a\xa8\xa9\xaf]|\xe2\x81\x9f|\xe3\x80\x80)"
_MAX_CSS_VALUE = 4096  # characters


def _css_url(value: bytes) -> re.Pattern[bytes]:
    return re.compile(
        rb"url\(" + _SPACE + rb"*(?:&quot;|&#39;|(['\"]?))(" + value + rb")(?:&quot;|&#39;|\1)" + _SPACE + rb"*\)"
        rb"|@import" + _SPACE + rb"+(['\"])(" + value + rb")\3",
        re.IGNORECASE | re.DOTALL,
    )


# A value is at most 4096 characters. Counted in bytes (at most 4 a character) the match is fast; one longer than
# 4096 characters is matched again with characters counted (a lead byte and its continuation bytes each).
_CSS_URL = _css_url(rb".{0,%d}?" % (4 * _MAX_CSS_VALUE))
_CSS_URL_BY_CHARACTER = _css_url(rb"(?:[\x00-\x7f\xc0-\xff][\x80-\xbf]*){0,%d}?" % _MAX_CSS_VALUE)


@dataclass(frozen=True, slots=True)
class Form:
    action: str | None  # resolved against <base>; None when the form posts to its own page
    method: str  # "get" or "post", lower case
    has_password: bool

    def as_json(self) -> dict[str, Any]:
        return {"action": self.action, "method": self.method, "has_password": self.has_password}


@dataclass(frozen=True, slots=True)
class HtmlFacts:
    text: str  # visible text, whitespace collapsed
    title: str | None
    image_alts: tuple[str, ...]
    urls: tuple[tuple[str, str], ...]  # (url, place): places "html:a", "html:img", "html:form"...
    forms: tuple[Form, ...]
    has_password_input: bool
    mailto: tuple[str, ...]  # addresses of mailto: links
    tel: tuple[str, ...]  # numbers of tel: links
    base: str | None

    def as_json(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "title": self.title,
            "image_alts": self.image_alts,
            "urls": [list(pair) for pair in self.urls],
            "forms": tuple(form.as_json() for form in self.forms),
            "has_password_input": self.has_password_input,
            "mailto": self.mailto,
            "tel": self.tel,
            "base": self.base,
        }


@dataclass(slots=True)
class _Reader:
    """What one pass over the candidate nodes gathers; URLs de-duplicated per place, in document order."""

    base: str | None
    urls: list[tuple[str, str]] = field(default_factory=list)
    seen: set[tuple[str, str]] = field(default_factory=set)
    mailto: list[str] = field(default_factory=list)
    tel: list[str] = field(default_factory=list)
    image_alts: list[str] = field(default_factory=list)
    forms: list[Form] = field(default_factory=list)
    has_password: bool = False

    def add(self, value: str | None, place: str) -> None:
        if not value or len(self.urls) >= _MAX_ITEMS:
            return
        value = value.strip(_STRIP)
        url = _resolve(value, self.base)
        if url is None:
            self._other_scheme(value)
        elif (url, place) not in self.seen:
            self.seen.add((url, place))
            self.urls.append((url, place))

    def _other_scheme(self, value: str) -> None:
        scheme, _, rest = value.partition(":")
        target = unquote(rest).partition("?")[0].strip()
        if not target:
            return
        scheme = scheme.lower()
        if scheme == "mailto":
            for address in (a.strip() for a in target.split(",")):
                if address and address not in self.mailto and len(self.mailto) < _MAX_ITEMS:
                    self.mailto.append(address)
        elif scheme in ("tel", "callto", "sms") and target not in self.tel and len(self.tel) < _MAX_ITEMS:
            self.tel.append(target)


def read_html(html: str | bytes) -> HtmlFacts:
    """Facts of one HTML document; any str or bytes gives a result, an empty one for non-HTML."""
    if isinstance(html, bytes):
        html = html[:_MAX_HTML].decode("utf-8", "replace")  # the caller decodes by charset; this is a fallback
    elif not isinstance(html, str):
        html = ""
    # Worked on as UTF-8, which Lexbor reads; a lone surrogate is kept (surrogatepass) and read as U+FFFD. Every
    # pattern is ASCII, and no byte of a multi-byte character is ASCII: the matches are those on the text.
    source = _BLOCK_TAG.sub(b" <", _flatten(html[:_MAX_HTML].encode("utf-8", "surrogatepass")))
    tree = LexborHTMLParser(source)
    nodes = tree.css(_TAGS)
    tags = [node.tag for node in nodes]
    reader = _Reader(base=_base(nodes, tags) if "base" in tags else None)
    title: str | None = None
    hidden: list[LexborNode] = []
    backgrounds: list[str | None] = []
    last = read = 0
    for node, tag in zip(nodes, tags, strict=True):
        if node.mem_id == last:
            continue  # the same node again
        last = node.mem_id
        attributes = node.attributes
        if "background" in attributes:  # read after every other place, as a second pass would
            backgrounds.append(attributes["background"])
        if tag == "a":  # most nodes: inline
            if read < _MAX_NODES:
                read += 1
                reader.add(attributes.get("href"), "html:a")
            continue
        if tag in _HIDDEN:
            if tag == "title" and title is None:
                title = _clean(node.text(deep=True), _MAX_TITLE)
            hidden.append(node)
            if tag != "script":
                continue
        if tag in _READ and read < _MAX_NODES:
            read += 1
            _read_node(node, tag, attributes, reader)
    for value in backgrounds:
        reader.add(value, "html:background")
    _css_urls(source, reader)
    return HtmlFacts(
        title=title or None,
        image_alts=tuple(reader.image_alts),
        urls=tuple(reader.urls),
        forms=tuple(reader.forms),
        has_password_input=reader.has_password,
        mailto=tuple(reader.mailto),
        tel=tuple(reader.tel),
        base=reader.base,
        text=_visible_text(tree, hidden),  # last: it removes nodes
    )


def _flatten(data: bytes) -> bytes:
    if len(data) <= _FEW_TAGS or data.count(b"<") <= _FEW_TAGS:
        return data
    depth = 0

    def visit(tag: re.Match[bytes]) -> bytes:
        nonlocal depth
        if tag[1]:
            depth = max(0, depth - 1)
            return tag[0]
        depth += 1
        return tag[0] if depth <= _MAX_DEPTH else b""

    return _CONTAINER_TAG.sub(visit, data)


def _read_node(node: LexborNode, tag: str, attributes: dict[str, str | None], reader: _Reader) -> None:
    if tag == "input":
        for attribute, value in attributes.items():
            place = _PLACES.get((tag, attribute))
            if place is not None:
                reader.add(value, place)
    else:
        for attribute, place in _PLACES_BY_TAG.get(tag, ()):
            value = attributes.get(attribute)
            if value:
                reader.add(value, place)
    if tag in _SRCSET_TAGS and attributes.get("srcset"):
        for candidate in (attributes.get("srcset") or "").split(","):
            reader.add(candidate.strip().partition(" ")[0], "html:img")
    if tag == "img" and attributes.get("alt") and len(reader.image_alts) < _MAX_ITEMS:
        alt = _clean(attributes.get("alt") or "", _MAX_TITLE)
        if alt:
            reader.image_alts.append(alt)
    elif tag == "input" and (attributes.get("type") or "").strip().lower() == "password":
        reader.has_password = True
    elif tag == "form" and len(reader.forms) < _MAX_FORMS:
        reader.forms.append(_form(node, attributes, reader.base))
    elif tag == "meta" and (attributes.get("http-equiv") or "").strip().lower() == "refresh":
        match = _REFRESH_URL.match(attributes.get("content") or "")
        reader.add(match[2] if match else None, "html:meta-refresh")


def _form(node: LexborNode, attributes: dict[str, str | None], base: str | None) -> Form:
    action = (attributes.get("action") or "").strip(_STRIP)
    resolved = _resolve(action, base) if action else None
    return Form(
        action=resolved if resolved is not None or not action else action,  # an odd action is still worth showing
        method=(attributes.get("method") or "get").strip().lower(),
        has_password=node.css_first("input[type=password]") is not None,  # Lexbor: case-insensitive value
    )


def _resolve(value: str, base: str | None) -> str | None:
    """The web URL an attribute value points to, or None (another scheme, an anchor, a relative path)."""
    if value.startswith(("https://", "http://")):  # most values: what the pattern below would find
        return value
    scheme = _SCHEME.match(value)
    if scheme:
        return value if scheme[1].lower() in _WEB_SCHEMES else None
    if not value or value.startswith("#"):
        return None
    if base is not None:
        try:
            return urljoin(base, value)
        except ValueError:  # a base or value urllib cannot split (an unclosed IPv6 bracket)
            return None
    if value.startswith("//"):
        return "http:" + value
    return value if is_bare_url(value) else None


def _css_urls(source: bytes, reader: _Reader) -> None:
    for at in _css_marks(source):
        if len(reader.urls) >= _MAX_ITEMS:
            return
        match = _CSS_URL.match(source, at)
        value = (match[2] if match[2] is not None else match[4]).decode("utf-8", "surrogatepass") if match else ""
        if len(value) > _MAX_CSS_VALUE:
            match = _CSS_URL_BY_CHARACTER.match(source, at)
            value = (match[2] if match[2] is not None else match[4]).decode("utf-8", "surrogatepass") if match else ""
        if match is not None:
            reader.add(entities.unescape(value) if "&" in value else value, "html:css")


def _css_marks(source: bytes) -> list[int]:
    """Where the marks are: every `url(`, then every `URL(`, `Url(` and `@import`, each in the source's order."""
    by_mark: list[list[int]] = [[], [], [], []]
    at, seen = source.find(b"("), 0
    while at >= 0:
        spelling = _URL_SPELLINGS.get(source[at - 3 : at]) if at >= 3 else None
        if spelling is not None:
            by_mark[spelling].append(at - 3)
        seen += 1
        if seen > _MAX_MARKS:
            return _css_marks_searched(source)
        at = source.find(b"(", at + 1)
    at = source.find(b"@")
    while at >= 0:
        if source.startswith(b"import", at + 1):
            by_mark[3].append(at)
        seen += 1
        if seen > _MAX_MARKS:
            return _css_marks_searched(source)
        at = source.find(b"@", at + 1)
    return [at for marks in by_mark for at in marks]


def _css_marks_searched(source: bytes) -> list[int]:
    found: list[int] = []
    for mark in _CSS_MARKS:
        at = source.find(mark)
        while at >= 0:
            found.append(at)
            at = source.find(mark, at + len(mark))
    return found


def _base(nodes: list[LexborNode], tags: list[str | None]) -> str | None:
    """The first `<base href>`, when its URL is a web one."""
    for node, tag in zip(nodes, tags, strict=True):
        if tag == "base":
            attributes = node.attributes
            if "href" in attributes:
                href = (attributes["href"] or "").strip(_STRIP)
                scheme = _SCHEME.match(href)
                return href if scheme and scheme[1].lower() in _WEB_SCHEMES else None
    return None


def _visible_text(tree: LexborHTMLParser, hidden: list[LexborNode]) -> str:
    for node in hidden:
        node.decompose(recursive=False)
    root: LexborNode | None = tree.body
    if root is None:
        tree.strip_tags(["head"])
        root = tree.root
    return _clean(root.text(deep=True) if root is not None else "", _MAX_TEXT)


def _clean(text: str, limit: int) -> str:
    return " ".join(text[: limit * 4].split())[:limit]
