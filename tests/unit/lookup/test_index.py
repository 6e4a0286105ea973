"""The lookup index: the Safe Browsing hashes of listed expressions, found by full hash or 4-byte prefix within a TLP
ceiling, replaced URL by URL, merged into its arrays as the overlay grows; and the expressions of a listing."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, UrlState
from signalement.lookup import index as module
from signalement.lookup.index import Entry, LookupIndex, full_hash, prefix_of
from signalement.lookup.service import Snapshot, entries_of, expressions_of
from signalement.store.urls import Url

GREEN, AMBER = Tlp.GREEN.rank, Tlp.AMBER.rank


def test_full_hashes_and_prefixes_as_safe_browsing_computes_them() -> None:
    # FIPS 180-2's vectors, which the Safe Browsing "URLs and Hashing" page gives for its hash computations.
    assert full_hash("abc").hex() == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert full_hash("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq").hex().startswith("248d6a61")
    assert prefix_of(full_hash("abc")) == 0xBA7816BF
    # An expression (Google's own test page, as its support forum quotes it; never fetched).
    assert full_hash("testsafebrowsing.appspot.com/s/phishing.html").hex().startswith("efbd4c3a")


def _entries(*pairs: tuple[int, str, int]) -> list[Entry]:
    return [Entry(url_id, full_hash(expression), rank) for url_id, expression, rank in pairs]


def test_found_by_hash_and_prefix_within_the_ceiling() -> None:
    index = LookupIndex(_entries((1, "a.example/", GREEN), (2, "b.example/kit/", AMBER), (3, "c.example/x", GREEN)))
    assert index.find(full_hash("a.example/"), GREEN) is not None
    assert index.find(full_hash("b.example/kit/"), GREEN) is None  # above the ceiling
    assert index.find(full_hash("b.example/kit/"), AMBER).url_id == 2  # type: ignore[union-attr]
    assert index.find(full_hash("unlisted.example/"), Tlp.RED.rank) is None
    (match,) = index.by_prefix(prefix_of(full_hash("c.example/x")), GREEN)
    assert (match.url_id, match.hash) == (3, full_hash("c.example/x"))
    assert sorted(index.prefixes(GREEN).tolist()) == sorted(
        prefix_of(full_hash(e)) for e in ("a.example/", "c.example/x")
    )
    assert len(index.prefixes(AMBER)) == 3
    found = index.find_many([full_hash("c.example/x"), full_hash("nope/"), full_hash("b.example/kit/")], GREEN)
    assert [m.url_id if m else None for m in found] == [3, None, None]


@pytest.mark.parametrize("merge_at", [1_000, 2])  # with the overlay, and merged into new arrays
def test_a_url_replaced_leaves_its_old_entries(monkeypatch: pytest.MonkeyPatch, merge_at: int) -> None:
    monkeypatch.setattr(module, "MERGE_AT", merge_at)
    first = LookupIndex(_entries((1, "a.example/", GREEN), (2, "b.example/", GREEN)))
    second = first.updated({1: [], 3: _entries((3, "c.example/", GREEN)), 2: _entries((2, "b.example/x", AMBER))})
    assert first.find(full_hash("a.example/"), GREEN) is not None  # the earlier version is unchanged
    assert second.find(full_hash("a.example/"), GREEN) is None
    assert second.find(full_hash("c.example/"), GREEN).url_id == 3  # type: ignore[union-attr]
    assert second.find(full_hash("b.example/"), AMBER) is None
    assert second.find_many([full_hash("b.example/x")], AMBER)[0] is not None
    assert len(second) == 2 and len(second.prefixes(GREEN)) == 1
    third = second.updated({3: []})
    assert third.find(full_hash("c.example/"), GREEN) is None and len(third) == 1


def _url(canonical: str, level: Level, listed: str, state: UrlState = UrlState.CONFIRMED) -> Url:
    now = datetime(2026, 11, 1, tzinfo=UTC)
    host = canonical.split("/")[2]
    return Url(7, canonical, host, state, Tlp.GREEN, level, listed, None, 1, 1, now, now, None, now, now, 1)


@pytest.mark.parametrize(
    ("canonical", "level", "listed", "expression"),
    [
        ("https://x.example/a/b.php?id=1", Level.URL, "https://x.example/a/b.php?id=1", "x.example/a/b.php?id=1"),
        ("https://x.example/wp/kit/b.php", Level.PREFIX, "https://x.example/wp/kit/", "x.example/wp/kit/"),
        ("https://x.example/a/b/c/d/e.php", Level.PREFIX, "https://x.example/a/b/c/d/", "x.example/a/b/c/d/e.php"),
        ("https://login.paypal.x.example/s", Level.HOST, "login.paypal.x.example", "login.paypal.x.example/"),
        ("https://www.paypa1-login.com/s", Level.DOMAIN, "paypa1-login.com", "paypa1-login.com/"),
    ],
)
def test_the_expression_of_a_listing_is_one_a_client_tries(
    canonical: str, level: Level, listed: str, expression: str
) -> None:
    url = _url(canonical, level, listed)
    assert expressions_of(url) == [expression]
    # The client side: the URL's own expressions include it, so a browser checking the URL finds it.
    snapshot = Snapshot(1, LookupIndex(entries_of(url)))
    (hit,) = snapshot.check([canonical.replace("https://", "http://")], GREEN)
    assert hit is not None and hit.expression == expression and hit.url_id == 7


def test_only_confirmed_urls_have_entries() -> None:
    for state in (UrlState.SUSPECTED, UrlState.CLEARED, UrlState.DOWN):
        assert entries_of(_url("https://x.example/a", Level.URL, "https://x.example/a", state)) == []
