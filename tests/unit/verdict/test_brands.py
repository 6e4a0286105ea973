"""The shipped brand registry is well formed: every check here is one a wrong entry would fail."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter

import pytest

from signalement.mail.domains import registered_domain
from signalement.verdict.brands import SECTORS, Brand, load, registry

NAME = re.compile(r"^[a-z0-9]+(?:[ '&+.-][a-z0-9]+)*$")


def test_at_least_150_brands_worldwide_and_french() -> None:
    brands = registry().brands
    assert len(brands) >= 150
    assert sum("fr" in b.countries for b in brands) >= 50
    assert {b.sector for b in brands} >= {"bank", "payment", "delivery", "telecom", "public", "health", "webmail"}


def test_ids_are_unique_slugs() -> None:
    ids = Counter(b.id for b in registry().brands)
    assert [i for i, n in ids.items() if n > 1] == []
    assert all(re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)*", i) for i in ids)


@pytest.mark.parametrize("brand", registry().brands, ids=lambda b: b.id)
def test_brand_entry(brand: Brand) -> None:
    assert brand.sector in SECTORS
    assert brand.domains, "a brand needs at least one official domain"
    for domain in (*brand.domains, *brand.sending_domains):
        assert registered_domain(domain) == domain, f"{domain} is not a registered domain"
    assert brand.names or brand.ambiguous_names
    for name in (*brand.names, *brand.ambiguous_names):
        folded = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        assert name == folded.lower() and NAME.match(name), f"{name!r}: lower case, accent-free, words"
    assert all(re.fullmatch(r"[a-z0-9-]+", label) for label in brand.labels)


def test_no_domain_belongs_to_two_brands() -> None:
    owners = Counter(d for b in registry().brands for d in {*b.domains, *b.sending_domains})
    assert [d for d, n in owners.items() if n > 1] == []


def test_owner_of_a_host() -> None:
    assert registry().owner("www.paypal.com") is registry().by_id["paypal"]
    assert registry().owner("paypal.com.secure-login.example") is None


def test_a_bad_entry_is_refused() -> None:
    with pytest.raises(ValueError, match="domains must be a list"):
        load(['[[brand]]\nid = "x"\nname = "X"\nsector = "bank"\ndomains = "x.com"\n'])
