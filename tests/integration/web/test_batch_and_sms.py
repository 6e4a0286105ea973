"""Batches (JSON and multipart), SMS reports and ARF feedback reports, through to their analysis."""

from __future__ import annotations

import json
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.parser import BytesParser
from email.policy import SMTP, compat32
from typing import Any

from benchmarks.mailgen import messages
from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import RFC822, b64, message, report_count, sha256

SMS = {
    "sender": "+33 6 12 34 56 78 ",
    "text": "Votre colis est en attente : réglez 1,99 € sur https://colis-suivi.example/p/8f3a",
    "received_at": "2026-11-03T08:15:00Z",
    "recipient_number": "+33698765432",
}


def _report(client: TestClient, headers: dict[str, str], report_id: int) -> dict[str, Any]:
    response = client.get(f"/api/v1/reports/{report_id}", headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- batches ---------------------------------------------------------------------------------------------------


def test_json_batch_of_fifty_then_the_same_again(client: TestClient, users: Users, platform: Platform) -> None:
    raws = list(messages(50, seed=21))
    headers = users.headers()
    batch = {"reports": [{"message": b64(raw), "reported_category": "phishing", "client": "bulk/1"} for raw in raws]}

    first = client.post("/api/v1/reports:batch", json=batch, headers=headers)
    assert first.status_code == 200, first.text
    result = first.json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (50, 0, 0)
    assert [r["index"] for r in result["results"]] == list(range(50))
    assert all(r["status"] == 202 for r in result["results"])
    assert [r["sha256"] for r in result["results"]] == [sha256(raw) for raw in raws]
    ids = [r["id"] for r in result["results"]]
    assert len(set(ids)) == 50

    again = client.post("/api/v1/reports:batch", json=batch, headers=headers).json()
    assert (again["accepted"], again["duplicates"], again["rejected"]) == (0, 50, 0)
    assert [r["id"] for r in again["results"]] == ids
    assert all(r["status"] == 200 for r in again["results"])
    assert report_count(platform) == 50

    for index in (0, 17, 49):
        assert platform.blobs.get(result["results"][index]["sha256"]) == raws[index]
        report = _report(client, headers, ids[index])
        assert (report["channel"], report["kind"], report["reported_category"], report["client"]) == (
            "batch",
            "message",
            "phishing",
            "bulk/1",
        )

    run_jobs_until_idle(platform)
    listed = client.get("/api/v1/reports?limit=100", headers=headers).json()["items"]
    assert sorted(r["id"] for r in listed) == sorted(ids)
    assert {r["status"] for r in listed} == {"analyzed"}
    assert all(r["facts"]["size"] == r["size"] for r in listed)


def test_json_batch_with_the_same_message_twice(client: TestClient, users: Users, platform: Platform) -> None:
    raw = message("twice in one batch")
    result = client.post(
        "/api/v1/reports:batch",
        json={"reports": [{"message": b64(raw)}, {"message": b64(raw)}]},
        headers=users.headers(),
    ).json()
    assert [r["status"] for r in result["results"]] == [202, 200]
    assert result["results"][0]["id"] == result["results"][1]["id"]
    assert report_count(platform) == 1


def test_multipart_batch(client: TestClient, users: Users, platform: Platform) -> None:
    raws = list(messages(5, seed=22))
    headers = users.headers()
    files = [("file", (f"{i}.eml", raw, "message/rfc822")) for i, raw in enumerate(raws)]
    response = client.post(
        "/api/v1/reports:batch",
        files=[*files, ("reported_category", (None, "scam")), ("comment", (None, "reçus cette semaine"))],
        headers=headers,
    )
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["accepted"], result["rejected"]) == (5, 0)
    assert [r["sha256"] for r in result["results"]] == [sha256(raw) for raw in raws]
    for r, raw in zip(result["results"], raws, strict=True):
        assert platform.blobs.get(r["sha256"]) == raw
        report = _report(client, headers, r["id"])
        assert (report["reported_category"], report["comment"], report["channel"]) == (
            "scam",
            "reçus cette semaine",
            "batch",
        )


def test_mixed_batch_keeps_the_good_and_explains_the_bad(client: TestClient, users: Users, platform: Platform) -> None:
    headers = users.headers()
    good = list(messages(3, seed=23))
    items = [
        {"message": b64(good[0])},
        {"message": "%%% not base64 %%%"},
        {"message": b64(good[1]), "comment": "celui-ci est valide"},
        {"message": b64(b"<html><body>not a message</body></html>")},
        {"message": b64(b"From: x@example.org\r\nSub\x00ject: nul\r\n\r\nbody")},
        {"message": b64(good[2])},
    ]
    result = client.post("/api/v1/reports:batch", json={"reports": items}, headers=headers).json()
    assert (result["accepted"], result["duplicates"], result["rejected"]) == (3, 0, 3)
    statuses = [(r["index"], r["status"], r["code"]) for r in result["results"]]
    assert statuses == [
        (0, 202, None),
        (1, 422, "invalid_base64"),
        (2, 202, None),
        (3, 422, "not_a_message"),
        (4, 422, "not_a_message"),
        (5, 202, None),
    ]
    stored = [r for r in result["results"] if r["status"] == 202]
    assert [r["sha256"] for r in stored] == [sha256(raw) for raw in good]
    assert report_count(platform) == 3
    assert _report(client, headers, stored[1]["id"])["comment"] == "celui-ci est valide"

    multipart = client.post(
        "/api/v1/reports:batch",
        files=[("file", ("a.eml", good[0], "message/rfc822")), ("file", ("b.txt", b"just text", "text/plain"))],
        headers=headers,
    ).json()
    assert [(r["status"], r["code"]) for r in multipart["results"]] == [(200, None), (422, "not_a_message")]
    assert multipart["results"][0]["id"] == stored[0]["id"]


# -- SMS -------------------------------------------------------------------------------------------------------


def _canonical_sms(sms: dict[str, Any], received_at: str) -> bytes:
    document = {
        "type": "sms",
        "sender": sms["sender"].strip(),
        "text": sms["text"],
        "received_at": received_at,
        "recipient_number": sms.get("recipient_number"),
    }
    return json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def test_sms_report_is_stored_as_canonical_json(client: TestClient, users: Users, platform: Platform) -> None:
    headers = users.headers()
    first = client.post("/api/v1/sms-reports", json=SMS | {"comment": "reçu ce matin"}, headers=headers)
    assert first.status_code == 202, first.text
    ack = first.json()
    expected = _canonical_sms(SMS, "2026-11-03T08:15:00+00:00")
    assert platform.blobs.get(ack["sha256"]) == expected
    assert ack["sha256"] == sha256(expected)
    assert json.loads(expected)["sender"] == "+33 6 12 34 56 78"

    # The same SMS again, with another comment: the comment is not part of the evidence, so the same report.
    again = client.post("/api/v1/sms-reports", json=SMS | {"comment": "encore"}, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["id"] == ack["id"]
    assert again.json()["created"] is False
    other_text = client.post("/api/v1/sms-reports", json=SMS | {"text": SMS["text"] + "!"}, headers=headers)
    assert other_text.status_code == 202

    report = _report(client, headers, ack["id"])
    assert (report["kind"], report["channel"], report["comment"]) == ("sms", "sms_api", "reçu ce matin")
    run_jobs_until_idle(platform)
    report = _report(client, headers, ack["id"])
    assert report["status"] == "analyzed"
    assert report["facts"]["sms"]["sender"] == "+33 6 12 34 56 78"
    assert report["facts"]["sms"]["text_length"] == len(SMS["text"])


def test_the_same_sms_in_another_time_zone_is_the_same_report(client: TestClient, users: Users) -> None:
    headers = users.headers()
    utc = client.post("/api/v1/sms-reports", json=SMS, headers=headers)
    paris = client.post("/api/v1/sms-reports", json=SMS | {"received_at": "2026-11-03T09:15:00+01:00"}, headers=headers)
    assert utc.status_code == 202
    assert paris.status_code == 200
    assert paris.json()["id"] == utc.json()["id"]


# -- ARF ---------------------------------------------------------------------------------------------------------


def feedback_report(original: bytes) -> bytes:
    """An RFC 5965 abuse report, as a mailbox provider sends one, built with the stdlib email package."""
    report = MIMEMultipart("report", report_type="feedback-report")
    report["From"] = "Abuse Desk <abuse@mailbox-provider.example>"
    report["To"] = "reports@signalement.example"
    report["Subject"] = "FW: abuse report"
    report["Date"] = "Tue, 03 Nov 2026 09:00:00 +0000"
    report["Message-ID"] = "<arf-0001@mailbox-provider.example>"
    report.attach(MIMEText("This is an email abuse report for an email message received from IP 192.0.2.1.\n"))
    feedback = MIMEBase("message", "feedback-report")
    feedback.set_payload(
        "Feedback-Type: abuse\r\n"
        "User-Agent: SomeGenerator/1.0\r\n"
        "Version: 1\r\n"
        "Original-Mail-From: <sender@spam.example>\r\n"
        "Arrival-Date: Tue, 03 Nov 2026 08:59:00 +0000\r\n"
        "Source-IP: 192.0.2.1\r\n"
        "Reported-Domain: spam.example\r\n"
    )
    report.attach(feedback)
    report.attach(MIMEMessage(BytesParser(policy=compat32).parsebytes(original)))
    return report.as_bytes(policy=SMTP)


def test_arf_feedback_report_is_stored_as_arf(client: TestClient, users: Users, platform: Platform) -> None:
    original = next(messages(1, seed=24))
    arf = feedback_report(original)
    parsed: Message = BytesParser(policy=compat32).parsebytes(arf)
    assert parsed.get_content_type() == "multipart/report"
    assert [p.get_content_type() for p in parsed.get_payload()] == [  # type: ignore[union-attr]
        "text/plain",
        "message/feedback-report",
        "message/rfc822",
    ]
    headers = users.headers()

    single = client.post("/api/v1/reports", content=arf, headers=headers | RFC822)
    assert single.status_code == 202, single.text
    assert platform.blobs.get(single.json()["sha256"]) == arf
    batch_arf = feedback_report(next(messages(1, seed=25)))
    batch = client.post(
        "/api/v1/reports:batch",
        json={"reports": [{"message": b64(batch_arf)}, {"message": b64(original)}]},
        headers=headers,
    ).json()
    assert batch["accepted"] == 2

    run_jobs_until_idle(platform)
    analyst = users.headers(Role.ANALYST)
    kinds = {
        report_id: _report(client, analyst, report_id)
        for report_id in (single.json()["id"], batch["results"][0]["id"], batch["results"][1]["id"])
    }
    assert [r["kind"] for r in kinds.values()] == ["arf", "arf", "message"]
    # A feedback report is analysed as the message it reports, its own fields beside it.
    assert ["feedback" in r["facts"] for r in kinds.values()] == [True, True, False]
    assert all(r["facts"]["content_type"] != "multipart/report" for r in kinds.values())
    assert all(r["status"] == "analyzed" for r in kinds.values())
    listed = client.get("/api/v1/reports?kind=arf", headers=analyst).json()["items"]
    assert sorted(r["id"] for r in listed) == sorted([single.json()["id"], batch["results"][0]["id"]])
