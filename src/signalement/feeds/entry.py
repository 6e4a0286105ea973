"""What a feed carries: one entry per listed thing, or its withdrawal (a delisting, a URL cleared or down), with a
cursor (`seq`) that only grows, so a consumer asks for what changed since its last one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, UrlState

__all__ = ["IndicatorEntry", "Level", "UrlEntry", "UrlState"]


@dataclass(frozen=True)
class UrlEntry:
    """A URL (or prefix, host, domain) in a feed. `listed` is what a filter should block: the canonical URL, the
    URL prefix, the host name or the registered domain, per `level`."""

    seq: int  # the change this entry is at: feeds are ordered by it, incremental feeds start after a cursor
    id: int  # the URL's id on the platform (stable: a withdrawal carries the same)
    url: str  # the canonical URL (Safe Browsing canonicalization)
    listed: str
    level: Level
    state: UrlState
    tlp: Tlp
    first_seen: datetime
    last_seen: datetime
    changed_at: datetime
    reports: int
    reporters: int
    brand: str | None = None
    campaigns: tuple[str, ...] = ()  # public ids of the campaigns whose reports carry it
    tags: tuple[str, ...] = ()  # e.g. phishing, credential-form, lookalike, kit
    withdrawn: bool = False  # no longer listed: consumers remove it (delisted, cleared, down)


@dataclass(frozen=True)
class IndicatorEntry:
    """An origin IP or a sender domain of confirmed campaigns, for the DNSBL zones and their feeds."""

    seq: int
    id: int
    kind: str  # "ip" or "domain"
    value: str
    state: str  # signalement.verdict.indicators.IndicatorState
    tlp: Tlp
    first_seen: datetime
    last_seen: datetime
    changed_at: datetime
    reports: int
    sources: int
    campaigns: tuple[str, ...] = ()
    withdrawn: bool = False  # no longer listed: cleared by an analyst, expired, or a member's
