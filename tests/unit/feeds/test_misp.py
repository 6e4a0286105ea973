"""MISP feeds: events loaded back by PyMISP and checked against PyMISP's strict event schema; hashes.csv and
manifest.json compared with what PyMISP's own feed tool (pymisp.tools.feed) computes from the same events.
PyMISP ships no schema for manifest.json: its structure is checked here field by field."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pymisp
import pytest
from pymisp import MISPEvent
from pymisp.tools.feed import feed_meta_generator

from signalement.domain.members import Tlp
from signalement.feeds.misp import event_uuid, feed
from signalement.feeds.stix import FeedValueError
from tests.unit.feeds.factory import HOSTILE_URL, LONG_URL, NOW, T0, T1, entry, levels

ORG = "Signal Spam"
ORG_UUID = "5f0e3c4a-2b7d-4e8f-9a1b-3c4d5e6f7a8b"
SCHEMA = json.loads((Path(pymisp.__file__).parent / "data" / "schema.json").read_text())


def make(entries: list[Any]) -> dict[str, bytes]:
    return feed(entries, org_name=ORG, org_uuid=ORG_UUID, now=NOW)


def events(files: dict[str, bytes]) -> dict[str, MISPEvent]:
    loaded = {}
    for name, content in files.items():
        if name in ("manifest.json", "hashes.csv"):
            continue
        data = json.loads(content)
        jsonschema.validate(data, SCHEMA)
        event = MISPEvent(strict_validation=True)
        event.load(content.decode())
        assert name == f"{event.uuid}.json"
        loaded[event.uuid] = event
    return loaded


def stamp(event: MISPEvent) -> int:
    moment = event.timestamp
    assert isinstance(moment, datetime)
    return int(moment.timestamp())


def attributes(event: MISPEvent) -> list[tuple[str, str, bool, bool]]:
    return [(a.type, a.value, a.to_ids, bool(a.deleted)) for a in event.attributes]


def test_one_valid_event_per_day_with_manifest_and_hashes() -> None:
    second_day = entry(5, first_seen=T0 + timedelta(days=1), changed_at=T1 + timedelta(days=1))
    files = make([*levels(), second_day])
    loaded = events(files)
    assert set(files) == {"manifest.json", "hashes.csv", *(f"{u}.json" for u in loaded)}
    assert set(loaded) == {event_uuid(ORG_UUID, T0.date()), event_uuid(ORG_UUID, T0.date() + timedelta(days=1))}
    manifest = json.loads(files["manifest.json"])
    assert set(manifest) == set(loaded)
    for uid, meta in manifest.items():
        assert meta["Orgc"] == {"name": ORG, "uuid": ORG_UUID}
        assert meta["info"] == loaded[uid].info
        assert meta["date"] == loaded[uid].date.isoformat()
        assert meta["timestamp"] == stamp(loaded[uid])
        assert {t["name"] for t in meta["Tag"]} == {t.name for t in loaded[uid].tags}


def test_levels_give_url_hostname_and_domain_attributes() -> None:
    (event,) = events(make(levels())).values()
    assert attributes(event) == [
        ("url", "http://phish1.example/login", True, False),
        ("url", "http://site.example/wp/kit/index.php", True, False),
        ("url", "http://site.example/wp/kit/", True, False),
        ("url", "http://login-bank.xn--bcher-kva.example/", True, False),
        ("hostname", "login-bank.xn--bcher-kva.example", True, False),
        ("url", "http://x.bank-secure.example/a", True, False),
        ("domain", "bank-secure.example", True, False),
    ]
    assert all(a.category == "Network activity" for a in event.attributes)


def test_tlp_tags_are_misp_taxonomy_names() -> None:
    (event,) = events(make(levels())).values()
    assert {t.name for t in event.tags} == {"tlp:amber+strict", 'rsit:fraud="phishing"'}  # the most restrictive
    assert [[t.name for t in a.tags] for a in event.attributes] == [
        ["tlp:green"], ["tlp:amber"], ["tlp:amber"], ["tlp:clear"], ["tlp:clear"], ["tlp:amber+strict"],
        ["tlp:amber+strict"],
    ]  # fmt: skip
    (clear,) = events(make([entry(1, tlp=Tlp.CLEAR)])).values()
    assert {t.name for t in clear.tags} == {"tlp:clear", 'rsit:fraud="phishing"'}


def test_hashes_are_what_pymisp_computes(tmp_path: Path) -> None:
    files = make([*levels(), entry(5, url=HOSTILE_URL)])
    for name, content in files.items():
        if name.endswith(".json") and name != "manifest.json":
            (tmp_path / name).write_bytes(content)
    feed_meta_generator(tmp_path)
    assert sorted(files["hashes.csv"].decode().splitlines()) == sorted(
        (tmp_path / "hashes.csv").read_text().splitlines()
    )
    line = f"{hashlib.md5(HOSTILE_URL.encode()).hexdigest()},{event_uuid(ORG_UUID, T0.date())}"
    assert line in files["hashes.csv"].decode().splitlines()
    ours = json.loads(files["manifest.json"])
    theirs = json.loads((tmp_path / "manifest.json").read_text())
    assert set(ours) == set(theirs)
    for uid in ours:
        assert {k: v for k, v in ours[uid].items() if k != "Tag"} == {
            k: v for k, v in theirs[uid].items() if k != "Tag"
        }


def test_a_withdrawal_is_the_same_attribute_deleted_in_an_updated_event() -> None:
    before = events(make([entry(1), entry(2)]))
    withdrawn = replace(entry(2), withdrawn=True, changed_at=T1 + timedelta(days=2))
    files = make([entry(1), withdrawn])
    after = events(files)
    assert set(before) == set(after)
    (uid,) = after
    assert stamp(after[uid]) > stamp(before[uid])  # MISP re-fetches it
    assert [a.uuid for a in after[uid].attributes] == [a.uuid for a in before[uid].attributes]
    assert attributes(after[uid]) == [
        ("url", "http://phish1.example/login", True, False),
        ("url", "http://phish2.example/login", True, True),
    ]
    hashes = files["hashes.csv"].decode()
    assert hashlib.md5(b"http://phish2.example/login").hexdigest() not in hashes
    assert hashlib.md5(b"http://phish1.example/login").hexdigest() in hashes


def test_same_entries_same_files() -> None:
    assert make(levels()) == make(levels())
    assert uuid.UUID(event_uuid(ORG_UUID, T0.date())).version == 5


@pytest.mark.parametrize("url", [HOSTILE_URL, LONG_URL, "http://a.example/'\"\\|x"])
def test_hostile_urls_round_trip(url: str) -> None:
    (event,) = events(make([entry(1, url=url, brand='"Bank"\n\\')])).values()
    assert event.attributes[0].value == url
    assert '"Bank"\n\\' in event.attributes[0].comment


@pytest.mark.parametrize("url", ["http://a.example/line\nbreak", "http://bücher.example/"])
def test_values_that_are_not_canonical_are_refused_clearly(url: str) -> None:
    with pytest.raises(FeedValueError, match="url 9: url is not printable ASCII"):
        make([entry(1), entry(9, url=url)])


def test_empty_feed() -> None:
    assert make([]) == {"manifest.json": b"{}", "hashes.csv": b""}
