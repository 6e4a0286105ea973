"""Domain names: the registered domain from the Public Suffix List shipped with the package, private section
included, so that `x.github.io` and `y.web.app` are domains of their own. Offline: the list is in the wheel.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from publicsuffixlist import PublicSuffixList

_DOTTED_QUAD = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}\Z")

# accept_unknown=False: a name under a suffix the list does not know (`.local`, `.lan`, a typo) has no registered
# domain, which keeps file names and internal hosts out of the bare-domain URL search.
_PSL = PublicSuffixList(accept_unknown=False)
_ICANN = PublicSuffixList(accept_unknown=False, only_icann=True)


def normalize_host(host: str) -> str:
    """Lower case, no trailing dot, IDN in punycode (`xn--`); the input unchanged if it cannot be encoded."""
    host = host.strip().rstrip(".").lower()
    if host.isascii():
        return host
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def is_ip(host: str) -> bool:
    host = host.strip("[]")
    if ":" not in host and not _DOTTED_QUAD.match(host):  # most hosts are names: skip the costly exception path
        return False
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=65536)
def registered_domain(host: str) -> str | None:
    """The registrable domain of a host name (`a.b.example.co.uk` -> `example.co.uk`); None for an IP address,
    a public suffix itself, or a name under an unknown suffix."""
    host = normalize_host(host)
    if not host or is_ip(host):
        return None
    domain = _PSL.privatesuffix(host)
    return domain if isinstance(domain, str) else None


@lru_cache(maxsize=65536)
def public_suffix(host: str) -> str | None:
    """The public suffix of a host (`example.co.uk` -> `co.uk`), or None when the list does not know it."""
    host = normalize_host(host)
    if not host or is_ip(host):
        return None
    suffix = _PSL.publicsuffix(host)
    return suffix if isinstance(suffix, str) else None


@lru_cache(maxsize=65536)
def under_private_suffix(host: str) -> bool:
    """Whether the host lies under a suffix of the list's private section (`github.io`, `blogspot.com`): a shared
    platform whose every customer gets a name, whatever the registered domain says."""
    host = normalize_host(host)
    if not host or is_ip(host):
        return False
    return _PSL.publicsuffix(host) != _ICANN.publicsuffix(host)


def is_subdomain(host: str, domain: str) -> bool:
    """True when `host` is `domain` or a name under it (label-wise, not by string suffix)."""
    host, domain = normalize_host(host), normalize_host(domain)
    return host == domain or host.endswith("." + domain)
