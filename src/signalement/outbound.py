"""Calls the platform makes to URLs that a sender or a member chose (one-click unsubscribes, webhooks).

Such a URL must not reach the platform's own network: its host is resolved here, and refused when any of its
addresses is private, loopback, link-local, multicast, reserved, unspecified or otherwise not global (unless
`settings.outbound_private`, for tests). The request then goes to the address that was checked, not to a second
resolution a rebinding DNS zone could answer differently; TLS still verifies the certificate against the host name
(httpx's `sni_hostname` extension). Redirects are never followed: the target of one would escape the check.

Proxies and certificate settings from the environment are ignored (`trust_env=False`) for the same reason.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import socket
import ssl
from dataclasses import dataclass
from typing import Any

import certifi
import httpx

from signalement import __version__
from signalement.settings import Settings

USER_AGENT = f"signalement/{__version__}"
MAX_URL = 2000
_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOSTNAME = re.compile(rf"(?=.{{1,253}}$)(?:{_LABEL}\.)*{_LABEL}\.?", re.IGNORECASE)

# httpx logs every request's URL at INFO: an unsubscribe URL identifies a reporter, a webhook's may hold a secret.
for _name in ("httpx", "httpcore"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class RefusedError(ValueError):
    """The URL may not be called. The message names the reason and at most the host, never the whole URL."""


class UnresolvedError(RefusedError):
    """The host has no address now: perhaps a passing DNS failure, worth another try later."""


@dataclass(frozen=True)
class Target:
    """A URL checked for calling: its host and the addresses that passed the check (the first one is used)."""

    url: httpx.URL
    host: str
    addresses: tuple[str, ...]


def refused_address(address: str) -> bool:
    """Whether an address is one the platform's own network or nobody's: never called for a sender or a member."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])  # an IPv6 zone id says nothing about the address
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or not ip.is_global  # e.g. 100.64.0.0/10, shared by carriers, which is_private leaves out
    )


def check(url: str, settings: Settings, schemes: tuple[str, ...] = ("https",)) -> Target:
    """The URL's target when it may be called with one of `schemes`; RefusedError otherwise (also when its host
    does not resolve)."""
    if len(url) > MAX_URL:
        raise RefusedError("URL too long")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError, ValueError) as error:
        raise RefusedError(f"not a URL ({type(error).__name__})") from None
    if parsed.scheme not in schemes:
        raise RefusedError(f"scheme {parsed.scheme or 'none'!r} not allowed here")
    host = parsed.raw_host.decode("ascii")  # IDNA-encoded: what DNS, SNI and Host want
    if not host:
        raise RefusedError("no host")
    if not _HOSTNAME.fullmatch(host) and not _is_ip(host):
        raise RefusedError("not a host name")
    addresses = resolve(host, parsed.port or (443 if parsed.scheme == "https" else 80))
    if not addresses:
        raise UnresolvedError(f"{host} does not resolve")
    if not settings.outbound_private and any(refused_address(a) for a in addresses):
        raise RefusedError(f"{host} resolves to a private or reserved address")
    return Target(parsed, host, addresses)


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def resolve(host: str, port: int) -> tuple[str, ...]:
    """Every address of a host (an IP literal is its own), in the resolver's order, without repeats."""
    try:
        return (str(ipaddress.ip_address(host)),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def client(settings: Settings, timeout: float) -> httpx.Client:
    """An HTTP client for checked targets: the default CAs plus `settings.outbound_ca_file`, no redirects followed,
    no settings from the environment, the platform's User-Agent."""
    context = ssl.create_default_context(cafile=certifi.where())
    if settings.outbound_ca_file is not None:
        context.load_verify_locations(cafile=str(settings.outbound_ca_file))
    return httpx.Client(
        verify=context,
        follow_redirects=False,
        trust_env=False,
        timeout=timeout,
        headers={"User-Agent": USER_AGENT},
    )


def post(http: httpx.Client, target: Target, content: bytes, headers: dict[str, str]) -> httpx.Response:
    """POST to the checked addresses of the target in turn (the next one when a connection fails), the Host header
    and the certificate's name still its host."""
    failure: httpx.ConnectError | None = None
    for address in target.addresses:
        url, sent, extensions = target.url, headers, dict[str, Any]()
        if address != target.host:
            url = target.url.copy_with(host=address)
            sent = {"Host": _authority(target.url), **headers}
            extensions["sni_hostname"] = target.host
        try:
            return http.post(url, content=content, headers=sent, extensions=extensions)
        except httpx.ConnectError as error:
            failure = error
    assert failure is not None  # check() gives at least one address
    raise failure


def _authority(url: httpx.URL) -> str:
    default = {"https": 443, "http": 80}.get(url.scheme)
    host = url.raw_host.decode("ascii")
    host = f"[{host}]" if ":" in host else host
    return host if url.port in (None, default) else f"{host}:{url.port}"


def get(http: httpx.Client, target: Target, headers: dict[str, str] | None = None) -> httpx.Response:
    """GET the checked addresses of the target in turn, like `post`, and close at once: the answer's status and
    headers only, its body never read (a check needs no page, and a hostile one could be endless). Sends no body,
    no cookie (not even one the client kept from an earlier answer) and no credentials from the URL's userinfo."""
    failure: httpx.ConnectError | None = None
    plain = target.url.copy_with(userinfo=b"")
    for address in target.addresses:
        url, sent, extensions = plain, dict(headers or {}), dict[str, Any]()
        if address != target.host:
            url = plain.copy_with(host=address)
            sent = {"Host": _authority(target.url), **sent}
            extensions["sni_hostname"] = target.host
        request = http.build_request("GET", url, headers=sent, extensions=extensions)
        request.headers.pop("Cookie", None)  # the client's jar merged in: what one site set must not reach another
        try:
            response = http.send(request, stream=True)
        except httpx.ConnectError as error:
            failure = error
            continue
        response.close()
        return response
    assert failure is not None  # check() gives at least one address
    raise failure


_NO_SUCH_HOST = {socket.EAI_NONAME, getattr(socket, "EAI_NODATA", socket.EAI_NONAME)}


def no_such_host(host: str) -> bool:
    """Whether DNS answers that the host has no address (NXDOMAIN, or no address record), as opposed to giving no
    answer (a resolver down or timing out): only the former says anything about the host."""
    try:
        socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        return error.errno in _NO_SUCH_HOST
    except (OSError, UnicodeError):
        return False
    return False
