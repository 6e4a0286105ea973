"""UrlEntry values for the feed writers' tests: ordinary ones and the hostile ones a sender can shape."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from signalement.domain.members import Tlp
from signalement.feeds.entry import Level, UrlEntry, UrlState

T0 = datetime(2024, 5, 1, 8, 30, tzinfo=UTC)
T1 = datetime(2024, 5, 2, 9, 0, tzinfo=UTC)
NOW = datetime(2024, 6, 1, tzinfo=UTC)

HOSTILE_URL = "http://a.example/it's/a\\path\"q?x=1,2;y='\"';z=%E2%80%A8"
LONG_URL = "http://long.example/" + "a" * 20_000


def entry(n: int = 1, **changes: Any) -> UrlEntry:
    url = changes.pop("url", f"http://phish{n}.example/login")
    base = UrlEntry(
        seq=100 + n,
        id=n,
        url=url,
        listed=url,
        level=Level.URL,
        state=UrlState.CONFIRMED,
        tlp=Tlp.GREEN,
        first_seen=T0,
        last_seen=T1,
        changed_at=T1,
        reports=5,
        reporters=3,
        brand="Bank",
        campaigns=("cmp-00000000000a",),
        tags=("phishing", "credential-form"),
    )
    return replace(base, **changes)


def levels() -> list[UrlEntry]:
    """One entry at each level, each with its own TLP."""
    return [
        entry(1),
        entry(2, url="http://site.example/wp/kit/index.php", listed="http://site.example/wp/kit/", level=Level.PREFIX,
              tlp=Tlp.AMBER),
        entry(3, url="http://login-bank.xn--bcher-kva.example/", listed="login-bank.xn--bcher-kva.example",
              level=Level.HOST, tlp=Tlp.CLEAR),
        entry(4, url="http://x.bank-secure.example/a", listed="bank-secure.example", level=Level.DOMAIN,
              tlp=Tlp.AMBER_STRICT),
    ]  # fmt: skip
