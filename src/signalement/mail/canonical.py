"""Google Safe Browsing URL canonicalization and host-suffix / path-prefix expressions.

Follows "URLs and Hashing" (developers.google.com/safe-browsing/reference/URLs.and.Hashing, v5), whose rules
and the v4 page's test vectors this module is tested against. Works on bytes: the spec unescapes percent-escapes
repeatedly, which can yield any byte, and escapes them back at the end. Pure, offline, never raises.

Where the spec is silent, browsers are followed: a trailing `/..` leaves a directory (`/a/b/..` -> `/a/`),
a host ending in a number must be a valid IPv4 address, a bracketed host must be a valid IPv6 address, and a
host with a colon left after the port is removed is no host at all.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from idna import IDNAError, uts46_remap

from signalement.mail.domains import registered_domain

__all__ = ["canonicalize", "expressions", "plain_url", "split"]

_MAX_INPUT = 65536  # characters read from the input; the rest is hostile or useless
_MAX_CANONICAL = 16384  # bytes of scheme+host+path+query kept before escaping; the query, then the path, is cut
_MAX_HOST = 1024  # a DNS name has at most 253 bytes: anything much longer is not a host
_MAX_UNESCAPE_PASSES = 32

_STRIP = bytes(range(0x21))  # leading/trailing whitespace and C0 controls
_TAB_CR_LF = re.compile(rb"[\t\r\n]")
_HAS_ESCAPE = re.compile(rb"%[0-9A-Fa-f]{2}")
_NEEDS_ESCAPE = re.compile(rb"[\x00-\x20\x7f-\xff#%]")
_ESCAPED = {bytes([b]): b"%%%02X" % b for b in range(256)}
# A scheme per the Go reference client: a letter, then letters, digits, + - . ; a colon followed by digits and
# then a slash or the end is a port (`example.com:80/`), not a scheme.
_SCHEME = re.compile(rb"([A-Za-z][A-Za-z0-9+.\-]*):(?!\d+(?:/|$))")
_PORT = re.compile(rb"(?::\d*)+$")
_DOTS = re.compile(rb"\.{2,}")
_IPV4_PART = re.compile(rb"0[xX][0-9A-Fa-f]*|[0-9]+")
_DOTTED_QUAD = re.compile(r"\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}")
_OCTAL = re.compile(rb"0[0-7]*")
_HOST_DELIMITERS = frozenset("/?#@:\\[] ")  # an IDNA mapping that yields one of these makes no host
_URL_DELIMITER = re.compile(rb"[/?@:\[\]]")
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

# Most URLs are already canonical but for the case of their scheme and host: http(s) or none, a host name of ASCII
# letters, digits, `-` and `_` whose last label begins with a letter (else it would be read as an IPv4 address) or
# an IPv4 address in four decimals, no port or user, then printable ASCII without `%` or `\`, and a path without
# `//` or `/.`. Those skip the byte-level steps.
_MAX_PLAIN = 4096
_BYTE = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_PLAIN = re.compile(
    rf"(?:([hH][tT][tT][pP][sS]?)://)?((?:[A-Za-z0-9_-]+\.)*[A-Za-z][A-Za-z0-9_-]*|(?:{_BYTE}\.){{3}}{_BYTE})"
    r"((?:/[^\x00-\x20\x7f%\\?#]*)?)((?:\?[^\x00-\x20\x7f%\\#]*)?)(?:#[^\x00-\x20\x7f]*)?"
)


def canonicalize(url: str | bytes) -> str | None:
    """The Safe Browsing canonical form of a URL (`scheme://host/path?query`, ASCII, escaped), or None when it has
    no valid host (`mailto:`, `http:///x`, `http://999.1.1.1/`...)."""
    plain = plain_url(url) if isinstance(url, str) else None
    if plain is not None:
        return plain[0]
    parts = _parse(url)
    if parts is None:
        return None
    scheme, host, path, query = parts
    return _assemble(scheme, host, path, query)


def plain_url(url: str) -> tuple[str, str, bool] | None:
    """(canonical form, host, whether a scheme is written) of a URL that needs no more than its scheme and host in
    lower case, else None: a cheap test before the full canonicalization."""
    if len(url) > _MAX_PLAIN or not url.isascii():
        return None
    match = _PLAIN.fullmatch(url)
    if match is None:
        return None
    scheme, host, path, query = match.groups()
    if "//" in path or "/." in path:
        return None
    host = host.lower()
    return f"{scheme.lower() if scheme else 'http'}://{host}{path or '/'}{query}", host, scheme is not None


def split(canonical: str) -> tuple[str, str, str]:
    """(scheme, host, path with query) of a canonical URL; the path is "/" when absent."""
    scheme, sep, rest = canonical.partition("://")
    if not sep:
        scheme, rest = "", canonical
    slash = rest.find("/")
    if slash < 0:
        return scheme, rest, "/"
    return scheme, rest[:slash], rest[slash:]


def expressions(url: str | bytes) -> list[str]:
    """The host-suffix / path-prefix expressions to look up for a URL, in the spec's order: for each host (the
    exact one, then up to four suffixes from the longest down to the registrable domain; none for an IP), the
    path with its query, the path alone, then `/` and up to three directory prefixes. Empty without a valid host."""
    canonical = canonicalize(url)
    if canonical is None:
        return []
    _, host, path_query = split(canonical)
    path, mark, _ = path_query.partition("?")
    paths = _path_prefixes(path, path_query if mark else None)
    return [h + p for h in _host_suffixes(host) for p in paths]


# Parsing


def _parse(url: str | bytes) -> tuple[bytes, bytes, bytes, bytes | None] | None:
    data = _to_bytes(url)
    data = _TAB_CR_LF.sub(b"", data).split(b"#", 1)[0].strip(_STRIP)
    data = _unescape(data)
    scheme_match = _SCHEME.match(data)
    if scheme_match:
        scheme, rest = scheme_match[1].lower(), data[scheme_match.end() :]
        if not rest.startswith(b"//"):
            return None  # `mailto:x`, `javascript:...`: no authority, no host
        rest = rest[2:]
    else:
        scheme, rest = b"http", data.removeprefix(b"//")  # `//host/x`, scheme-relative: read as http
    rest, mark, query = rest.partition(b"?")
    hostish, slash, path = rest.partition(b"/")
    host = _host(hostish)
    if host is None:
        return None
    return scheme, host, _resolve_path(slash + path), query if mark else None


def _to_bytes(url: str | bytes) -> bytes:
    if isinstance(url, bytes):
        return url[:_MAX_INPUT]
    if not isinstance(url, str):
        return b""
    # surrogatepass: a str from a lenient decoder may hold lone surrogates; they end up escaped, not raised.
    return url[:_MAX_INPUT].encode("utf-8", "surrogatepass")


def _unescape(data: bytes) -> bytes:
    """Percent-unescape until nothing changes. A few C-speed passes settle real URLs; a hostile `%252525...`
    is finished by one pass that re-reads what each decoded byte forms with the bytes before it."""
    for _ in range(_MAX_UNESCAPE_PASSES):
        if b"%" not in data:
            return data
        decoded = unquote_to_bytes(data)
        if decoded == data:
            return data
        data = decoded
    return _unescape_stack(data) if _HAS_ESCAPE.search(data) else data


def _unescape_stack(data: bytes) -> bytes:
    out = bytearray()
    for byte in data:
        out.append(byte)
        while len(out) >= 3 and out[-3] == 0x25 and _HAS_ESCAPE.fullmatch(out[-3:]):
            value = int(out[-2:], 16)
            del out[-3:]
            out.append(value)
    return bytes(out)


def _resolve_path(path: bytes) -> bytes:
    """Resolve `/./` and `/../`, collapse `//`; a final `.` or `..` segment leaves a directory, as in browsers."""
    if not path:
        return b"/"
    if b"//" not in path and b"/." not in path:
        return path
    segments = path.split(b"/")
    out: list[bytes] = []
    for segment in segments[1:]:
        if segment == b"..":
            if out:
                out.pop()
        elif segment and segment != b".":
            out.append(segment)
    resolved = b"/" + b"/".join(out)
    if out and segments[-1] in (b"", b".", b".."):
        resolved += b"/"
    return resolved


# Host


def _host(hostish: bytes) -> bytes | None:
    host = hostish.rpartition(b"@")[2]  # user:password@ is dropped
    if len(host) > _MAX_HOST:
        return None
    if host.startswith(b"["):
        return _bracketed_host(host)
    host = _PORT.sub(b"", host)
    if b":" in host:
        return None  # `example.com:80.` or `a:b`: browsers refuse it, and keeping it would not be idempotent
    return _cached_host(host)


def _bracketed_host(host: bytes) -> bytes | None:
    inner, bracket, after = host[1:].partition(b"]")
    if not bracket or (after and not re.fullmatch(rb":\d*", after)):
        return None
    return _ipv6(inner)


@lru_cache(maxsize=16384)
def _cached_host(host: bytes) -> bytes | None:
    # An IDNA mapping can produce escapes (fullwidth `％４１` -> `%41`): unescape and map again until stable.
    for _ in range(4):
        canonical = _host_once(host)
        if canonical is None or b"%" not in canonical:
            return canonical
        host = _unescape(canonical)
        if host == canonical:
            return canonical
        if _URL_DELIMITER.search(host):
            return None  # `%2ｆ` -> `%2f` -> `/`: the host would not read back as a host
    return canonical


def _host_once(host: bytes) -> bytes | None:
    if not host.isascii():
        host = _idna(host)
    host = _DOTS.sub(b".", host).strip(b".").lower()
    if not host or b"[" in host or b"]" in host:
        return None  # a bracket outside an IPv6 literal: browsers refuse the host
    if _ends_in_number(host):
        return _ipv4(host)  # a host ending in a number is an IPv4 address or no host, as in browsers
    return host


def _idna(host: bytes) -> bytes:
    """UTS #46 mapping without the STD3 and hyphen checks (what browsers apply), then Punycode per label. Bytes that
    are not UTF-8, or map to a URL delimiter, are kept raw: they are escaped later, like the spec's `%80.com`."""
    try:
        mapped = uts46_remap(host.decode("utf-8"), std3_rules=False, transitional=False)
    except (UnicodeError, IDNAError, IndexError):
        return host
    if not _HOST_DELIMITERS.isdisjoint(mapped):
        return host
    labels = [
        label if label.isascii() else "xn--" + label.encode("punycode").decode("ascii") for label in mapped.split(".")
    ]
    return ".".join(labels).encode("ascii")


def _ends_in_number(host: bytes) -> bool:
    last = host.rpartition(b".")[2]
    return bool(_IPV4_PART.fullmatch(last))


def _ipv4(host: bytes) -> bytes | None:
    """Any legal IPv4 spelling (decimal, octal, hex, one to four parts) as four decimals, else None."""
    parts = host.split(b".")
    if len(parts) > 4:
        return None
    numbers: list[int] = []
    for part in parts:
        number = _ipv4_number(part)
        if number is None:
            return None
        numbers.append(number)
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return str(ipaddress.IPv4Address(value)).encode("ascii")


def _ipv4_number(part: bytes) -> int | None:
    if not _IPV4_PART.fullmatch(part):
        return None
    if part[:2] in (b"0x", b"0X"):
        digits, base = part[2:].lstrip(b"0"), 16
    elif len(part) > 1 and part.startswith(b"0"):
        if not _OCTAL.fullmatch(part):
            return None
        digits, base = part.lstrip(b"0"), 8
    else:
        digits, base = part, 10
    if len(digits) > 12:
        return None  # far above 2**32: refuse before int() works on a hostile run of digits
    return int(digits or b"0", base)


def _ipv6(inner: bytes) -> bytes | None:
    if b"%" in inner:
        return None  # a zone identifier has no meaning outside the machine
    try:
        address = ipaddress.IPv6Address(inner.decode("ascii"))
    except (UnicodeError, ValueError):
        return None
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped).encode("ascii")
    if address in _NAT64:
        return str(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)).encode("ascii")
    return b"[" + address.compressed.encode("ascii") + b"]"


# Output


def _assemble(scheme: bytes, host: bytes, path: bytes, query: bytes | None) -> str:
    room = _MAX_CANONICAL - len(scheme) - len(host) - 3
    if query is not None and len(path) + 1 + len(query) > room:
        query = query[: max(0, room - len(path) - 1)] if len(path) < room else None
    if len(path) > room:
        path = _resolve_path(path[: max(1, room)])  # a cut can end in `/.`: resolve again so the cut is stable
    url = scheme + b"://" + host + path + (b"?" + query if query is not None else b"")
    return _escape(url).decode("ascii")


def _escape(data: bytes) -> bytes:
    if not _NEEDS_ESCAPE.search(data):
        return data
    return _NEEDS_ESCAPE.sub(lambda m: _ESCAPED[m[0]], data)


# Expressions


def _host_suffixes(host: str) -> list[str]:
    if host.startswith("[") or _DOTTED_QUAD.fullmatch(host):
        return [host]
    labels = host.split(".")
    base = registered_domain(host)
    # A suffix the Public Suffix List does not know: take the last label as the top-level domain, as v4 did.
    base_labels = len(base.split(".")) if base else min(2, len(labels))
    suffixes = [".".join(labels[-n:]) for n in range(base_labels + 3, base_labels - 1, -1) if n < len(labels)]
    return [host, *suffixes]


def _path_prefixes(path: str, path_query: str | None) -> list[str]:
    paths = [path_query] if path_query is not None else []
    paths.append(path)
    prefix = "/"
    prefixes = [prefix]
    for directory in path.split("/")[1:-1][:3]:
        prefix += directory + "/"
        prefixes.append(prefix)
    paths.extend(p for p in prefixes if p not in paths)
    return paths
