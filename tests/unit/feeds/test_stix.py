"""STIX 2.1 bundles, read back by `stix2.parse` and checked by stix2-validator.

stix2-validator's remaining warnings, accepted: {103} "not a valid UUIDv4 ID" on the bundle, the Identity and the
Indicators, whose ids are uuid5 on purpose (stable across bundles, so an update or a revocation is the same object)."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
import stix2  # type: ignore[import-untyped]
from stix2patterns.v21.pattern import Pattern  # type: ignore[import-untyped]
from stix2validator import ValidationOptions, validate_string  # type: ignore[import-untyped]

from signalement.domain.members import Tlp
from signalement.feeds import stix
from signalement.feeds.entry import Level
from signalement.feeds.stix import FeedValueError, bundle, identity_id
from signalement.feeds.tlp2 import EXTENSION_ID, STIX_MARKINGS
from tests.unit.feeds.factory import HOSTILE_URL, LONG_URL, NOW, T1, entry, levels

NAME = "Signal Spam"


def make(entries: list[Any]) -> str:
    return bundle(entries, identity_name=NAME, now=NOW)


def validate(text: str) -> list[str]:
    """Errors are failures; warnings other than {103} (uuid5 ids, see the module docstring) too."""
    results = validate_string(text, ValidationOptions(version="2.1"))
    assert results.is_valid, [str(e) for e in results.errors]
    warnings = [str(w) for w in results.warnings]
    return [w for w in warnings if "{103}" not in w]


def objects(text: str, kind: str) -> list[Any]:
    return [o for o in stix2.parse(text, allow_custom=True).objects if o.type == kind]


def values(pattern: str) -> list[tuple[str, str, str]]:
    """Each comparison of a pattern as (object path, operator, unescaped literal), parsed by stix2-patterns."""
    found = Pattern(pattern).inspect().comparisons
    return [
        (f"{kind}:{'.'.join(path)}", op, re.sub(r"\\(.)", r"\1", literal[1:-1]))
        for kind, comparisons in found.items()
        for path, op, literal in comparisons
    ]


def test_bundle_is_valid_and_parses_back() -> None:
    text = make(levels())
    assert validate(text) == []
    (ident,) = objects(text, "identity")
    assert ident.id == identity_id(NAME)
    assert ident.name == NAME
    indicators = objects(text, "indicator")
    assert len(indicators) == 4
    for i in indicators:
        assert i.pattern_type == "stix"
        assert i.indicator_types == ["malicious-activity"]
        assert "phishing" in i.labels
        assert i.created_by_ref == ident.id
        assert i.valid_from == i.created


def test_patterns_per_level() -> None:
    patterns = [i.pattern for i in objects(make(levels()), "indicator")]
    assert values(patterns[0]) == [("url:value", "=", "http://phish1.example/login")]
    assert values(patterns[1]) == [("url:value", "LIKE", "http://site.example/wp/kit/%")]
    assert values(patterns[2]) == [("domain-name:value", "=", "login-bank.xn--bcher-kva.example")]
    assert sorted(values(patterns[3])) == [
        ("domain-name:value", "=", "bank-secure.example"),
        ("domain-name:value", "LIKE", "%.bank-secure.example"),
    ]
    assert " OR " in patterns[3]


def test_a_prefix_with_like_wildcards_is_an_anchored_regex() -> None:
    prefix = "http://site.example/my_dir/%7Euser/"
    e = entry(1, url=prefix + "x", listed=prefix, level=Level.PREFIX)
    ((path, op, regex),) = values(objects(make([e]), "indicator")[0].pattern)
    assert (path, op) == ("url:value", "MATCHES")
    assert re.match(regex, prefix + "index.php")
    assert not re.match(regex, "http://site.example/myXdir/%7Euser/")
    assert not re.match(regex, "http://siteXexample/my_dir/%7Euser/")


@pytest.mark.parametrize("url", [HOSTILE_URL, LONG_URL, "http://a.example/'\\'\\\\'"])
def test_hostile_urls_round_trip_through_the_pattern(url: str) -> None:
    text = make([entry(1, url=url)])
    assert validate(text) == []
    assert values(objects(text, "indicator")[0].pattern) == [("url:value", "=", url)]


@pytest.mark.parametrize(
    "url", ["http://a.example/line\nbreak", "http://a.example/tab\there", "http://bücher.example/", "http://a b/"]
)
def test_values_that_are_not_canonical_are_refused_clearly(url: str) -> None:
    with pytest.raises(FeedValueError, match="url 9: url is not printable ASCII"):
        make([entry(1), entry(9, url=url)])


def test_markings_are_the_oasis_tlp2_definitions_in_use() -> None:
    text = make(levels())
    markings = {m.id: m for m in objects(text, "marking-definition")}
    expected = {STIX_MARKINGS[t].id for t in (Tlp.GREEN, Tlp.AMBER, Tlp.CLEAR, Tlp.AMBER_STRICT)}
    assert set(markings) == expected  # RED unused, so absent
    raw = {o["id"]: o for o in json.loads(text)["objects"]}
    for marking_id in expected:
        assert raw[marking_id] == next(m.as_dict() for m in STIX_MARKINGS.values() if m.id == marking_id)
        assert raw[marking_id]["extensions"][EXTENSION_ID]["extension_type"] == "property-extension"
    refs = [i.object_marking_refs for i in objects(text, "indicator")]
    assert refs == [[STIX_MARKINGS[e.tlp].id] for e in levels()]


def test_published_marking_ids() -> None:
    # From the OASIS TLP 2.0 extension (cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
    assert {t: m.id.removeprefix("marking-definition--") for t, m in STIX_MARKINGS.items()} == {
        Tlp.CLEAR: "94868c89-83c2-464b-929b-a1a8aa3c8487",
        Tlp.GREEN: "bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
        Tlp.AMBER: "55d920b0-5e8b-4f79-9ee9-91f868d9b421",
        Tlp.AMBER_STRICT: "939a9414-2ddd-4d32-a0cd-375ea402b003",
        Tlp.RED: "e828b379-4e03-4974-9ac4-e53a884c97c1",
    }


def test_an_update_is_the_same_object_later_and_a_withdrawal_revokes_it() -> None:
    first = objects(make([entry(1)]), "indicator")[0]
    later = replace(entry(1), changed_at=T1 + timedelta(days=3), seq=200)
    updated = objects(make([later]), "indicator")[0]
    withdrawn = objects(make([replace(later, withdrawn=True, changed_at=T1 + timedelta(days=5))]), "indicator")[0]
    assert first.id == updated.id == withdrawn.id
    assert first.created == updated.created == withdrawn.created
    assert first.modified < updated.modified < withdrawn.modified
    assert not first.revoked
    assert withdrawn.revoked is True
    assert objects(make([entry(2)]), "indicator")[0].id != first.id


def test_same_entries_same_bytes() -> None:
    assert make(levels()) == make(levels())
    assert json.loads(make(levels()))["id"] != json.loads(make(levels()[:2]))["id"]


def test_no_version_from_the_future() -> None:
    ahead = entry(1, changed_at=NOW + timedelta(hours=1))
    assert objects(make([ahead]), "indicator")[0].modified <= NOW


def test_empty_bundle_holds_the_identity_only() -> None:
    text = make([])
    assert validate(text) == []
    assert [o["type"] for o in json.loads(text)["objects"]] == ["identity"]


def test_checking_each_pattern_shape_once_makes_the_same_bundle(monkeypatch: pytest.MonkeyPatch) -> None:
    entries = [*levels(), entry(9, url=HOSTILE_URL)]
    fast = stix.bundle(entries, identity_name="signalement", now=NOW)
    monkeypatch.setattr(stix, "_Indicator", stix2.Indicator)  # stix2's own: every pattern parsed
    assert stix.bundle(entries, identity_name="signalement", now=NOW) == fast
