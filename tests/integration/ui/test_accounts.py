"""Signing up with a confirmed address, and a new password by mail, over real HTTP with the mail going through a
real SMTP relay on loopback (aiosmtpd) and the jobs run by a real worker."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.migrate import upgrade
from signalement.web.app import create_app
from tests.conftest import run_jobs_until_idle
from tests.integration.ui.test_pages import csrf_of
from tests.relay import Relay

ADDRESS = "newcomer@example.org"
PASSWORD = "a long enough passphrase"


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[Platform, TestClient, Relay]]:
    with Relay() as relay:
        platform = Platform(settings.model_copy(update={"mail_relay": relay.address}))
        upgrade(platform.engine)
        client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
        yield platform, client, relay
        platform.close()


def post_form(client: TestClient, path: str, data: dict[str, str], form_page: str | None = None) -> httpx.Response:
    token = csrf_of(client.get(form_page or path).text)
    response: httpx.Response = client.post(path, data=data | {"csrf": token})
    return response


def test_signing_up_needs_the_address_confirmed(world: tuple[Platform, TestClient, Relay]) -> None:
    platform, client, relay = world
    short = post_form(client, "/signup", {"email": ADDRESS, "password": "short"})
    assert short.status_code == 422
    assert post_form(client, "/signup", {"email": ADDRESS, "password": PASSWORD}).status_code == 200
    assert post_form(client, "/signin", {"email": ADDRESS, "password": PASSWORD}).status_code == 401
    run_jobs_until_idle(platform)
    assert len(relay.mails) == 1
    mail = relay.parsed()
    assert mail["To"] == ADDRESS and mail["Auto-Submitted"] == "auto-generated" and mail["X-Signalement-Loop"]
    link = relay.link_for(ADDRESS, "/verify")
    confirmed = client.get(link)
    assert confirmed.status_code == 303 and confirmed.headers["location"] == "/reports"
    assert client.get("/reports").status_code == 200  # signed in by the link
    assert client.get(link).status_code == 400  # used
    again = post_form(
        TestClient(client.app, follow_redirects=False), "/signup", {"email": ADDRESS, "password": PASSWORD}
    )
    assert again.status_code == 200  # the same answer: nobody learns who has an account
    run_jobs_until_idle(platform)
    assert len(relay.mails) == 1


def test_a_new_password_by_mail_works_once_and_signs_out_everywhere(world: tuple[Platform, TestClient, Relay]) -> None:
    platform, client, relay = world
    post_form(client, "/signup", {"email": ADDRESS, "password": PASSWORD})
    run_jobs_until_idle(platform)
    client.get(relay.link_for(ADDRESS, "/verify"))
    assert client.get("/reports").status_code == 200
    stranger = TestClient(client.app, follow_redirects=False)
    assert post_form(stranger, "/forgot", {"email": "nobody@example.org"}).status_code == 200
    assert post_form(stranger, "/forgot", {"email": ADDRESS}).status_code == 200
    run_jobs_until_idle(platform)
    assert len(relay.mails) == 2  # only the real account got one
    link = relay.link_for(ADDRESS, "/reset")
    token = link.partition("token=")[2]
    new = "another long passphrase"
    changed = post_form(stranger, "/reset", {"token": token, "password": new}, form_page=link)
    assert changed.status_code == 303
    assert client.get("/reports").headers["location"] == "/signin"  # the old session is gone
    assert (
        post_form(stranger, "/reset", {"token": token, "password": "yet another passphrase"}, link).status_code == 400
    )
    assert post_form(stranger, "/signin", {"email": ADDRESS, "password": new}).status_code == 303
