"""How much of a confirmed URL is listed: a shared platform never whole, a lookalike domain whole, a lookalike host
alone, a kit's directory on a compromised site, otherwise the URL."""

from __future__ import annotations

import pytest

from signalement.domain.url_reputation import Level
from signalement.verdict.listing import listing


@pytest.mark.parametrize(
    ("url", "siblings", "level", "listed"),
    [
        # a domain bought to phish (it imitates a brand): the whole domain
        ("https://secure.paypa1-login.com/signin", [], Level.DOMAIN, "paypa1-login.com"),
        # a host imitating a brand under an ordinary domain: the host only
        ("https://paypal.com.account-check.example-shop.fr/x", [], Level.HOST,
         "paypal.com.account-check.example-shop.fr"),
        # shared platforms: never whole, even when the customer's name imitates a brand
        ("https://paypal-secure.github.io/login.html", [], Level.URL, "https://paypal-secure.github.io/login.html"),
        ("https://bit.ly/3xYz", [], Level.URL, "https://bit.ly/3xYz"),
        ("https://docs.google.com/forms/d/e/1FAIpQ/viewform", [], Level.URL,
         "https://docs.google.com/forms/d/e/1FAIpQ/viewform"),
        ("http://203.0.113.9/paypal/login.php", [], Level.URL, "http://203.0.113.9/paypal/login.php"),
        # a kit on a compromised site: its directory, not the site
        ("https://www.bakery-example.fr/wp-content/kit/login.php",
         ["https://www.bakery-example.fr/wp-content/kit/pay.php"], Level.PREFIX,
         "https://www.bakery-example.fr/wp-content/kit/"),
        # ... and on a shared platform too: the directory, never the platform
        ("https://site.web.app/kit/a.html", ["https://site.web.app/kit/b.html"], Level.PREFIX,
         "https://site.web.app/kit/"),
        # one URL of an ordinary site: the URL
        ("https://www.bakery-example.fr/wp-content/kit/login.php", [], Level.URL,
         "https://www.bakery-example.fr/wp-content/kit/login.php"),
        # two URLs at a site's root make no kit directory: each URL
        ("https://www.bakery-example.fr/a.php", ["https://www.bakery-example.fr/b.php"], Level.URL,
         "https://www.bakery-example.fr/a.php"),
    ],
)  # fmt: skip
def test_the_level_follows_the_evidence(url: str, siblings: list[str], level: Level, listed: str) -> None:
    found = listing(url, siblings)
    assert (found.level, found.listed) == (level, listed), found.why
