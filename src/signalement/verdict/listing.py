"""How much of a confirmed phishing URL to list: the URL, a path prefix, a whole host or a registered domain, only as
far as the evidence supports (issue 11, docs/urls.md).

- A shared platform is never listed whole: a URL shortener, free hosting, file sharing, a mailbox or mailing
  service (signalement.verdict.domain_lists), a host under a suffix of the Public Suffix List's private section
  (`*.github.io`, `*.blogspot.com`), or an IP address: there, the URL, or the kit's path prefix.
- A registered domain that itself imitates a brand (`paypa1-secure.com`) was bought to phish: the domain, and
  every name under it.
- A host whose own labels imitate a brand under a domain that does not (`paypal.login.example-shop.com`): the host.
- A phishing kit on a compromised site (several confirmed URLs under one directory of an ordinary host) does not
  list the site: the directory, as a prefix.
- Otherwise the URL alone.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from signalement.domain.url_reputation import Level
from signalement.mail.domains import is_ip, registered_domain, under_private_suffix
from signalement.verdict.domain_lists import lists
from signalement.verdict.lookalikes import detector

KIT_MIN_URLS = 2  # confirmed URLs under one directory that make it a kit's


@dataclass(frozen=True)
class Listing:
    level: Level
    listed: str  # what a filter blocks: the URL, the prefix (scheme, host and path up to its last /), host, domain
    why: str


def listing(url: str, confirmed_siblings: Iterable[str] = ()) -> Listing:
    """The listing of a confirmed URL; `confirmed_siblings`: the other confirmed URLs of its host."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    prefix = kit_prefix(url, confirmed_siblings)
    if not host or is_ip(host) or shared(host):
        if prefix:
            return Listing(Level.PREFIX, prefix, "a kit's directory on a shared platform")
        return Listing(Level.URL, url, "a shared platform or an address is never listed whole")
    domain = registered_domain(host)
    if domain and detector().check(domain):
        return Listing(Level.DOMAIN, domain, "the registered domain imitates a brand")
    if detector().check(host):
        return Listing(Level.HOST, host, "the host imitates a brand")
    if prefix:
        return Listing(Level.PREFIX, prefix, "a kit's directory: the site around it is not listed")
    return Listing(Level.URL, url, "the URL alone")


def shared(host: str) -> bool:
    """A host that many unrelated people publish under."""
    return lists().kind_of(host) is not None or under_private_suffix(host)


def kit_prefix(url: str, siblings: Iterable[str]) -> str | None:
    """The directory of the URL when at least KIT_MIN_URLS confirmed URLs (itself included) lie under it; None at
    the site's root (a root is no kit directory)."""
    folder = directory(url)
    if folder is None:
        return None
    under = 1 + sum(1 for other in siblings if other != url and other.startswith(folder))
    return folder if under >= KIT_MIN_URLS else None


def directory(url: str) -> str | None:
    parts = urlsplit(url)
    path = parts.path.rsplit("/", 1)[0]
    if not path.strip("/"):
        return None
    return f"{parts.scheme}://{parts.netloc}{path}/"
