"""A reporter's account page over real HTTP: tokens shown once and revoked, secret addresses, acknowledgements,
all their data as one download, and erasing the account with its reports (campaign counts and shared bytes kept
right)."""

from __future__ import annotations

import base64
import re

import httpx
import pyotp
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from signalement.platform import Platform
from signalement.store.db import read
from signalement.store.tables import audit_log, blobs, campaigns, reports, users
from tests.conftest import run_jobs_until_idle
from tests.integration.smtp.conftest import phishing
from tests.integration.ui.test_pages import PASSWORD, csrf_of, person, signed_in


def post(client: TestClient, path: str, **data: str) -> httpx.Response:
    response: httpx.Response = client.post(path, data=data | {"csrf": csrf_of(client.get("/account").text)})
    return response


def test_tokens_are_shown_once_and_revoked(platform: Platform) -> None:
    person(platform, "gil@example.org")
    client = signed_in(platform, "gil@example.org")
    made = client.post("/account/tokens", data={"name": "Thunderbird", "csrf": csrf_of(client.get("/account").text)})
    token = re.search(r'<code id="new-token">(sig_[^<]+)</code>', made.text)
    assert token, made.text
    assert client.get("/api/v1/reports", headers={"Authorization": f"Bearer {token.group(1)}"}).status_code == 200
    page = client.get("/account").text
    assert "Thunderbird" in page and token.group(1) not in page  # never shown again
    token_id = re.search(r"/account/tokens/(\d+)/revoke", page)
    assert token_id
    post(client, f"/account/tokens/{token_id.group(1)}/revoke")
    assert "Thunderbird" not in client.get("/account").text


def test_secret_addresses_and_acknowledgements(platform: Platform) -> None:
    person(platform, "hal@example.org")
    client = signed_in(platform, "hal@example.org")
    post(client, "/account/addresses")
    assert re.search(r"report\+[a-z0-9]{20}@localhost", client.get("/account").text)
    post(client, "/account/ack", ack="on")
    with read(platform.engine) as conn:
        assert conn.execute(select(users.c.ack_by_mail).where(users.c.email == "hal@example.org")).scalar() is True


def test_all_their_data_comes_as_one_download(platform: Platform) -> None:
    person(platform, "ida@example.org")
    client = signed_in(platform, "ida@example.org")
    token = csrf_of(client.get("/report").text)
    client.post("/report", data={"csrf": token, "source": phishing(1).decode()})
    run_jobs_until_idle(platform)
    data = client.get("/account/data")
    assert data.headers["content-disposition"].startswith("attachment")
    document = data.json()
    assert document["account"]["email"] == "ida@example.org"
    (report,) = document["reports"]
    assert base64.b64decode(report["message_base64"]) == phishing(1) and report["facts"]["category"]


def test_erasing_an_account_deletes_its_reports_and_keeps_what_others_share(platform: Platform) -> None:
    person(platform, "jo@example.org")
    person(platform, "kim@example.org")
    jo, kim = signed_in(platform, "jo@example.org"), signed_in(platform, "kim@example.org")
    for client, messages in ((jo, [phishing(1), phishing(2)]), (kim, [phishing(1)])):
        token = csrf_of(client.get("/report").text)
        for raw in messages:
            client.post("/report", data={"csrf": token, "source": raw.decode()})
    run_jobs_until_idle(platform)
    with read(platform.engine) as conn:
        before = conn.execute(select(func.sum(campaigns.c.reports))).scalar_one()
        reported = set(conn.execute(select(reports.c.sha256)).scalars())
    assert post(jo, "/account/delete", password="wrong").status_code == 401
    assert post(jo, "/account/delete", password=PASSWORD).status_code == 200
    assert jo.get("/reports").headers["location"] == "/signin"
    with read(platform.engine) as conn:
        assert conn.execute(select(func.count()).select_from(reports)).scalar_one() == 1  # kim's
        assert conn.execute(select(func.sum(campaigns.c.reports))).scalar_one() == before - 2
        left = set(conn.execute(select(blobs.c.sha256)).scalars())
        actions = conn.execute(select(audit_log.c.action, audit_log.c.actor)).all()
    assert len(left) == 1 and platform.blobs.exists(next(iter(left)))  # the bytes kim reported too stay
    assert not any(platform.blobs.exists(sha) for sha in reported - left)  # jo's own are gone from the disk
    (erase,) = [a for a in actions if a.action == "user.erase"]
    assert erase.actor.startswith("user:") and "@" not in erase.actor


def test_changing_the_password_needs_the_current_one_and_ends_other_sessions(platform: Platform) -> None:
    person(platform, "lea@example.org")
    here, elsewhere = signed_in(platform, "lea@example.org"), signed_in(platform, "lea@example.org")
    assert post(here, "/account/password", current="wrong", new="a new long passphrase").status_code == 401
    assert post(here, "/account/password", current=PASSWORD, new="short").status_code == 422
    changed = post(here, "/account/password", current=PASSWORD, new="a new long passphrase")
    assert changed.status_code == 200 and "other sessions are signed out" in changed.text
    assert here.get("/reports").status_code == 200  # this session stays
    assert elsewhere.get("/reports").headers["location"] == "/signin"  # the other one is gone


def test_a_reporter_turns_a_second_factor_on(platform: Platform) -> None:
    person(platform, "max@example.org")
    client = signed_in(platform, "max@example.org")
    assert "Set up a second factor" in client.get("/account").text
    assert post(client, "/account/second-factor/start").headers["location"] == "/account/second-factor"
    form = client.get("/account/second-factor").text
    key = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', form)
    assert key
    totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    token = csrf_of(form)
    assert client.post("/account/second-factor", data={"code": "000000", "csrf": token}).status_code == 401
    assert client.post("/account/second-factor", data={"code": totp.now(), "csrf": token}).status_code == 303
    assert "A second factor protects this account" in client.get("/account").text
    client.post("/signout", data={"csrf": csrf_of(client.get("/account").text)})
    reply = client.post(
        "/signin",
        data={"email": "max@example.org", "password": PASSWORD, "csrf": csrf_of(client.get("/signin").text)},
    )
    assert reply.headers["location"] == "/signin/code"  # from now on, a code at each sign-in
