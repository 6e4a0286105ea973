"""SMS from a partner platform's bulk push and from conversations with the short number, through to analysis."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from signalement.ingest.sms_conversation import expire
from signalement.platform import Platform
from signalement.store.sql import utcnow
from signalement.store.tables import reports, sms_conversations
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import report_count

SPAM = "Votre colis est en attente : réglez 1,99 € sur https://colis-suivi.example/p/8f3a"
WHEN = "2026-11-03T08:15:00Z"


def _sms(text: str = SPAM, **more: Any) -> dict[str, Any]:
    return {"sender": "38000", "text": text, "received_at": WHEN} | more


def _stored(platform: Platform) -> list[Any]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(reports).order_by(reports.c.id)))


# -- a partner's bulk push -------------------------------------------------------------------------------------


def test_a_partner_pushes_many_sms_each_taken_or_refused_on_its_own(
    client: TestClient, users: Users, platform: Platform
) -> None:
    headers = users.headers()
    batch = {
        "reports": [
            _sms(reporter_ref="alice"),
            _sms(reporter_ref="bob"),  # the same SMS from another of the partner's reporters: a report of its own
            _sms(reporter_ref="alice"),  # the same again from the same reporter: one report
            {"sender": "38000", "text": "", "received_at": WHEN},  # empty text
            {"sender": "38000", "text": "Colis", "received_at": 1_700_000_000},  # a number is not a date-time
            "not an object",
            _sms("Votre compte Ameli est suspendu : https://ameli-remboursement.example", reported_category="phishing"),
        ]
    }
    response = client.post("/api/v1/sms-reports:batch", json=batch, headers=headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (3, 1, 3)
    statuses = [r["status"] for r in body["results"]]
    assert statuses == [202, 202, 200, 422, 422, 422, 202]
    assert body["results"][2]["id"] == body["results"][0]["id"]
    assert "text" in body["results"][3]["error"] and "received_at" in body["results"][4]["error"]
    stored = _stored(platform)
    assert [(r.kind, r.channel) for r in stored] == [("sms", "batch")] * 3
    assert len({r.submitter for r in stored}) == 3 and len({r.reporter_id for r in stored}) == 1
    run_jobs_until_idle(platform)
    analyzed = client.get(f"/api/v1/reports/{stored[0].id}", headers=headers).json()
    assert analyzed["status"] == "analyzed"
    assert [u["url"] for u in analyzed["facts"]["urls"]] == ["https://colis-suivi.example/p/8f3a"]


def test_a_push_too_big_or_malformed_is_refused_whole(client: TestClient, users: Users, platform: Platform) -> None:
    headers = users.headers()
    too_many = {"reports": [_sms(f"SMS {i}") for i in range(platform.settings.max_batch_items + 1)]}
    assert client.post("/api/v1/sms-reports:batch", json=too_many, headers=headers).status_code == 413
    assert client.post("/api/v1/sms-reports:batch", json={"reports": []}, headers=headers).status_code == 422
    broken = client.post(
        "/api/v1/sms-reports:batch", content=b"{", headers=headers | {"Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert report_count(platform) == 0


# -- a conversation with the short number ----------------------------------------------------------------------


def _say(client: TestClient, headers: dict[str, str], text: str, number: str = "+33611111111") -> dict[str, Any]:
    response = client.post("/api/v1/sms/inbound", json={"from": number, "text": text}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def test_the_sender_then_the_text_makes_one_report(client: TestClient, users: Users, platform: Platform) -> None:
    gateway = users.headers()
    first = _say(client, gateway, "+33 7 00 00 00 01")
    assert (first["state"], first["report_ids"]) == ("waiting_for_text", [])
    assert "texte" in first["reply"]
    other = _say(client, gateway, "Un autre SMS", number="+33622222222")  # another person, another conversation
    assert other["state"] == "waiting_for_sender"
    done = _say(client, gateway, SPAM)
    assert done["state"] == "reported" and len(done["report_ids"]) == 1
    (report,) = _stored(platform)
    assert (report.kind, report.channel, report.id) == ("sms", "sms_conversation", done["report_ids"][0])
    assert platform.blobs.get(report.sha256).count(b"+33700000001") == 1
    with platform.engine.connect() as conn:
        hashes = conn.execute(select(sms_conversations.c.number_hash)).scalars().all()
    assert len(hashes) == 1 and "33622222222" not in hashes[0]  # the waiting one, keyed by a hash


def test_the_text_then_the_sender_in_english(client: TestClient, users: Users, platform: Platform) -> None:
    gateway = users.headers()
    first = client.post("/api/v1/sms/inbound", json={"from": "0611", "text": SPAM, "language": "en"}, headers=gateway)
    assert first.json()["reply"].startswith("Thank you. Now send the number")
    done = _say(client, gateway, "LaPoste", number="0611")
    assert done["state"] == "reported"
    (report,) = _stored(platform)
    assert b'"sender":"LaPoste"' in platform.blobs.get(report.sha256)


def test_a_text_whose_sender_never_comes_is_reported_after_the_hour(
    client: TestClient, users: Users, platform: Platform
) -> None:
    gateway = users.headers()
    assert _say(client, gateway, SPAM)["state"] == "waiting_for_sender"
    (key,) = _conversation_keys(platform)
    context = platform.task_context()
    expire(context, {"key": key})  # before the hour: nothing happens
    assert _stored(platform) == []
    with platform.engine.begin() as conn:
        an_hour_ago = utcnow() - timedelta(hours=1, seconds=1)
        conn.execute(update(sms_conversations).values(started_at=an_hour_ago, text_received_at=an_hour_ago))
    expire(context, {"key": key})
    (report,) = _stored(platform)
    assert b'"sender":""' in platform.blobs.get(report.sha256) and _conversation_keys(platform) == []
    expire(context, {"key": key})  # run again (a retried job): nothing more
    assert len(_stored(platform)) == 1


def _conversation_keys(platform: Platform) -> list[str]:
    with platform.engine.connect() as conn:
        return list(conn.execute(select(sms_conversations.c.number_hash)).scalars())


def test_an_inbound_sms_needs_a_gateway_and_valid_fields(client: TestClient, users: Users) -> None:
    assert client.post("/api/v1/sms/inbound", json={"from": "0611", "text": "x"}).status_code == 401
    gateway = users.headers()
    for body in ({"from": "0611"}, {"from": "0611", "text": "  "}, {"from": "1", "text": "x"}, {"text": "x"}):
        assert client.post("/api/v1/sms/inbound", json=body, headers=gateway).status_code == 422
    bad_language = {"from": "0611", "text": "x", "language": "de"}
    assert client.post("/api/v1/sms/inbound", json=bad_language, headers=gateway).status_code == 422
