"""Member organizations over the API: made by staff, people invited by mail through a real relay, tokens that act
for the organization within its entitlements, and every change effective on the next request."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from signalement.domain.accounts import Role
from signalement.domain.members import OrgKind
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.settings import FeedSource, Settings
from signalement.store import audit, organizations
from signalement.store.accounts import issue_token
from signalement.store.migrate import upgrade
from signalement.store.sql import utcnow
from signalement.store.tables import invitations
from signalement.store.tables import users as people
from signalement.web.app import create_app
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import RFC822, app_client, assert_problem, bearer, custom_platform, message
from tests.relay import Relay

PASSWORD = "a long enough passphrase"


@dataclass
class World:
    platform: Platform
    client: TestClient
    relay: Relay
    users: Users
    admin: dict[str, str]

    def organization(self, name: str = "Mailbox Co", kind: str = "mailbox_provider", **entitlements: object) -> int:
        body = {"name": name, "kind": kind, "entitlements": entitlements}
        response = self.client.post("/api/v1/organizations", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return int(response.json()["id"])

    def invite(self, organization_id: int, email: str, role: str, by: dict[str, str]) -> httpx.Response:
        body = {"email": email, "role": role}
        response: httpx.Response = self.client.post(
            f"/api/v1/organizations/{organization_id}/invitations", json=body, headers=by
        )
        return response

    def link_token(self, email: str) -> str:
        run_jobs_until_idle(self.platform)
        return parse_qs(urlsplit(self.relay.link_for(email, "/invitation")).query)["token"][0]

    def member(
        self, organization_id: int, email: str, role: str = "member_admin", by: dict[str, str] | None = None
    ) -> dict[str, str]:
        """Invite a person, follow the mailed link, and sign them in with a token of their own."""
        invited = self.invite(organization_id, email, role, by or self.admin)
        assert invited.status_code == 201, invited.text
        token = self.link_token(email)
        accepted = self.client.post("/api/v1/invitations:accept", json={"token": token, "password": PASSWORD})
        assert accepted.status_code == 200, accepted.text
        assert accepted.json()["organization_id"] == organization_id
        with self.platform.engine.begin() as conn:
            return bearer(issue_token(conn, accepted.json()["user_id"], name="test"))


@pytest.fixture
def world(settings: Settings) -> Iterator[World]:
    with Relay() as relay:
        platform = Platform(settings.model_copy(update={"mail_relay": relay.address}))
        upgrade(platform.engine)
        client = TestClient(create_app(platform), client=("127.0.0.1", 50000))
        users = Users(platform)
        yield World(platform, client, relay, users, users.headers(Role.ADMIN))
        platform.close()


def test_staff_make_organizations_and_only_admins_may(world: World) -> None:
    organization_id = world.organization(max_tlp="amber", feeds=["urls"], lookup_urls=True)
    body = world.client.get(f"/api/v1/organizations/{organization_id}", headers=world.admin).json()
    assert body["entitlements"] == {
        "max_tlp": "amber",
        "feeds": ["urls"],
        "lookup_urls": True,
        "evidence_export": False,
    }
    again = world.client.post(
        "/api/v1/organizations", json={"name": "Mailbox Co", "kind": "brand"}, headers=world.admin
    )
    assert_problem(again, 409, "name_taken")
    for role in (Role.ANALYST, Role.ABUSE_MANAGER, Role.REPORTER):
        refused = world.client.post(
            "/api/v1/organizations", json={"name": "X Corp", "kind": "brand"}, headers=world.users.headers(role)
        )
        assert_problem(refused, 403)
    bad_kind = world.client.post("/api/v1/organizations", json={"name": "Y", "kind": "bank"}, headers=world.admin)
    assert bad_kind.status_code == 422
    with world.platform.engine.connect() as conn:
        assert [e.action for e in audit.entries(conn)][-1:] == ["organization.create"]


def test_an_invitation_by_mail_works_once_and_not_after_it_expires(world: World) -> None:
    organization_id = world.organization()
    member_admin = world.member(organization_id, "boss@mailbox.example")
    mine = world.client.get("/api/v1/organizations", headers=member_admin).json()
    assert [o["id"] for o in mine] == [organization_id]
    # A member admin invites an analyst; the link works once.
    world.member(organization_id, "analyst@mailbox.example", "member_analyst", by=member_admin)
    token = world.link_token("analyst@mailbox.example")
    reused = world.client.post("/api/v1/invitations:accept", json={"token": token, "password": PASSWORD})
    assert_problem(reused, 400, "invalid_invitation")
    forged = world.client.post("/api/v1/invitations:accept", json={"token": token[:-2] + "xx", "password": PASSWORD})
    assert_problem(forged, 400, "invalid_invitation")
    # An expired invitation, and a revoked one, do not work.
    invited = world.invite(organization_id, "late@mailbox.example", "member_analyst", member_admin)
    late = world.link_token("late@mailbox.example")
    with world.platform.engine.begin() as conn:
        gone = utcnow() - timedelta(seconds=1)
        conn.execute(update(invitations).where(invitations.c.id == invited.json()["id"]).values(expires_at=gone))
    assert_problem(world.client.post("/api/v1/invitations:accept", json={"token": late, "password": PASSWORD}), 400)
    listed = world.client.get(f"/api/v1/organizations/{organization_id}/invitations", headers=member_admin).json()
    assert [i["state"] for i in listed] == ["accepted", "accepted", "expired"]
    # An analyst of the organization may not invite, nor see its people.
    analyst = world.member(organization_id, "second-analyst@mailbox.example", "member_analyst")
    assert_problem(world.invite(organization_id, "x@mailbox.example", "member_admin", analyst), 403)
    assert_problem(world.client.get(f"/api/v1/organizations/{organization_id}/members", headers=analyst), 403)
    assert_problem(world.invite(organization_id, "x@mailbox.example", "admin", member_admin), 422, "invalid_role")


def test_another_organization_is_not_found(world: World) -> None:
    first, second = world.organization("First"), world.organization("Second", "router")
    first_admin = world.member(first, "admin@first.example")
    for path in ("", "/members", "/invitations", "/tokens"):
        assert_problem(world.client.get(f"/api/v1/organizations/{second}{path}", headers=first_admin), 404)
    assert_problem(world.client.get(f"/api/v1/organizations/{second}", headers=world.users.headers()), 404)
    assert world.client.get("/api/v1/organizations", headers=world.users.headers()).json() == []
    assert len(world.client.get("/api/v1/organizations", headers=world.admin).json()) == 2


def test_an_organization_token_acts_for_it_within_its_entitlements(world: World) -> None:
    organization_id = world.organization(feeds=["urls"])
    member_admin = world.member(organization_id, "boss@mailbox.example")
    path = f"/api/v1/organizations/{organization_id}/tokens"
    refused = world.client.post(path, json={"name": "lookup", "scopes": ["lookup:urls"]}, headers=member_admin)
    assert_problem(refused, 422, "scope_not_allowed")
    assert_problem(world.client.post(path, json={"name": "x", "scopes": ["admin"]}, headers=member_admin), 422)
    assert_problem(world.client.post(path, json={"name": "x", "scopes": ["feeds:read"]}, headers=world.admin), 403)
    made = world.client.post(
        path, json={"name": "ingest", "scopes": ["reports:write", "reports:read"]}, headers=member_admin
    )
    assert made.status_code == 201
    system = bearer(made.json()["token"])
    # The organization's token reads the reports of its people, not a reporter's.
    stored = world.client.post("/api/v1/reports", content=message("from the mailbox"), headers=member_admin | RFC822)
    world.client.post("/api/v1/reports", content=message("someone else's"), headers=world.users.headers() | RFC822)
    seen = world.client.get("/api/v1/reports", headers=system).json()["items"]
    assert [r["id"] for r in seen] == [stored.json()["id"]]
    (listed,) = world.client.get(path, headers=member_admin).json()
    assert listed["name"] == "ingest" and listed["scopes"] == ["reports:read", "reports:write"]
    # Revoked: refused on its next request.
    assert world.client.delete(f"{path}/{listed['id']}", headers=member_admin).status_code == 204
    assert world.client.get("/api/v1/reports", headers=system).status_code == 401


def test_entitlements_and_disabling_take_effect_on_the_next_request(world: World) -> None:
    organization_id = world.organization()
    member_admin = world.member(organization_id, "boss@mailbox.example")
    path = f"/api/v1/organizations/{organization_id}/tokens"
    body = {"name": "lookup", "scopes": ["lookup:urls"]}
    assert_problem(world.client.post(path, json=body, headers=member_admin), 422)
    abuse_manager = world.users.headers(Role.ABUSE_MANAGER)
    entitled = {"max_tlp": "amber+strict", "lookup_urls": True}
    put = world.client.put(
        f"/api/v1/organizations/{organization_id}/entitlements", json=entitled, headers=abuse_manager
    )
    assert put.status_code == 200 and put.json()["entitlements"]["max_tlp"] == "amber+strict"
    assert world.client.post(path, json=body, headers=member_admin).status_code == 201
    refused = world.client.put(
        f"/api/v1/organizations/{organization_id}/entitlements", json=entitled, headers=member_admin
    )
    assert_problem(refused, 403)
    patch = world.client.patch(f"/api/v1/organizations/{organization_id}", json={"disabled": True}, headers=world.admin)
    assert patch.status_code == 200 and patch.json()["disabled"] is True
    assert world.client.get("/api/v1/organizations", headers=member_admin).status_code == 401


def test_member_admins_manage_their_people_but_keep_one_admin(world: World) -> None:
    organization_id = world.organization()
    member_admin = world.member(organization_id, "boss@mailbox.example")
    world.member(organization_id, "analyst@mailbox.example", "member_analyst", by=member_admin)
    people = world.client.get(f"/api/v1/organizations/{organization_id}/members", headers=member_admin).json()
    assert [(p["email"], p["role"]) for p in people] == [
        ("boss@mailbox.example", "member_admin"),
        ("analyst@mailbox.example", "member_analyst"),
    ]
    boss, analyst = people[0]["id"], people[1]["id"]
    members = f"/api/v1/organizations/{organization_id}/members"
    last = world.client.patch(f"{members}/{boss}", json={"role": "member_analyst"}, headers=member_admin)
    assert_problem(last, 409, "last_admin")
    promoted = world.client.patch(f"{members}/{analyst}", json={"role": "member_abuse_manager"}, headers=member_admin)
    assert promoted.status_code == 200 and promoted.json()["role"] == "member_abuse_manager"
    assert_problem(world.client.patch(f"{members}/{analyst}", json={"role": "admin"}, headers=member_admin), 422)
    assert_problem(world.client.patch(f"{members}/{analyst}", json={}, headers=member_admin), 422, "nothing_to_change")
    stranger = world.users.create()[0]
    assert_problem(world.client.patch(f"{members}/{stranger}", json={"disabled": True}, headers=member_admin), 404)
    with world.platform.engine.connect() as conn:
        actions = [e.action for e in audit.entries(conn)]
    assert actions.count("organization.member.update") == 1 and actions.count("organization.invitation.accept") == 2


def test_a_reporter_invited_keeps_their_account(world: World) -> None:
    organization_id = world.organization()
    reporter_id, reporter_token = world.users.create()
    with world.platform.engine.connect() as conn:
        email = conn.execute(select(people.c.email).where(people.c.id == reporter_id)).scalar_one()
    world.member(organization_id, email, "member_analyst")
    mine = world.client.get("/api/v1/organizations", headers=bearer(reporter_token)).json()
    assert [o["id"] for o in mine] == [organization_id]


def test_a_member_reads_the_reports_of_its_own_feedback_loop(settings: Settings) -> None:
    loop = FeedSource(name="mbp-loop", secret="fblsecret0123456789", organization="Mailbox Co")
    other = FeedSource(name="other-loop", secret="fblsecret9876543210")
    with custom_platform(settings, feeds=[loop, other]) as platform, app_client(platform) as client:
        analyst_id, analyst = Users(platform).create(Role.MEMBER_ANALYST)
        with platform.engine.begin() as conn:
            organization_id = organizations.create(conn, "Mailbox Co", OrgKind.MAILBOX_PROVIDER)
            conn.execute(update(people).where(people.c.id == analyst_id).values(organization_id=organization_id))
        accepted = [
            platform.intake.accept(Submitter(f"feed:{feed.name}"), Submission(raw=message(feed.name), source=feed.name))
            for feed in (loop, other)
        ]
        seen = client.get("/api/v1/reports", headers=bearer(analyst)).json()["items"]
        assert [r["id"] for r in seen] == [accepted[0].report_id]
        assert client.get(f"/api/v1/reports/{accepted[1].report_id}", headers=bearer(analyst)).status_code == 404
