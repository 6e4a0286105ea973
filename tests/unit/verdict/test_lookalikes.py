"""The lookalike-domain detector, on a small registry of its own (the shipped one only for the last tests)."""

from __future__ import annotations

import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from signalement.verdict.brands import load, registry
from signalement.verdict.lookalikes import KINDS, Detector, Lookalike, detector, one_edit, script_of, skeleton

BRANDS = """
[[brand]]
id = "paypal"
name = "PayPal"
sector = "payment"
domains = ["paypal.com", "paypal.fr", "paypal.me"]
sending_domains = ["paypal-communication.com"]
names = ["paypal"]

[[brand]]
id = "microsoft"
name = "Microsoft"
sector = "tech"
domains = ["microsoft.com", "outlook.com", "office.com"]
names = ["microsoft"]
labels = ["microsoft", "outlook", "office365"]

[[brand]]
id = "amazon"
name = "Amazon"
sector = "ecommerce"
domains = ["amazon.com", "amazon.fr"]
names = ["amazon"]

[[brand]]
id = "apple"
name = "Apple"
sector = "tech"
domains = ["apple.com", "icloud.com"]
names = ["apple"]
labels = ["apple", "icloud"]

[[brand]]
id = "google"
name = "Google"
sector = "tech"
domains = ["google.com", "gmail.com"]
names = ["google"]
labels = ["google", "gmail"]

[[brand]]
id = "dhl"
name = "DHL"
sector = "delivery"
domains = ["dhl.com", "dhl.fr"]
names = ["dhl"]

[[brand]]
id = "sfr"
name = "SFR"
sector = "telecom"
domains = ["sfr.fr"]
names = ["sfr"]

[[brand]]
id = "sncf"
name = "SNCF"
sector = "transport"
domains = ["sncf.com", "sncf-connect.com"]
names = ["sncf"]
labels = ["sncf", "sncf-connect"]

[[brand]]
id = "la-poste"
name = "La Poste"
sector = "delivery"
domains = ["laposte.fr", "laposte.net"]
names = ["la poste"]
labels = ["laposte"]
"""


@pytest.fixture(scope="module")
def detect() -> Detector:
    return Detector(load([BRANDS]))


def kinds(found: list[Lookalike]) -> list[tuple[str, str]]:
    return [(f.brand, f.kind) for f in found]


@pytest.mark.parametrize(
    ("host", "brand", "kind"),
    [
        # confusable characters: digits, Cyrillic letters, rn for m, accents, an invisible joiner
        ("paypa1.com", "paypal", "confusable"),
        ("login.paypa1.com", "paypal", "confusable"),
        ("pаypal.com", "paypal", "confusable"),
        ("rnicrosoft.com", "microsoft", "confusable"),
        ("g00gle.net", "google", "confusable"),
        ("paypàl.com", "paypal", "confusable"),
        ("pay\u200dpal.com", "paypal", "confusable"),
        ("аррӏе.com", "apple", "confusable"),
        ("dh1.com", "dhl", "confusable"),
        # mixed scripts, with the brand they imitate
        ("pаypal.com", "paypal", "mixed-script"),
        ("аррӏе.com", "apple", "mixed-script"),
        # typos of labels of 5+ letters
        ("paypak.com", "paypal", "typosquat"),
        ("paypla.com", "paypal", "typosquat"),
        ("paypall.com", "paypal", "typosquat"),
        ("paypl.com", "paypal", "typosquat"),
        ("gogle.com", "google", "typosquat"),
        ("amazpn.fr", "amazon", "typosquat"),
        ("laposre.fr", "la-poste", "typosquat"),
        ("pay-pal.com", "paypal", "hyphenated"),
        ("p-a-y-p-a-l.net", "paypal", "hyphenated"),
        ("sncfconnect.com", "sncf", "hyphenated"),
        # the exact label under another suffix
        ("paypal.co", "paypal", "tld-swap"),
        ("amazon.shop", "amazon", "tld-swap"),
        ("paypal.github.io", "paypal", "tld-swap"),
        ("sfr.online", "sfr", "tld-swap"),
        # the brand in the subdomains
        ("paypal.com.secure-login.example", "paypal", "brand-label"),
        ("www.paypal.com-verify.example", "paypal", "brand-label"),
        ("paypal.secure.example", "paypal", "brand-label"),
        ("dhl.com.track-parcel.net", "dhl", "brand-label"),
        ("secure-paypal.login.example.net", "paypal", "brand-label"),
        ("laposte.suivi-colis.info", "la-poste", "brand-label"),
        # the brand joined with words in the registered label
        ("paypal-secure-login.com", "paypal", "combosquat"),
        ("amazonsupport.net", "amazon", "combosquat"),
        ("secure-paypal.com", "paypal", "combosquat"),
        ("amazon-fr.com", "amazon", "combosquat"),
        ("paypalsucks.com", "paypal", "combosquat"),
        ("sncf-billets.fr", "sncf", "combosquat"),
        ("laposte-suivi.fr", "la-poste", "combosquat"),
        ("outlook-verify.web.app", "microsoft", "combosquat"),
        ("micros0ft-support.com", "microsoft", "combosquat"),
    ],
)
def test_each_kind(detect: Detector, host: str, brand: str, kind: str) -> None:
    found = detect.check(host)
    assert (brand, kind) in kinds(found), found
    finding = next(f for f in found if (f.brand, f.kind) == (brand, kind))
    assert "\n" not in finding.detail and finding.detail


def test_details_say_what_changed(detect: Detector) -> None:
    assert detect.check("paypa1.com")[0].detail == "paypa1.com: 'paypal' with l->1"
    assert "m->rn" in detect.check("rnicrosoft.com")[0].detail
    assert "U+0430 CYRILLIC SMALL LETTER A" in detect.check("xn--pypal-4ve.com")[0].detail
    assert "next key on QWERTY and AZERTY" in detect.check("paypak.com")[0].detail
    assert detect.check("amazpn.fr")[0].detail.endswith("o->p (next key on QWERTY and AZERTY)")
    assert detect.check("amaeon.com")[0].detail.endswith("z->e (next key on AZERTY)")
    assert "transposed" in detect.check("paypla.com")[0].detail
    assert "l doubled" in detect.check("paypall.com")[0].detail
    assert detect.check("paypal.com.secure-login.example")[0].detail.endswith("brand domain as labels")
    assert "Cyrillic and Latin" in next(f.detail for f in detect.check("pаypal.com") if f.kind == "mixed-script")


@pytest.mark.parametrize(
    "host",
    [
        "paypal.com",
        "www.paypal.com",
        "WWW.PayPal.COM.",
        "paypal.fr",
        "paypal.com:443",
        "mail.paypal-communication.com",  # a sending domain
        "sncf-connect.com",
        "login.sncf-connect.com",
        "icloud.com",
        "ＰａｙＰａｌ.com",  # full-width letters map to paypal.com, the brand's own
    ],
)
def test_official_and_sending_domains_are_never_lookalikes(detect: Detector, host: str) -> None:
    assert detect.check(host) == []


@pytest.mark.parametrize(
    "host",
    [
        "example.com",
        "wikipedia.org",
        "www.lemonde.fr",
        "adhlink.com",  # "dhl" inside a word
        "transfr.com",  # "sfr" at the end of a word: too short to count glued
        "sfr-client.com",  # 3 letters: not even as a hyphenated word
        "dhl-express.com",
        "email.com",  # one letter from "gmail", but at the first letter: another word
        "applecore.blog.example.com",  # glued words in subdomains do not count
        "myamazonshop.com",  # inside a word, at neither end
        "paypal.de",  # the exact label under a country's suffix is mostly the brand's own
        "google.com.br",
        "mail.google.com",
        "127.0.0.1",
        "[2001:db8::1]",
    ],
)
def test_unrelated_hosts_are_not_flagged(detect: Detector, host: str) -> None:
    assert detect.check(host) == []


@pytest.mark.parametrize("host", ["dhk.com", "dhll.com", "sfrr.fr", "sgr.fr", "snfc.com", "sncd.fr"])
def test_short_labels_are_not_typosquatted(detect: Detector, host: str) -> None:
    assert detect.check(host) == []


def test_goggle_is_a_typo_of_google_but_google_is_no_lookalike(detect: Detector) -> None:
    assert kinds(detect.check("goggle.com")) == [("google", "typosquat")]
    other = Detector(load([BRANDS.replace('labels = ["google", "gmail"]', 'labels = ["goggle"]')]))
    assert other.check("google.com") == []  # the brand's own domain, whatever its labels


def test_mixed_scripts_without_a_brand() -> None:
    detect = Detector(load([BRANDS]))
    found = detect.check("sеcurity-update.com")  # Cyrillic е among Latin letters
    assert kinds(found) == [("", "mixed-script")]
    assert "Cyrillic and Latin" in found[0].detail
    assert kinds(detect.check("xn--80ak6aa92e.net")) == [("apple", "confusable"), ("apple", "mixed-script")]
    assert kinds(detect.check("ѕсоре.com")) == [("", "mixed-script")]  # wholly Cyrillic, reads as Latin "scope"


@pytest.mark.parametrize(
    "host",
    [
        "пример.рф",  # Cyrillic, at home under .рф
        "xn--e1afmkfd.xn--p1ai",
        "пример.com",  # Cyrillic that does not read as Latin
        "ѕсоре.ru",  # reads as Latin, but under a Cyrillic country's domain
        "москва.рф",
        "日本語.jp",
        "ビックカメラ.com",
        "abc日本.jp",  # Latin with Han: allowed
        "münchen.de",
        "ελλάδα.gr",
    ],
)
def test_legitimate_idn_labels_are_not_mixed_script(detect: Detector, host: str) -> None:
    assert "mixed-script" not in [f.kind for f in detect.check(host)]


def test_a_whole_script_lookalike_under_its_own_tld_is_still_confusable(detect: Detector) -> None:
    assert kinds(detect.check("аррӏе.рф")) == [("apple", "confusable")]


def test_punycode_and_unicode_inputs_agree(detect: Detector) -> None:
    assert detect.check("xn--pypal-4ve.com") == detect.check("pаypal.com")
    assert detect.check("xn--pypal-4ve.com")[0].detail.startswith("pаypal.com (xn--pypal-4ve.com): ")


def test_findings_are_unique_per_brand_and_kind_strongest_first(detect: Detector) -> None:
    for host in ["pаypal.com", "paypal-paypal-secure.com", "paypal.com.paypal-login.paypal.example", "paypa1.co"]:
        found = kinds(detect.check(host))
        assert len(found) == len(set(found))
        ranks = [KINDS.index(kind) for _, kind in found]
        assert ranks == sorted(ranks)
    # a typo is not also reported as a combosquat, nor a confusable as a typo
    assert kinds(detect.check("paypall.com")) == [("paypal", "typosquat")]
    assert kinds(detect.check("paypa1.com")) == [("paypal", "confusable")]


def test_as_json() -> None:
    found = Lookalike("paypal", "tld-swap", "paypal.co: ...")
    assert found.as_json() == {"brand": "paypal", "kind": "tld-swap", "detail": "paypal.co: ..."}


def test_results_are_cached_and_safe_to_change(detect: Detector) -> None:
    first = detect.check("paypal-secure.com")
    first.clear()
    assert detect.check("paypal-secure.com") != []
    assert detect.check(" PAYPAL-SECURE.COM ") == detect.check("paypal-secure.com")


def test_skeleton_and_scripts() -> None:
    assert skeleton("paypa1") == skeleton("paypal") == skeleton("pаypal") == skeleton("paypàl") == "paypal"
    assert skeleton("microsoft") == skeleton("rnicrosoft") == "rnicrosoft"
    assert skeleton("аррӏе") == "apple"
    assert skeleton("g00gle") == "google"
    assert skeleton("例子") == "例子"
    assert skeleton(skeleton("рaураl")) == skeleton("рaураl")
    assert [script_of(c) for c in "aа日-1\u0301"] == ["Latin", "Cyrillic", "Han", "Common", "Common", "Inherited"]


@pytest.mark.parametrize(
    ("brand", "label", "edit"),
    [
        ("paypal", "paypak", "l->k (next key on QWERTY and AZERTY)"),
        ("paypal", "paypsl", "a->s (next key on QWERTY)"),
        ("paypal", "paypxl", "a->x"),
        ("paypal", "papyal", "yp->py (transposed)"),
        ("paypal", "paypall", "l doubled"),
        ("paypal", "payppal", "p doubled"),
        ("paypal", "paypajl", "j inserted"),
        ("paypal", "paypaml", "m inserted (next key on AZERTY)"),
        ("paypal", "paypal1", "1 inserted"),
        ("paypal", "paypl", "a dropped"),
        ("google", "gogle", "double o made single"),
        ("paypal", "paypal", None),
        ("paypal", "paypla2", None),
        ("paypal", "pyapla", None),
        ("paypal", "paxyal", None),
        ("paypal", "paxpal", "y->x"),
    ],
)
def test_one_edit(brand: str, label: str, edit: str | None) -> None:
    assert one_edit(brand, label) == edit


HOSTILE = [
    "",
    " ",
    ".",
    "..",
    "a",
    "-",
    "xn--",
    "xn--.com",
    "xn--zz.com",  # invalid punycode
    "xn--a.xn--b",
    "xn--pypal-4ve.xn--",
    "xn--" * 100 + ".com",
    "a" * 5000,
    ".".join(["paypal"] * 300),
    ("a" * 62 + ".") * 80 + "com",
    "paypal.com." * 500,
    "\x00.com",
    "\ud800.com",  # a lone surrogate
    "[::1]:80",
    "::",
    "💩.la",
    "ß.de",
    "İstanbul.com",
    "xn--paypal-.com",
    "paypal.com\u200d",
    "a" * 64 + ".com",
    "-paypal-.com",
    "paypal..com",
    "http://paypal.com/",
    "user@paypal.com",
]


@pytest.mark.parametrize("host", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_input_never_raises(detect: Detector, host: str) -> None:
    found = detect.check(host)
    assert all(isinstance(f, Lookalike) and f.kind in KINDS for f in found)


LABEL_CHARS = st.sampled_from([*"paylmicrosftn0123-.аеорсіӏ日ßü\u200d\u0301xX", "xn--", "paypal", "."])


FUZZ = Detector(load([BRANDS]), cache_size=0)


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=300), st.lists(LABEL_CHARS, max_size=60).map("".join)))
def test_never_raises(host: str) -> None:
    found = FUZZ.check(host)
    assert all(f.kind in KINDS for f in found)
    assert len({(f.brand, f.kind) for f in found}) == len(found)


def test_uncached_checks_are_fast(detect: Detector) -> None:
    """A loose guard against a pathological slowdown (the measured figure is ~15 µs per host)."""
    hosts = [f"{word}{n}.example{n % 7}.com" for n in range(500) for word in ("www.shop", "paypal-x", "mail")]
    start = time.perf_counter()
    for host in hosts:
        detect._check(host)
    assert (time.perf_counter() - start) / len(hosts) < 500e-6


def test_the_shipped_registry_never_flags_its_own_domains() -> None:
    detect = detector()
    assert detect is detector()
    for brand in registry().brands:
        for domain in (*brand.domains, *brand.sending_domains):
            assert detect.check(domain) == [], domain
            assert detect.check("www." + domain) == [], domain
