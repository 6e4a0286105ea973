"""RFC 9477: a CFBL-Address is used only when a passing signature covers it and is aligned with the From domain (and
with the address's own organization when it is a third party's); anything else yields no target."""

from __future__ import annotations

from typing import Any

import pytest

from signalement.feedback.cfbl import Target, cfbl_target, parse_address, redaction_key

SIGNED = ["from", "to", "subject", "message-id", "cfbl-address", "cfbl-feedback-id"]


def facts(
    address: str | None = "fbl@example.com; report=arf",
    *,
    from_domain: str = "example.com",
    feedback_id: str | None = "111:222:333:4444",
    verified: list[Any] | None = None,
    trusted: list[dict[str, Any]] | None = None,
    signatures: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """Analysis facts as the platform writes them: the platform's own DKIM checks (`verified_dkim`), or trusted
    Authentication-Results (`dkim`, read only with `trusted_by`), beside the message's DKIM-Signature fields."""
    auth: dict[str, Any] = {"signatures": signatures or [], "dkim": trusted or []}
    if verified is not None:
        auth["verified_dkim"] = verified
    if trusted is not None:
        auth["trusted_by"] = "registry:gmail"
    sender = {"from_domain": from_domain, "cfbl_address": address, "cfbl_feedback_id": feedback_id}
    return {"sender": sender, "authentication": auth}


def sig(domain: str, headers: list[str] = SIGNED) -> dict[str, Any]:
    return {"domain": domain, "selector": "news", "headers": headers}


def test_strict_alignment_gives_the_address_the_signer_and_the_feedback_id() -> None:
    assert cfbl_target(facts(verified=[sig("example.com")])) == Target(
        "fbl@example.com", "example.com", "111:222:333:4444"
    )


def test_trusted_authentication_results_count_as_passing() -> None:
    trusted = [{"result": "pass", "domain": "example.com", "headers": SIGNED}]
    assert cfbl_target(facts(trusted=trusted)) == Target("fbl@example.com", "example.com", "111:222:333:4444")
    failed = [{"result": "fail", "domain": "example.com", "headers": SIGNED}]
    assert cfbl_target(facts(trusted=failed)) is None


@pytest.mark.parametrize(
    ("address", "from_domain", "signer"),
    [
        ("fbl@mailer.example.com", "mailer.example.com", "example.com"),  # d= a parent of the From domain
        ("fbl@mailer.example.com", "example.com", "example.com"),  # the address under the From domain
        ("fbl@example.com", "news.example.com", "news.example.com"),  # d= a child: the same organization
        ("fbl@fbl.example.co.uk", "news.example.co.uk", "example.co.uk"),  # organizations per the PSL
    ],
)
def test_relaxed_alignment_on_organizational_domains(address: str, from_domain: str, signer: str) -> None:
    found = cfbl_target(facts(address, from_domain=from_domain, verified=[sig(signer)]))
    assert found == Target(address, signer, "111:222:333:4444")


def test_a_signature_that_does_not_pass_or_does_not_cover_the_field_gives_nothing() -> None:
    unverified = facts(signatures=[sig("example.com")])  # a DKIM-Signature field, not known to pass
    assert cfbl_target(unverified) is None
    uncovered = facts(verified=[sig("example.com", ["from", "to", "subject", "message-id"])])
    assert cfbl_target(uncovered) is None
    # A bare d= verified: a field counts as covered only if every signature of that d= lists it.
    both = [sig("example.com"), sig("example.com", ["from"])]
    assert cfbl_target(facts(verified=["example.com"], signatures=both)) is None
    assert cfbl_target(facts(verified=["example.com"], signatures=[sig("example.com")])) is not None


def test_a_misaligned_signer_gives_nothing() -> None:
    # The attacker signs with its own domain: not the From domain's organization.
    assert cfbl_target(facts(verified=[sig("example.org")])) is None
    assert cfbl_target(facts("fbl@example.org", verified=[sig("example.org")])) is None
    # The From domain signs, but the address is elsewhere and its owner did not sign.
    assert cfbl_target(facts("fbl@example.org", verified=[sig("example.com")])) is None
    # A private-section suffix is an organization of its own: alice.github.io is not bob.github.io.
    github = facts("fbl@bob.github.io", from_domain="alice.github.io", verified=[sig("bob.github.io")])
    assert cfbl_target(github) is None


def test_a_third_party_address_needs_both_signatures_covering_it() -> None:
    esp = "fbl@mailer.example.net"
    both = facts(esp, verified=[sig("mailer.example.net"), sig("example.com")])
    assert cfbl_target(both) == Target(esp, "mailer.example.net", "111:222:333:4444")
    # The ESP's signature alone (its customer pre-signed without the field): not accepted here.
    presigned = [sig("example.com", ["from", "to", "subject"]), sig("mailer.example.net")]
    assert cfbl_target(facts(esp, verified=presigned)) is None
    assert cfbl_target(facts(esp, verified=[sig("mailer.example.net")])) is None


def test_the_feedback_id_is_kept_only_under_the_same_signature() -> None:
    address_only = ["from", "cfbl-address"]
    found = cfbl_target(facts(verified=[sig("example.com", address_only)]))
    assert found == Target("fbl@example.com", "example.com", None)
    # Covered by another signature than the one that covers the address's organization: kept out.
    esp = "fbl@mailer.example.net"
    split = [sig("mailer.example.net", address_only), sig("example.com")]
    assert cfbl_target(facts(esp, verified=split)) == Target(esp, "mailer.example.net", None)
    # Among several aligned signatures, the one that covers both fields is the signer.
    several = [sig("example.com", address_only), sig("mail.example.com")]
    assert cfbl_target(facts(verified=several)) == Target("fbl@example.com", "mail.example.com", "111:222:333:4444")
    # Folding whitespace in the id is ignored (RFC 9477).
    folded = facts(feedback_id="3789e1ae 63f9e64a", verified=[sig("example.com")])
    assert cfbl_target(folded) == Target("fbl@example.com", "example.com", "3789e1ae63f9e64a")
    assert cfbl_target(facts(feedback_id=None, verified=[sig("example.com")])) == Target(
        "fbl@example.com", "example.com", None
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("fbl@example.com", ("fbl@example.com", "example.com")),
        ("fbl@Example.COM; report=arf", ("fbl@example.com", "example.com")),
        ("fbl@example.com;report=ARF", ("fbl@example.com", "example.com")),
        ("fbl@bücher.example.de", ("fbl@xn--bcher-kva.example.de", "xn--bcher-kva.example.de")),
        ("fbl@example.com; report=xarf", None),
        ("fbl@example.com; report=other", None),
        ("fbl@example.com; report=arf; x=y", None),
        ("fbl@example.com;", None),
        ("FBL <fbl@example.com>", None),
        ("<fbl@example.com>", None),
        ("fbl@[192.0.2.1]", None),
        ("fbl@localhost", None),
        ("fbl@example", None),
        ("example.com", None),
        ("a@b@example.com", None),
        ("", None),
        (None, None),
    ],
)
def test_the_field_is_an_addr_spec_and_only_asks_for_arf(value: str | None, expected: tuple[str, str] | None) -> None:
    assert parse_address(value) == expected


def test_report_other_or_a_bad_address_gives_no_target() -> None:
    assert cfbl_target(facts("fbl@example.com; report=other", verified=[sig("example.com")])) is None
    assert cfbl_target(facts("fbl@example.com; report=xarf", verified=[sig("example.com")])) is None
    assert cfbl_target(facts(None, verified=[sig("example.com")])) is None
    assert cfbl_target(facts(from_domain="", verified=[sig("example.com")])) is None
    assert cfbl_target({}) is None
    assert cfbl_target({"sender": "not a mapping"}) is None


def test_each_address_has_its_own_stable_redaction_key() -> None:
    key = redaction_key(b"secret", "fbl@example.com")
    assert key == redaction_key(b"secret", "FBL@example.com")  # stable: the sender counts repeat complainers
    assert key != redaction_key(b"secret", "fbl@other.example")  # two senders cannot correlate theirs
    assert key != redaction_key(b"another secret", "fbl@example.com")
    assert len(key) == 32
