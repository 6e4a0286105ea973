"""Feeds end to end: URLs from reports, confirmed by an analyst, served to an entitled member as JSON, CSV and STIX
within its TLP ceiling; a delisting reaches the next incremental feed as a withdrawal; ETags answer 304; an
organization without the entitlement gets nothing; confirmed lookalike domains make the RPZ zone."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import dns.zone
import stix2  # type: ignore[import-untyped]
from fastapi.testclient import TestClient
from sqlalchemy import select

from signalement.domain.accounts import Role
from signalement.domain.members import Tlp
from signalement.domain.reports import ReportedCategory
from signalement.domain.url_reputation import Level, UrlState
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import urls as store
from signalement.store.migrate import upgrade
from signalement.store.sql import utcnow
from signalement.store.tables import urls
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.test_cli import run
from tests.integration.web.helpers import entitled_member

KIT = "https://www.bakery-example.fr/wp-content/kit/login.php"
LOOKALIKE = "https://secure.paypa1-login.com/signin"


def _reported(platform: Platform, users_: Users, *links: str) -> dict[str, int]:
    reporter, _ = users_.create()
    for n, link in enumerate(links):
        raw = f"Subject: account {n}\r\nMessage-ID: <f{n}@x.example>\r\n\r\nSign in at {link} now.\r\n".encode()
        submission = Submission(raw=raw, reported_category=ReportedCategory.PHISHING)
        platform.intake.accept(Submitter.user(reporter), submission)
    run_jobs_until_idle(platform)
    with platform.engine.connect() as conn:
        return {r.canonical: r.id for r in conn.execute(select(urls.c.id, urls.c.canonical))}


def _judge(client: TestClient, staff: dict[str, str], url_id: int, **change: str) -> None:
    answer = client.post(f"/api/v1/urls/{url_id}:change", json={"reason": "checked", **change}, headers=staff)
    assert answer.status_code == 200, answer.text


def test_an_entitled_member_gets_the_feeds_within_its_ceiling(
    client: TestClient, platform: Platform, users: Users
) -> None:
    ids = _reported(platform, users, KIT, LOOKALIKE)
    staff = users.headers(Role.ANALYST)
    _judge(client, staff, ids[KIT], state="confirmed")
    _judge(client, staff, ids[LOOKALIKE], state="confirmed", tlp="amber")
    member = entitled_member(platform, users, feeds=frozenset({"urls", "domains"}), max_tlp=Tlp.GREEN)
    full = client.get("/api/v1/feeds/urls", headers=member)
    document = full.json()
    assert [(e["url"], e["level"], e["withdrawn"]) for e in document["entries"]] == [(KIT, "url", False)]
    amber = entitled_member(platform, users, feeds=frozenset({"urls"}), max_tlp=Tlp.AMBER)
    both = client.get("/api/v1/feeds/urls", headers=amber).json()["entries"]
    assert {(e["url"], e["level"], e["listed"]) for e in both} == {
        (KIT, "url", KIT),
        (LOOKALIKE, "domain", "paypa1-login.com"),
    }
    again = client.get("/api/v1/feeds/urls", headers=member | {"If-None-Match": full.headers["ETag"]})
    assert again.status_code == 304
    rows = list(csv.DictReader(io.StringIO(client.get("/api/v1/feeds/urls?format=csv", headers=member).text)))
    assert [r["url"] for r in rows] == [KIT]
    bundle = stix2.parse(client.get("/api/v1/feeds/urls?format=stix", headers=member).text, allow_custom=True)
    (indicator,) = [o for o in bundle.objects if o.type == "indicator"]
    assert indicator.pattern == f"[url:value = '{KIT}']"

    cursor = document["cursor"]
    asked = client.post("/api/v1/delisting-requests", json={"url": KIT, "contact": "owner@bakery-example.fr",
                                                            "reason": "the kit is removed"})  # fmt: skip
    assert asked.status_code == 202 and asked.json()["url_id"] == ids[KIT]
    decided = client.post(f"/api/v1/delisting-requests/{asked.json()['id']}:decide",
                          json={"decision": "accept", "reason": "cleaned"}, headers=staff)  # fmt: skip
    assert decided.json()["state"] == "accepted"
    changes = client.get(f"/api/v1/feeds/urls?cursor={cursor}", headers=member).json()
    assert [(e["url"], e["state"], e["withdrawn"]) for e in changes["entries"]] == [(KIT, "cleared", True)]
    assert client.get("/api/v1/feeds/urls", headers=member).json()["entries"] == []  # the full feed: nothing

    zone = client.get("/api/v1/feeds/rpz", headers=staff).text
    names = {str(name) for name, _ in dns.zone.from_text(zone, relativize=True).nodes.items()}
    assert {"paypa1-login.com", "*.paypa1-login.com"} <= names


def test_an_organization_not_entitled_gets_nothing(client: TestClient, platform: Platform, users: Users) -> None:
    member = entitled_member(platform, users, feeds=frozenset({"ips"}), max_tlp=Tlp.RED)
    answer = client.get("/api/v1/feeds/urls", headers=member)
    assert answer.status_code == 403 and "urls" in answer.json()["detail"]
    assert json.loads(client.get("/api/v1/feeds/rpz", headers=member).text)["status"] == 403


def test_signalement_export_writes_the_same_feeds(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data")
    platform = Platform(settings)
    upgrade(platform.engine)
    try:
        with platform.engine.begin() as conn:
            url_id = conn.execute(urls.insert().returning(urls.c.id), {
                "sha256": b"\x02" * 32, "canonical": LOOKALIKE, "host": "secure.paypa1-login.com",
                "first_seen": utcnow(), "last_seen": utcnow()}).scalar_one()  # fmt: skip
            found = store.get(conn, url_id)
            assert found is not None
            store.change(conn, found, actor="test", action="judge", state=UrlState.CONFIRMED,
                         listing=(Level.DOMAIN, "paypa1-login.com"))  # fmt: skip
    finally:
        platform.close()
    done = run(tmp_path / "data", "export", str(tmp_path / "out"), "--zone-domain", "example.org")
    assert done.returncode == 0, done.stderr
    entries = json.loads((tmp_path / "out" / "urls.json").read_text())["entries"]
    assert [(e["url"], e["listed"]) for e in entries] == [(LOOKALIKE, "paypa1-login.com")]
    checked = subprocess.run(["named-checkzone", "rpz.example.org", str(tmp_path / "out" / "rpz.zone")],
                             capture_output=True, text=True)  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    for zone, origin in (("dnsbl-ip.zone", "ip.dnsbl.example.org"), ("dnsbl-domain.zone", "dbl.example.org")):
        path = str(tmp_path / "out" / zone)
        checked = subprocess.run(["named-checkzone", origin, path], capture_output=True, text=True)
        assert checked.returncode == 0, checked.stdout
    assert (tmp_path / "out" / "origin-ips.map").read_text() == ""  # no indicator listed
    assert json.loads((tmp_path / "out" / "indicators.json").read_text())["entries"] == []
    manifest = json.loads((tmp_path / "out" / "misp" / "manifest.json").read_text())
    assert len(manifest) == 1 and (tmp_path / "out" / "misp" / f"{next(iter(manifest))}.json").exists()


def test_a_marking_tightened_past_a_ceiling_is_a_withdrawal_for_those_who_had_it(
    client: TestClient, platform: Platform, users: Users
) -> None:
    ids = _reported(platform, users, KIT)
    staff = users.headers(Role.ANALYST)
    _judge(client, staff, ids[KIT], state="confirmed")
    green = entitled_member(platform, users, feeds=frozenset({"urls"}), max_tlp=Tlp.GREEN)
    clear = entitled_member(platform, users, feeds=frozenset({"urls"}), max_tlp=Tlp.CLEAR)
    full = client.get("/api/v1/feeds/urls", headers=green).json()
    (entry,) = full["entries"]
    assert len(entry["campaigns"]) == 1 and entry["campaigns"][0].startswith("cmp-")  # its report's campaign
    _judge(client, staff, ids[KIT], tlp="red")
    since = client.get(f"/api/v1/feeds/urls?cursor={full['cursor']}", headers=green).json()["entries"]
    assert [(e["url"], e["state"], e["withdrawn"]) for e in since] == [(KIT, "confirmed", True)]
    assert client.get("/api/v1/feeds/urls", headers=green).json()["entries"] == []
    assert client.get("/api/v1/feeds/urls?cursor=0", headers=clear).json()["entries"] == []  # never had it
    assert client.get("/api/v1/feeds/urls?cursor=1", headers=clear).json()["entries"] == []
