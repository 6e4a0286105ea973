"""The shipped domain lists and lure lexicon are well formed, and kind_of() finds the most specific listed suffix."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from importlib.resources import files

import pytest

from signalement.mail.domains import normalize_host, public_suffix
from signalement.verdict.domain_lists import KINDS, description, domains, kind_of, parse

LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")

SIGNALS = {
    *("credential-lure", "account-threat", "urgency", "payment-lure", "delivery-lure", "mailbox-lure"),
    *("document-lure", "prize-lure", "advance-fee", "sextortion", "investment-scam", "job-scam", "tech-support"),
    *("malware-lure", "pharma-spam", "adult-spam", "finance-spam", "gambling", "replica", "seo-spam", "marketing"),
    *("legal-threat", "grant-lure", "favour-request"),
}


@pytest.mark.parametrize(
    ("host", "kind"),
    [
        ("bit.ly", "shortener"),
        ("t.co", "shortener"),
        ("urlz.fr", "shortener"),
        ("foo.web.app", "hosting"),
        ("phish-login.pages.dev", "hosting"),
        ("a.b.ngrok-free.app", "hosting"),
        ("mybucket.s3.eu-west-3.amazonaws.com", "hosting"),
        ("docs.google.com", "file_sharing"),
        ("contoso-my.sharepoint.com", "file_sharing"),
        ("onedrive.live.com", "file_sharing"),  # more specific than live.com, a free mailbox
        ("dl.free.fr", "file_sharing"),  # more specific than free.fr
        ("gmail.com", "freemail"),
        ("hotmail.fr", "freemail"),
        ("yahoo.co.uk", "freemail"),
        ("laposte.net", "freemail"),
        ("zohomail.eu", "freemail"),
        ("bounce.sendgrid.net", "esp"),
        ("us5.list-manage.com", "esp"),
        ("a1-23.smtp-out.amazonses.com", "esp"),
    ],
)
def test_kind_of_a_listed_host_or_a_host_under_one(host: str, kind: str) -> None:
    assert kind_of(host) == kind


@pytest.mark.parametrize(
    "host", ["mail.google.com", "google.com", "example.com", "app.web", "notweb.app.example.org", "1.2.3.4", "", "com"]
)
def test_an_unlisted_host_has_no_kind(host: str) -> None:
    assert kind_of(host) is None


def test_kind_of_normalizes_the_host() -> None:
    assert kind_of("Docs.Google.COM.") == "file_sharing"
    assert kind_of(" BIT.LY ") == "shortener"


def test_every_kind_is_described_and_populated() -> None:
    for kind in KINDS:
        assert description(kind)
        assert len(domains(kind)) >= 30, kind
    with pytest.raises(KeyError):
        domains("nope")


def test_no_entry_in_two_kinds() -> None:
    seen: dict[str, str] = {}
    for kind in KINDS:
        for entry in domains(kind):
            assert entry not in seen, f"{entry} is {seen.get(entry)} and {kind}"
            seen[entry] = kind


@pytest.mark.parametrize("kind", KINDS)
def test_every_entry_is_a_normalized_host_name(kind: str) -> None:
    for entry in domains(kind):
        assert normalize_host(entry) == entry, entry
        labels = entry.split(".")
        assert len(labels) >= 2 and all(LABEL.fullmatch(label) for label in labels), entry
        assert public_suffix(entry) is not None, f"{entry} is under no known public suffix"


def test_a_bad_file_is_refused() -> None:
    tables = "".join(f'[kind.{k}]\ndescription = "d"\ndomains = ["{k}.example.com"]\n' for k in KINDS)
    assert parse(tables).kind_of("x.esp.example.com") == "esp"
    with pytest.raises(ValueError, match="listed as shortener and as hosting"):
        parse(tables.replace("hosting.example.com", "shortener.example.com"))
    with pytest.raises(ValueError, match="kinds must be exactly"):
        parse(tables.replace("[kind.esp]", "[kind.other]"))
    with pytest.raises(ValueError, match="domains must be a list"):
        parse(tables.replace('["esp.example.com"]', '"esp.example.com"'))


# The lure lexicon (lexicon.toml)


def normalized(text: str) -> str:
    """The matcher's normalization: accents dropped, lower case, every run of other characters than a-z0-9 a space."""
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return " ".join(re.findall(r"[a-z0-9]+", folded))


def lexicon() -> dict[str, dict[str, object]]:
    text = files("signalement.verdict").joinpath("lexicon.toml").read_text(encoding="utf-8")
    signals: dict[str, dict[str, object]] = tomllib.loads(text)["signal"]
    return signals


def test_lexicon_has_exactly_the_signals() -> None:
    assert set(lexicon()) == SIGNALS


@pytest.mark.parametrize("signal", sorted(SIGNALS))
def test_lexicon_signal_is_described_with_normalized_distinct_phrases(signal: str) -> None:
    table = lexicon()[signal]
    assert isinstance(table["description"], str) and table["description"]
    phrases = table["phrases"]
    assert isinstance(phrases, list) and len(phrases) >= 30
    assert all(isinstance(p, str) and p and normalized(p) == p for p in phrases), [
        p for p in phrases if normalized(p) != p
    ]
    assert len(set(phrases)) == len(phrases), sorted({p for p in phrases if phrases.count(p) > 1})


def test_no_phrase_in_two_signals() -> None:
    owner: dict[str, str] = {}
    for signal, table in lexicon().items():
        for phrase in table["phrases"]:  # type: ignore[attr-defined]
            assert phrase not in owner, f"{phrase!r} is in {owner[phrase]} and {signal}"
            owner[phrase] = signal
