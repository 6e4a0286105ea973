"""Safe Browsing canonicalization against Google's published vectors, plus properties on arbitrary text."""

from __future__ import annotations

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from signalement.mail.canonical import canonicalize, expressions, plain_url, split

# Every canonicalization example of Google's "URLs and Hashing" page for Safe Browsing v4
# (developers.google.com/safe-browsing/v4/urls-hashing#canonicalization); the v5 page keeps the same rules.
# The one with raw bytes \x01\x80 is given as bytes: the page means the bytes, not UTF-8 text.
GOOGLE_VECTORS = [
    ("http://host/%25%32%35", "http://host/%25"),
    ("http://host/%25%32%35%25%32%35", "http://host/%25%25"),
    ("http://host/%2525252525252525", "http://host/%25"),
    ("http://host/asdf%25%32%35asd", "http://host/asdf%25asd"),
    ("http://host/%%%25%32%35asd%%", "http://host/%25%25%25asd%25%25"),
    ("http://www.google.com/", "http://www.google.com/"),
    (
        "http://%31%36%38%2e%31%38%38%2e%39%39%2e%32%36/%2E%73%65%63%75%72%65/%77%77%77%2E%65%62%61%79%2E%63%6F%6D/",
        "http://168.188.99.26/.secure/www.ebay.com/",
    ),
    (
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
        "http://195.127.0.11/uploads/%20%20%20%20/.verify/.eBaysecure=updateuserdataxplimnbqmn-xplmvalidateinfoswqpcmlx=hgplmcx/",
    ),
    (
        "http://host%23.com/%257Ea%2521b%2540c%2523d%2524e%25f%255E00%252611%252A22%252833%252944_55%252B",
        "http://host%23.com/~a!b@c%23d$e%25f^00&11*22(33)44_55+",
    ),
    ("http://3279880203/blah", "http://195.127.0.11/blah"),
    ("http://www.google.com/blah/..", "http://www.google.com/"),
    ("www.google.com/", "http://www.google.com/"),
    ("www.google.com", "http://www.google.com/"),
    ("http://www.evil.com/blah#frag", "http://www.evil.com/blah"),
    ("http://www.GOOgle.com/", "http://www.google.com/"),
    ("http://www.google.com.../", "http://www.google.com/"),
    ("http://www.google.com/foo\tbar\rbaz\n2", "http://www.google.com/foobarbaz2"),
    ("http://www.google.com/q?", "http://www.google.com/q?"),
    ("http://www.google.com/q?r?", "http://www.google.com/q?r?"),
    ("http://www.google.com/q?r?s", "http://www.google.com/q?r?s"),
    ("http://evil.com/foo#bar#baz", "http://evil.com/foo"),
    ("http://evil.com/foo;", "http://evil.com/foo;"),
    ("http://evil.com/foo?bar;", "http://evil.com/foo?bar;"),
    (b"http://\x01\x80.com/", "http://%01%80.com/"),
    ("http://notrailingslash.com", "http://notrailingslash.com/"),
    ("http://www.gotaport.com:1234/", "http://www.gotaport.com/"),
    ("  http://www.google.com/  ", "http://www.google.com/"),
    ("http:// leadingspace.com/", "http://%20leadingspace.com/"),
    ("http://%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("%20leadingspace.com/", "http://%20leadingspace.com/"),
    ("https://www.securesite.com/", "https://www.securesite.com/"),
    ("http://host.com/ab%23cd", "http://host.com/ab%23cd"),
    ("http://host.com//twoslashes?more//slashes", "http://host.com/twoslashes?more//slashes"),
]

# The rules the v5 page states in prose (IPv6, IPv4-mapped and NAT64 addresses, IP spellings, IDN), with
# example domains.
RULE_EXAMPLES = [
    ("http://[2001:0db8:0000::1]/", "http://[2001:db8::1]/"),
    ("http://[2001:DB8::1]:8443/x", "http://[2001:db8::1]/x"),
    ("http://[::ffff:1.2.3.4]/", "http://1.2.3.4/"),
    ("http://[::ffff:0102:0304]/a", "http://1.2.3.4/a"),
    ("http://[64:ff9b::1.2.3.4]/", "http://1.2.3.4/"),
    ("http://[64:ff9b:1::1.2.3.4]/", "http://[64:ff9b:1::102:304]/"),
    ("http://0x7f.1/", "http://127.0.0.1/"),
    ("http://0177.0.0.01/", "http://127.0.0.1/"),
    ("http://0xC0.0250.1.0x2/", "http://192.168.1.2/"),
    ("http://127.1/", "http://127.0.0.1/"),
    ("http://10.0.513/", "http://10.0.2.1/"),
    ("http://0x7f000001/", "http://127.0.0.1/"),
    ("http://Bücher.example/", "http://xn--bcher-kva.example/"),
    ("http://BÜCHER.example/Über", "http://xn--bcher-kva.example/%C3%9Cber"),
    ("http://%E3%83%86%E3%82%B9%E3%83%88.example/", "http://xn--zckzah.example/"),
    ("http://faß.example/", "http://xn--fa-hia.example/"),
    ("http://example.com。/x", "http://example.com/x"),
    ("http://example．com/x", "http://example.com/x"),
    ("http://％４１.example/", "http://a.example/"),
    ("http://user:pass@example.com:8080/", "http://example.com/"),
    ("HTTPS://Example.COM/Path", "https://example.com/Path"),
    ("http://example.com/a/./b/../c", "http://example.com/a/c"),
    ("http://example.com/a/b/..", "http://example.com/a/"),
    ("http://example.com/a/b/.", "http://example.com/a/b/"),
    ("http://example.com/../../x", "http://example.com/x"),
    ("http://example.com?q=1", "http://example.com/?q=1"),
    ("http://example.com/p?q=a b#frag", "http://example.com/p?q=a%20b"),
    ("http://example.com/%E2%82%AC", "http://example.com/%E2%82%AC"),
    ("http://example.com/€", "http://example.com/%E2%82%AC"),
    ("//example.com/x", "http://example.com/x"),
    ("ftp://files.example.com/a", "ftp://files.example.com/a"),
    ("example.com:8080/x", "http://example.com/x"),
]


@pytest.mark.parametrize(("url", "expected"), GOOGLE_VECTORS)
def test_google_canonicalization_vectors(url: str | bytes, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(("url", "expected"), RULE_EXAMPLES)
def test_prose_rules(url: str, expected: str) -> None:
    assert canonicalize(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "",
        "   ",
        "http:///nohost",
        "http://.../",
        "mailto:someone@example.com",
        "javascript:alert(1)",
        "tel:+33123456789",
        "http://999.1.1.1/",
        "http://1.2.3.4.5/",
        "http://[::1/",
        "http://[not-an-address]/",
        "http://[fe80::1%25eth0]/",
        "http://example.com:80x/",
        "#only-a-fragment",
        "?",
    ],
)
def test_no_valid_host_is_none(url: str) -> None:
    assert canonicalize(url) is None


# Google's suffix/prefix expression examples: the v4 page (first three) and the v5 page (last four). The v5
# page walks host suffixes up from the registrable domain of the Public Suffix List; for a suffix the list does
# not know (`.c`, `.g`), the last label is taken as the top-level domain, which gives the v4 results.
EXPRESSION_VECTORS = [
    ("http://a.b.c/1/2.html?param=1", ["a.b.c", "b.c"], ["/1/2.html?param=1", "/1/2.html", "/", "/1/"]),
    ("http://a.b.c.d.e.f.g/1.html", ["a.b.c.d.e.f.g", "c.d.e.f.g", "d.e.f.g", "e.f.g", "f.g"], ["/1.html", "/"]),
    ("http://1.2.3.4/1/", ["1.2.3.4"], ["/1/", "/"]),
    ("http://a.b.com/1/2.html?param=1", ["a.b.com", "b.com"], ["/1/2.html?param=1", "/1/2.html", "/", "/1/"]),
    (
        "http://a.b.c.d.e.f.com/1.html",
        ["a.b.c.d.e.f.com", "c.d.e.f.com", "d.e.f.com", "e.f.com", "f.com"],
        ["/1.html", "/"],
    ),
    ("http://example.co.uk/1", ["example.co.uk"], ["/1", "/"]),
]


@pytest.mark.parametrize(("url", "hosts", "paths"), EXPRESSION_VECTORS)
def test_google_expression_vectors(url: str, hosts: list[str], paths: list[str]) -> None:
    # The pages list, for each host, its paths in this order.
    assert expressions(url) == [host + path for host in hosts for path in paths]


def test_expressions_walk_up_from_the_registrable_domain() -> None:
    got = expressions("https://a.b.c.d.e.example.co.uk/x")
    hosts = list(dict.fromkeys(e.split("/")[0] for e in got))
    assert hosts == [
        "a.b.c.d.e.example.co.uk",
        "c.d.e.example.co.uk",
        "d.e.example.co.uk",
        "e.example.co.uk",
        "example.co.uk",
    ]
    assert expressions("https://co.uk/a") == ["co.uk/a", "co.uk/"]
    assert expressions("https://user.github.io/") == ["user.github.io/"]


def test_expressions_are_at_most_thirty() -> None:
    got = expressions("https://a.b.c.d.e.f.example.com/1/2/3/4/5.html?q=1")
    assert len(got) == 30
    assert "a.b.c.d.e.f.example.com/1/2/3/4/5.html?q=1" in got
    assert "example.com/1/2/3/" in got
    assert "b.c.d.e.f.example.com/" not in got
    assert "com/" not in got
    assert "example.com/1/2/3/4/" not in got


def test_expressions_of_ip_hosts_and_invalid_urls() -> None:
    assert expressions("http://[2001:db8::1]/a") == ["[2001:db8::1]/a", "[2001:db8::1]/"]
    assert expressions("http://[::ffff:203.0.113.7]/a") == ["203.0.113.7/a", "203.0.113.7/"]
    assert expressions("mailto:x@example.com") == []


def test_split() -> None:
    assert split("http://example.com/a?b") == ("http", "example.com", "/a?b")
    assert split("https://example.com") == ("https", "example.com", "/")


def test_long_url_is_cut_but_keeps_its_host() -> None:
    long = "http://example.com/" + "a/" * 20000 + "?" + "q" * 50000
    canonical = canonicalize(long)
    assert canonical is not None
    assert canonical.startswith("http://example.com/a/a/")
    assert canonicalize(canonical) == canonical


def test_hostile_escape_chains_terminate() -> None:
    assert canonicalize("http://host/%" + "25" * 5000) == "http://host/%25"
    assert canonicalize("http://example.com/" + "%25" * 3000 + "41") == "http://example.com/" + "%25" * 2999 + "A"


URL_ALPHABET = st.sampled_from(
    [*"abcxyz019.-_~:/?#[]@!$&'()*+,;=% \t\n", "%25", "%2e", "%2F", "%3A", "%41", "%E2%82%AC", "é", "。", "％"]
)
url_like = st.builds(
    lambda scheme, body: scheme + "".join(body),
    st.sampled_from(["", "http://", "https://", "HTTP://", "//", "ftp://", "mailto:"]),
    st.lists(URL_ALPHABET, max_size=40),
)


@settings(max_examples=400, deadline=None)
@given(st.one_of(url_like, st.text(max_size=80), st.binary(max_size=80)))
@example("http://％４１.example/")
@example("http://a%2541/")
@example("http://0x7f.1/")
def test_canonicalize_is_idempotent_and_never_raises(url: str | bytes) -> None:
    canonical = canonicalize(url)
    if canonical is not None:
        assert canonical.isascii()
        assert canonicalize(canonical) == canonical
        assert expressions(canonical)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://Www.Example.COM/Path?Q=A#frag", ("https://www.example.com/Path?Q=A", "www.example.com", True)),
        ("http://example.com", ("http://example.com/", "example.com", True)),
        ("http://example.com?x", ("http://example.com/?x", "example.com", True)),
        ("Example.com/x", ("http://example.com/x", "example.com", False)),
        ("http://192.0.2.10/a", ("http://192.0.2.10/a", "192.0.2.10", True)),
        ("http://a_b-c.example.org/", ("http://a_b-c.example.org/", "a_b-c.example.org", True)),
    ],
)
def test_plain_urls_take_the_short_way(url: str, expected: tuple[str, str, bool]) -> None:
    assert plain_url(url) == expected
    assert canonicalize(url) == expected[0] == canonicalize(url.encode())


@pytest.mark.parametrize(
    "url",
    [
        "http://example.com/a%41",  # escapes
        "http://example.com//a",  # a path to resolve
        "http://example.com/a/./b",
        "http://example.com:8080/",  # a port
        "http://user@example.com/",
        "http://0x7f.1/",  # a host read as an IPv4 address
        "http://192.0.2.010/",
        "http://1.2.3/",
        "http://example.com./",
        "http://exa..mple.com/",
        "http://bücher.example/",
        "http://example.com/a b",
        "ftp://example.com/",
        " http://example.com/",
    ],
)
def test_other_urls_take_the_long_way(url: str) -> None:
    assert plain_url(url) is None


@settings(max_examples=600, deadline=None)
@given(st.one_of(url_like, st.text(max_size=80)))
@example("http://255.255.255.255/")
@example("http://256.1.1.1/")
@example("example.com#x y")
def test_the_short_way_agrees_with_the_long_way(url: str) -> None:
    # A bytes input always takes the long way.
    plain = plain_url(url)
    if plain is not None:
        assert canonicalize(url.encode("utf-8", "surrogatepass")) == plain[0]
        assert split(plain[0])[1] == plain[1]
