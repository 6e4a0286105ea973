"""Which of the platform's addresses a recipient is, from its text alone.

`report@`, `phishing@` and `spam@` at a configured domain take reports from anyone (`phishing@` and `spam@` also say
what the reporter thinks it is); `report+<secret>@` is a reporter's own address; `fbl+<secret>@` is a feedback
loop's intake address and `trap+<secret>@` a spam-trap feed's (the secret names the source); every address at a
trap domain is a trap. Anything else is unknown (`550 5.1.1`). Local parts and
domains compare case-insensitively, as every mail system treats them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from signalement.domain.reports import ReportedCategory

REPORT_NAMES = {"report": None, "phishing": ReportedCategory.PHISHING, "spam": ReportedCategory.SPAM}
REPORTER_PREFIX = "report+"
FEED_PREFIX = "fbl+"
TRAP_PREFIX = "trap+"


class RecipientKind(StrEnum):
    REPORT = "report"  # a public report address
    REPORTER = "reporter"  # a reporter's secret address
    FEED = "feed"  # a feedback loop's secret intake address
    TRAP = "trap"  # a spam-trap feed's secret intake address
    TRAP_DOMAIN = "trap_domain"  # any address at a trap domain: the secret is the domain


_SECRET_PREFIXES = (
    (REPORTER_PREFIX, RecipientKind.REPORTER),
    (FEED_PREFIX, RecipientKind.FEED),
    (TRAP_PREFIX, RecipientKind.TRAP),
)


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    secret: str | None = None
    category: ReportedCategory | None = None


def reporter_address(secret: str, domains: Iterable[str]) -> str:
    """A reporter's secret address as they are shown it: at the first configured domain."""
    first = next(iter(domains), "localhost")
    return f"{REPORTER_PREFIX}{secret}@{first}"


def _domains(names: Iterable[str]) -> frozenset[str]:
    return frozenset(d.strip().lower().rstrip(".") for d in names if d.strip())


@dataclass(frozen=True)
class Addresses:
    domains: frozenset[str]
    trap_domains: frozenset[str] = frozenset()

    @classmethod
    def of(cls, domains: Iterable[str], trap_domains: Iterable[str] = ()) -> Addresses:
        return cls(_domains(domains), _domains(trap_domains))

    def recipient(self, address: str) -> Recipient | None:
        local, at, domain = address.strip().rpartition("@")
        domain = domain.lower().rstrip(".")
        if at and local and domain in self.trap_domains:
            return Recipient(RecipientKind.TRAP_DOMAIN, secret=domain)
        if not at or domain not in self.domains:
            return None
        local = local.lower()
        if local in REPORT_NAMES:
            return Recipient(RecipientKind.REPORT, category=REPORT_NAMES[local])
        for prefix, kind in _SECRET_PREFIXES:
            secret = local.removeprefix(prefix)
            if secret != local and secret.isalnum() and 8 <= len(secret) <= 64:
                return Recipient(kind, secret=secret)
        return None
