"""POST and GET /api/v1/reports against a real database (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib

from benchmarks.mailgen import messages
from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from tests.conftest import Users, run_jobs_until_idle

RFC822 = {"Content-Type": "message/rfc822"}


def test_raw_message_is_stored_then_analyzed(client: TestClient, users: Users, platform: Platform) -> None:
    raw = next(messages(1))
    headers = users.headers() | RFC822
    response = client.post("/api/v1/reports?reported_category=phishing&client=test%2F1.0", content=raw, headers=headers)
    assert response.status_code == 202, response.text
    ack = response.json()
    assert ack["sha256"] == hashlib.sha256(raw).hexdigest()
    assert platform.blobs.get(ack["sha256"]) == raw
    assert ack["status_url"].endswith(f"/api/v1/reports/{ack['id']}")

    run_jobs_until_idle(platform)
    report = client.get(f"/api/v1/reports/{ack['id']}", headers=headers).json()
    assert report["status"] == "analyzed"
    assert report["reported_category"] == "phishing"
    assert report["client"] == "test/1.0"
    assert report["facts"]["subject"].startswith(
        ("Votre", "Action", "Your", "Rembour", "Unusual", "Dernier", "Congr", "Mise")
    )
    assert report["facts"]["size"] == len(raw)


def test_same_reporter_same_bytes_gets_the_existing_report(client: TestClient, users: Users) -> None:
    raw = next(messages(1, seed=7))
    headers = users.headers() | RFC822
    first = client.post("/api/v1/reports", content=raw, headers=headers)
    again = client.post("/api/v1/reports", content=raw, headers=headers)
    other = client.post("/api/v1/reports", content=raw, headers=users.headers() | RFC822)
    assert (first.status_code, again.status_code, other.status_code) == (202, 200, 202)
    assert again.json()["id"] == first.json()["id"]
    assert other.json()["id"] != first.json()["id"]
    assert other.json()["sha256"] == first.json()["sha256"]  # one blob, two reports


def test_multipart_upload(client: TestClient, users: Users) -> None:
    raw = next(messages(1, seed=3))
    response = client.post(
        "/api/v1/reports",
        files={"file": ("message.eml", raw, "message/rfc822")},
        data={"reported_category": "spam", "comment": "reçu deux fois"},
        headers=users.headers(),
    )
    assert response.status_code == 202, response.text
    report = client.get(response.json()["status_url"].split("8000")[-1], headers=users.headers(Role.ANALYST)).json()
    assert (report["reported_category"], report["comment"]) == ("spam", "reçu deux fois")
