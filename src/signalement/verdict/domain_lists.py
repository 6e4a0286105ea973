"""Hosts by kind, shipped as data (domain_lists.toml beside this module): URL shorteners, free hosting, file sharing,
free mailboxes and shared e-mail service providers.

An entry stands for itself and every name under it, and a host takes the kind of its most specific listed suffix:
`docs.google.com` is file sharing though `google.com` is listed nowhere, `onedrive.live.com` is file sharing though
`live.com` is a free mailbox. The walk goes past the registered domain because many entries (`web.app`,
`github.io`) are public suffixes themselves.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib.resources import files

from signalement.mail.domains import normalize_host

KINDS = ("shortener", "hosting", "file_sharing", "freemail", "esp")


class Lists:
    """The kinds with their descriptions and entries, and an index from entry to kind."""

    def __init__(self, descriptions: dict[str, str], entries: dict[str, frozenset[str]]) -> None:
        self.descriptions = descriptions
        self.entries = entries
        self.by_host = {host: kind for kind, hosts in entries.items() for host in hosts}

    def kind_of(self, host: str) -> str | None:
        name = normalize_host(host)
        while name:
            kind = self.by_host.get(name)
            if kind is not None:
                return kind
            _, _, name = name.partition(".")  # drop the leftmost label
        return None


def parse(text: str) -> Lists:
    """The lists in a TOML text; raises ValueError on a missing kind, a mistyped field or an entry in two kinds."""
    tables = tomllib.loads(text).get("kind", {})
    if sorted(tables) != sorted(KINDS):
        raise ValueError(f"kinds must be exactly {', '.join(KINDS)}, not {', '.join(sorted(tables))}")
    descriptions: dict[str, str] = {}
    entries: dict[str, frozenset[str]] = {}
    seen: dict[str, str] = {}
    for kind in KINDS:
        table = tables[kind]
        description, domains = table.get("description"), table.get("domains")
        if not isinstance(description, str) or not description:
            raise ValueError(f"kind {kind}: description is required")
        if not isinstance(domains, list) or not all(isinstance(d, str) for d in domains):
            raise ValueError(f"kind {kind}: domains must be a list of strings")
        for domain in domains:
            if domain in seen:
                raise ValueError(f"{domain} is listed as {seen[domain]} and as {kind}")
            seen[domain] = kind
        descriptions[kind], entries[kind] = description, frozenset(domains)
    return Lists(descriptions, entries)


@cache
def lists() -> Lists:
    """The shipped lists, loaded once per process."""
    return parse(files("signalement.verdict").joinpath("domain_lists.toml").read_text(encoding="utf-8"))


def kind_of(host: str) -> str | None:
    """The kind of the most specific listed suffix of `host` (`foo.web.app` -> "hosting"), or None."""
    return lists().kind_of(host)


def domains(kind: str) -> frozenset[str]:
    """The entries of one kind; raises KeyError for an unknown kind."""
    return lists().entries[kind]


def description(kind: str) -> str:
    return lists().descriptions[kind]
