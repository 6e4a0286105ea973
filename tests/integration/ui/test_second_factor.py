"""Staff and members must set up a second factor (TOTP) before any page opens for them, and give a code at every
sign-in; a code works once; a session waiting for its code opens nothing."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from signalement.store.accounts import create_user
from signalement.web.app import create_app
from tests.integration.ui.test_pages import PASSWORD, csrf_of

STAFF = "staff@example.org"


def sign_in(client: TestClient) -> str:
    reply = client.post(
        "/signin", data={"email": STAFF, "password": PASSWORD, "csrf": csrf_of(client.get("/signin").text)}
    )
    assert reply.status_code == 303
    return str(reply.headers["location"])


@pytest.mark.parametrize("role", [Role.ANALYST, Role.MEMBER_ANALYST])
def test_staff_and_members_set_up_a_second_factor_then_give_a_code_each_time(platform: Platform, role: Role) -> None:
    with platform.engine.begin() as conn:
        create_user(conn, STAFF, role, password=PASSWORD)
    client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
    assert sign_in(client) == "/signin/enroll"
    assert client.get("/reports").headers["location"] == "/signin"  # nothing opens meanwhile
    enroll = client.get("/signin/enroll").text
    assert "<svg" in enroll
    key = re.search(r'<code id="totp-key">([A-Z2-7 ]+)</code>', enroll)
    assert key
    totp = pyotp.TOTP(key.group(1).replace(" ", ""))
    token = csrf_of(enroll)
    assert client.post("/signin/enroll", data={"code": "000000", "csrf": token}).status_code == 401
    enrolled_at = time.time()
    first = totp.at(enrolled_at)
    done = client.post("/signin/enroll", data={"code": first, "csrf": token})
    assert done.status_code == 303 and client.get("/reports").status_code == 200

    client.post("/signout", data={"csrf": csrf_of(client.get("/report").text)})
    assert sign_in(client) == "/signin/code"
    assert client.get("/account").headers["location"] == "/signin"
    form = csrf_of(client.get("/signin/code").text)
    assert client.post("/signin/code", data={"code": first, "csrf": form}).status_code == 401  # used already
    following = totp.at(enrolled_at + 30)  # the next step's code (one step of drift is allowed)
    assert client.post("/signin/code", data={"code": following, "csrf": form}).status_code == 303
    assert client.get("/reports").status_code == 200


def test_a_reporter_without_a_second_factor_signs_in_with_the_password_alone(platform: Platform) -> None:
    with platform.engine.begin() as conn:
        create_user(conn, STAFF, Role.REPORTER, password=PASSWORD)
    client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
    assert sign_in(client) == "/reports"
