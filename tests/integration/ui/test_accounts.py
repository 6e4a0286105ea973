"""Signing up with a confirmed address, and a new password by mail, over real HTTP with the mail going through a
real SMTP relay on loopback (aiosmtpd) and the jobs run by a real worker."""

from __future__ import annotations

import email
import re
from collections.abc import Iterator
from email.policy import default

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope
from fastapi.testclient import TestClient

from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.migrate import upgrade
from signalement.web.app import create_app
from tests.conftest import run_jobs_until_idle
from tests.integration.ui.test_pages import csrf_of
from tests.pg import free_port

ADDRESS = "newcomer@example.org"
PASSWORD = "a long enough passphrase"


class Relay:
    def __init__(self) -> None:
        self.mails: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server: object, session: object, envelope: Envelope) -> str:
        self.mails.append(email.message_from_bytes(envelope.original_content or b"", policy=default))
        return "250 OK"

    def link(self, path: str) -> str:
        text = self.mails[-1].get_body(("plain",)).get_content()  # type: ignore[union-attr]
        found = re.search(rf"https?://\S+({re.escape(path)}\?token=\S+)", text)
        assert found, text
        return found.group(1)


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[Platform, TestClient, Relay]]:
    relay = Relay()
    controller = Controller(relay, hostname="127.0.0.1", port=free_port())
    controller.start()
    platform = Platform(settings.model_copy(update={"mail_relay": f"127.0.0.1:{controller.port}"}))
    upgrade(platform.engine)
    client = TestClient(create_app(platform), client=("127.0.0.1", 50000), follow_redirects=False)
    yield platform, client, relay
    controller.stop()
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
    (mail,) = relay.mails
    assert mail["To"] == ADDRESS and mail["Auto-Submitted"] == "auto-generated" and mail["X-Signalement-Loop"]
    link = relay.link("/verify")
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
    client.get(relay.link("/verify"))
    assert client.get("/reports").status_code == 200
    stranger = TestClient(client.app, follow_redirects=False)
    assert post_form(stranger, "/forgot", {"email": "nobody@example.org"}).status_code == 200
    assert post_form(stranger, "/forgot", {"email": ADDRESS}).status_code == 200
    run_jobs_until_idle(platform)
    assert len(relay.mails) == 2  # only the real account got one
    link = relay.link("/reset")
    token = link.partition("token=")[2]
    new = "another long passphrase"
    changed = post_form(stranger, "/reset", {"token": token, "password": new}, form_page=link)
    assert changed.status_code == 303
    assert client.get("/reports").headers["location"] == "/signin"  # the old session is gone
    assert (
        post_form(stranger, "/reset", {"token": token, "password": "yet another passphrase"}, link).status_code == 400
    )
    assert post_form(stranger, "/signin", {"email": ADDRESS, "password": new}).status_code == 303
