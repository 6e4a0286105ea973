"""Origin IPs and sender domains of confirmed campaigns, end to end: reports delivered by Gmail (a trusted chain and
trusted DMARC results) of a brand lookalike with a credential form; the URL is confirmed by rule, its campaign with
it, and the indicators are listed once two sources show them, served as feeds and DNSBL zones that named-checkzone
loads; never from one source, never a member's claimed domain; an analyst's clearing and an expiry are
withdrawals; a campaign confirmed later lists what its earlier reports showed."""

from __future__ import annotations

import subprocess
from datetime import timedelta
from pathlib import Path

import dns.zone
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.members import OrgKind, Tlp
from signalement.domain.reports import ReportedCategory
from signalement.feeds.indicators import expire
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import claims, organizations
from signalement.store import indicators as store
from signalement.store.sql import utcnow
from signalement.store.tables import campaigns, indicators, urls
from signalement.verdict.indicators import Indicator, IndicatorState, Kind
from signalement.work.port import TaskContext
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.ui.test_accounts import post_form
from tests.integration.web.helpers import entitled_member

IP, DOMAIN = "45.153.160.2", "secure-paypa1.com"  # a public address and a lookalike, as text only: never contacted


def phish(n: int, *, ip: str = IP, domain: str = DOMAIN, form: bool = True) -> bytes:
    """A phishing mail as Gmail delivers it: its Received field and Authentication-Results (DMARC pass)."""
    asks = '<form action="https://{d}/login.php"><input type="password" name="pw"></form>' if form else ""
    return f"""Delivered-To: victim{n}@gmail.com
Received: by 2002:a05:7300:5c0a:b0:e4:1234:5678 with SMTP id x{n}csp1;
        Mon, 2 Nov 2026 09:30:00 -0800 (PST)
Received: from mail.{domain} (mail.{domain}. [{ip}])
        by mx.google.com with ESMTPS id a{n}si1.2026.11.02.09.30.00
        for <victim{n}@gmail.com>;
        Mon, 02 Nov 2026 09:30:00 -0800 (PST)
Authentication-Results: mx.google.com;
       dkim=pass header.i=@{domain} header.s=s1 header.b=AbCdEf12;
       spf=pass (google.com: domain of info@{domain} designates {ip} as permitted sender) smtp.mailfrom=info@{domain};
       dmarc=pass (p=NONE sp=NONE dis=NONE) header.from={domain}
From: PayPal <info@{domain}>
To: victim{n}@gmail.com
Subject: Your account is limited
Message-ID: <p{n}@{domain}>
Date: Mon, 02 Nov 2026 17:29:58 +0000
MIME-Version: 1.0
Content-Type: text/html; charset=utf-8

<html><body><p>Your PayPal account is limited. Sign in to restore your access today:</p>
{asks.format(d=domain)}<a href="https://{domain}/login.php">Restore access</a></body></html>
""".replace("\n", "\r\n").encode()


def _report(platform: Platform, reporter: int, raw: bytes) -> int:
    submission = Submission(raw=raw, reported_category=ReportedCategory.PHISHING)
    return platform.intake.accept(Submitter.user(reporter), submission).report_id


def _indicators(platform: Platform) -> dict[tuple[str, str], store.Row]:
    with platform.engine.connect() as conn:
        return {(r.kind.value, r.value): r for r in store.listing(conn, limit=500)}


def _states(platform: Platform) -> dict[tuple[str, str], IndicatorState]:
    return {key: row.state for key, row in _indicators(platform).items()}


def _names(zone: str) -> set[str]:
    return {str(name) for name, _ in dns.zone.from_text(zone, relativize=True).nodes.items()}


def _checkzone(zone: str, tmp_path: Path) -> None:
    (origin,) = [line.split()[1].rstrip(".") for line in zone.splitlines() if line.startswith("$ORIGIN")]
    path = tmp_path / f"{origin}.zone"
    path.write_text(zone)
    checked = subprocess.run(["named-checkzone", origin, str(path)], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout


def test_two_sources_list_a_campaigns_origin_and_sender(
    client: TestClient, platform: Platform, users: Users, tmp_path: Path
) -> None:
    first, _ = users.create()
    _report(platform, first, phish(1))
    _report(platform, first, phish(2))  # the same reporter again: still one source
    run_jobs_until_idle(platform)
    with platform.engine.connect() as conn:
        assert conn.execute(select(urls.c.state)).scalars().all() == ["confirmed"]  # by rule
        assert conn.execute(select(campaigns.c.confirmed_at)).scalar() is not None
    assert _states(platform) == {("ip", IP): "suspected", ("domain", DOMAIN): "suspected"}

    second, _ = users.create()
    _report(platform, second, phish(3))
    run_jobs_until_idle(platform)
    found = _indicators(platform)
    assert {k: (r.state, r.reports, r.sources) for k, r in found.items()} == {
        ("ip", IP): ("confirmed", 3, 2),
        ("domain", DOMAIN): ("confirmed", 3, 2),
    }
    with platform.engine.connect() as conn:
        public_id = conn.execute(select(campaigns.c.public_id)).scalar()
        (event,) = store.events(conn, found[("ip", IP)].id)
    assert found[("ip", IP)].campaigns == (public_id,)
    assert (event.actor, event.action) == ("rules", "confirmed") and "2 sources" in event.detail["reason"]

    member = entitled_member(platform, users, feeds=frozenset({"indicators"}), max_tlp=Tlp.GREEN)
    feed = client.get("/api/v1/feeds/indicators", headers=member).json()
    assert {(e["kind"], e["value"], e["withdrawn"], tuple(e["campaigns"])) for e in feed["entries"]} == {
        ("ip", IP, False, (public_id,)),
        ("domain", DOMAIN, False, (public_id,)),
    }
    ips = client.get("/api/v1/feeds/dnsbl/ip", headers=member)
    assert ips.headers["content-type"].startswith("text/dns")
    assert "2.160.153.45" in _names(ips.text)
    _checkzone(ips.text, tmp_path)
    domains = client.get("/api/v1/feeds/dnsbl/domain", headers=member).text
    assert DOMAIN in _names(domains)
    _checkzone(domains, tmp_path)
    assert client.get("/api/v1/feeds/indicators?kind=ip&format=txt", headers=member).text == f"{IP}\n"  # a map
    csv_feed = client.get("/api/v1/feeds/indicators?kind=ip&format=csv", headers=member).text
    assert csv_feed.splitlines()[0].startswith("kind,value,state") and f"ip,{IP},confirmed" in csv_feed

    clear = entitled_member(platform, users, feeds=frozenset({"indicators"}), max_tlp=Tlp.CLEAR)
    assert client.get("/api/v1/feeds/indicators", headers=clear).json()["entries"] == []  # GREEN above CLEAR
    urls_only = entitled_member(platform, users, feeds=frozenset({"urls"}), max_tlp=Tlp.RED)
    assert client.get("/api/v1/feeds/dnsbl/ip", headers=urls_only).status_code == 403

    # An analyst clears the IP: a withdrawal from the cursor on, out of the zone, and reports never list it again.
    staff = users.headers(Role.ANALYST)
    changed = client.post(f"/api/v1/indicators/{found[('ip', IP)].id}:change",
                          json={"state": "cleared", "reason": "a shared relay"}, headers=staff)  # fmt: skip
    assert changed.status_code == 200 and changed.json()["state"] == "cleared"
    since = client.get(f"/api/v1/feeds/indicators?cursor={feed['cursor']}", headers=member).json()["entries"]
    assert [(e["value"], e["state"], e["withdrawn"]) for e in since] == [(IP, "cleared", True)]
    assert "2.160.153.45" not in _names(client.get("/api/v1/feeds/dnsbl/ip", headers=member).text)
    third, _ = users.create()
    _report(platform, third, phish(4))
    run_jobs_until_idle(platform)
    assert _states(platform)[("ip", IP)] == "cleared"
    detail = client.get(f"/api/v1/indicators/{found[('ip', IP)].id}", headers=staff).json()
    assert [e["action"] for e in detail["events"]] == ["confirmed", "judge"]

    # No report for 60 days: the domain expires, and is withdrawn.
    with platform.engine.begin() as conn:
        conn.execute(update(indicators).values(last_seen=utcnow() - timedelta(days=61)))
    expire(TaskContext(platform.settings, platform.engine, platform.blobs, platform.queue), {})
    assert _states(platform)[("domain", DOMAIN)] == "expired"
    assert DOMAIN not in _names(client.get("/api/v1/feeds/dnsbl/domain", headers=member).text)


def test_a_members_claimed_domain_is_never_listed(platform: Platform, users: Users) -> None:
    with platform.engine.begin() as conn:
        member = organizations.create(conn, "Lookalike Owner", OrgKind.SENDER)
        claim = claims.create(conn, member, ClaimKind.DOMAIN, DOMAIN, created_by=None)
        claims.mark_verified(conn, claim, Proof.DNS_TXT, by=None)
    for n in range(2):
        reporter, _ = users.create()
        _report(platform, reporter, phish(n))
    run_jobs_until_idle(platform)
    assert _states(platform) == {("ip", IP): "confirmed", ("domain", DOMAIN): "suspected"}


def test_a_campaign_confirmed_later_lists_what_its_reports_showed(
    client: TestClient, platform: Platform, users: Users
) -> None:
    made = []
    for n in range(2):
        reporter, _ = users.create()
        made.append(_report(platform, reporter, phish(n, form=False)))  # no credential form: no rule confirms
    run_jobs_until_idle(platform)
    assert _states(platform) == {}  # a campaign nobody confirmed lists nothing, nor keeps a tally
    with platform.engine.connect() as conn:
        url_id = conn.execute(select(urls.c.id)).scalar_one()
        assert store.of_report(conn, made[0]) == [Indicator(Kind.DOMAIN, DOMAIN), Indicator(Kind.IP, IP)]
    judged = client.post(f"/api/v1/urls/{url_id}:change", json={"state": "confirmed", "reason": "a kit"},
                         headers=users.headers(Role.ANALYST))  # fmt: skip
    assert judged.status_code == 200
    run_jobs_until_idle(platform)  # the analyst's confirmation confirms the campaign; its job weighs the reports
    assert _states(platform) == {("ip", IP): "confirmed", ("domain", DOMAIN): "confirmed"}


def test_the_owner_of_a_listed_address_asks_for_its_delisting(
    client: TestClient, platform: Platform, users: Users
) -> None:
    for n in range(2):
        reporter, _ = users.create()
        _report(platform, reporter, phish(n))
    run_jobs_until_idle(platform)
    ip_id = _indicators(platform)[("ip", IP)].id
    zone = client.get("/api/v1/feeds/dnsbl/ip", headers=users.headers(Role.ANALYST)).text
    assert f"/delisting?value={IP}" in zone  # the TXT record says where to ask
    form = client.get(f"/delisting?value={IP}")
    assert form.status_code == 200 and f'value="{IP}"' in form.text
    asking = {"url": f" {IP} ", "contact": "postmaster@hoster.example", "reason": "The customer was suspended."}
    sent = post_form(client, "/delisting", asking, form_page="/delisting")
    assert sent.status_code == 200
    asked = client.post("/api/v1/delisting-requests", json={"url": "Mail.Secure-Paypa1.com", "reason": "ours now",
                                                             "contact": "owner@secure-paypa1.com"})  # fmt: skip
    assert asked.status_code == 202 and asked.json()["url"] == DOMAIN and asked.json()["indicator_id"] is not None
    staff = users.headers(Role.ANALYST)
    (pending,) = [r for r in client.get("/api/v1/delisting-requests", headers=staff).json() if r["url"] == IP]
    assert pending["indicator_id"] == ip_id and pending["url_id"] is None
    decided = client.post(f"/api/v1/delisting-requests/{pending['id']}:decide",
                          json={"decision": "accept", "reason": "suspended"}, headers=staff)  # fmt: skip
    assert decided.json()["state"] == "accepted"
    assert _states(platform) == {("ip", IP): "cleared", ("domain", DOMAIN): "confirmed"}
    assert "2.160.153.45" not in _names(client.get("/api/v1/feeds/dnsbl/ip", headers=staff).text)


def test_an_analyst_confirms_a_campaign_without_urls(client: TestClient, platform: Platform, users: Users) -> None:
    for n in range(2):
        reporter, _ = users.create()
        raw = phish(n, form=False).replace(b'<a href="https://secure-paypa1.com/login.php">Restore access</a>', b"")
        _report(platform, reporter, raw.replace(b"Sign in to restore", b"Call +1 555 0100 to restore"))
    run_jobs_until_idle(platform)
    with platform.engine.connect() as conn:
        assert conn.execute(select(urls.c.id)).all() == []
        public_id = conn.execute(select(campaigns.c.public_id)).scalar_one()
    reporter_token = users.headers(Role.REPORTER)
    path = f"/api/v1/campaigns/{public_id}:confirm"
    assert client.post(path, json={"reason": "a call-back scam"}, headers=reporter_token).status_code == 403
    confirmed = client.post(path, json={"reason": "a call-back scam"}, headers=users.headers(Role.ANALYST))
    assert confirmed.status_code == 200 and confirmed.json()["confirmed_at"] is not None
    run_jobs_until_idle(platform)
    assert _states(platform) == {("ip", IP): "confirmed", ("domain", DOMAIN): "confirmed"}
