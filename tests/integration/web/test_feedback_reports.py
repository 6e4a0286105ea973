"""Feedback reports over HTTP: an ARF body to /api/v1/reports is analysed as the message it reports, with the
report's fields beside it; X-ARF v4 JSON to /api/v1/xarf is validated against the xarf-spec schemas."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from signalement.platform import Platform
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import RFC822, assert_problem, bearer

FIXTURES = Path(__file__).parents[2] / "fixtures"
JSON = {"Content-Type": "application/json"}


def test_an_arf_report_is_analysed_as_the_message_it_reports(
    client: TestClient, platform: Platform, users: Users
) -> None:
    headers = bearer(users.create()[1])
    raw = (FIXTURES / "arf" / "rfc5965-b2-optional-fields.eml").read_bytes()
    ack = client.post("/api/v1/reports", content=raw, headers=headers | RFC822)
    assert ack.status_code == 202
    run_jobs_until_idle(platform)
    report = client.get(f"/api/v1/reports/{ack.json()['id']}", headers=headers).json()
    assert (report["kind"], report["feedback"], report["status"]) == ("arf", "complaint", "analyzed")
    (feedback,) = report["facts"]["feedback"]
    assert feedback["feedback_type"] == "abuse" and feedback["source_ip"]
    assert report["facts"]["subject"] == "Earn money"  # the original's, not the wrapper's "FW: Earn money"
    assert report["from_domain"] == "example.net"


def test_a_valid_x_arf_report_is_stored_and_analysed(client: TestClient, platform: Platform, users: Users) -> None:
    headers = bearer(users.create()[1])
    document = (FIXTURES / "xarf" / "content-phishing.json").read_bytes()
    ack = client.post("/api/v1/xarf", content=document, headers=headers | JSON)
    assert ack.status_code == 202
    assert client.post("/api/v1/xarf", content=document, headers=headers | JSON).status_code == 200  # same bytes
    run_jobs_until_idle(platform)
    report = client.get(f"/api/v1/reports/{ack.json()['id']}", headers=headers).json()
    assert report["kind"] == "xarf" and report["status"] == "analyzed"
    assert (report["facts"]["xarf"]["category"], report["facts"]["xarf"]["type"]) == ("content", "phishing")


def test_an_invalid_x_arf_report_is_refused_with_each_error_by_path(client: TestClient, users: Users) -> None:
    headers = bearer(users.create()[1])
    for name in ("invalid-schema.json", "invalid-category-type.json", "v3-spam.json"):
        response = client.post("/api/v1/xarf", content=(FIXTURES / "xarf" / name).read_bytes(), headers=headers | JSON)
        body = assert_problem(response, 422, "invalid_xarf")
        assert body["errors"] and all(e.startswith("$") for e in body["errors"])
    assert_problem(client.post("/api/v1/xarf", content=b"{not json", headers=headers | JSON), 422, "invalid_xarf")
    assert_problem(client.post("/api/v1/xarf", content=b"{}", headers=headers | RFC822), 415)
