"""The private lookup end to end, with a client written as Safe Browsing's are: it keeps the prefix list, applies
each difference (removals by index, then additions), checks the list's SHA-256 against the server's checksum (and
starts over when they differ), and asks for full hashes only for a URL whose expression's prefix is in its list.
The server never receives a URL from it. TLP: anonymous callers get CLEAR and GREEN only; an organization up to its
ceiling. Verdicts for URLs in clear only with `lookup:urls`."""

from __future__ import annotations

import base64
import bisect
import hashlib
from dataclasses import dataclass, field

from fastapi import FastAPI
from fastapi.testclient import TestClient

from signalement.domain.members import Tlp
from signalement.domain.url_reputation import Level, UrlState
from signalement.lookup.service import LookupService
from signalement.mail.canonical import canonicalize, expressions
from signalement.platform import Platform
from signalement.store import urls as store
from signalement.store.sql import utcnow
from signalement.store.tables import urls
from tests.conftest import Users
from tests.integration.web.helpers import entitled_member

KIT = "https://www.bakery-example.fr/wp-content/kit/login.php?session=1"
LOOKALIKE = "https://secure.paypa1-login.com/signin"
AMBER_URL = "https://amber.example/private/"


@dataclass
class Client:
    """A Safe Browsing-style client: the list, its version, and the prefixes it ever sent."""

    http: TestClient
    headers: dict[str, str] = field(default_factory=dict)
    prefixes: list[bytes] = field(default_factory=list)
    version: int = 0
    sent: list[bytes] = field(default_factory=list)
    resets: int = 0

    def update(self) -> None:
        answer = self.http.get(f"/api/v1/lookup/prefixes?version={self.version}", headers=self.headers)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        added = base64.b64decode(body["additions"])
        fresh = [added[i : i + 4] for i in range(0, len(added), 4)]
        if body["reset"]:
            self.resets += 1
            merged = fresh
        else:
            gone = set(body["removals"])
            kept = [p for i, p in enumerate(self.prefixes) if i not in gone]
            merged = sorted(kept + fresh)
        if base64.b64encode(hashlib.sha256(b"".join(merged)).digest()).decode() != body["checksum"]:
            self.prefixes, self.version = [], 0  # corrupt: start over, as the spec says
            return self.update()
        self.prefixes, self.version = merged, body["version"]
        return None

    def listed(self, url: str) -> bool:
        digests = [hashlib.sha256(e.encode()).digest() for e in expressions(url)]
        wanted = sorted({d[:4] for d in digests if self._has(d[:4])})
        if not wanted:
            return False
        self.sent += wanted
        asked = {"prefixes": [base64.b64encode(p).decode() for p in wanted]}
        answer = self.http.post("/api/v1/lookup/hashes", json=asked, headers=self.headers)
        assert answer.status_code == 200, answer.text
        full = {base64.b64decode(m["hash"]) for m in answer.json()["matches"]}
        return any(d in full for d in digests)

    def _has(self, prefix: bytes) -> bool:
        at = bisect.bisect_left(self.prefixes, prefix)
        return at < len(self.prefixes) and self.prefixes[at] == prefix


def _confirm(platform: Platform, canonical: str, tlp: Tlp = Tlp.GREEN) -> int:
    with platform.engine.begin() as conn:
        url_id = int(conn.execute(urls.insert().returning(urls.c.id), {
            "sha256": hashlib.sha256(canonical.encode()).digest(), "canonical": canonical,
            "host": canonical.split("/")[2], "first_seen": utcnow(), "last_seen": utcnow(),
        }).scalar_one())  # fmt: skip
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="test", action="judge", state=UrlState.CONFIRMED, tlp=tlp,
                     listing=(Level.URL, canonical))  # fmt: skip
    return url_id


def _change(platform: Platform, url_id: int, **change: object) -> None:
    with platform.engine.begin() as conn:
        found = store.get(conn, url_id)
        assert found is not None
        store.change(conn, found, actor="test", action="judge", **change)  # type: ignore[arg-type]


def _fresh(client: TestClient, platform: Platform) -> None:
    app: FastAPI = client.app  # type: ignore[assignment]
    app.state.lookup = LookupService(platform.engine, refresh=0)  # every request sees the latest changes


def test_a_client_follows_the_list_by_differences(client: TestClient, platform: Platform, users: Users) -> None:
    _fresh(client, platform)
    kit = _confirm(platform, canonicalize(KIT) or "")
    browser = Client(client)
    browser.update()
    assert browser.resets == 1 and len(browser.prefixes) == 1
    assert browser.listed("http://www.bakery-example.fr/wp-content/kit/login.php?session=1#top")
    assert not browser.listed("https://www.bakery-example.fr/")  # no prefix in the list: nothing sent
    assert len(browser.sent) == 1
    lookalike = _confirm(platform, canonicalize(LOOKALIKE) or "")
    _confirm(platform, AMBER_URL, Tlp.AMBER)
    _change(platform, kit, state=UrlState.CLEARED)  # delisted
    browser.update()
    assert browser.resets == 1 and len(browser.prefixes) == 1  # a difference: one removal, one addition
    assert browser.listed(LOOKALIKE) and not browser.listed(KIT) and not browser.listed(AMBER_URL)
    _change(platform, lookalike, tlp=Tlp.AMBER)  # tightened past what anyone may see
    browser.update()
    assert browser.prefixes == [] and not browser.listed(LOOKALIKE)

    member = Client(client, entitled_member(platform, users, max_tlp=Tlp.AMBER))
    member.update()
    assert member.listed(AMBER_URL) and member.listed(LOOKALIKE)

    browser.prefixes = [b"\x00\x00\x00\x01"]  # a corrupted local list: the checksum differs, the client resets
    browser.update()
    assert browser.resets == 2 and browser.prefixes == []
    stranger = Client(client, version=987_654)  # a version this server never served: the whole list
    stranger.update()
    assert stranger.resets == 1


def test_full_hashes_answer_only_what_the_caller_may_see(client: TestClient, platform: Platform) -> None:
    _fresh(client, platform)
    _confirm(platform, AMBER_URL, Tlp.AMBER)
    prefix = base64.b64encode(hashlib.sha256(b"amber.example/private/").digest()[:4]).decode()
    anonymous = client.post("/api/v1/lookup/hashes", json={"prefixes": [prefix]}).json()
    assert anonymous["matches"] == [] and anonymous["negative_cache_seconds"] > 0
    bad = client.post("/api/v1/lookup/hashes", json={"prefixes": ["AAA="]})
    assert bad.status_code == 422 and bad.json()["code"] == "bad_prefix"


def test_urls_in_clear_need_the_entitlement(client: TestClient, platform: Platform, users: Users) -> None:
    _fresh(client, platform)
    _confirm(platform, canonicalize(LOOKALIKE) or "")
    batch = {"urls": [LOOKALIKE, "https://SECURE.paypa1-login.com/signin#x", "https://example.org/", "not a url"]}
    entitled = entitled_member(platform, users, lookup_urls=True)
    answer = client.post("/api/v1/lookup/urls", json=batch, headers=entitled)
    assert answer.status_code == 200, answer.text
    results = answer.json()["results"]
    assert [r["listed"] for r in results] == [True, True, False, False]
    assert results[0]["expression"] == "secure.paypa1-login.com/signin" and results[0]["threat"] == "SOCIAL_ENGINEERING"
    refused = client.post("/api/v1/lookup/urls", json=batch, headers=entitled_member(platform, users))
    assert refused.status_code == 403
    too_many = client.post("/api/v1/lookup/urls", json={"urls": ["https://x.example/"] * 501}, headers=entitled)
    assert too_many.status_code == 422


def test_two_api_processes_serve_the_same_lists(client: TestClient, platform: Platform) -> None:
    from signalement.web.app import create_app

    _fresh(client, platform)
    with TestClient(create_app(platform), client=("127.0.0.1", 50001)) as other:
        _fresh(other, platform)
        _confirm(platform, canonicalize(KIT) or "")
        browser = Client(client)
        browser.update()
        browser.http = other  # the next request lands on the other process, at the same version: no reset
        browser.update()
        lookalike = _confirm(platform, canonicalize(LOOKALIKE) or "")
        browser.update()
        assert browser.resets == 1 and browser.listed(LOOKALIKE)
        browser.http = client  # back on the first, which never held that version (it skipped it): a reset
        _change(platform, lookalike, state=UrlState.CLEARED)
        browser.update()
        assert browser.resets == 2 and browser.listed(KIT) and not browser.listed(LOOKALIKE)
