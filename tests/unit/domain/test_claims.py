"""What may be claimed, in which canonical form, how each kind is proven, and which claims overlap."""

from __future__ import annotations

import pytest

from signalement.domain.claims import (
    ClaimKind,
    ClaimRef,
    ClaimState,
    InvalidClaimError,
    Proof,
    conflicts,
    normalize,
    overlap,
    proofs,
    proving_domain,
    txt_name,
    txt_proves,
)

K = ClaimKind


@pytest.mark.parametrize(
    ("kind", "value", "expected"),
    [
        (K.IP_RANGE, " 192.0.2.0/24 ", "192.0.2.0/24"),
        (K.IP_RANGE, "192.0.2.7", "192.0.2.7/32"),  # one address is a /32
        (K.IP_RANGE, "10.0.0.0/8", "10.0.0.0/8"),  # the widest IPv4 range
        (K.IP_RANGE, "2001:DB8:0:0::/48", "2001:db8::/48"),  # IPv6 in its compressed, lower-case form
        (K.IP_RANGE, "2a00::/19", "2a00::/19"),  # the widest IPv6 range
        (K.RELAY_NETWORK, "198.51.100.0/28", "198.51.100.0/28"),
        (K.DOMAIN, "Example.COM.", "example.com"),
        (K.DOMAIN, "mail.example.co.uk", "mail.example.co.uk"),
        (K.DOMAIN, "bücher.de", "xn--bcher-kva.de"),  # IDN in punycode, as DKIM d= and the DNS carry it
        (K.DOMAIN, "me.github.io", "me.github.io"),  # under a private suffix: a domain of its own
        (K.LIST_ID, "<News.Example.COM>", "news.example.com"),
        (K.LIST_ID, "announce.lists.example.org", "announce.lists.example.org"),
        (K.FEEDBACK_ID, "Sender-42", "Sender-42"),  # a sender id keeps its case: the ESP chose it
        (K.AUTHSERV_ID, "MX.Example.com", "mx.example.com"),
    ],
)
def test_normalize(kind: ClaimKind, value: str, expected: str) -> None:
    assert normalize(kind, value) == expected


@pytest.mark.parametrize(
    ("kind", "value", "why"),
    [
        (K.IP_RANGE, "192.0.2.1/24", "host bits"),
        (K.IP_RANGE, "2001:db8::1/64", "host bits"),
        (K.IP_RANGE, "8.0.0.0/7", "wider than /8"),
        (K.IP_RANGE, "2a00::/18", "wider than /19"),
        (K.IP_RANGE, "not a network", "CIDR"),
        (K.IP_RANGE, "127.0.0.0/8", "send mail"),
        (K.IP_RANGE, "::1/128", "send mail"),
        (K.IP_RANGE, "224.0.0.0/8", "send mail"),
        (K.IP_RANGE, "169.254.0.0/16", "send mail"),
        (K.IP_RANGE, "fe80::/64", "send mail"),
        (K.RELAY_NETWORK, "192.0.2.1/24", "host bits"),
        (K.DOMAIN, "co.uk", "public suffix"),
        (K.DOMAIN, "github.io", "public suffix"),  # the private section counts
        (K.DOMAIN, "com", "not a domain"),
        (K.DOMAIN, "printer.local", "public suffix"),  # a suffix the list does not know
        (K.DOMAIN, "192.0.2.1", "not a domain"),
        (K.DOMAIN, "", "not a domain"),
        (K.LIST_ID, "<co.uk>", "public suffix"),
        (K.LIST_ID, "<nodots>", "not a domain"),
        (K.FEEDBACK_ID, "has space", "letters, digits"),
        (K.FEEDBACK_ID, "x" * 201, "letters, digits"),
        (K.AUTHSERV_ID, "", "letters, digits"),
    ],
)
def test_what_cannot_be_claimed_says_why(kind: ClaimKind, value: str, why: str) -> None:
    with pytest.raises(InvalidClaimError, match=why):
        normalize(kind, value)


def test_owners_prove_domains_and_list_ids_staff_approve_the_rest() -> None:
    assert proofs(K.DOMAIN) == proofs(K.LIST_ID) == (Proof.DNS_TXT, Proof.POSTMASTER)
    for kind in (K.IP_RANGE, K.RELAY_NETWORK, K.FEEDBACK_ID, K.AUTHSERV_ID):
        assert proofs(kind) == (Proof.STAFF_APPROVAL,)


def test_the_proving_domain() -> None:
    assert proving_domain(K.DOMAIN, "mail.example.com") == "mail.example.com"  # the claimed name's own zone
    assert proving_domain(K.LIST_ID, "news.lists.example.co.uk") == "example.co.uk"  # the list's registered domain
    assert proving_domain(K.IP_RANGE, "192.0.2.0/24") is None
    assert proving_domain(K.FEEDBACK_ID, "sender") is None


def test_the_txt_record() -> None:
    assert txt_name("example.com") == "_signalement.example.com"
    assert txt_proves(["v=spf1 -all", " signalement-claim=abc "], "abc")
    assert not txt_proves(["signalement-claim=abcd"], "abc")  # another claim's token
    assert not txt_proves(["abc"], "abc")  # the bare token, without its prefix
    assert not txt_proves([], "abc")


def ref(claim_id: int, org: int, kind: ClaimKind, value: str, state: ClaimState = ClaimState.VERIFIED) -> ClaimRef:
    return ClaimRef(claim_id, org, kind, value, state)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((K.IP_RANGE, "192.0.2.0/24"), (K.IP_RANGE, "192.0.2.128/25"), True),  # nested
        ((K.IP_RANGE, "192.0.2.0/25"), (K.IP_RANGE, "192.0.2.128/25"), False),  # adjacent
        ((K.IP_RANGE, "192.0.2.0/24"), (K.RELAY_NETWORK, "192.0.2.16/28"), True),  # one family of networks
        ((K.IP_RANGE, "2001:db8::/32"), (K.IP_RANGE, "2001:db8:1::/48"), True),
        ((K.IP_RANGE, "192.0.2.0/24"), (K.IP_RANGE, "::ffff:c000:200/120"), False),  # IPv4 and IPv6 never
        ((K.DOMAIN, "example.com"), (K.DOMAIN, "mail.example.com"), True),  # a parent and its child
        ((K.DOMAIN, "a.example.com"), (K.DOMAIN, "b.example.com"), False),  # siblings
        ((K.DOMAIN, "example.com"), (K.DOMAIN, "notexample.com"), False),  # label-wise, not by string suffix
        ((K.LIST_ID, "news.example.com"), (K.LIST_ID, "news.example.com"), True),
        ((K.LIST_ID, "news.example.com"), (K.LIST_ID, "a.news.example.com"), False),  # List-Ids match exactly
        ((K.FEEDBACK_ID, "sender"), (K.AUTHSERV_ID, "sender"), False),  # different kinds
        ((K.DOMAIN, "example.com"), (K.LIST_ID, "example.com"), False),
    ],
)
def test_overlap(a: tuple[ClaimKind, str], b: tuple[ClaimKind, str], expected: bool) -> None:
    first, second = ref(1, 1, *a), ref(2, 2, *b)
    assert overlap(first, second) is expected
    assert overlap(second, first) is expected


def test_a_claim_does_not_overlap_itself() -> None:
    claim = ref(1, 1, K.DOMAIN, "example.com")
    assert not overlap(claim, claim)


def test_conflicts_are_other_organizations_live_claims() -> None:
    mine = ref(1, 1, K.IP_RANGE, "192.0.2.0/24", ClaimState.PENDING)
    others = [
        ref(2, 1, K.IP_RANGE, "192.0.2.0/25"),  # the same organization: no conflict
        ref(3, 2, K.IP_RANGE, "192.0.2.0/26", ClaimState.PENDING),
        ref(4, 3, K.RELAY_NETWORK, "192.0.2.64/26"),
        ref(5, 4, K.IP_RANGE, "192.0.2.128/25", ClaimState.REVOKED),  # no longer live
        ref(6, 5, K.IP_RANGE, "192.0.2.0/24", ClaimState.REJECTED),
        ref(7, 6, K.IP_RANGE, "198.51.100.0/24"),  # elsewhere
    ]
    assert [c.id for c in conflicts(mine, others)] == [3, 4]
