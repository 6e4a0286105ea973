"""Member organizations and what each may receive: the confidential community's identities and entitlements."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from signalement.domain.accounts import Scope


class OrgKind(StrEnum):
    MAILBOX_PROVIDER = "mailbox_provider"
    ROUTER = "router"  # an e-mail router or ESP, sending for its customers
    SENDER = "sender"  # an advertiser or any organization sending its own mail
    HOSTING_PROVIDER = "hosting_provider"
    BRAND = "brand"
    AUTHORITY = "authority"
    CERT = "cert"
    SECURITY_VENDOR = "security_vendor"


class Tlp(StrEnum):
    """Traffic Light Protocol 2.0 (FIRST): how far what is shared may travel, from CLEAR to RED."""

    CLEAR = "clear"
    GREEN = "green"
    AMBER = "amber"
    AMBER_STRICT = "amber+strict"
    RED = "red"

    @property
    def rank(self) -> int:
        return _TLP_ORDER.index(self)

    def allows(self, marking: Tlp) -> bool:
        """Whether an organization entitled up to this level may receive what is marked `marking`."""
        return marking.rank <= self.rank

    def widest(self, other: Tlp | None) -> Tlp:
        """The least strict of the two: whoever may receive the one's entries received the other's too."""
        return self if other is None or self.rank <= other.rank else other


_TLP_ORDER = list(Tlp)


@dataclass(frozen=True)
class Entitlements:
    """Set by staff for each organization: the ceiling of everything shared with it, whatever its tokens say."""

    max_tlp: Tlp = Tlp.GREEN
    feeds: frozenset[str] = field(default_factory=frozenset)
    lookup_urls: bool = False  # may look URLs up in clear (`lookup:urls`), not only by hash prefixes
    evidence_export: bool = False  # may export evidence packages (`evidence:export`)

    def bound(self, scopes: frozenset[Scope]) -> frozenset[Scope]:
        """The scopes an organization's people and tokens keep under these entitlements."""
        withheld = {Scope.LOOKUP_URLS} if not self.lookup_urls else set()
        withheld |= {Scope.EVIDENCE_EXPORT} if not self.evidence_export else set()
        withheld |= {Scope.FEEDS_READ} if not self.feeds else set()
        return scopes - withheld

    def as_json(self) -> dict[str, object]:
        return {
            "max_tlp": self.max_tlp.value,
            "feeds": sorted(self.feeds),
            "lookup_urls": self.lookup_urls,
            "evidence_export": self.evidence_export,
        }

    @classmethod
    def from_json(cls, data: dict[str, object] | None) -> Entitlements:
        if not data:
            return cls()
        feeds = data.get("feeds")
        return cls(
            max_tlp=Tlp(str(data.get("max_tlp", Tlp.GREEN))),
            feeds=frozenset(str(f) for f in feeds) if isinstance(feeds, list) else frozenset(),
            lookup_urls=bool(data.get("lookup_urls", False)),
            evidence_export=bool(data.get("evidence_export", False)),
        )
