"""The evidence staff are shown for a claim of addresses: which addresses are sampled, and their reverse DNS asked of
a real DNS server (or the failure said, when it does not answer)."""

from __future__ import annotations

import time

import pytest

from signalement.domain.claims import ClaimKind
from signalement.members.evidence import gather, sample_addresses
from tests.dnsserver import LoopbackDNS
from tests.pg import free_port


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ("192.0.2.7/32", ["192.0.2.7"]),
        ("192.0.2.6/31", ["192.0.2.6", "192.0.2.7"]),
        ("192.0.2.4/30", ["192.0.2.4", "192.0.2.5", "192.0.2.6", "192.0.2.7"]),
        ("192.0.2.0/29", ["192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5", "192.0.2.6"]),
        (
            "192.0.2.0/24",
            [f"192.0.2.{n}" for n in (1, 37, 73, 109, 145, 181, 217, 254)],  # the first, the last, spread between
        ),
    ],
)
def test_sample_addresses(network: str, expected: list[str]) -> None:
    assert sample_addresses(network) == expected


def test_an_ipv6_range_is_sampled_across_its_whole_span() -> None:
    samples = sample_addresses("2001:db8::/32")
    assert len(samples) == 8
    assert samples[0] == "2001:db8::1"
    assert samples[-1] == "2001:db8:ffff:ffff:ffff:ffff:ffff:fffe"
    assert len({s.split(":")[2] for s in samples}) == 8  # spread, not bunched at the start


def test_reverse_dns_of_the_samples() -> None:
    with LoopbackDNS({}, ptr={"198.51.100.1": "mx1.example.com", "2001:db8::1": "mx6.example.com"}) as server:
        evidence = gather(ClaimKind.RELAY_NETWORK, "198.51.100.0/30", server.address)
        assert evidence["reverse_dns"] == [
            {"address": "198.51.100.0", "names": [], "error": None},
            {"address": "198.51.100.1", "names": ["mx1.example.com"], "error": None},
            {"address": "198.51.100.2", "names": [], "error": None},
            {"address": "198.51.100.3", "names": [], "error": None},
        ]
        six = gather(ClaimKind.IP_RANGE, "2001:db8::/64", server.address)
        assert six["reverse_dns"][0] == {"address": "2001:db8::1", "names": ["mx6.example.com"], "error": None}
        assert gather(ClaimKind.AUTHSERV_ID, "mx.example.com", server.address)["reverse_dns"] == []


def test_a_dns_that_does_not_answer_is_said_and_does_not_hold_the_request() -> None:
    started = time.monotonic()
    evidence = gather(ClaimKind.IP_RANGE, "192.0.2.0/24", f"127.0.0.1:{free_port()}")  # nothing listens there
    assert time.monotonic() - started < 5  # in parallel, each with a short timeout
    assert len(evidence["reverse_dns"]) == 8
    assert all(r["names"] == [] and r["error"] for r in evidence["reverse_dns"])
