"""Link wrappers decoded offline: one example per vendor format, nesting, and hostile input."""

from __future__ import annotations

import base64
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.mail.unwrap import may_wrap, unwrap


def _b64(text: str, urlsafe: bool = False, pad: bool = True) -> str:
    raw = (base64.urlsafe_b64encode if urlsafe else base64.b64encode)(text.encode()).decode()
    return raw if pad else raw.rstrip("=")


# Links built from each vendor's documented format, with example.com targets.
WRAPPED = [
    (
        "https://nam12.safelinks.protection.outlook.com/?url=https%3A%2F%2Fwww.example.com%2Flogin%3Fa%3D1%26b%3D2"
        "&data=05%7C01%7Cuser%40example.org%7C0123456789abcdef%7C0%7C0%7C638000000000000000&sdata=abc%2Bdef%3D"
        "&reserved=0",
        "https://www.example.com/login?a=1&b=2",
        "outlook-safelinks",
    ),
    (
        "https://eur03.safelinks.protection.outlook.com/?url=http%3A%2F%2Fexample.net%2F&amp;data=04%7C01",
        "http://example.net/",
        "outlook-safelinks",
    ),
    (
        "https://outlook.office.com/actions/ei?u=https%3A%2F%2Fimages.example.com%2Fa.png&d=2024",
        "https://images.example.com/a.png",
        "outlook-image-proxy",
    ),
    (
        "https://urldefense.proofpoint.com/v1/url?u=http://www.example.com/a%3Fb%3Dc&k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D%0A",
        "http://www.example.com/a?b=c",
        "proofpoint-v1",
    ),
    (
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__www.example.com_path_page-2D1.html-3Fq-3Da&d=DwMFaQ"
        "&c=abc&r=def&m=ghi&s=jkl&e=",
        "https://www.example.com/path/page-1.html?q=a",
        "proofpoint-v2",
    ),
    (
        "https://www.google.com/url?q=https://www.example.com/offer&sa=D&source=editors&ust=1700000000&usg=AOvVaw1",
        "https://www.example.com/offer",
        "google-redirect",
    ),
    (
        "https://www.google.co.uk/url?sa=t&rct=j&url=https%3A%2F%2Fexample.org%2Fdoc&usg=AOvVaw2",
        "https://example.org/doc",
        "google-redirect",
    ),
    ("https://www.google.com/amp/s/example.com/news/a.html", "https://example.com/news/a.html", "google-amp"),
    (
        "https://l.facebook.com/l.php?u=https%3A%2F%2Fshop.example.com%2F%3Fid%3D7&h=AT0abcdef",
        "https://shop.example.com/?id=7",
        "facebook",
    ),
    (
        "https://linkprotect.cudasvc.com/url?a=https%3a%2f%2fexample.com%2finvoice&c=E,1,AbCdEf,&typo=1",
        "https://example.com/invoice",
        "barracuda",
    ),
    (
        "https://imsva91-ctp.trendmicro.com:443/wis/clicktime/v1/query?url=https%3a%2f%2fexample.com%2fx"
        "&umid=0a1b2c3d-0000-4000-8000-000000000000&auth=0123abcd-4567ef",
        "https://example.com/x",
        "trendmicro",
    ),
    (
        "https://ctp.trendmicro.com/wis/clicktime/v2/clickthrough?url=http%3A%2F%2Fexample.com%2Fr.html&uuid=1&auth=2",
        "http://example.com/r.html",
        "trendmicro",
    ),
    (
        "https://secure-web.cisco.com/1AbCdEfGhIjKlMnOp-QrStUv/https%3A%2F%2Fwww.example.com%2Fsign-in%3Fx%3D1",
        "https://www.example.com/sign-in?x=1",
        "cisco-secure-web",
    ),
    (
        "https://clicktime.symantec.com/3AbCdEfGhIjKl7Vc1?u=https%3A%2F%2Fexample.com%2Fpay",
        "https://example.com/pay",
        "symantec-clicktime",
    ),
    (
        "https://eu-west-1.protection.sophos.com?d=example.com&u="
        + _b64("https://www.example.com/page?a=1")
        + "&i=NjA1&t=b3k=&h=abc",
        "https://www.example.com/page?a=1",
        "sophos",
    ),
    (
        "https://www.youtube.com/redirect?event=video_description&q=https%3A%2F%2Fexample.com%2F&v=abc",
        "https://example.com/",
        "youtube-redirect",
    ),
    (
        "https://www.bing.com/ck/a?!&&p=0123abcd&ptn=3&u=a1"
        + _b64("https://example.com/login", True, False)
        + "&ntb=1",
        "https://example.com/login",
        "bing-redirect",
    ),
]


@pytest.mark.parametrize(("url", "target", "name"), WRAPPED)
def test_vendor_formats(url: str, target: str, name: str) -> None:
    assert unwrap(url) == (target, name)


# Proofpoint's examples: the v1/v2/v3 ones of its URL Decoder API documentation
# (help.proofpoint.com/Threat_Insight_Dashboard/API_Documentation/URL_Decoder_API), then v3 vectors from the
# test suite of cardi/proofpoint-url-decoder (CC0), which exercise `*` and the `**X` runs, UTF-8 included.
PROOFPOINT_VECTORS = [
    (
        "https://urldefense.proofpoint.com/v2/url?u=https-3A__media.mnn.com_assets_images_2016_06_jupiter-2Dnasa.jpg"
        ".638x0-5Fq80-5Fcrop-2Dsmart.jpg&amp;d=DwMBaQ&amp;c=Vxt5e0Osvvt2gflwSlsJ5DmPGcPvTRKLJyp031rXjhg&amp;r=BTD8M"
        "&amp;m=iKjix&amp;s=-M8Vz&amp;e=",
        "https://media.mnn.com/assets/images/2016/06/jupiter-nasa.jpg.638x0_q80_crop-smart.jpg",
    ),
    (
        "https://urldefense.proofpoint.com/v1/url?u=http://www.bouncycastle.org/&amp;k=oIvRg1%2BdGAgOoM1BIlLLqw%3D%3D"
        "%0A&amp;r=IKM5u8%2B%2F%2Fi8EBhWOS%2BqGbTqCC%2BrMqWI%2FVfEAEsQO%2F0Y%3D%0A&amp;m=Ww6ia&amp;s=d3583",
        "http://www.bouncycastle.org/",
    ),
    (
        "https://urldefense.com/v3/__https://google.com:443/search?q=a*test&gs=ps__;Kw!-612Flbf0JvQ3kNJkRi5Jg!Ue6tQudNK"
        "aShHg93trcdjqDP8se2ySE65jyCIe2K1D_uNjZ1Lnf6YLQERujngZv9UWf66ujQIQ$",
        "https://google.com:443/search?q=a+test&gs=ps",
    ),
    ("https://urldefense.com/v3/__http://www.example.com__;!!foo!bar$", "http://www.example.com"),
    ("https://urldefense.com/v3/__https://example.com/*newsletter__;Iw!!foo!bar$", "https://example.com/#newsletter"),
    (
        "https://urldefense.com/v3/__http://example.com/?=a1!b2@c3*d4$5e*6*5E7&8*9(10*7C*5C**B7D*7B__;IyUlKiUlW10lJQ"
        "!!foo!bar$",
        "http://example.com/?=a1!b2@c3#d4$5e%6%5E7&8*9(10%7C%5C[]%7D%7B",
    ),
    (
        "https://urldefense.com/v3/__http://www.example.com/**_test__;" + "IyMj" * 21 + "IyM!!foo!bar$",
        "http://www.example.com/" + "#" * 65 + "test",
    ),
    (
        "https://urldefense.com/v3/__http://www.example.com/**Aa*.html__;w60j!!foo!bar$",
        "http://www.example.com/ía#.html",
    ),
    (
        "https://urldefense.com/v3/__http://www.example.com/**E.html__;5L2g5aW9!!foo!bar$",
        "http://www.example.com/你好.html",
    ),
]


@pytest.mark.parametrize(("url", "target"), PROOFPOINT_VECTORS)
def test_proofpoint_published_vectors(url: str, target: str) -> None:
    decoded, name = unwrap(url)
    assert decoded == target
    assert name is not None and name.startswith("proofpoint-v")


def test_opaque_mimecast_link_is_named_but_kept() -> None:
    url = "https://protect-eu.mimecast.com/s/AbCdEfGhIjKl1234?domain=example.com"
    assert unwrap(url) == (url, "mimecast")
    url = "https://url.uk.m.mimecastprotect.com/s/XyZ0123?domain=example.com"
    assert unwrap(url) == (url, "mimecast")


def test_nested_wrappers_are_all_removed_and_named_outermost_first() -> None:
    inner = "https://urldefense.proofpoint.com/v2/url?u=https-3A__example.com_a&d=DwMFaQ&c=x"
    outer = f"https://nam04.safelinks.protection.outlook.com/?url={quote(inner, safe='')}&data=05%7C01&reserved=0"
    assert unwrap(outer) == ("https://example.com/a", "outlook-safelinks>proofpoint-v2")


def test_recursion_depth_is_capped() -> None:
    url = "https://example.com/end"
    for _ in range(8):
        url = "https://www.google.com/url?q=" + quote(url, safe="")
    target, name = unwrap(url)
    assert name == ">".join(["google-redirect"] * 5)
    assert target.startswith("https://www.google.com/url?q=")


@pytest.mark.parametrize(
    "url",
    [
        "https://www.example.com/?url=https://evil.example.net/",  # a parameter named url is not a wrapper
        "https://www.google.com/search?q=https%3A%2F%2Fexample.com",
        "https://example.com/v3/__https://example.net__;!!x$",
        "not a url at all",
        "",
        "mailto:someone@example.com",
    ],
)
def test_not_wrapped(url: str) -> None:
    assert unwrap(url) == (url, None)


def test_broken_wrapper_is_named_and_kept() -> None:
    url = "https://urldefense.com/v3/__https://example.com/**Z__;Iw!!x$"  # the run needs more bytes than given
    assert unwrap(url) == (url, "proofpoint-v3")
    url = "https://eu-west-1.protection.sophos.com?d=example.com&u=%%%notbase64"
    assert unwrap(url) == (url, "sophos")


@settings(max_examples=300, deadline=None)
@given(
    st.builds(
        lambda prefix, tail: prefix + tail,
        st.sampled_from(
            [
                "https://urldefense.com/v3/__",
                "https://urldefense.proofpoint.com/v2/url?u=",
                "https://x.safelinks.protection.outlook.com/?url=",
                "https://secure-web.cisco.com/",
                "https://eu.protection.sophos.com/?u=",
                "https://www.bing.com/ck/a?u=a1",
                "https://www.google.com/amp/",
                "",
            ]
        ),
        st.text(max_size=60),
    )
)
def test_never_raises(url: str) -> None:
    target, name = unwrap(url)
    assert isinstance(target, str)
    assert name is None or isinstance(name, str)


def test_may_wrap_names_the_hosts_of_known_wrappers() -> None:
    for host in ("nam12.safelinks.protection.outlook.com", "www.google.co.uk", "urldefense.com", "l.facebook.com"):
        assert may_wrap(host)
    for host in ("example.com", "www.example.co.uk", "192.0.2.1", "localhost"):
        assert not may_wrap(host)
    for url, _, _ in WRAPPED:
        host = url.split("/")[2].split("?")[0].partition(":")[0].lower()
        assert may_wrap(host), url
