"""Cases over the API: a router asks the association to intervene about a customer with the evidence frozen in the
case; staff take it, ask, and close it with a resolution; the member follows every step without ever seeing a
staff address; another organization's people see nothing of it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from signalement.domain.accounts import Role
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.feedback import Content, Delivery, Format
from signalement.domain.members import OrgKind
from signalement.domain.stats import Contribution, Dimension, Period, bucket
from signalement.ingest.intake import Submission, Submitter
from signalement.platform import Platform
from signalement.store import audit, claims, feedback, organizations
from signalement.store import stats as stats_store
from signalement.store.sql import utcnow
from signalement.store.tables import complaints, stat_alerts
from signalement.store.tables import users as people
from signalement.web import cases_api
from signalement.web.app import create_app
from signalement.web.errors import ERROR_RESPONSES
from tests.conftest import Users
from tests.integration.web.helpers import CLIENT_ADDRESS, assert_problem, bearer

CUSTOMER = "esp1:cust7"


@pytest.fixture
def client(platform: Platform) -> Iterator[TestClient]:
    """The app, with the cases' router until app.py registers it."""
    app = create_app(platform)
    if not any(getattr(route, "original_router", None) is cases_api.router for route in app.routes):
        app.include_router(cases_api.router, responses=ERROR_RESPONSES)
    with TestClient(app, client=CLIENT_ADDRESS) as test_client:
        yield test_client


@dataclass
class World:
    organization_id: int
    other_id: int
    admin: dict[str, str]  # the router's member admin
    analyst: dict[str, str]  # its member analyst
    outsider: dict[str, str]  # another organization's member admin
    staff: dict[str, str]  # a staff analyst
    manager: dict[str, str]  # a staff abuse manager, who gets the case
    manager_id: int
    staff_emails: list[str]
    own_report: int  # a report the router got a complaint about
    others_report: int  # one the other organization got a complaint about


def _member(platform: Platform, users_: Users, organization_id: int, role: Role) -> dict[str, str]:
    user_id, token = users_.create(role)
    with platform.engine.begin() as conn:
        conn.execute(update(people).where(people.c.id == user_id).values(organization_id=organization_id))
    return bearer(token)


def _report(platform: Platform, n: int) -> int:
    made = platform.intake.accept(Submitter("cases-test"), Submission(raw=f"Subject: {n}\r\n\r\nx\r\n".encode()))
    return made.report_id


def _complaint(platform: Platform, organization_id: int, report_id: int, domain: str) -> None:
    """A complaint about the report, sent to the organization's feedback loop (as the match job makes them)."""
    with platform.engine.begin() as conn:
        claim = claims.create(conn, organization_id, ClaimKind.DOMAIN, domain, created_by=None)
        claim_id = claims.mark_verified(conn, claim, Proof.DNS_TXT, by=None).id
        subscription = feedback.create(conn, organization_id, name="loop", claim_ids=[claim_id],
                                       delivery=Delivery.PULL, address=None, webhook_url=None,
                                       feedback_format=Format.ARF, content=Content.FULL, recipient_headers=(),
                                       unsubscribe=False, created_by=None)  # type: ignore[arg-type]  # fmt: skip
        conn.execute(complaints.insert().values(report_id=report_id, subscription_id=subscription,
                                                match_kind="dkim", matched=domain, authenticated=True,
                                                state="delivered", created_at=utcnow()))  # fmt: skip


def _alert(platform: Platform, organization_id: int, value: str, hours_ago: int) -> int:
    at = bucket(utcnow(), Period.HOUR) - timedelta(hours=hours_ago)
    with platform.engine.begin() as conn:
        return int(conn.execute(stat_alerts.insert().values(
            organization_id=organization_id, dimension="feedback_id", value=value, verified=True, at=at,
            reports=40, expected=2.0, upper=9.0, score=12.5, evidence={"campaigns": [{"campaign_id": 3}]},
            state="muted", attempts=0, created_at=at,
        ).returning(stat_alerts.c.id)).scalar_one())  # fmt: skip


@pytest.fixture
def world(platform: Platform, users: Users) -> World:
    """A router whose customer esp1:cust7 drew three reports lately (one unverified), with a peak alert on it."""
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, "Router Co", OrgKind.ROUTER)
        other_id = organizations.create(conn, "Other Co", OrgKind.ROUTER)
    now = utcnow()
    keys = ((Dimension.ALL, ""), (Dimension.FEEDBACK_ID, CUSTOMER))
    made = [(True, now - timedelta(days=2)), (True, now - timedelta(days=1)), (False, now - timedelta(days=1)),
            (True, now - timedelta(days=40))]  # the last one is too old for the evidence  # fmt: skip
    report_ids = []
    for n, (verified, at) in enumerate(made):
        report_ids.append(_report(platform, n))
        with platform.engine.begin() as conn:
            stats_store.record(conn, report_ids[-1], [Contribution(organization_id, verified, at, 1.0, keys)])
    elsewhere = _report(platform, 99)
    with platform.engine.begin() as conn:  # another customer of the router's: not in this case
        stats_store.record(conn, elsewhere, [Contribution(organization_id, True, now, 1.0,
                                                          ((Dimension.FEEDBACK_ID, "esp1:cust8"),))])  # fmt: skip
    _complaint(platform, organization_id, report_ids[0], "router.example.com")
    _complaint(platform, other_id, elsewhere, "other.example.com")
    _alert(platform, organization_id, CUSTOMER, hours_ago=30)
    _alert(platform, organization_id, "esp1:cust8", hours_ago=5)
    manager_id, manager_token = users.create(Role.ABUSE_MANAGER)
    staff_id, staff_token = users.create(Role.ANALYST)
    with platform.engine.connect() as conn:
        emails = [conn.execute(select(people.c.email).where(people.c.id == i)).scalar_one()
                  for i in (manager_id, staff_id)]  # fmt: skip
    return World(
        organization_id=organization_id,
        other_id=other_id,
        admin=_member(platform, users, organization_id, Role.MEMBER_ADMIN),
        analyst=_member(platform, users, organization_id, Role.MEMBER_ANALYST),
        outsider=_member(platform, users, other_id, Role.MEMBER_ADMIN),
        staff=bearer(staff_token),
        manager=bearer(manager_token),
        manager_id=manager_id,
        staff_emails=emails,
        own_report=report_ids[0],
        others_report=elsewhere,
    )


def _open(client: TestClient, world: World, **extra: Any) -> Any:
    body = {"dimension": "feedback_id", "value": CUSTOMER, "statement": "Our customer cust7 sends to old lists.",
            "report_ids": [world.own_report]} | extra  # fmt: skip
    return client.post(f"/api/v1/organizations/{world.organization_id}/cases", json=body, headers=world.admin)


def _no_staff_address(world: World, text: str) -> None:
    for email in world.staff_emails:
        assert email not in text


def test_a_case_is_followed_from_the_member_to_its_resolution(client: TestClient, world: World) -> None:
    opened = _open(client, world)
    assert opened.status_code == 201, opened.text
    case = opened.json()
    case_id = case["id"]
    assert (case["state"], case["dimension"], case["value"], case["assigned"]) == ("open", "feedback_id", CUSTOMER,
                                                                                     False)  # fmt: skip
    evidence = case["evidence"]
    assert evidence["total"] == {"reports": 3, "verified": 2, "unverified": 1, "weight": 3.0}
    assert sorted((d["verified"], d["reports"]) for d in evidence["per_day"]) == [(False, 1), (True, 1), (True, 1)]
    assert [(a["score"], a["evidence"]) for a in evidence["alerts"]] == [(12.5, {"campaigns": [{"campaign_id": 3}]})]
    assert evidence["statement"] == "Our customer cust7 sends to old lists."
    assert [c["report_id"] for c in evidence["complaints"]] == [world.own_report]
    assert case["moves"] == ["closed"]  # the member may withdraw it
    again = _open(client, world)
    assert assert_problem(again, 409, "case_exists")["case_id"] == case_id

    url = f"/api/v1/cases/{case_id}"
    assigned = client.post(f"{url}:assign", json={"user_id": world.manager_id}, headers=world.staff)
    assert assigned.status_code == 200, assigned.text
    assert assigned.json()["assigned_to"]["id"] == world.manager_id
    taken = client.post(f"{url}:transition", json={"state": "in_progress"}, headers=world.manager)
    assert taken.json()["state"] == "in_progress"
    asked = client.post(f"{url}/events", json={"text": "Which lists does cust7 mail?"}, headers=world.manager)
    assert asked.status_code == 201
    waiting = client.post(f"{url}:transition", json={"state": "waiting_member"}, headers=world.manager)
    assert waiting.json()["state"] == "waiting_member"
    answered = client.post(f"{url}/events", json={"text": "A list bought in 2019."}, headers=world.analyst)
    assert answered.status_code == 201
    assert answered.json()["state"] == "in_progress"  # the member's answer puts it back with staff
    no_resolution = client.post(f"{url}:transition", json={"state": "closed"}, headers=world.manager)
    assert_problem(no_resolution, 422, "invalid_resolution")
    closed = client.post(f"{url}:transition", json={"state": "closed", "resolution": "cust7 suspended by ESP1"},
                         headers=world.manager)  # fmt: skip
    assert closed.status_code == 200, closed.text
    assert (closed.json()["state"], closed.json()["resolution"]) == ("closed", "cust7 suspended by ESP1")
    assert closed.json()["closed_at"] is not None

    seen = client.get(url, headers=world.admin)
    assert seen.status_code == 200
    _no_staff_address(world, seen.text)
    member_view = seen.json()
    steps = [(e["kind"], e["author"], e["from_state"], e["to_state"], e["text"]) for e in member_view["events"]]
    admin_email = member_view["opened_by"]
    assert admin_email.startswith("member_admin-")
    assert steps == [
        ("state", admin_email, None, "open", None),
        ("assign", "the association", None, None, None),
        ("state", "the association", "open", "in_progress", None),
        ("comment", "the association", None, None, "Which lists does cust7 mail?"),
        ("state", "the association", "in_progress", "waiting_member", None),
        ("comment", steps[5][1], None, None, "A list bought in 2019."),
        ("state", steps[5][1], "waiting_member", "in_progress", None),
        ("state", "the association", "in_progress", "closed", None),
    ]
    assert steps[5][1].startswith("member_analyst-")
    assert member_view["events"][1]["assigned"] is True and member_view["events"][1]["assigned_to"] is None
    assert member_view["assigned"] is True and member_view["assigned_to"] is None
    assert all(e["author_id"] is None for e in member_view["events"] if e["author"] == "the association")
    assert member_view["resolution"] == "cust7 suspended by ESP1" and member_view["moves"] == []
    listed = client.get(f"/api/v1/organizations/{world.organization_id}/cases", headers=world.analyst)
    assert [c["id"] for c in listed.json()] == [case_id]
    _no_staff_address(world, listed.text)

    staff_view = client.get(url, headers=world.staff).json()
    authors = {e["author"] for e in staff_view["events"]}
    assert set(world.staff_emails) <= authors
    assert staff_view["events"][1]["assigned_to"]["email"] == world.staff_emails[0]
    assert staff_view["moves"] == ["in_progress"]  # staff alone reopen it

    with client.app.state.platform.engine.connect() as conn:  # type: ignore[attr-defined]
        logged = [(e.action, e.target) for e in audit.entries(conn) if e.target == f"case:{case_id}"]
    assert [a for a, _ in logged] == ["case.open", "case.assign", "case.state", "case.comment", "case.state",
                                      "case.comment", "case.state", "case.state"]  # fmt: skip


def test_staff_list_every_case_and_their_own(client: TestClient, world: World) -> None:
    case_id = _open(client, world).json()["id"]
    client.post(f"/api/v1/cases/{case_id}:assign", json={"user_id": world.manager_id}, headers=world.staff)
    assert [c["id"] for c in client.get("/api/v1/cases", headers=world.staff).json()] == [case_id]
    assert client.get("/api/v1/cases", params={"mine": "true"}, headers=world.staff).json() == []
    assert [c["id"] for c in client.get("/api/v1/cases?mine=true", headers=world.manager).json()] == [case_id]
    assert client.get("/api/v1/cases", params={"state": "closed"}, headers=world.staff).json() == []
    assert [c["id"] for c in client.get("/api/v1/cases?state=open", headers=world.staff).json()] == [case_id]
    assert client.get("/api/v1/cases", params={"organization_id": world.other_id}, headers=world.staff).json() == []
    assert_problem(client.get("/api/v1/cases", headers=world.admin), 403)
    unassigned = client.post(f"/api/v1/cases/{case_id}:assign", json={"user_id": None}, headers=world.staff)
    assert unassigned.json()["assigned"] is False
    member_id = client.get(f"/api/v1/cases/{case_id}", headers=world.admin).json()["events"][0]["author_id"]
    to_member = client.post(f"/api/v1/cases/{case_id}:assign", json={"user_id": member_id}, headers=world.staff)
    assert_problem(to_member, 422, "not_staff")


def test_another_organization_sees_nothing_of_a_case(client: TestClient, world: World) -> None:
    case_id = _open(client, world).json()["id"]
    url = f"/api/v1/cases/{case_id}"
    missing = "/api/v1/cases/987654"
    for path in (url, missing):
        attempts = [
            client.get(path, headers=world.outsider),
            client.post(f"{path}/events", json={"text": "hello"}, headers=world.outsider),
            client.post(f"{path}:transition", json={"state": "closed"}, headers=world.outsider),
            client.post(f"{path}:assign", json={"user_id": None}, headers=world.outsider),
        ]
        bodies = [assert_problem(r, 404, "not_found") for r in attempts]
        assert all(b["detail"] == "no such case" for b in bodies)
    org_cases = f"/api/v1/organizations/{world.organization_id}/cases"
    assert_problem(client.get(org_cases, headers=world.outsider), 404)
    assert_problem(client.post(org_cases, json={"dimension": "ip", "value": "192.0.2.1"}, headers=world.outsider), 404)
    assert client.get(url, headers=world.admin).json()["state"] == "open"  # nothing changed


def test_a_member_names_only_its_own_complaints(client: TestClient, world: World) -> None:
    theirs = _open(client, world, value="esp1:cust8", report_ids=[world.others_report])
    nowhere = _open(client, world, value="esp1:cust8", report_ids=[987_654])
    assert assert_problem(theirs, 404, "not_found")["detail"] == assert_problem(nowhere, 404, "not_found")["detail"]
    assert theirs.json()["report_ids"] == [world.others_report]
    assert client.get(f"/api/v1/organizations/{world.organization_id}/cases", headers=world.admin).json() == []
    mixed = _open(client, world, value="esp1:cust8", report_ids=[world.own_report, world.others_report])
    assert assert_problem(mixed, 404)["report_ids"] == [world.others_report]


def test_who_may_open_and_what_a_case_is_about(client: TestClient, world: World) -> None:
    url = f"/api/v1/organizations/{world.organization_id}/cases"
    body = {"dimension": "dkim", "value": "Customer.Example."}
    assert_problem(client.post(url, json=body, headers=world.analyst), 403)  # a member analyst comments only
    assert_problem(client.post(url, json=body, headers=world.staff), 403)  # staff do not open in a member's name
    everything = client.post(url, json={"dimension": "all", "value": "x"}, headers=world.admin)
    assert_problem(everything, 422, "not_a_customer")
    no_address = client.post(url, json={"dimension": "ip", "value": "999.1.1.1"}, headers=world.admin)
    assert_problem(no_address, 422, "invalid_value")
    assert_problem(client.post(url, json={"dimension": "feedback_id", "value": CUSTOMER, "statement": "x" * 10_001},
                               headers=world.admin), 422)  # fmt: skip
    made = client.post(url, json=body, headers=world.admin).json()
    assert (made["value"], made["subject"]) == ("customer.example", "dkim customer.example")
    assert made["evidence"]["total"]["reports"] == 0  # a case may come before the complaints
    network = client.post(url, json={"dimension": "network", "value": "203.0.113.9/24"}, headers=world.admin).json()
    assert network["value"] == "203.0.113.0/24"
    listed = client.post(url, json={"dimension": "list_id", "value": "<News.Customer.Example>"}, headers=world.admin)
    assert listed.json()["value"] == "news.customer.example"
    assert_problem(client.post(url, json={"dimension": "dkim", "value": "."}, headers=world.admin), 422)


def test_bad_moves_are_clear_problems(client: TestClient, world: World) -> None:
    case_id = _open(client, world).json()["id"]
    url = f"/api/v1/cases/{case_id}"

    def to(state: str, headers: dict[str, str], resolution: str | None = None) -> Any:
        return client.post(f"{url}:transition", json={"state": state, "resolution": resolution}, headers=headers)

    assert "open case cannot become waiting_member" in assert_problem(to("waiting_member", world.manager), 409,
                                                                      "case_state")["detail"]  # fmt: skip
    assert_problem(to("in_progress", world.admin), 403, "forbidden")  # members do not take a case
    assert_problem(to("closed", world.analyst), 403, "forbidden")  # a member analyst does not withdraw it
    assert_problem(to("open", world.manager), 409, "case_state")
    assert_problem(to("in_progress", world.manager, "too soon"), 422, "invalid_resolution")
    withdrawn = to("closed", world.admin, "solved with ESP1 directly")
    assert withdrawn.status_code == 200
    assert withdrawn.json()["resolution"] == "withdrawn by the member: solved with ESP1 directly"
    assert_problem(to("closed", world.manager, "again"), 409, "case_state")
    assert_problem(to("in_progress", world.admin), 403, "forbidden")  # staff alone reopen
    assert_problem(client.post(f"{url}/events", json={"text": "one more"}, headers=world.admin), 409, "case_state")
    note = client.post(f"{url}/events", json={"text": "a note after the end"}, headers=world.staff)
    assert note.status_code == 201 and note.json()["state"] == "closed"
    reopened = to("in_progress", world.manager)
    assert (reopened.json()["state"], reopened.json()["closed_at"], reopened.json()["resolution"]) == (
        "in_progress", None, None)  # fmt: skip
    assert _open(client, world).status_code == 409  # the reopened case is the live one
    assert_problem(client.post(f"{url}/events", json={"text": "   "}, headers=world.admin), 422)
    assert client.get(url, headers=world.admin).json()["moves"] == ["closed"]
