"""The campaigns API end to end: reports submitted, analysed by a real worker, grouped, then read by staff."""

from __future__ import annotations

from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import assert_problem, assert_unauthorized, bearer

TEMPLATE = (
    "LaPoste: votre colis {n} est bloqué au centre de tri faute de frais de port. Réglez 1,{n} EUR sous 24h "
    "pour le recevoir demain : https://frais-colis-fr.top/c/{n}Zx8 sinon il sera renvoyé."
)


def _sms(client: TestClient, headers: dict[str, str], text: str) -> int:
    body = {"sender": "LaPoste", "text": text, "received_at": "2026-11-03T08:15:00Z"}
    response = client.post("/api/v1/sms-reports", json=body, headers=headers)
    assert response.status_code == 202, response.text
    return int(response.json()["id"])


def test_staff_read_the_campaigns_reports_were_grouped_into(
    client: TestClient, platform: Platform, users: Users
) -> None:
    reporter = users.headers(Role.REPORTER)
    variants = [_sms(client, reporter, TEMPLATE.format(n=n)) for n in (11, 12, 13)]
    other = _sms(client, reporter, "Bonjour, c'est Maman, j'ai changé de numéro, écris-moi sur WhatsApp au plus vite.")
    run_jobs_until_idle(platform)
    analyst = users.headers(Role.ANALYST)

    reports = [client.get(f"/api/v1/reports/{i}", headers=reporter).json() for i in (*variants, other)]
    campaign_ids = [r["campaign_id"] for r in reports]
    assert campaign_ids[0] is not None
    assert campaign_ids[0].startswith("cmp-")
    assert campaign_ids[:3] == [campaign_ids[0]] * 3
    assert campaign_ids[3] not in (None, campaign_ids[0])
    for report in reports:  # the verdict's columns, shown as one object
        assert set(report["verdict"]) == {"category", "score"}
        assert report["facts"]["campaign"]["id"] == report["campaign_id"]

    listed = client.get("/api/v1/campaigns", headers=analyst).json()
    order = [c["id"] for c in listed["items"]]  # newest first: workers may have founded either first
    assert sorted(order) == sorted({campaign_ids[0], campaign_ids[3]})
    assert listed["next_cursor"] is None
    first = client.get("/api/v1/campaigns?limit=1", headers=analyst).json()
    rest = client.get(f"/api/v1/campaigns?limit=1&after={first['next_cursor']}", headers=analyst).json()
    assert [c["id"] for c in first["items"] + rest["items"]] == order
    assert rest["next_cursor"] is None
    future = client.get("/api/v1/campaigns?seen_since=2026-12-01T00:00:00Z", headers=analyst).json()
    assert future["items"] == []

    campaign = client.get(f"/api/v1/campaigns/{campaign_ids[0]}", headers=analyst)
    assert campaign.status_code == 200, campaign.text
    body = campaign.json()
    assert body["reports"] == 3
    assert sum(body["categories"].values()) == 3
    # seen: when the platform received the reports (an SMS's own date is the reporter's word)
    received = sorted(r["received_at"] for r in reports[:3])
    assert (body["first_seen"], body["last_seen"]) == (received[0], received[-1])
    assert sum(d["reports"] for d in body["days"]) == 3
    assert {u["domain"] for u in body["urls"]} == {"frais-colis-fr.top"}
    assert len(body["urls"]) == 3
    assert body["networks"] == []  # an SMS has no origin IP


def test_campaigns_are_for_staff_only(client: TestClient, users: Users) -> None:
    reporter = users.headers(Role.REPORTER)
    for path in ("/api/v1/campaigns", "/api/v1/campaigns/cmp-0123456789ab"):
        assert_unauthorized(client.get(path))
        assert_problem(client.get(path, headers=reporter), 403, "forbidden")
        assert_unauthorized(client.get(path, headers=bearer("sig_" + "x" * 43)))
    for role in (Role.ANALYST, Role.ABUSE_MANAGER, Role.ADMIN):
        staff = users.headers(role)
        assert client.get("/api/v1/campaigns", headers=staff).json() == {"items": [], "next_cursor": None}
        assert_problem(client.get("/api/v1/campaigns/cmp-0123456789ab", headers=staff), 404, "not_found")
        assert_problem(client.get("/api/v1/campaigns/not-a-campaign", headers=staff), 422)
