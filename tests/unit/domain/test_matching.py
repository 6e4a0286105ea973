"""Matching reports to verified claims: authenticated identities match, the rest only counts as unverified."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address
from pathlib import Path
from typing import Any

import pytest

from signalement.domain.claims import ClaimKind
from signalement.domain.matching import ClaimIndex, Identities, Identity, Match, identities_from_facts
from signalement.verdict.analysis import analyze_message

K = ClaimKind
FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"


def summary(matches: list[Match[int]]) -> set[tuple[int, str, str, bool]]:
    return {(m.key, m.value, m.identity.value, m.authenticated) for m in matches}


def index(*claims: tuple[int, ClaimKind, str]) -> ClaimIndex[int]:
    return ClaimIndex(claims)


# --- IP ranges ---


def test_nested_ranges_all_match_the_most_specific_first() -> None:
    claims = index(
        (1, K.IP_RANGE, "198.51.0.0/16"), (2, K.IP_RANGE, "198.51.100.0/24"), (3, K.IP_RANGE, "198.51.100.7/32")
    )
    matches = claims.match(Identities(origin_ip=IPv4Address("198.51.100.7")))
    assert [m.key for m in matches] == [3, 2, 1]
    assert all(m.identity is Identity.ORIGIN_IP and m.authenticated and m.found == "198.51.100.7" for m in matches)
    assert [m.key for m in claims.match(Identities(origin_ip=IPv4Address("198.51.100.8")))] == [2, 1]
    assert claims.match(Identities(origin_ip=IPv4Address("198.52.0.1"))) == []
    assert claims.prefix_lengths == (3, 0)


def test_ipv6_ranges_and_families_kept_apart() -> None:
    claims = index(
        (1, K.IP_RANGE, "2001:db8::/32"), (2, K.IP_RANGE, "2001:db8:1::/48"), (3, K.IP_RANGE, "32.1.13.0/24")
    )
    assert summary(claims.match(Identities(origin_ip=IPv6Address("2001:db8:1::25")))) == {
        (1, "2001:db8::/32", "origin_ip", True),
        (2, "2001:db8:1::/48", "origin_ip", True),
    }
    assert [m.key for m in claims.match(Identities(origin_ip=IPv6Address("2001:db8:2::25")))] == [1]
    # 32.1.13.x is the first 24 bits of 2001:0db8: an IPv4 range never matches an IPv6 address, nor the reverse
    assert claims.match(Identities(origin_ip=IPv4Address("32.1.13.184"))) == [
        Match(3, K.IP_RANGE, "32.1.13.0/24", Identity.ORIGIN_IP, "32.1.13.184", True)
    ]
    assert claims.match(Identities(origin_ip=IPv6Address("2001:db9::1"))) == []


def test_an_ipv4_mapped_address_is_looked_up_as_ipv4() -> None:
    facts = {"origin": {"ip": "::ffff:192.0.2.25", "trusted_by": "registry:gmail"}}
    who = identities_from_facts(facts)
    assert who.origin_ip == IPv4Address("192.0.2.25")
    claims = index((1, K.IP_RANGE, "192.0.2.0/24"), (2, K.IP_RANGE, "::ffff:192.0.2.0/120"))  # a mapped range too
    assert summary(claims.match(who)) == {
        (1, "192.0.2.0/24", "origin_ip", True),
        (2, "::ffff:192.0.2.0/120", "origin_ip", True),
    }
    assert claims.prefix_lengths == (1, 0)


@pytest.mark.parametrize(
    "origin",
    [
        {"ip": "192.0.2.25", "trusted_by": None, "untrusted_reason": "unknown receiving system"},
        {"ip": "192.0.2.25"},
        {"ip": None, "trusted_by": "recipient"},
        {"ip": "not an address", "trusted_by": "recipient"},
    ],
)
def test_an_origin_not_from_a_trusted_chain_matches_nothing(origin: dict[str, Any]) -> None:
    who = identities_from_facts({"origin": origin})
    assert who.origin_ip is None and who.origin_trusted_by is None
    assert index((1, K.IP_RANGE, "192.0.2.0/24")).match(who) == []


@pytest.mark.parametrize("text", ["256.1.1.1", "01.2.3.4", "\u0661.2.3.4", "1.2.3", "192.0.2.1 ", "[192.0.2.1]"])
def test_origin_addresses_are_read_strictly(text: str) -> None:
    ip = identities_from_facts({"origin": {"ip": text, "trusted_by": "recipient"}}).origin_ip
    assert ip == (IPv4Address("192.0.2.1") if "192.0.2.1" in text else None)


def test_the_trusting_party_is_kept_for_the_caller() -> None:
    who = identities_from_facts({"origin": {"ip": "192.0.2.25", "trusted_by": "recipient"}})
    assert who.origin_ip == ip_address("192.0.2.25") and who.origin_trusted_by == "recipient"


# --- domains ---

DOMAINS = index((1, K.DOMAIN, "example.com"), (2, K.DOMAIN, "mail.example.com"), (3, K.DOMAIN, "other.example"))


def test_a_passing_dkim_domain_matches_its_claim_and_the_claims_above_it() -> None:
    assert summary(DOMAINS.match(Identities(dkim_pass_domains=("bounce.mail.example.com",)))) == {
        (1, "example.com", "dkim", True),
        (2, "mail.example.com", "dkim", True),
    }
    assert summary(DOMAINS.match(Identities(dkim_pass_domains=("example.com",)))) == {(1, "example.com", "dkim", True)}
    # label-wise: a name ending with the same letters is another domain
    assert DOMAINS.match(Identities(dkim_pass_domains=("notexample.com", "example.com.evil.test"))) == []


def test_the_spf_passing_mail_from_domain_is_authenticated() -> None:
    matches = DOMAINS.match(Identities(spf_pass_domain="bounces.example.com", return_path_domain="bounces.example.com"))
    assert summary(matches) == {(1, "example.com", "spf", True)}
    assert matches[0].found == "bounces.example.com"


def test_a_forged_dkim_domain_whose_signature_fails_is_only_unverified() -> None:
    facts = {
        "origin": {"ip": "203.0.113.9", "trusted_by": "registry:gmail"},
        "authentication": {
            "trusted_by": "registry:gmail",
            "dkim": [{"result": "fail", "domain": "mail.example.com", "headers": ["from", "feedback-id"]}],
            "signatures": [{"domain": "mail.example.com", "headers": ["from", "feedback-id"]}],
        },
        "sender": {"from_domain": "mail.example.com", "feedback_id": {"sender_id": "example"}},
    }
    who = identities_from_facts(facts)
    assert who.dkim_pass_domains == () and who.unverified_dkim_domains == ("mail.example.com",)
    assert who.feedback_id_signers == ()
    assert summary(DOMAINS.match(who)) == {
        (1, "example.com", "signature", False),
        (2, "mail.example.com", "signature", False),
    }


def test_a_from_domain_alone_is_unverified() -> None:
    assert summary(DOMAINS.match(Identities(from_domain="example.com"))) == {(1, "example.com", "from", False)}


def test_a_return_path_without_spf_pass_is_unverified() -> None:
    facts = {
        "origin": {"ip": "203.0.113.9", "trusted_by": "registry:gmail"},
        "authentication": {"trusted_by": "registry:gmail", "spf": {"result": "softfail", "domain": "example.com"}},
        "sender": {"return_path_domain": "example.com"},
    }
    who = identities_from_facts(facts)
    assert who.spf_pass_domain is None
    assert summary(DOMAINS.match(who)) == {(1, "example.com", "return_path", False)}


def test_spf_results_count_only_from_the_trusted_part_of_the_message() -> None:
    untrusted = {"trusted_by": None, "spf": {"result": "pass", "domain": "example.com"}}  # no trusted block
    assert identities_from_facts({"authentication": untrusted}).spf_pass_domain is None
    # Received-SPF is read above the origin's hop: it counts when the chain to the origin is trusted
    received_spf = {"trusted_by": None, "spf": {"result": "pass", "domain": "example.com", "source": "received-spf"}}
    trusted_origin = {"ip": "203.0.113.9", "trusted_by": "registry:gmail"}
    assert identities_from_facts({"authentication": received_spf, "origin": trusted_origin}).spf_pass_domain == (
        "example.com"
    )
    assert identities_from_facts({"authentication": received_spf, "origin": {"ip": None}}).spf_pass_domain is None


def test_an_authenticated_identity_wins_over_an_unverified_one() -> None:
    who = Identities(from_domain="example.com", dkim_pass_domains=("example.com",), return_path_domain="example.com")
    assert summary(DOMAINS.match(who)) == {(1, "example.com", "dkim", True)}
    who = Identities(
        from_domain="example.com", unverified_dkim_domains=("x.example.com",), spf_pass_domain="example.com"
    )
    assert summary(DOMAINS.match(who)) == {(1, "example.com", "spf", True)}


def test_domains_are_case_insensitive_and_in_punycode() -> None:
    claims = index((1, K.DOMAIN, "Bücher.DE."), (2, K.DOMAIN, "EXAMPLE.com"))
    assert [m.key for m in claims.match(Identities(dkim_pass_domains=("news.xn--bcher-kva.de",)))] == [1]
    facts = {"authentication": {"trusted_by": "member", "dkim": [{"result": "pass", "domain": "News.BÜCHER.de"}]}}
    assert identities_from_facts(facts).dkim_pass_domains == ("news.xn--bcher-kva.de",)
    assert [m.key for m in claims.match(identities_from_facts(facts))] == [1]
    assert [m.key for m in claims.match(identities_from_facts({"sender": {"from_domain": "Example.COM."}}))] == [2]


def test_every_key_of_a_shared_claim_matches_once() -> None:
    claims = index((1, K.DOMAIN, "example.com"), (2, K.DOMAIN, "example.com"), (1, K.IP_RANGE, "192.0.2.0/24"))
    who = Identities(origin_ip=IPv4Address("192.0.2.1"), dkim_pass_domains=("a.example.com", "b.example.com"))
    assert summary(claims.match(who)) == {
        (1, "192.0.2.0/24", "origin_ip", True),
        (1, "example.com", "dkim", True),
        (2, "example.com", "dkim", True),
    }


# --- Feedback-ID and List-Id ---

HEADERS = index((1, K.FEEDBACK_ID, "Sender-42"), (2, K.LIST_ID, "<News.Example.COM>"))


def test_a_feedback_id_and_a_list_id_inside_a_passing_signature_are_authenticated() -> None:
    facts = {
        "authentication": {
            "trusted_by": "registry:gmail",
            "dkim": [{"result": "pass", "domain": "esp.example", "headers": ["from", "Feedback-ID", "list-id"]}],
        },
        "sender": {
            "feedback_id": {"fields": ["a", "b", "Sender-42"], "sender_id": "Sender-42"},
            "list_id": "News <news.example.com>",
        },
    }
    who = identities_from_facts(facts)
    assert who.feedback_ids == ("Sender-42",) and who.list_ids == ("news.example.com",)
    matches = HEADERS.match(who)
    assert summary(matches) == {(1, "Sender-42", "feedback_id", True), (2, "<News.Example.COM>", "list_id", True)}
    assert all(m.signed_by == ("esp.example",) for m in matches)


def test_a_feedback_id_outside_the_signed_headers_is_unverified() -> None:
    facts = {
        "authentication": {
            "trusted_by": "registry:gmail",
            "dkim": [{"result": "pass", "domain": "esp.example", "headers": ["from", "list-id"]}],
        },
        "sender": {"feedback_id": {"sender_id": "Sender-42"}, "list_id": "<news.example.com>"},
    }
    assert summary(HEADERS.match(identities_from_facts(facts))) == {
        (1, "Sender-42", "feedback_id", False),
        (2, "<News.Example.COM>", "list_id", True),
    }


def test_a_header_covered_by_a_failing_signature_is_unverified() -> None:
    who = Identities(feedback_ids=("Sender-42",), list_ids=("news.example.com",))  # no passing signature covers them
    assert {m.authenticated for m in HEADERS.match(who)} == {False} and len(HEADERS.match(who)) == 2


def test_a_sender_id_keeps_its_case() -> None:
    assert HEADERS.match(Identities(feedback_ids=("sender-42",), feedback_id_signers=("esp.example",))) == []


# --- the platform's own DKIM verification ---


def test_verified_signatures_with_their_headers() -> None:
    facts = {
        "authentication": {
            "trusted_by": None,
            "verified_dkim": [{"domain": "esp.example", "selector": "s1", "headers": ["from", "feedback-id"]}],
            "signatures": [{"domain": "esp.example", "headers": ["from", "feedback-id"]}],
        },
        "sender": {"feedback_id": {"sender_id": "Sender-42"}},
    }
    who = identities_from_facts(facts)
    assert who.dkim_pass_domains == ("esp.example",) and who.unverified_dkim_domains == ()
    assert who.feedback_id_signers == ("esp.example",)


def test_verified_domains_alone_cover_only_what_every_signature_of_that_domain_covers() -> None:
    facts = {
        "authentication": {
            "verified_dkim": ["esp.example"],
            "signatures": [
                {"domain": "esp.example", "headers": ["from", "feedback-id", "list-id"]},
                {"domain": "esp.example", "headers": ["from", "list-id"]},  # which one passed is not known
                {"domain": "other.example", "headers": ["feedback-id"]},
            ],
        },
    }
    who = identities_from_facts(facts)
    assert who.dkim_pass_domains == ("esp.example",) and who.unverified_dkim_domains == ("other.example",)
    assert who.list_id_signers == ("esp.example",) and who.feedback_id_signers == ()


# --- the index ---


def test_kinds_that_identify_no_sender_are_refused() -> None:
    with pytest.raises(ValueError, match="identifies no sender"):
        index((1, K.RELAY_NETWORK, "192.0.2.0/24"))
    with pytest.raises(ValueError, match="not a prefix length"):
        index((1, K.IP_RANGE, "192.0.2.0/33"))
    with pytest.raises(ValueError, match="does not appear to be"):
        index((1, K.IP_RANGE, "192.0.2/24"))


def test_kinds_given_as_strings_and_host_bits_ignored() -> None:
    claims = ClaimIndex([("a", "ip_range", "192.0.2.7/24"), ("b", "domain", "example.com")])
    assert claims.size == 2
    assert [m.key for m in claims.match(Identities(origin_ip=IPv4Address("192.0.2.200")))] == ["a"]


def test_an_empty_index_and_empty_facts() -> None:
    assert identities_from_facts({}) == Identities()
    junk: dict[str, Any] = {"origin": [], "authentication": {"dkim": "pass", "signatures": [None]}, "sender": 3}
    assert identities_from_facts(junk) == Identities()
    assert ClaimIndex[int]([]).match(Identities(origin_ip=IPv4Address("192.0.2.1"), from_domain="example.com")) == []


# --- real analysis documents ---


def analyse(name: str, *prepend: str) -> dict[str, Any]:
    raw = (FIXTURES / name).read_bytes()
    if prepend:
        raw = ("\r\n".join(prepend) + "\r\n").encode() + raw
    return analyze_message(raw)


def test_gmail_results_authenticate_the_dkim_domain_the_mail_from_and_the_origin() -> None:
    who = identities_from_facts(analyse("ham-gmail-secureserver-authres-srs.eml"))
    assert who.origin_ip == IPv4Address("123.123.123.123") and who.origin_trusted_by == "registry:gmail"
    assert who.dkim_pass_domains == ("yahoo.com",) and who.spf_pass_domain == "bounce.secureserver.net"
    claims = index(
        (1, K.DOMAIN, "yahoo.com"),
        (2, K.DOMAIN, "secureserver.net"),
        (3, K.IP_RANGE, "123.123.0.0/16"),
        (4, K.DOMAIN, "mail.yahoo.com"),  # under the signer: not matched
    )
    assert summary(claims.match(who)) == {
        (1, "yahoo.com", "dkim", True),
        (2, "secureserver.net", "spf", True),
        (3, "123.123.0.0/16", "origin_ip", True),
    }


def test_received_spf_above_a_trusted_origin_and_an_unverified_signature() -> None:
    who = identities_from_facts(analyse("arf-hotmail-auth-failure-via-google-groups.eml"))
    assert who.origin_trusted_by == "registry:gmail" and who.spf_pass_domain == "hotmail.com"
    claims = index((1, K.DOMAIN, "hotmail.com"), (2, K.DOMAIN, "sendgrid.com"), (3, K.LIST_ID, "dmarc.sendgrid.com"))
    assert summary(claims.match(who)) == {
        (1, "hotmail.com", "spf", True),
        (2, "sendgrid.com", "signature", False),
        (3, "dmarc.sendgrid.com", "list_id", False),
    }


def test_a_spoof_with_forged_results_yields_only_unverified_matches() -> None:
    facts = analyse("phishing-bbva-mx-spoof-replyto-authres.eml")
    who = identities_from_facts(facts)
    assert who.origin_ip is None and who.dkim_pass_domains == () and who.spf_pass_domain is None
    claims = index((1, K.DOMAIN, "bbva.mx"), (2, K.DOMAIN, "ovh.net"))
    assert summary(claims.match(who)) == {(1, "bbva.mx", "from", False), (2, "ovh.net", "return_path", False)}


MAILCHIMP = "ham-newsletter-mailchimp-dkim.eml"  # signed by mail90.suw15.mcsv.net, h= covers List-Id, not Feedback-ID
MAILCHIMP_CLAIMS = (
    (1, K.DOMAIN, "mcsv.net"),
    (2, K.LIST_ID, "3f21937f0f636c8cec1db30bf.140953.list-id.mcsv.net"),
    (3, K.FEEDBACK_ID, "mc"),
)
GMAIL_BORDER = (
    "Received: from mail90.suw15.mcsv.net (mail90.suw15.mcsv.net. [205.201.131.90]) by mx.google.com with ESMTPS id"
    " x1si2 for <someone@gmail.com>; Wed, 29 Aug 2018 13:26:51 -0700 (PDT)"
)


def test_an_unverified_signature_leaves_the_list_id_and_the_feedback_id_unverified() -> None:
    who = identities_from_facts(analyse(MAILCHIMP))
    assert who.feedback_ids == ("mc",) and who.list_ids == ("3f21937f0f636c8cec1db30bf.140953.list-id.mcsv.net",)
    assert {(m.key, m.authenticated) for m in index(*MAILCHIMP_CLAIMS).match(who)} == {
        (1, False),
        (2, False),
        (3, False),
    }


def test_a_trusted_dkim_pass_authenticates_the_list_id_it_signs_not_the_feedback_id() -> None:
    facts = analyse(
        MAILCHIMP,
        GMAIL_BORDER,
        "Authentication-Results: mx.google.com; dkim=pass header.i=@mail90.suw15.mcsv.net header.s=k1 header.b=AbCd;"
        " spf=pass (google.com: domain of bounce@mail90.suw15.mcsv.net designates 205.201.131.90 as permitted sender)"
        " smtp.mailfrom=bounce-mc.us14_65794145.395229@mail90.suw15.mcsv.net",
    )
    who = identities_from_facts(facts)
    assert who.origin_ip == IPv4Address("205.201.131.90") and who.origin_trusted_by == "registry:gmail"
    assert who.dkim_pass_domains == ("mail90.suw15.mcsv.net",) and who.list_id_signers == ("mail90.suw15.mcsv.net",)
    matches = {m.key: m for m in index(*MAILCHIMP_CLAIMS, (4, K.IP_RANGE, "205.201.128.0/20")).match(who)}
    assert (matches[1].identity, matches[1].authenticated) == (Identity.DKIM, True)
    assert (matches[2].identity, matches[2].authenticated, matches[2].signed_by) == (
        Identity.LIST_ID,
        True,
        ("mail90.suw15.mcsv.net",),
    )
    assert (matches[3].identity, matches[3].authenticated) == (Identity.FEEDBACK_ID, False)
    assert matches[4].authenticated


def test_trusted_results_saying_the_signature_failed_leave_the_domain_unverified() -> None:
    facts = analyse(
        MAILCHIMP,
        GMAIL_BORDER,
        "Authentication-Results: mx.google.com; dkim=fail header.i=@mail90.suw15.mcsv.net header.s=k1;"
        " spf=fail smtp.mailfrom=bounce@mail90.suw15.mcsv.net",
    )
    who = identities_from_facts(facts)
    assert who.dkim_pass_domains == () and who.spf_pass_domain is None and who.list_id_signers == ()
    assert {(m.key, m.identity, m.authenticated) for m in index(*MAILCHIMP_CLAIMS).match(who)} == {
        (1, Identity.SIGNATURE, False),
        (2, Identity.LIST_ID, False),
        (3, Identity.FEEDBACK_ID, False),
    }
