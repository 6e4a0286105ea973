"""A member gives a customer a link to that customer's own statistics and complaints, never more: the link shows
the counts and complaints of its one key, stops at once when revoked, and is a 404 when it expired."""

from __future__ import annotations

import base64
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.domain.accounts import Role
from signalement.domain.reports import ReportedCategory
from signalement.ingest.intake import Submission, Submitter
from signalement.mail.arf import read_feedback
from signalement.platform import Platform
from signalement.store.sql import utcnow
from signalement.store.tables import feedback_subscriptions, stat_shares, users
from tests.conftest import Users, run_jobs_until_idle
from tests.feedback_loops import approved_loop
from tests.integration.web.helpers import assert_problem, bearer

SIGNED = (Path(__file__).parents[2] / "fixtures" / "mail" / "ham-gmail-secureserver-authres-srs.eml").read_bytes()


def _member(platform: Platform, users_: Users) -> tuple[int, dict[str, str]]:
    """A sender with a pull loop on yahoo.com and two complaints; its admin's headers."""
    staff, _ = users_.create(Role.ABUSE_MANAGER)
    reporter, _ = users_.create()
    loop = approved_loop(platform, "yahoo.com", staff=staff, name="Yahoo-like")
    admin, token = users_.create(Role.MEMBER_ADMIN)
    with platform.engine.begin() as conn:
        organization_id = (
            conn.execute(feedback_subscriptions.select().where(feedback_subscriptions.c.id == loop))
            .one()
            .organization_id
        )
        conn.execute(update(users).where(users.c.id == admin).values(organization_id=organization_id))
    for n in range(2):
        raw = SIGNED.replace(b"Subject:", f"X-N: {n}\r\nSubject:".encode(), 1)
        platform.intake.accept(Submitter.user(reporter), Submission(raw=raw, reported_category=ReportedCategory.SPAM))
    run_jobs_until_idle(platform)
    return organization_id, bearer(token)


def _share(client: TestClient, organization_id: int, headers: dict[str, str], value: str) -> dict[str, str]:
    body = {"dimension": "dkim", "value": value, "label": f"Customer {value}", "days": 7}
    made = client.post(f"/api/v1/organizations/{organization_id}/shares", json=body, headers=headers)
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def test_a_link_shows_its_key_s_counts_and_complaints_only(
    client: TestClient, platform: Platform, users: Users
) -> None:
    organization_id, headers = _member(platform, users)
    share = _share(client, organization_id, headers, "yahoo.com")
    token = share["token"]
    assert share["url"].endswith(f"/share/{token}")
    counts = client.get(f"/api/v1/shared/{token}/stats").json()  # no credentials: the link is one
    assert [(r["value"], r["verified"], r["reports"]) for r in counts["rows"]] == [("yahoo.com", True, 2)]
    asked = client.get(f"/api/v1/shared/{token}/stats", params={"value": "anything.else"}).json()
    assert asked["rows"] == counts["rows"]  # its own key, whatever is asked
    found = client.get(f"/api/v1/shared/{token}/complaints").json()
    assert len(found["items"]) == 2
    arf = base64.b64decode(found["items"][0]["payload"])
    assert read_feedback(arf)[0].kind == "complaint"
    assert b"user3@example.com" not in arf  # redacted as the member receives it
    other = _share(client, organization_id, headers, "other.example")["token"]
    assert client.get(f"/api/v1/shared/{other}/complaints").json() == {"items": [], "next_cursor": None}
    shown = client.get(f"/share/{token}")
    assert shown.status_code == 200 and "Customer yahoo.com" in shown.text
    assert shown.headers["Referrer-Policy"] == "no-referrer" and shown.headers["Cache-Control"] == "no-store"


def test_a_revoked_or_expired_link_is_gone(client: TestClient, platform: Platform, users: Users) -> None:
    organization_id, headers = _member(platform, users)
    share = _share(client, organization_id, headers, "yahoo.com")
    revoke = f"/api/v1/organizations/{organization_id}/shares/{share['id']}:revoke"
    assert client.post(revoke, headers=headers).json()["revoked"] is True
    assert_problem(client.get(f"/api/v1/shared/{share['token']}/stats"), 404, "not_found")
    assert client.get(f"/share/{share['token']}").status_code == 404
    assert_problem(client.post(revoke, headers=headers), 404, "not_found")
    expiring = _share(client, organization_id, headers, "yahoo.com")
    with platform.engine.begin() as conn:
        conn.execute(update(stat_shares).where(stat_shares.c.id == expiring["id"])
                     .values(expires_at=utcnow() - timedelta(seconds=1)))  # fmt: skip
    assert_problem(client.get(f"/api/v1/shared/{expiring['token']}/complaints"), 404, "not_found")
    assert_problem(client.get("/api/v1/shared/shr_made-up/stats"), 404, "not_found")
    listed = client.get(f"/api/v1/organizations/{organization_id}/shares", headers=headers).json()
    assert [s["revoked"] for s in listed] == [True, False] and "token" not in listed[0]
