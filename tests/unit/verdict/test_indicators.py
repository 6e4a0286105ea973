"""Which origin IP and sender domain a report gives: only what a trusted party vouched for and the sender controls,
never a shared relay or domain; and when an indicator is listed."""

from __future__ import annotations

from typing import Any

import pytest

from signalement.verdict.indicators import (
    Indicator,
    IndicatorState,
    Kind,
    Tally,
    move,
    next_state,
    of_report,
    origin_ip,
    sender_domain,
)

IP = "45.153.160.2"


def facts(
    *,
    ip: str | None = IP,
    rdns: str | None = "mail.secure-paypa1.com",
    trusted: bool = True,
    webmail: bool = False,
    from_domain: str = "secure-paypa1.com",
    dmarc: str | None = "pass",
    dkim: list[dict[str, Any]] | None = None,
    spf: dict[str, Any] | None = None,
) -> dict[str, Any]:
    by = "registry:gmail" if trusted else None
    return {
        "origin": {"ip": ip, "rdns": rdns, "trusted_by": by, "webmail": webmail},
        "sender": {"from_domain": from_domain},
        "authentication": {
            "trusted_by": by,
            "dmarc": {"result": dmarc} if dmarc else None,
            "dkim": dkim if dkim is not None else [{"result": "pass", "domain": from_domain, "aligned": True}],
            "spf": spf,
        },
    }


def test_a_trusted_origin_and_an_authenticated_sender_are_indicators() -> None:
    assert of_report(facts()) == (Indicator(Kind.IP, IP), Indicator(Kind.DOMAIN, "secure-paypa1.com"))


def test_the_sender_domain_is_the_registered_domain() -> None:
    found = sender_domain(facts(from_domain="mail.secure-paypa1.co.uk", dmarc=None))
    assert found == Indicator(Kind.DOMAIN, "secure-paypa1.co.uk")


@pytest.mark.parametrize(
    "changed",
    [
        {"trusted": False},  # nobody the platform trusts wrote the chain
        {"webmail": True},  # the address a webmail saw its user at: it never connects to a filter
        {"ip": "10.1.2.3"},
        {"ip": "203.0.113.9"},  # documentation range: not global
        {"ip": None},
        {"ip": "not an address"},
        {"rdns": "mail-sor-f41.google.com"},  # Google's relays send for every Workspace customer
        {"rdns": "mail-db8eur05on2101.outbound.protection.outlook.com"},
        {"rdns": "o1.ptr1234.sendgrid.net"},
        {"dkim": [{"result": "pass", "domain": "sendgrid.net", "aligned": False}]},  # an ESP's relay
        {"spf": {"result": "pass", "domain": "amazonses.com"}},
    ],
)
def test_no_origin_ip_from_an_untrusted_chain_or_a_shared_relay(changed: dict[str, Any]) -> None:
    assert origin_ip(facts(**changed)) is None


def test_an_ipv4_mapped_origin_is_its_ipv4_address() -> None:
    assert origin_ip(facts(ip=f"::ffff:{IP}")) == Indicator(Kind.IP, IP)


@pytest.mark.parametrize(
    "changed",
    [
        {"trusted": False},  # forged Authentication-Results say nothing
        {"dmarc": "fail", "dkim": []},  # a From that did not authenticate: as often the brand it imitates
        {"dmarc": None, "dkim": [{"result": "pass", "domain": "other.example", "aligned": False}]},
        {"from_domain": "gmail.com"},  # a mailbox provider: anyone opens an address
        {"from_domain": "sendgrid.net"},
        {"from_domain": "someone.github.io"},  # under the PSL's private section
        {"from_domain": "paypal.com"},  # a brand's own: its hacked account is the brand's to fix
        {"from_domain": "198.51.100.7"},
    ],
)
def test_no_sender_domain_unless_authenticated_and_not_shared(changed: dict[str, Any]) -> None:
    assert sender_domain(facts(**changed)) is None


def test_an_aligned_spf_pass_authenticates_the_sender() -> None:
    spf = {"result": "pass", "domain": "secure-paypa1.com", "aligned": True}
    assert sender_domain(facts(dmarc=None, dkim=[], spf=spf)) == Indicator(Kind.DOMAIN, "secure-paypa1.com")


def test_listing_needs_two_sources_and_never_undoes_a_clearing() -> None:
    one, two = Tally(reports=9, sources=1), Tally(reports=2, sources=2)
    assert next_state(IndicatorState.SUSPECTED, one, claimed=False) is IndicatorState.SUSPECTED
    assert next_state(IndicatorState.SUSPECTED, two, claimed=False) is IndicatorState.CONFIRMED
    assert next_state(IndicatorState.EXPIRED, two, claimed=False) is IndicatorState.CONFIRMED
    assert next_state(IndicatorState.CLEARED, two, claimed=False) is IndicatorState.CLEARED
    assert next_state(IndicatorState.CLEARED, two, claimed=True) is IndicatorState.CLEARED


def test_a_members_claim_keeps_it_out_of_the_lists() -> None:
    many = Tally(reports=50, sources=10)
    assert next_state(IndicatorState.SUSPECTED, many, claimed=True) is IndicatorState.SUSPECTED
    assert next_state(IndicatorState.CONFIRMED, many, claimed=True) is IndicatorState.SUSPECTED


def test_analysts_moves() -> None:
    assert move(IndicatorState.CONFIRMED, IndicatorState.CLEARED) is IndicatorState.CLEARED
    assert move(IndicatorState.CLEARED, IndicatorState.CONFIRMED) is IndicatorState.CONFIRMED
    with pytest.raises(ValueError, match="cannot become"):
        move(IndicatorState.SUSPECTED, IndicatorState.EXPIRED)
