"""A reporter's declared mail hosts are trusted relays for their own reports, and only theirs."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.tables import audit_log
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.web.helpers import RFC822, assert_problem

# The reporter's provider relays to the reporter's own server, which files the message: two hops of theirs.
MESSAGE = (
    b"Received: from relay.isp.example (relay.isp.example [198.51.100.20])\n"
    b"\tby mx.home.example (Postfix) with ESMTPS id 1; Fri, 27 Nov 2026 05:00:02 +0000\n"
    b"Received: from sender.bad.example (sender.bad.example [203.0.113.66])\n"
    b"\tby relay.isp.example (Postfix) with ESMTP id 2; Fri, 27 Nov 2026 05:00:01 +0000\n"
    b"From: Service <service@bad.example>\nSubject: Votre compte\nMessage-ID: <1@bad.example>\n\n"
    b"Connectez-vous : https://login-verify.example.com/\n"
)


def test_declared_hosts_let_the_walk_reach_the_sender(client: TestClient, users: Users, platform: Platform) -> None:
    declaring, silent = users.headers(), users.headers()
    hosts = {"mail_hosts": ["MX.Home.Example.", "relay.isp.example"]}
    response = client.put("/api/v1/me/mail-hosts", json=hosts, headers=declaring)
    assert response.status_code == 200, response.text
    assert response.json() == {"mail_hosts": ["mx.home.example", "relay.isp.example"]}
    assert client.get("/api/v1/me/mail-hosts", headers=declaring).json() == response.json()
    assert client.get("/api/v1/me/mail-hosts", headers=silent).json() == {"mail_hosts": []}

    mine = client.post("/api/v1/reports", content=MESSAGE, headers=declaring | RFC822).json()["id"]
    theirs = client.post("/api/v1/reports", content=MESSAGE, headers=silent | RFC822).json()["id"]
    run_jobs_until_idle(platform)
    staff = users.headers(Role.ANALYST)
    mine_report = client.get(f"/api/v1/reports/{mine}", headers=staff).json()
    theirs_report = client.get(f"/api/v1/reports/{theirs}", headers=staff).json()
    assert mine_report["origin_ip"] == "203.0.113.66"
    assert mine_report["facts"]["origin"]["trusted_by"] == "reporter-host"
    assert theirs_report["origin_ip"] is None  # an unknown receiving system: no guess
    assert theirs_report["facts"]["origin"]["untrusted_reason"]
    with read(platform.engine) as conn:
        assert conn.execute(select(audit_log.c.action).where(audit_log.c.action == "user.mail_hosts")).scalar()


@pytest.mark.parametrize(
    "bad",
    [
        ["not a host"],
        ["192.0.2.0/33"],
        ["-bad-.example"],
        ["x" * 300 + ".example"],
        [f"h{i}.example" for i in range(21)],
    ],
)
def test_invalid_mail_hosts_are_refused(client: TestClient, users: Users, bad: list[str]) -> None:
    response = client.put("/api/v1/me/mail-hosts", json={"mail_hosts": bad}, headers=users.headers())
    assert_problem(response, 422)


def test_networks_are_normalized(client: TestClient, users: Users) -> None:
    response = client.put(
        "/api/v1/me/mail-hosts", json={"mail_hosts": ["192.0.2.7/24", "2001:DB8::/48"]}, headers=users.headers()
    )
    assert response.json() == {"mail_hosts": ["192.0.2.0/24", "2001:db8::/48"]}
