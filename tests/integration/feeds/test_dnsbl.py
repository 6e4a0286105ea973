"""The DNSBL zones: load in BIND's checker, answer as RFC 5782 says from a real DNS server on loopback (dnslib's
zone resolver), and make SpamAssassin and rspamd, configured with docs/examples/dnsbl, score what they list."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.query
import dns.rcode
import pytest
from dnslib.server import DNSLogger, DNSServer
from dnslib.zoneresolver import ZoneResolver

from signalement.feeds import dnsbl
from tests.integration.feeds.data import (
    CONTACT,
    DOMAIN_ORIGIN,
    IP_ORIGIN,
    NOW,
    NS,
    checkzone,
    domain_zone,
    indicator,
    ip_zone,
)
from tests.pg import free_port


@pytest.mark.parametrize(("origin", "make"), [(IP_ORIGIN, ip_zone), (DOMAIN_ORIGIN, domain_zone)])
def test_named_checkzone_loads_the_zones(origin: str, make: object, tmp_path: Path) -> None:
    result = checkzone(origin, make(), tmp_path)  # type: ignore[operator]
    assert result.returncode == 0, result.stdout + result.stderr


def test_serial_grows_and_a_withdrawal_leaves() -> None:
    first = ip_zone([indicator("ip", "203.0.113.2", seq=1)])
    second = ip_zone([indicator("ip", "203.0.113.2", seq=1), indicator("ip", "203.0.113.2", seq=2, withdrawn=True)])
    assert " 1 300 60 " in first and " 2 300 60 " in second
    assert "2.113.0.203 A" in first and "2.113.0.203" not in second


@pytest.mark.parametrize("value", ["127.0.0.1", "::ffff:127.0.0.1", "::1", "not-an-ip", "203.0.113.0/24"])
def test_an_ip_zone_never_lists_loopback_or_garbage(value: str) -> None:
    with pytest.raises(dnsbl.ZoneError):
        dnsbl.ip_zone(
            [indicator("ip", value)], origin=IP_ORIGIN, serial=1, now=NOW, ns=NS, contact=CONTACT, lookup_url="{value}"
        )


@pytest.mark.parametrize("value", ["invalid", "a b.example", 'x".example', "x" * 64 + ".example"])
def test_a_domain_zone_refuses_what_rfc_5782_or_a_zone_forbids(value: str) -> None:
    with pytest.raises(dnsbl.ZoneError):
        dnsbl.domain_zone(
            [indicator("domain", value)],
            origin=DOMAIN_ORIGIN,
            serial=1,
            now=NOW,
            ns=NS,
            contact=CONTACT,
            lookup_url="{value}",
        )


@pytest.fixture(scope="module")
def dnsbl_server() -> Iterator[int]:
    port = free_port()
    resolver = ZoneResolver(ip_zone() + domain_zone())
    quiet = DNSLogger(log="-request,-reply,-truncated,-error", prefix=False)
    server = DNSServer(resolver, address="127.0.0.1", port=port, logger=quiet)
    server.start_thread()
    yield port
    server.stop()


def _ask(port: int, name: str, rdtype: str) -> tuple[str, list[str]]:
    reply = dns.query.udp(dns.message.make_query(name, rdtype), "127.0.0.1", port=port, timeout=2)
    return dns.rcode.to_text(reply.rcode()), [rd.to_text() for rrset in reply.answer for rd in rrset]


@pytest.mark.parametrize(
    ("name", "listed"),
    [
        (f"2.0.0.127.{IP_ORIGIN}", True),  # RFC 5782 section 5: the IPv4 test entry
        (f"1.0.0.127.{IP_ORIGIN}", False),
        (f"{dnsbl.ip_name('::ffff:7f00:2')}.{IP_ORIGIN}", True),  # the IPv6 test entries
        (f"{dnsbl.ip_name('::ffff:7f00:1')}.{IP_ORIGIN}", False),
        (f"2.113.0.203.{IP_ORIGIN}", True),
        (f"{dnsbl.ip_name('2001:db8:5::25')}.{IP_ORIGIN}", True),
        (f"7.100.51.198.{IP_ORIGIN}", False),  # withdrawn
        (f"3.113.0.203.{IP_ORIGIN}", False),
        (f"test.{DOMAIN_ORIGIN}", True),
        (f"invalid.{DOMAIN_ORIGIN}", False),
        (f"sender.example.{DOMAIN_ORIGIN}", True),
        (f"bulk-mailer.example.{DOMAIN_ORIGIN}", True),
        (f"other.example.{DOMAIN_ORIGIN}", False),
    ],
)
def test_the_zones_answer_as_rfc_5782_says(dnsbl_server: int, name: str, listed: bool) -> None:
    rcode, addresses = _ask(dnsbl_server, name, "A")
    if not listed:
        assert rcode == "NXDOMAIN"
        return
    assert (rcode, addresses) == ("NOERROR", ["127.0.0.2"])
    _, texts = _ask(dnsbl_server, name, "TXT")
    assert len(texts) == 1
    if "test entry" not in texts[0]:
        assert "confirmed campaign; see https://signalement.example/lookup/" in texts[0]


def test_ip_names_follow_rfc_5782() -> None:
    assert dnsbl.ip_name("192.0.2.99") == "99.2.0.192"
    assert (
        dnsbl.ip_name("2001:db8:1:2:3:4:567:89ab") == "b.a.9.8.7.6.5.0.4.0.0.0.3.0.0.0.2.0.0.0.1.0.0.0.8.b.d.0.1.0.0.2"
    )
