"""Which campaign a report belongs to: the decision alone, on the keys a report shares with stored campaigns.

A report's keys are one per LSH band of its text's fingerprint, `b<band>:<16 hex>` (the band's position is part of
the key: band 3 matches only band 3), and one per distinctive registered domain of its URLs, `d:<domain>`. A domain
is distinctive when no brand owns it (its official and sending domains are in every mail of the brand, genuine or
not) and the URL's host is on no shared platform (a shortener, a hosting or file-sharing service, a freemail, an
ESP: `domain_lists`), except where the platform gives each customer a registered domain of their own (a listed
public suffix: `evil-login.web.app` is one customer's, as `evil-login.example` would be; `bit.ly`, `google.com`
for `docs.google.com` or an ESP's tracking domain are everyone's).

The rule, in order:

1. **Bands.** Join the candidate sharing the most band keys, if it shares at least BAND_THRESHOLD = 6 of the 32.
   Two texts of Jaccard similarity J share a band with probability J^4, so the number of shared bands is about
   Binomial(32, J^4): P(>= 6 bands) is 0.01 at J = 0.5, 0.23 at J = 0.6, 0.82 at J = 0.7, 0.998 at J = 0.8; the
   threshold sits at J ~ 0.66. Measured: per-recipient variants of one message (names, tokens, amounts, tracking
   links) share 24 to 32 bands; variants that reword each sentence with probability 0.2 share >= 6 in 99% of
   pairs. Among the 1,300 messages of the dev corpus, 1 to 3 shared bands are mostly chance (short texts whose
   MinHash bins are filled from a few common shingles), no legitimate mail shares more than 4 with mail of another
   source, and the pairs sharing 5 to 8 are variants of one phishing or spam family or issues of one news feed.
   Short newsletters of different senders in one ESP's template (40 words of their own, 90 of the template's)
   share up to 5: four would join them, six keeps them apart.
2. **Domains**, for a harmful report only (category phishing, malware or scam). Join the candidate that shares a
   distinctive domain when that campaign holds harmful reports (an SMS and a mail share no text, only the domain
   they push), or shares at least one band, or the brand the report impersonates. A spam or legitimate report
   never joins on a domain: an ESP's tracking domain or a shop's domain is shared by unrelated mailings.
3. Otherwise the report founds a campaign, unless it has nothing to be found by (no usable text, no domain key).

A report that already belongs to a campaign keeps it while that campaign still qualifies (re-analysis is stable).
The band keys of a campaign's exemplars only are stored: the report that founds it and those that join it sharing
fewer than EXEMPLAR_BELOW bands (16: J below ~0.84), so a campaign of identical copies stores 32 band keys, not 32
per copy, and a drifting campaign keeps being recognized by its newer variants. Domain keys of reports that may
join on domains (harmful, or not yet classified) are stored with every report; spam and legitimate reports store
none, so an ESP's domain never gathers thousands of campaigns under one key.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from signalement.verdict import chain, domain_lists
from signalement.verdict.brands import registry

BANDS = 32
BAND_THRESHOLD = 6
EXEMPLAR_BELOW = 16
MIN_SHINGLES = 5  # a text of fewer distinct word 3-grams ("Cliquez ici : <url>") would gather unrelated senders
MAX_DOMAIN_KEYS = 8
HARMFUL = frozenset(chain.HARMFUL)
NO_DOMAIN_KEYS = frozenset({"spam", "legitimate"})
BAND_PREFIX = "b"
DOMAIN_PREFIX = "d:"


@dataclass(frozen=True)
class Evidence:
    """What a report brings to the decision, read from its analysis document."""

    bands: tuple[str, ...]  # band keys, "b<index>:<hex>"
    domains: tuple[str, ...]  # distinctive registered domains (without the "d:" prefix)
    category: str | None  # None: not classified (yet)
    brands: frozenset[str]  # ids of the brands it impersonates

    @property
    def harmful(self) -> bool:
        return self.category in HARMFUL

    @property
    def domain_keys(self) -> tuple[str, ...]:
        return tuple(DOMAIN_PREFIX + d for d in self.domains)

    def lookup_keys(self) -> tuple[str, ...]:
        """The keys to look candidates up by: domains only for a report that may join on one."""
        return self.bands + self.domain_keys if self.harmful else self.bands

    def stored_keys(self, exemplar: bool) -> tuple[str, ...]:
        """The keys this report adds to its campaign."""
        domains = () if self.category in NO_DOMAIN_KEYS else self.domain_keys
        return (self.bands + domains) if exemplar else domains


@dataclass(frozen=True)
class Candidate:
    """A campaign found by some of the report's keys."""

    campaign: int
    bands: int  # band keys shared
    domains: frozenset[str] = frozenset()  # distinctive domains shared
    harmful: bool = False  # the campaign holds harmful reports
    brands: frozenset[str] = frozenset()  # brands its reports impersonate


@dataclass(frozen=True)
class Decision:
    campaign: int | None  # the campaign to join; None: found a new one (`found`) or stay out of any
    joined_by: str | None  # "bands:N" or "domain:<d>"; None for a new campaign
    exemplar: bool  # store the report's band keys in its campaign
    found: bool = False
    shared_domains: frozenset[str] = frozenset()  # domain keys the joined campaign already has


NO_CAMPAIGN = Decision(None, None, exemplar=False)
FOUND = Decision(None, None, exemplar=True, found=True)


def evidence(facts: Mapping[str, Any]) -> Evidence:
    """The evidence in an analysis document; tolerant of missing or malformed keys (never raises)."""
    fingerprint = facts.get("fingerprint")
    fingerprint = fingerprint if isinstance(fingerprint, dict) else {}
    category = facts.get("category")
    return Evidence(
        bands=band_keys(fingerprint.get("bands"), fingerprint.get("shingles")),
        domains=distinctive_domains(_url_domains(facts.get("urls"), fingerprint.get("domains"))),
        category=category if isinstance(category, str) else None,
        brands=impersonated_brands(facts.get("brands")),
    )


def band_keys(bands: object, shingles: object) -> tuple[str, ...]:
    if not isinstance(bands, list | tuple) or len(bands) != BANDS:
        return ()
    if not isinstance(shingles, int) or shingles < MIN_SHINGLES:
        return ()
    return tuple(f"{BAND_PREFIX}{i}:{band}" for i, band in enumerate(bands) if isinstance(band, str) and band)


def _url_domains(found: object, fallback: object) -> list[tuple[str, str]]:
    """(host, registered domain) of each URL; the fingerprint's domains stand for their own hosts if no URL list."""
    pairs: list[tuple[str, str]] = []
    if isinstance(found, list):
        for url in found:
            if isinstance(url, dict) and isinstance(url.get("registered_domain"), str) and url["registered_domain"]:
                host = url.get("host")
                pairs.append(
                    (host if isinstance(host, str) and host else url["registered_domain"], url["registered_domain"])
                )
    elif isinstance(fallback, list | tuple):
        pairs = [(d, d) for d in fallback if isinstance(d, str) and d]
    return pairs


def distinctive_domains(urls: Iterable[tuple[str, str]]) -> tuple[str, ...]:
    """The distinctive registered domains among (host, registered domain) pairs, sorted, at most MAX_DOMAIN_KEYS."""
    found = sorted({domain.lower() for host, domain in urls if is_distinctive(host.lower(), domain.lower())})
    return tuple(found[:MAX_DOMAIN_KEYS])


def is_distinctive(host: str, domain: str) -> bool:
    if registry().owner(domain) is not None:
        return False
    if domain_lists.kind_of(host) is None:
        return True
    # Listed: the domain is the customer's own only when the listing is above it (a platform's public suffix).
    _, _, parent = domain.partition(".")
    return bool(parent) and domain_lists.kind_of(parent) is not None


def impersonated_brands(brands: object) -> frozenset[str]:
    if not isinstance(brands, list):
        return frozenset()
    return frozenset(
        b["brand"] for b in brands if isinstance(b, dict) and b.get("impersonated") and isinstance(b.get("brand"), str)
    )


def decide(report: Evidence, candidates: Sequence[Candidate], current: int | None = None) -> Decision:
    """The campaign to join (by bands, then by domain), a new one, or none. `current`: the report's campaign if it
    has one; it keeps it while that campaign qualifies."""
    qualified = [(c, why) for c in candidates if (why := _qualifies(report, c)) is not None]
    if qualified:
        by_bands = [(c, why) for c, why in qualified if why.startswith("bands:")]
        kept = [(c, why) for c, why in qualified if c.campaign == current]
        chosen, why = (kept or [max(by_bands or qualified, key=_rank)])[0]
        return Decision(chosen.campaign, why, chosen.bands < EXEMPLAR_BELOW, shared_domains=chosen.domains)
    return FOUND if report.stored_keys(exemplar=True) else NO_CAMPAIGN


def _qualifies(report: Evidence, candidate: Candidate) -> str | None:
    if candidate.bands >= BAND_THRESHOLD:
        return f"bands:{candidate.bands}"
    if not report.harmful:
        return None
    shared = sorted(candidate.domains.intersection(report.domains))
    if shared and (candidate.harmful or candidate.bands > 0 or candidate.brands & report.brands):
        return f"domain:{shared[0]}"
    return None


def _rank(item: tuple[Candidate, str]) -> tuple[int, int, bool, int]:
    """Most bands, then most shared domains, then a harmful campaign, then the oldest (smallest id)."""
    candidate, _ = item
    return candidate.bands, len(candidate.domains), candidate.harmful, -candidate.campaign


def count_changes(old: Iterable[str], new: Iterable[str]) -> dict[str, int]:
    """+1 for each of `new`, -1 for each of `old`, zeros dropped: how a campaign's counters move."""
    delta = Counter(new)
    delta.subtract(old)
    return {k: v for k, v in delta.items() if v}
