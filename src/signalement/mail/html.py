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
from dataclasses import asdict, dataclass, field
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
_TAGS = ",".join(sorted({tag for tag, _ in _PLACES} | {"source", "meta"}))
_SRCSET_TAGS = frozenset({"img", "source"})


_BLOCKS = "p div br hr li ul ol dl dt dd tr td th table tbody thead tfoot h1 h2 h3 h4 h5 h6 blockquote pre section"
_BLOCKS += " article header footer nav aside center form fieldset legend option address figure figcaption main"


def _names_pattern(names: list[str]) -> str:
    """A regex matching any of the names, case-insensitively, as a trie of `[pP]` classes: Python's engine
    neither shares prefixes of an alternation nor runs re.IGNORECASE as fast as explicit classes."""
    trie: dict[str, Any] = {}
    for name in names:
        node = trie
        for char in name:
            node = node.setdefault(char, {})
        node[""] = {}

    def emit(node: dict[str, Any]) -> str:
        branches = [_char(c) + emit(sub) if c else r"\b" for c, sub in sorted(node.items())]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return emit(trie)


def _char(char: str) -> str:
    return f"[{char}{char.upper()}]" if char.isalpha() else char


# Lexbor's text() has no block boundaries: a space before each block tag keeps `<p>a</p><p>b</p>` apart while
# `Pay<span>Pal</span>` stays one word, as it reads.
_BLOCK_TAG = re.compile(r"<(?=/?" + _names_pattern(_BLOCKS.split()) + ")")
# Lexbor checks the whole stack of open elements at each of these start tags: nested by the ten thousand they
# make parsing quadratic (40,000 `<div>` take seconds). Past Chrome's own depth limit the start tags are dropped.
_CONTAINERS = "address article aside blockquote center details dialog dir div dl fieldset figcaption figure footer"
_CONTAINERS += " form header hgroup main menu nav ol section summary ul"
_CONTAINER_TAG = re.compile(r"<(/?)" + _names_pattern(_CONTAINERS.split()) + r"[^>]*>")
_MAX_DEPTH = 512
_FEW_TAGS = 5000  # below this many `<`, nesting cannot cost much: no need to look
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")
_WEB_SCHEMES = frozenset({"http", "https", "ftp"})
_STRIP = "\t\n\f\r \x00"  # browsers strip ASCII whitespace around URLs; NUL is noise
_REFRESH_URL = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:url\s*=\s*)?(['"]?)(.*?)\1\s*$""", re.IGNORECASE | re.DOTALL)
# CSS url() and @import, in <style> blocks and style attributes alike: read on the source, entities decoded.
# Found with str.find, then matched there: a case-insensitive pattern would scan the whole source slowly.
_CSS_MARKS = ("url(", "URL(", "Url(", "@import")
_CSS_URL = re.compile(
    r"""url\(\s*(?:&quot;|&#39;|(['"]?))(.{0,4096}?)(?:&quot;|&#39;|\1)\s*\)|@import\s+(['"])(.{0,4096}?)\3""",
    re.IGNORECASE | re.DOTALL,
)


@dataclass(frozen=True, slots=True)
class Form:
    action: str | None  # resolved against <base>; None when the form posts to its own page
    method: str  # "get" or "post", lower case
    has_password: bool

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


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
        data = asdict(self)
        data["urls"] = [list(pair) for pair in self.urls]
        return data


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
    source = _BLOCK_TAG.sub(" <", _flatten(html[:_MAX_HTML]))
    tree = LexborHTMLParser(source.encode("utf-8", "surrogatepass"))  # Lexbor reads a lone surrogate as U+FFFD
    reader = _Reader(base=_base(tree))
    for node in tree.css(_TAGS)[:_MAX_NODES]:
        _read_node(node, reader)
    if "background" in source or "BACKGROUND" in source:
        for node in tree.css("[background]"):
            reader.add(node.attributes.get("background"), "html:background")
    _css_urls(source, reader)
    return HtmlFacts(
        title=_title(tree),
        image_alts=tuple(reader.image_alts),
        urls=tuple(reader.urls),
        forms=tuple(reader.forms),
        has_password_input=reader.has_password,
        mailto=tuple(reader.mailto),
        tel=tuple(reader.tel),
        base=reader.base,
        text=_visible_text(tree),  # last: it removes nodes
    )


def _flatten(html: str) -> str:
    if html.count("<") <= _FEW_TAGS:
        return html
    depth = 0

    def visit(tag: re.Match[str]) -> str:
        nonlocal depth
        if tag[1]:
            depth = max(0, depth - 1)
            return tag[0]
        depth += 1
        return tag[0] if depth <= _MAX_DEPTH else ""

    return _CONTAINER_TAG.sub(visit, html)


def _read_node(node: LexborNode, reader: _Reader) -> None:
    tag = node.tag or ""
    attributes = node.attributes
    for attribute, value in attributes.items():
        place = _PLACES.get((tag, attribute))
        if place is not None:
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


def _css_urls(source: str, reader: _Reader) -> None:
    for mark in _CSS_MARKS:
        at = source.find(mark)
        while at >= 0 and len(reader.urls) < _MAX_ITEMS:
            match = _CSS_URL.match(source, at)
            if match is not None:
                value = match[2] if match[2] is not None else match[4]
                reader.add(entities.unescape(value) if "&" in value else value, "html:css")
            at = source.find(mark, at + len(mark))


def _title(tree: LexborHTMLParser) -> str | None:
    node = (tree.head.css_first("title") if tree.head is not None else None) or tree.css_first("title")
    title = _clean(node.text(deep=True), _MAX_TITLE) if node is not None else ""
    return title or None


def _base(tree: LexborHTMLParser) -> str | None:
    node = tree.css_first("base[href]")
    href = (node.attributes.get("href") or "").strip(_STRIP) if node is not None else ""
    scheme = _SCHEME.match(href)
    return href if scheme and scheme[1].lower() in _WEB_SCHEMES else None


def _visible_text(tree: LexborHTMLParser) -> str:
    tree.strip_tags(["script", "style", "head", "template", "title"])
    root: LexborNode | None = tree.body or tree.root
    return _clean(root.text(deep=True) if root is not None else "", _MAX_TEXT)


def _clean(text: str, limit: int) -> str:
    return " ".join(text[: limit * 4].split())[:limit]
