"""Link wrappers: the target URL inside a security gateway's or a site's redirect link, read offline.

Mail security gateways rewrite every link (Outlook SafeLinks, Proofpoint, Mimecast...) and phishing reuses open
redirectors (Google, Facebook, Bing...). The reputation that matters is the target's, so each known format is
decoded from the link itself, without following it. Opaque formats (a Mimecast token) are named but kept.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import unquote

from signalement.mail.domains import registered_domain

__all__ = ["may_wrap", "unwrap"]

_MAX_DEPTH = 5  # wrappers nest (SafeLinks around Proofpoint) but never deeply; a loop stops here
_MAX_URL = 16384  # longer links are not decoded: real wrappers stay well under this

# scheme://user@host:port/path?query, every part optional but the host; lenient, it never fails.
_PARTS = re.compile(r"\s*(?:[A-Za-z][A-Za-z0-9+.\-]*:)?(?://)?([^/?#\\\s]*)([^?#\s]*)(?:\?([^#]*))?")
_PORT = re.compile(r":\d*$")
# What a decoded target must look like: a scheme (`https:`, `mailto:`), `//` or `www.`; else the decoding failed.
_PLAUSIBLE = re.compile(r"(?:[A-Za-z][A-Za-z0-9+.\-]{0,30}:|//|www\.)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class _Link:
    url: str
    host: str
    path: str
    query: str


Decoder = Callable[[_Link], str | None]


@dataclass(frozen=True, slots=True)
class _Rule:
    name: str
    hosts: tuple[str, ...]  # exact host names, or ".suffix" for any name under it
    path: re.Pattern[str]
    decode: Decoder


def unwrap(url: str) -> tuple[str, str | None]:
    """The target of a wrapped link and the wrappers' names (outermost first, joined by `>`), or the URL and None
    when it is not a known wrapper. Opaque wrappers give the URL itself and their name."""
    if not isinstance(url, str) or len(url) > _MAX_URL:
        return url if isinstance(url, str) else "", None
    names: list[str] = []
    for _ in range(_MAX_DEPTH):
        found = _unwrap_once(url)
        if found is None:
            break
        target, name = found
        names.append(name)
        if target == url:
            break  # opaque: nothing more to read
        url = target
    return url, ">".join(names) or None


def may_wrap(host: str) -> bool:
    """False when no wrapper is known under the host's registered domain: a link there is never unwrapped. The
    host as `unwrap` reads it: lower case, without port, user or the dots at its ends."""
    return _domain_key(host) in _RULES_BY_DOMAIN


def _unwrap_once(url: str) -> tuple[str, str] | None:
    link = _link(url)
    if link is None:
        return None
    for rule in _RULES_BY_DOMAIN.get(_domain_key(link.host), ()):
        if _host_matches(link.host, rule.hosts) and rule.path.match(link.path):
            target = rule.decode(link)
            if target is not None:
                target = target.strip()
            return (target, rule.name) if target and _PLAUSIBLE.match(target) else (url, rule.name)
    return None


def _link(url: str) -> _Link | None:
    match = _PARTS.match(url)
    if match is None or not match[1]:
        return None
    host = _PORT.sub("", match[1].rpartition("@")[2]).strip(".").lower()
    return _Link(url=url, host=host, path=match[2] or "/", query=match[3] or "")


def _domain_key(host: str) -> str:
    domain = registered_domain(host) or host
    return _GOOGLE if domain.startswith("google.") else domain


def _host_matches(host: str, hosts: tuple[str, ...]) -> bool:
    return any(h == _GOOGLE or (host.endswith(h) if h.startswith(".") else host == h) for h in hosts)


_GOOGLE = "google.*"  # google.com, google.co.uk, google.fr...: every host of theirs serves /url and /amp/


# Query parameters, read raw: each format has its own decoding, and `&amp;` left by HTML text must not matter.


def _param(query: str, *names: str) -> str | None:
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if key.removeprefix("amp;") in names and value:
            return value
    return None


def _unquoted(*names: str) -> Decoder:
    def decode(link: _Link) -> str | None:
        value = _param(link.query, *names)
        return unquote(value) if value else None

    return decode


def _b64(text: str) -> str | None:
    text = text.strip().replace("-", "+").replace("_", "/")
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4)).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return None


# Decoders


def _proofpoint_v1(link: _Link) -> str | None:
    value = _param(link.query, "u")
    return html.unescape(unquote(value)) if value else None


def _proofpoint_v2(link: _Link) -> str | None:
    value = _param(link.query, "u")
    return html.unescape(unquote(value.translate(_V2_TABLE))) if value else None


_V2_TABLE = str.maketrans("-_", "%/")
_V3 = re.compile(r"/v3/__(?P<url>.+?)__;(?P<bytes>[A-Za-z0-9_\-]*)!")
_V3_TOKEN = re.compile(r"\*(\*.)?")
# `**X` stands for a run of bytes; X gives its length, from A = 2 up to _ = 65.
_V3_RUNS = {c: n for n, c in enumerate("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 2)}


def _proofpoint_v3(link: _Link) -> str | None:
    """Proofpoint's published decoder: the URL keeps its safe characters; each `*` takes the next byte of the
    base64url block after `__;`, each `**X` a run of them. The bytes are UTF-8, so runs count bytes."""
    match = _V3.search(link.url)
    if match is None:
        return None
    text = match["url"]
    try:
        replacement = base64.urlsafe_b64decode(match["bytes"] + "=" * (-len(match["bytes"]) % 4))
    except (binascii.Error, ValueError):
        return None
    out, cursor, used = bytearray(), 0, 0
    for token in _V3_TOKEN.finditer(text):
        size = _V3_RUNS.get(token[0][2], 0) if token[1] else 1
        if size == 0 or used + size > len(replacement):
            return None
        out += text[cursor : token.start()].encode("utf-8", "surrogatepass")
        out += replacement[used : used + size]
        used += size
        cursor = token.end()
    out += text[cursor:].encode("utf-8", "surrogatepass")
    return out.decode("utf-8", "replace")


def _cisco(link: _Link) -> str | None:
    # secure-web.cisco.com/<token>/<the URL, percent-encoded>
    _, _, encoded = link.path.lstrip("/").partition("/")
    if not encoded:
        return None
    return unquote(encoded) + ("?" + link.query if link.query else "")


def _sophos(link: _Link) -> str | None:
    value = _param(link.query, "u")
    return _b64(unquote(value)) if value else None


def _bing(link: _Link) -> str | None:
    # bing.com/ck/a?...&u=a1<base64url of the URL>
    value = _param(link.query, "u")
    return _b64(unquote(value)[2:]) if value and value.startswith("a1") else None


def _google_amp(link: _Link) -> str | None:
    # google.com/amp/s/<host/path> is https, /amp/<host/path> http
    rest = link.url[link.url.find("/amp/") + len("/amp/") :]
    return "https://" + rest[2:] if rest.startswith("s/") else "http://" + rest if rest else None


def _mimecast(link: _Link) -> str | None:
    # Mimecast's `/s/<token>?domain=` links are opaque; a few older forms carry the URL in a parameter.
    return _unquoted("url", "u")(link)


def _path(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.IGNORECASE)


_ANY = _path("")
_RULES = (
    _Rule(
        "outlook-safelinks",
        (".safelinks.protection.outlook.com", ".safelinks.protection.office365.us", ".safelinks.office365.us"),
        _ANY,
        _unquoted("url"),
    ),
    _Rule("outlook-image-proxy", ("outlook.office.com", "outlook.office365.com"), _path("/actions/ei"), _unquoted("u")),
    _Rule("proofpoint-v1", ("urldefense.proofpoint.com", "urldefense.com"), _path("/v1/url"), _proofpoint_v1),
    _Rule("proofpoint-v2", ("urldefense.proofpoint.com", "urldefense.com"), _path("/v2/url"), _proofpoint_v2),
    _Rule("proofpoint-v3", ("urldefense.proofpoint.com", "urldefense.com"), _path("/v3/__"), _proofpoint_v3),
    _Rule("google-redirect", (_GOOGLE,), _path("/url$"), _unquoted("q", "url")),
    _Rule("google-amp", (_GOOGLE,), _path("/amp/"), _google_amp),
    _Rule("mimecast", (".mimecast.com", ".mimecastprotect.com"), _ANY, _mimecast),
    _Rule(
        "facebook",
        ("l.facebook.com", "lm.facebook.com", "l.messenger.com", "l.instagram.com"),
        _path("/(l\\.php)?$"),
        _unquoted("u"),
    ),
    _Rule("facebook", ("www.facebook.com", "m.facebook.com"), _path("/flx/warn/?$"), _unquoted("u")),
    _Rule("barracuda", ("linkprotect.cudasvc.com",), _path("/url$"), _unquoted("a")),
    _Rule(
        "trendmicro",
        ("trendmicro.com", ".trendmicro.com", "trendmicro.eu", ".trendmicro.eu"),
        _path("/wis/clicktime/v\\d+/(query|clickthrough)"),
        _unquoted("url"),
    ),
    _Rule("cisco-secure-web", ("secure-web.cisco.com",), _path("/[^/]+/."), _cisco),
    _Rule("symantec-clicktime", ("clicktime.symantec.com", ".clicktime.symantec.com"), _ANY, _unquoted("u")),
    _Rule("sophos", ("protection.sophos.com", ".protection.sophos.com"), _ANY, _sophos),
    # Open redirectors whose format names the target unambiguously.
    _Rule("youtube-redirect", ("www.youtube.com", "youtube.com", "m.youtube.com"), _path("/redirect$"), _unquoted("q")),
    _Rule("linkedin-redirect", ("www.linkedin.com", "linkedin.com"), _path("/redir/redirect"), _unquoted("url")),
    _Rule("slack-redirect", ("slack-redir.net",), _path("/link$"), _unquoted("url")),
    _Rule("bing-redirect", ("www.bing.com", "bing.com"), _path("/ck/a$"), _bing),
)


def _by_domain() -> dict[str, tuple[_Rule, ...]]:
    table: dict[str, list[_Rule]] = {}
    for rule in _RULES:
        for host in rule.hosts:
            key = host if host == _GOOGLE else registered_domain(host.lstrip(".")) or host
            if rule not in table.setdefault(key, []):
                table[key].append(rule)
    return {key: tuple(rules) for key, rules in table.items()}


_RULES_BY_DOMAIN = _by_domain()
