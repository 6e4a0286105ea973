"""URLs in text (schemes, www., bare domains, defanged forms, punctuation) and the collector."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.urls import FoundURL, collect, is_bare_url, refang, urls_in_text


def _urls(text: str) -> list[str]:
    return [url for url, _ in urls_in_text(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("see https://example.com/a.", ["https://example.com/a"]),
        ("(see https://example.com/a).", ["https://example.com/a"]),
        ("https://example.com/a, and more", ["https://example.com/a"]),
        ("<https://example.com/a>", ["https://example.com/a"]),
        ('"https://example.com/a"', ["https://example.com/a"]),
        ("'https://example.com/a'", ["https://example.com/a"]),
        ("https://example.com/a!?", ["https://example.com/a"]),
        (
            "https://en.wikipedia.org/wiki/Bracket_(disambiguation).",
            ["https://en.wikipedia.org/wiki/Bracket_(disambiguation)"],
        ),
        (
            "(https://en.wikipedia.org/wiki/Bracket_(disambiguation))",
            ["https://en.wikipedia.org/wiki/Bracket_(disambiguation)"],
        ),
        ("[link](https://example.com/x)", ["https://example.com/x"]),
        ("[https://example.com/x]", ["https://example.com/x"]),
        ("https://example.com/a&gt;", ["https://example.com/a"]),
        ("https://example.com/?q=a=b==", ["https://example.com/?q=a=b=="]),
        ("«https://example.com/fr»", ["https://example.com/fr"]),
        ("訪問https://example.com/jp。", ["https://example.com/jp"]),
        (
            "http://[2001:db8::1]:8080/x and ftp://files.example.com/",
            ["http://[2001:db8::1]:8080/x", "ftp://files.example.com/"],
        ),
        ("HTTPS://EXAMPLE.COM/UP", ["HTTPS://EXAMPLE.COM/UP"]),
        ("http://", []),
        ("see below.https://example.com/x", ["https://example.com/x"]),
        ("(c) 2025https://example.com/unsubscribe", ["https://example.com/unsubscribe"]),
        ("sftp://files.example.com/ but ftp://ftp.example.com/", ["ftp://ftp.example.com/"]),
    ],
)
def test_scheme_urls_and_trailing_punctuation(text: str, expected: list[str]) -> None:
    assert _urls(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("go to secure-paypal.com/login now", ["secure-paypal.com/login"]),
        ("visit www.example.org!", ["www.example.org"]),
        ("www.example.co.uk/path?x=1.", ["www.example.co.uk/path?x=1"]),
        ("example.com", ["example.com"]),
        ("EXAMPLE.COM", ["EXAMPLE.COM"]),
        ("my-site.github.io/page", ["my-site.github.io/page"]),
        ("download invoice.zip/pay", ["invoice.zip/pay"]),
        ("www.files.zip", ["www.files.zip"]),
        ("https://files.zip", ["https://files.zip"]),
    ],
)
def test_bare_and_www_domains(text: str, expected: list[str]) -> None:
    assert _urls(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "invoice.pdf index.html photo.jpg archive.tar.gz setup.exe",  # unknown suffixes
        "report.zip setup.py readme.md run.sh notes.mov lib.rs",  # suffixes that are also file extensions
        "version 1.2.3, Python 3.11, v2.0.1-rc1, 10.30am, 3.14159",
        "e.g. i.e. U.S. a.m. Ph.D",
        "the office.It was late.Then we left",  # a sentence without its space
        "write to john.doe@example.com or support@secure.example.org",  # an address's domain is not a URL
        "Example.Com",  # a mixed-case top-level label is a sentence, not a domain
        "server.local intranet.lan",  # suffixes the list does not know
        "www. and www.",
    ],
)
def test_no_false_positives(text: str) -> None:
    assert _urls(text) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hxxps://evil[.]example[.]com/x", "https://evil.example.com/x"),
        ("hxxp[:]//bad(.)example.net/y", "http://bad.example.net/y"),
        ("hXXps[://]example{.}org/z", "https://example.org/z"),
        ("evil[dot]example.com/login", "evil.example.com/login"),
        ("evil [.] example [.] com/a", "evil.example.com/a"),
        ("https[:]//example.com[/]b", "https://example.com/b"),
    ],
)
def test_defanged_urls(text: str, expected: str) -> None:
    assert urls_in_text(text) == [(expected, "text:deobfuscated")]


def test_defanged_and_plain_in_one_text() -> None:
    text = "plain https://example.com/a and hxxps://evil[.]example/b and https://example.com/a again"
    assert urls_in_text(text) == [
        ("https://example.com/a", "text"),
        ("https://evil.example/b", "text:deobfuscated"),
    ]


def test_refang() -> None:
    assert refang("hxxps[:]//evil[.]example(.)com") == "https://evil.example.com"


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("example.com", True),
        ("example.com/x", True),
        ("report.zip", False),
        ("report.zip/x", True),
        ("report.zip?x", True),
        ("www.report.zip", True),
        ("index.html", False),
        ("office.It", False),
        ("bücher.example", False),
        ("", False),
    ],
)
def test_is_bare_url(candidate: str, expected: bool) -> None:
    assert is_bare_url(candidate) is expected


def test_collect_unwraps_canonicalizes_and_merges() -> None:
    found = collect(
        [
            ("https://Example.com/a#top", "html:a"),
            ("https://eur01.safelinks.protection.outlook.com/?url=https%3A%2F%2Fevil.example.net%2Fx&data=1", "html:a"),
            ("https://example.com/a", "text"),
            ("mailto:x@example.com", "html:a"),
            ("not a url", "text"),
            ("http://203.0.113.9/login", "text"),
            ("https://evil.example.net/x", "text"),
            ("https://Example.com/a#top", "html:img"),
        ]
    )
    assert found == [
        FoundURL(
            url="https://Example.com/a#top",
            canonical="https://example.com/a",
            host="example.com",
            registered_domain="example.com",
            where=("html:a", "html:img", "text"),
            wrapper=None,
        ),
        FoundURL(
            url="https://evil.example.net/x",
            canonical="https://evil.example.net/x",
            host="evil.example.net",
            registered_domain="example.net",
            where=("html:a", "text"),
            wrapper="outlook-safelinks",
        ),
        FoundURL(
            url="http://203.0.113.9/login",
            canonical="http://203.0.113.9/login",
            host="203.0.113.9",
            registered_domain=None,
            where=("text",),
            wrapper=None,
        ),
    ]
    assert found[1].as_json() == {
        "url": "https://evil.example.net/x",
        "canonical": "https://evil.example.net/x",
        "host": "evil.example.net",
        "registered_domain": "example.net",
        "where": ["html:a", "text"],
        "wrapper": "outlook-safelinks",
    }


def test_collect_keeps_only_web_schemes_and_caps_the_count() -> None:
    assert collect([("file://server/share", "html:a"), ("chrome://settings/x", "html:a")]) == []
    many = [(f"https://example.com/{i}", "text") for i in range(50)]
    found = collect(many, limit=10)
    assert [f.canonical for f in found] == [f"https://example.com/{i}" for i in range(10)]


def test_collect_from_text_end_to_end() -> None:
    text = "Log in at secure-paypal.example.com/verify or hxxps://evil[.]example/b."
    assert [(f.canonical, f.where) for f in collect(urls_in_text(text))] == [
        ("http://secure-paypal.example.com/verify", ("text",)),
        ("https://evil.example/b", ("text:deobfuscated",)),
    ]


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_never_raises(text: str) -> None:
    for url, where in urls_in_text(text):
        assert url and where in ("text", "text:deobfuscated")
    collect(urls_in_text(text))


def test_big_text_is_linear() -> None:
    text = ("word " * 20 + "https://example.com/x " + "a.b " * 10) * 2000
    assert len(urls_in_text(text)) == 1


def test_collect_reads_bare_names_and_ip_addresses_like_the_long_way() -> None:
    found = collect(
        [
            ("Secure-Login.example.com/verify", "text"),
            ("http://192.0.2.7/login", "html:a"),
            ("192.0.2.7/x", "text"),  # a bare address is not a URL in text
            ("report.zip", "text"),  # nor a bare file name
            ("https://192.0.2.7/login", "html:a"),
        ]
    )
    assert [(f.url, f.canonical, f.host, f.registered_domain, f.where) for f in found] == [
        (
            "Secure-Login.example.com/verify",
            "http://secure-login.example.com/verify",
            "secure-login.example.com",
            "example.com",
            ("text",),
        ),
        ("http://192.0.2.7/login", "http://192.0.2.7/login", "192.0.2.7", None, ("html:a",)),
        ("https://192.0.2.7/login", "https://192.0.2.7/login", "192.0.2.7", None, ("html:a",)),
    ]


def test_collect_calls_do_not_share_their_places() -> None:
    first = collect([("https://example.com/a", "html:a")])
    second = collect([("https://example.com/a", "text")])
    assert first[0].where == ("html:a",)
    assert second[0].where == ("text",)
    assert collect([("https://example.com/a", "html:a")]) == first


def test_long_candidates_are_read_too() -> None:
    url = "https://example.com/" + "a" * 5000
    assert [f.canonical for f in collect([(url, "text"), (url, "html:a")])] == [url]


def test_one_search_finds_exactly_the_defang_marks() -> None:
    from signalement.mail.urls import _DEFANG_MARK, _DEFANG_MARKS

    alphabet = "hxXpPH[](){}.:/dotDOT "
    texts = ["".join(letters) for size in range(1, 5) for letters in itertools.product(alphabet, repeat=size)]
    for mark in _DEFANG_MARKS:  # each mark, and each mark with one character changed, in every context
        for at in range(len(mark)):
            texts += [mark[:at] + char + mark[at + 1 :] for char in alphabet]
        texts += [before + mark + after for before in alphabet for after in alphabet]
    for text in texts:
        assert (_DEFANG_MARK.search(text) is not None) == any(mark in text for mark in _DEFANG_MARKS), text
