"""A reporter's secret report addresses and acknowledgement choice, over the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.report_addresses import owner_of
from tests.conftest import Users
from tests.integration.web.helpers import assert_problem, bearer


def test_a_reporter_issues_lists_and_revokes_their_addresses(
    client: TestClient, platform: Platform, users: Users
) -> None:
    user_id, token = users.create()
    mine = bearer(token)
    assert client.get("/api/v1/me/report-by-mail", headers=mine).json() == {"addresses": [], "ack_by_mail": False}
    issued = [client.post("/api/v1/me/report-addresses", headers=mine) for _ in range(5)]
    assert {r.status_code for r in issued} == {201}
    address = issued[0].json()["address"]
    local, _, domain = address.partition("@")
    assert local.startswith("report+") and domain == platform.settings.smtp_domains[0]
    with read(platform.engine) as conn:
        assert owner_of(conn, local.removeprefix("report+")) == user_id
    assert_problem(client.post("/api/v1/me/report-addresses", headers=mine), 409, "too_many_addresses")
    listed = client.get("/api/v1/me/report-by-mail", headers=mine).json()["addresses"]
    assert [a["address"] for a in listed] == [r.json()["address"] for r in issued]  # shown again, the same

    other = bearer(users.create()[1])
    first = issued[0].json()["id"]
    assert_problem(client.delete(f"/api/v1/me/report-addresses/{first}", headers=other), 404)
    assert client.delete(f"/api/v1/me/report-addresses/{first}", headers=mine).status_code == 204
    assert_problem(client.delete(f"/api/v1/me/report-addresses/{first}", headers=mine), 404)
    with read(platform.engine) as conn:
        assert owner_of(conn, local.removeprefix("report+")) is None
    audit = client.get("/api/v1/audit", headers=bearer(users.create(Role.ADMIN)[1])).json()
    actions = [e["action"] for e in audit]
    assert actions.count("user.report_address.issue") == 5 and actions.count("user.report_address.revoke") == 1


def test_a_reporter_chooses_acknowledgements_by_mail(client: TestClient, users: Users) -> None:
    mine = bearer(users.create()[1])
    assert client.put("/api/v1/me/ack-by-mail", json={"ack_by_mail": True}, headers=mine).status_code == 200
    assert client.get("/api/v1/me/report-by-mail", headers=mine).json()["ack_by_mail"] is True
