"""The worker analyses each report and stores what it found: searchable URLs, phones and attachments, on SQLite
and PostgreSQL; analysing again replaces, never duplicates."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from signalement.analysis.requeue import requeue_analysis
from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.tables import report_attachments, report_phones, report_urls, reports, urls
from tests.conftest import Users, run_jobs_until_idle

RFC822 = {"Content-Type": "message/rfc822"}
ZIP = base64.b64encode(
    b"PK\x05\x06" + b"\x00" * 18  # an empty zip archive: its end-of-central-directory record alone
).decode()


def _message(token: str) -> bytes:
    return (
        "Received: from mail.sender.example (mail.sender.example [203.0.113.7])\r\n"
        "\tby mx.recipient.example (Postfix) with ESMTPS id 4ABC; Fri, 27 Nov 2026 05:00:00 +0000\r\n"
        'From: "Service client" <client@sender.example>\r\n'
        "To: you@recipient.example\r\n"
        f"Subject: Votre colis {token}\r\n"
        "Date: Fri, 27 Nov 2026 05:00:00 +0000\r\n"
        f"Message-ID: <{token}@sender.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
        "--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
        f'<p>Payez les frais : <a href="https://colis-suivi.example.net/pay?t={token}">suivre</a> '
        "ou appelez le 06 12 34 56 78.</p><p>Voir aussi hxxps://shared-kit[.]example.org/x</p>\r\n"
        "--B\r\nContent-Type: application/zip; name=facture.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        f"{ZIP}\r\n--B--\r\n"
    ).encode()


def _submit(client: TestClient, users: Users, raw: bytes) -> int:
    response = client.post("/api/v1/reports", content=raw, headers=users.headers() | RFC822)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def _count(platform: Platform, table: object) -> int:
    with read(platform.engine) as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_analysis_is_stored_and_shown(client: TestClient, users: Users, platform: Platform) -> None:
    report_id = _submit(client, users, _message("a1"))
    run_jobs_until_idle(platform)
    report = client.get(f"/api/v1/reports/{report_id}", headers=users.headers(Role.ANALYST)).json()
    assert report["status"] == "analyzed", report
    facts = report["facts"]
    assert report["from_domain"] == "sender.example"
    hosts = {u["host"] for u in facts["urls"]}
    assert {"colis-suivi.example.net", "shared-kit.example.org"} <= hosts
    assert [p["e164"] for p in facts["phones"]] == ["+33612345678"]
    assert facts["attachments"][0]["name"] == "facture.zip"
    assert facts["fingerprint"]
    assert facts["origin"]["hops"]
    with read(platform.engine) as conn:
        stored = set(conn.execute(select(urls.c.host).join(report_urls)).scalars())
        phone = conn.execute(select(report_phones.c.e164)).scalar_one()
        attachment = conn.execute(select(report_attachments.c.name, report_attachments.c.sniffed_type)).one()
    assert stored == hosts
    assert phone == "+33612345678"
    assert attachment.name == "facture.zip"


def test_a_url_seen_in_two_reports_is_one_row_and_reanalysis_adds_nothing(
    client: TestClient, users: Users, platform: Platform
) -> None:
    first = _submit(client, users, _message("b1"))
    second = _submit(client, users, _message("b2"))
    run_jobs_until_idle(platform)
    with read(platform.engine) as conn:
        shared = conn.execute(select(urls.c.id).where(urls.c.host == "shared-kit.example.org")).scalar_one()
        linked = set(conn.execute(select(report_urls.c.report_id).where(report_urls.c.url_id == shared)).scalars())
    assert linked == {first, second}
    before = [_count(platform, t) for t in (urls, report_urls, report_phones, report_attachments)]

    assert requeue_analysis(platform, "test", report_ids=(first, second)) == 2
    run_jobs_until_idle(platform)
    assert [_count(platform, t) for t in (urls, report_urls, report_phones, report_attachments)] == before
    with read(platform.engine) as conn:
        seen = conn.execute(select(urls.c.first_seen, urls.c.last_seen).where(urls.c.id == shared)).one()
        received = sorted(conn.execute(select(reports.c.received_at)).scalars())
    assert (seen.first_seen, seen.last_seen) == (received[0], received[-1])


def test_sms_reports_get_urls_and_phones(client: TestClient, users: Users, platform: Platform) -> None:
    sms = {
        "sender": "+33700000000",
        "text": "Colis en attente: reglez 1,99 EUR sur https://colis-frais.example.com/fr ou appelez 0899 10 20 30",
        "received_at": datetime(2026, 11, 27, 5, 0, tzinfo=UTC).isoformat(),
    }
    response = client.post("/api/v1/sms-reports", json=sms, headers=users.headers())
    assert response.status_code == 202, response.text
    run_jobs_until_idle(platform)
    report = client.get(f"/api/v1/reports/{response.json()['id']}", headers=users.headers(Role.ANALYST)).json()
    facts = report["facts"]
    assert [u["host"] for u in facts["urls"]] == ["colis-frais.example.com"]
    assert [p["e164"] for p in facts["phones"]] == ["+33899102030"]
    assert facts["sms"]["sender_kind"] == "number"


def test_reports_are_found_by_verdict_and_campaign(client: TestClient, users: Users, platform: Platform) -> None:
    first, second = _submit(client, users, _message("c1")), _submit(client, users, _message("c2"))
    run_jobs_until_idle(platform)
    staff = users.headers(Role.ANALYST)
    report = client.get(f"/api/v1/reports/{first}", headers=staff).json()
    category = report["verdict"]["category"]
    assert category == report["facts"]["category"]
    assert report["facts"]["reasons"], "the verdict explains itself"
    found = client.get("/api/v1/reports", params={"verdict_category": category}, headers=staff).json()["items"]
    assert {first, second} <= {r["id"] for r in found}
    other = "legitimate" if category != "legitimate" else "spam"
    assert client.get("/api/v1/reports", params={"verdict_category": other}, headers=staff).json()["items"] == []
    campaign = report["campaign_id"]
    assert campaign and client.get(f"/api/v1/reports/{second}", headers=staff).json()["campaign_id"] == campaign
    same = client.get("/api/v1/reports", params={"campaign_id": campaign}, headers=staff).json()["items"]
    assert {r["id"] for r in same} == {first, second}
    assert (
        client.get("/api/v1/reports", params={"campaign_id": "cmp-000000000000"}, headers=staff).json()["items"] == []
    )
    bad = client.get("/api/v1/reports", params={"verdict_category": "ham"}, headers=staff)
    assert bad.status_code == 422
