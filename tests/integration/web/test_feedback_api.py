"""Feedback-loop subscriptions over the API: a member asks on its verified claims, each source of complaints
decides apart with a reason, the member sees who granted it, and only live grants make claims count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.feedback import ASSOCIATION, organization_source
from signalement.domain.members import OrgKind
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import audit, claims, feedback, organizations
from signalement.store.tables import cfbl_complaints, complaints, users
from tests.conftest import Users
from tests.integration.web.helpers import assert_problem, bearer


@dataclass
class World:
    client: TestClient
    platform: Platform
    esp: int  # the router that subscribes
    provider: int  # a mailbox provider, a source of complaints
    esp_admin: dict[str, str]
    esp_analyst: dict[str, str]
    provider_abuse: dict[str, str]
    staff_abuse: dict[str, str]
    domain_claim: int
    range_claim: int
    staff_id: int

    def subscribe(self, **changes: Any) -> Any:
        body = {"name": "main", "claim_ids": [self.domain_claim, self.range_claim], "delivery": "pull"} | changes
        return self.client.post(f"/api/v1/organizations/{self.esp}/subscriptions", json=body, headers=self.esp_admin)

    def decide(self, headers: dict[str, str], subscription_id: int, decision: str, reason: str | None = None) -> Any:
        body = {"decision": decision, "reason": reason}
        return self.client.post(f"/api/v1/subscriptions/{subscription_id}:decide", json=body, headers=headers)


def _member(platform: Platform, users_: Users, organization_id: int, role: Role) -> dict[str, str]:
    user_id, token = users_.create(role)
    with platform.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(organization_id=organization_id))
    return bearer(token)


@pytest.fixture
def world(client: TestClient, platform: Platform, users: Users) -> World:
    staff_id, _ = users.create(Role.ABUSE_MANAGER)
    with platform.engine.begin() as conn:
        esp = organizations.create(conn, "Router Co", OrgKind.ROUTER)
        provider = organizations.create(conn, "Mailbox Co", OrgKind.MAILBOX_PROVIDER)
        domain = claims.create(conn, esp, ClaimKind.DOMAIN, "news.example.com", created_by=None)
        claims.mark_verified(conn, domain, Proof.DNS_TXT, by=None)
        ip_range = claims.create(conn, esp, ClaimKind.IP_RANGE, "198.51.100.0/24", created_by=None)
        claims.approve(conn, ip_range, by=staff_id)
    return World(
        client,
        platform,
        esp,
        provider,
        _member(platform, users, esp, Role.MEMBER_ADMIN),
        _member(platform, users, esp, Role.MEMBER_ANALYST),
        _member(platform, users, provider, Role.MEMBER_ABUSE_MANAGER),
        users.headers(Role.ABUSE_MANAGER),
        domain.id,
        ip_range.id,
        staff_id,
    )


def test_each_source_decides_apart_and_the_member_sees_who_granted(world: World) -> None:
    made = world.subscribe(delivery="smtp", address="fbl@router.example", recipient_headers=["X-Customer-Id"])
    assert made.status_code == 201, made.text
    subscription = made.json()
    assert subscription["grants"] == {"association": "pending", "Mailbox Co": "pending"}
    assert subscription["recipient_headers"] == ["x-customer-id"]
    sid = subscription["id"]
    assert world.decide(world.staff_abuse, sid, "approve").json()["state"] == "approved"
    assert_problem(world.decide(world.provider_abuse, sid, "refuse"), 422, "reason_required")
    refused = world.decide(world.provider_abuse, sid, "refuse", "complaint rate too high last month")
    assert refused.json() == {"subscription_id": sid, "source": organization_source(world.provider), "state": "refused"}
    assert_problem(world.decide(world.provider_abuse, sid, "suspend", "x"), 409, "decision_not_applicable")
    seen = world.client.get(f"/api/v1/organizations/{world.esp}/subscriptions", headers=world.esp_analyst).json()
    assert seen[0]["grants"] == {"association": "approved", "Mailbox Co": "refused"}
    # What the provider's abuse manager is shown to decide on.
    (request,) = world.client.get("/api/v1/feedback-requests", headers=world.provider_abuse).json()
    assert request["organization"] == "Router Co" and request["state"] == "refused"
    assert {(c["kind"], c["value"]) for c in request["claims"]} == {("domain", "news.example.com"),
                                                                     ("ip_range", "198.51.100.0/24")}  # fmt: skip
    with world.platform.engine.connect() as conn:
        actions = [e.action for e in audit.entries(conn)]
        assert actions[-3:] == ["subscription.create", "subscription.approve", "subscription.refuse"]
        # Only the association's reports count toward it now.
        assert {c.claim_id for c in feedback.live_claims(conn, ASSOCIATION)} == {world.domain_claim, world.range_claim}
        assert feedback.live_claims(conn, organization_source(world.provider)) == []


def test_suspending_or_revoking_stops_a_grant_at_once(world: World) -> None:
    sid = world.subscribe().json()["id"]
    world.decide(world.staff_abuse, sid, "approve")
    suspended = world.client.post(f"/api/v1/subscriptions/{sid}:suspend", headers=world.esp_admin)
    assert suspended.status_code == 200 and suspended.json()["suspended"] is True
    with world.platform.engine.connect() as conn:
        assert feedback.live_claims(conn, ASSOCIATION) == []
    world.client.post(f"/api/v1/subscriptions/{sid}:resume", headers=world.esp_admin)
    with world.platform.engine.begin() as conn:
        claim = claims.get(conn, world.range_claim)
        assert claim is not None
        claims.revoke(conn, claim, by=world.staff_id, reason="returned to the RIR")
        assert {c.claim_id for c in feedback.live_claims(conn, ASSOCIATION)} == {world.domain_claim}


def test_what_a_member_may_and_may_not_ask(world: World, platform: Platform) -> None:
    assert_problem(world.subscribe(delivery="smtp"), 422, "address_required")
    assert_problem(world.subscribe(delivery="webhook"), 422, "webhook_url_required")
    assert world.subscribe(delivery="webhook", webhook_url="ftp://x.example/").status_code == 422
    with platform.engine.begin() as conn:
        pending = claims.create(conn, world.esp, ClaimKind.DOMAIN, "other.example.com", created_by=None)
        theirs = claims.create(conn, world.provider, ClaimKind.DOMAIN, "example.net", created_by=None)
        claims.mark_verified(conn, theirs, Proof.DNS_TXT, by=None)
    assert_problem(world.subscribe(claim_ids=[pending.id]), 422, "invalid_claims")  # not verified yet
    assert_problem(world.subscribe(claim_ids=[theirs.id]), 422, "invalid_claims")  # another member's
    analyst = world.client.post(f"/api/v1/organizations/{world.esp}/subscriptions",
                                json={"name": "x", "claim_ids": [world.domain_claim], "delivery": "pull"},
                                headers=world.esp_analyst)  # fmt: skip
    assert_problem(analyst, 403)
    other = world.client.get(f"/api/v1/organizations/{world.esp}/subscriptions", headers=world.provider_abuse)
    assert_problem(other, 404)
    sid = world.subscribe().json()["id"]
    assert_problem(world.decide(world.esp_admin, sid, "approve"), 403)  # a router is no source of complaints
    assert_problem(world.client.post(f"/api/v1/subscriptions/{sid}:suspend", headers=world.provider_abuse), 404)


def test_the_member_sees_its_counts_and_staff_the_cfbl_complaints(world: World, users: Users) -> None:
    subscription = world.subscribe().json()["id"]
    reporter, _ = users.create()
    intake = world.platform.intake
    ids = [
        intake.accept(Submitter.user(reporter), Submission(raw=f"Subject: {n}\r\n\r\nspam {n}\r\n".encode())).report_id
        for n in range(3)
    ]
    now = datetime.now(UTC)
    rows = [("delivered", "done"), ("delivered", "failed"), ("unverified", None)]
    with world.platform.engine.begin() as conn:
        for report_id, (state, unsubscribe) in zip(ids, rows, strict=True):
            conn.execute(complaints.insert().values(
                report_id=report_id, subscription_id=subscription, match_kind="domain", matched="news.example.com",
                authenticated=state != "unverified", state=state, attempts=1, created_at=now,
                unsubscribe_state=unsubscribe))  # fmt: skip
        for report_id, state in zip(ids[:2], ("delivered", "dead"), strict=True):
            conn.execute(cfbl_complaints.insert().values(
                report_id=report_id, address="fbl@sender.example.net", signer="sender.example.net", state=state,
                attempts=1, created_at=now))  # fmt: skip
    (listed,) = world.client.get(f"/api/v1/organizations/{world.esp}/subscriptions", headers=world.esp_admin).json()
    assert listed["complaints"] == {"delivered": 2, "unverified": 1}
    assert listed["unsubscribes"] == {"done": 1, "failed": 1}
    everything = world.client.get("/api/v1/cfbl-complaints", headers=world.staff_abuse).json()
    assert [(c["report_id"], c["state"]) for c in everything] == [(ids[0], "delivered"), (ids[1], "dead")]
    dead = world.client.get("/api/v1/cfbl-complaints?state=dead", headers=world.staff_abuse).json()
    assert [c["address"] for c in dead] == ["fbl@sender.example.net"]
    assert world.client.get("/api/v1/cfbl-complaints", headers=world.esp_admin).status_code == 403
