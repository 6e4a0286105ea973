"""Feed entries for the RPZ and DNSBL tests, and a way to run a Debian tool on a zone."""

from __future__ import annotations

import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from signalement.domain.members import Tlp
from signalement.feeds import dnsbl, rpz
from signalement.feeds.entry import IndicatorEntry, Level, UrlEntry, UrlState

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RPZ_ORIGIN = "rpz.signalement.example"
IP_ORIGIN = "ip.dnsbl.signalement.example"
DOMAIN_ORIGIN = "dbl.signalement.example"
NS = "ns1.signalement.example"
CONTACT = "hostmaster@signalement.example"
LOOKUP = "https://signalement.example/lookup/{value}"


def url(
    id: int, listed: str, level: Level, *, seq: int = 1, withdrawn: bool = False, state: UrlState = UrlState.CONFIRMED
) -> UrlEntry:
    return UrlEntry(
        seq=seq,
        id=id,
        url=f"http://{listed}/",
        listed=listed,
        level=level,
        state=state,
        tlp=Tlp.CLEAR,
        first_seen=NOW,
        last_seen=NOW,
        changed_at=NOW,
        reports=4,
        reporters=3,
        withdrawn=withdrawn,
    )


def indicator(kind: str, value: str, *, seq: int = 1, withdrawn: bool = False) -> IndicatorEntry:
    return IndicatorEntry(
        seq=seq, id=seq, kind=kind, value=value, state="expired" if withdrawn else "confirmed", tlp=Tlp.CLEAR,
        first_seen=NOW, last_seen=NOW, changed_at=NOW, reports=2, sources=2, withdrawn=withdrawn,
    )  # fmt: skip


URLS = [
    url(1, "phish.example", Level.DOMAIN, seq=3),
    url(2, "login.shared.example", Level.HOST, seq=4),
    url(3, "compromised.example/wp-content/kit/", Level.PREFIX, seq=5),  # a kit on a hacked site: never in DNS
    url(4, "bücher-login.example", Level.HOST, seq=6),  # an IDN: punycode in the zone
    url(5, "delisted.example", Level.DOMAIN, seq=7, withdrawn=True),
    url(6, "www.phish.example", Level.HOST, seq=8),  # covered by *.phish.example
    url(7, "suspect.example", Level.DOMAIN, seq=9, state=UrlState.SUSPECTED),  # not confirmed: not blocked
    url(8, "203.0.113.80", Level.HOST, seq=10),  # an IP literal: no QNAME trigger
    url(9, "PHISH.example.", Level.DOMAIN, seq=11),  # the same domain again, another spelling
]

INDICATORS = [
    indicator("ip", "203.0.113.2", seq=1),
    indicator("ip", "2001:db8:5::25", seq=2),
    indicator("ip", "198.51.100.7", seq=3),
    indicator("ip", "198.51.100.7", seq=9, withdrawn=True),  # delisted later
    indicator("domain", "sender.example", seq=4),
    indicator("domain", "Bulk-Mailer.example", seq=5),
]


def rpz_zone(entries: list[UrlEntry] = URLS) -> str:
    serial = rpz.serial_for(max(e.seq for e in entries))
    return rpz.zone(entries, origin=RPZ_ORIGIN, serial=serial, now=NOW, ns=NS, contact=CONTACT)


def ip_zone(entries: list[IndicatorEntry] = INDICATORS) -> str:
    serial = dnsbl.serial_for(max(e.seq for e in entries))
    return dnsbl.ip_zone(entries, origin=IP_ORIGIN, serial=serial, now=NOW, ns=NS, contact=CONTACT, lookup_url=LOOKUP)


def domain_zone(entries: list[IndicatorEntry] = INDICATORS) -> str:
    serial = dnsbl.serial_for(max(e.seq for e in entries))
    return dnsbl.domain_zone(
        entries, origin=DOMAIN_ORIGIN, serial=serial, now=NOW, ns=NS, contact=CONTACT, lookup_url=LOOKUP
    )


def tool(name: str) -> str:
    path = shutil.which(name) or shutil.which(name, path="/usr/sbin:/usr/bin:/sbin")
    if path is None:
        pytest.skip(f"{name} is not installed (Debian: see .ci/run)")
    return path


def checkzone(origin: str, text: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    path = tmp_path / f"{origin}.zone"
    path.write_text(text)
    return subprocess.run(
        [tool("named-checkzone"), origin, str(path)], capture_output=True, text=True, timeout=30, check=False
    )
