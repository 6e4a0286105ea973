"""What the analysis finds in real messages (tests/fixtures/mail, provenance in tests/fixtures/README.md)."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import pytest

from signalement.mail.understanding import understand

FIXTURES = Path(__file__).parents[2] / "fixtures" / "mail"


@cache
def analysed(name: str) -> dict[str, Any]:
    return understand((FIXTURES / name).read_bytes()).as_json()


@pytest.mark.parametrize(
    ("name", "ip", "trusted_by"),
    [
        ("arf-hotmail-auth-failure-via-google-groups.eml", "65.54.190.97", "registry:gmail"),
        ("ham-gmail-secureserver-authres-srs.eml", "123.123.123.123", "registry:gmail"),
        ("spam-dmarc-reject-spoof-gmail-ipv6.eml", "2409:4063:231e:c527:1997:664a:34e5:7d88", "registry:gmail"),
        ("malformed-mailru-yandex-raw-cp1251-subject-split-headers.eml", "217.69.138.184", "registry:yandex"),
    ],
)
def test_origin_behind_a_known_provider(name: str, ip: str, trusted_by: str) -> None:
    origin = analysed(name)["origin"]
    assert (origin["ip"], origin["trusted_by"]) == (ip, trusted_by)


@pytest.mark.parametrize(
    "name",
    ["spam-loan-fraud-bogus-charset-no-received.eml", "spam-2001-long-received-chain-exchange-relay.eml"],
)
def test_an_untrustworthy_chain_says_why_instead_of_guessing(name: str) -> None:
    origin = analysed(name)["origin"]
    assert origin["ip"] is None
    assert origin["untrusted_reason"]


def test_authentication_results_of_a_trusted_receiver() -> None:
    auth = analysed("ham-gmail-secureserver-authres-srs.eml")["authentication"]
    assert auth["trusted_by"] == "registry:gmail"
    assert auth["spf"]["result"] == "pass"
    assert [d["result"] for d in auth["dkim"]] == ["pass"]


def test_a_zip_that_hides_an_executable_is_flagged() -> None:
    (attachment,) = analysed("phishing-ru-tax-lure-zip-malspam.eml")["attachments"]
    assert attachment["sniffed_type"] == "application/zip"
    assert {"archive", "executable-in-archive"} <= set(attachment["flags"])
    assert len(attachment["sha256"]) == 64


def test_phone_numbers_in_a_utf16_body() -> None:
    phones = [p["e164"] for p in analysed("spam-utf16-charset-phone-numbers.eml")["phones"]]
    assert phones[:2] == ["+8675536939432", "+8675526439884"]


def test_a_wrong_charset_is_read_and_said() -> None:
    assert "WrongCharset" in analysed("malformed-cp1251-bytes-declared-us-ascii.eml")["defects"]


def test_every_link_of_a_spam_newsletter_has_a_registered_domain() -> None:
    found = analysed("spam-html-moneytrack-top.eml")["urls"]
    assert len(found) >= 20
    assert all(u["registered_domain"] and u["canonical"].startswith("http") for u in found)


def test_reply_to_elsewhere_is_noticed() -> None:
    assert "reply-to-domain-differs" in analysed("phishing-bbva-mx-spoof-replyto-authres.eml")["sender"]["flags"]
