"""Which of the platform's addresses a recipient is, from its text alone."""

from __future__ import annotations

import pytest

from signalement.domain.reports import ReportedCategory
from signalement.smtp.addresses import Addresses, Recipient, RecipientKind

ADDRESSES = Addresses.of(["Reports.Example."], trap_domains=["traps.example"])


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("report@reports.example", Recipient(RecipientKind.REPORT)),
        ("Phishing@REPORTS.example.", Recipient(RecipientKind.REPORT, category=ReportedCategory.PHISHING)),
        ("report+abcd1234@reports.example", Recipient(RecipientKind.REPORTER, secret="abcd1234")),
        ("fbl+Feed0123456789@reports.example", Recipient(RecipientKind.FEED, secret="feed0123456789")),
        ("trap+trapsecret000000@reports.example", Recipient(RecipientKind.TRAP, secret="trapsecret000000")),
        ("anyone.at.all@Traps.Example", Recipient(RecipientKind.TRAP_DOMAIN, secret="traps.example")),
    ],
)
def test_known_addresses(address: str, expected: Recipient) -> None:
    assert ADDRESSES.recipient(address) == expected


@pytest.mark.parametrize(
    "address",
    [
        "postmaster@reports.example",  # not one of the report names
        "report+short@reports.example",  # a secret too short to be one
        "report+not-alnum-secret@reports.example",
        "report@elsewhere.example",
        "@traps.example",  # no local part
        "trap+trapsecret000000@traps.example.org",  # a domain that only ends like a trap domain
        "no-at-sign",
    ],
)
def test_unknown_addresses(address: str) -> None:
    assert ADDRESSES.recipient(address) is None
