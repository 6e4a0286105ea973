"""Which of the platform's addresses a recipient is, from its text alone.

`report@`, `phishing@` and `spam@` at a configured domain take reports from anyone (`phishing@` and `spam@` also say
what the reporter thinks it is); `report+<secret>@` is a reporter's own address; `fbl+<secret>@` is a feedback
loop's intake address (the secret names the source). Anything else is unknown (`550 5.1.1`). Local parts and
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


class RecipientKind(StrEnum):
    REPORT = "report"  # a public report address
    REPORTER = "reporter"  # a reporter's secret address
    FEED = "feed"  # a feedback loop's secret intake address


@dataclass(frozen=True)
class Recipient:
    kind: RecipientKind
    secret: str | None = None
    category: ReportedCategory | None = None


def reporter_address(secret: str, domains: Iterable[str]) -> str:
    """A reporter's secret address as they are shown it: at the first configured domain."""
    first = next(iter(domains), "localhost")
    return f"{REPORTER_PREFIX}{secret}@{first}"


@dataclass(frozen=True)
class Addresses:
    domains: frozenset[str]

    @classmethod
    def of(cls, domains: Iterable[str]) -> Addresses:
        return cls(frozenset(d.strip().lower().rstrip(".") for d in domains if d.strip()))

    def recipient(self, address: str) -> Recipient | None:
        local, at, domain = address.strip().rpartition("@")
        if not at or domain.lower().rstrip(".") not in self.domains:
            return None
        local = local.lower()
        if local in REPORT_NAMES:
            return Recipient(RecipientKind.REPORT, category=REPORT_NAMES[local])
        for prefix, kind in ((REPORTER_PREFIX, RecipientKind.REPORTER), (FEED_PREFIX, RecipientKind.FEED)):
            secret = local.removeprefix(prefix)
            if secret != local and secret.isalnum() and 8 <= len(secret) <= 64:
                return Recipient(kind, secret=secret)
        return None
