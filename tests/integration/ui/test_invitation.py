"""An invited person follows the mailed link to a page, chooses a password, joins the organization, and on signing
in sets up a second factor first, as every member does."""

from __future__ import annotations

from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.platform import Platform
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.ui.test_accounts import PASSWORD, post_form
from tests.integration.ui.test_accounts import world as world
from tests.relay import Relay

INVITED = "new.member@mailbox.example"


def test_an_invited_person_joins_through_the_page(world: tuple[Platform, TestClient, Relay]) -> None:
    platform, client, relay = world
    admin = Users(platform).headers(Role.ADMIN)
    organization = client.post("/api/v1/organizations", json={"name": "Mailbox Co", "kind": "mailbox_provider"},
                               headers=admin).json()  # fmt: skip
    invited = client.post(f"/api/v1/organizations/{organization['id']}/invitations",
                          json={"email": INVITED, "role": "member_analyst"}, headers=admin)  # fmt: skip
    assert invited.status_code == 201
    run_jobs_until_idle(platform)
    link = relay.link_for(INVITED, "/invitation")
    form = client.get(link)
    assert form.status_code == 200 and 'name="token"' in form.text
    token = link.split("token=", 1)[1]
    short = post_form(client, "/invitation", {"token": token, "password": "short"}, form_page=link)
    assert short.status_code == 422
    joined = post_form(client, "/invitation", {"token": token, "password": PASSWORD, "display_name": "Ana"}, link)
    assert joined.status_code == 303 and joined.headers["location"] == "/signin"
    again = post_form(client, "/invitation", {"token": token, "password": PASSWORD}, link)
    assert again.status_code == 400  # a link works once
    signed_in = post_form(client, "/signin", {"email": INVITED, "password": PASSWORD})
    assert signed_in.headers["location"] == "/signin/enroll"
    people = client.get(f"/api/v1/organizations/{organization['id']}/members", headers=admin).json()
    assert [(p["email"], p["display_name"], p["role"]) for p in people] == [(INVITED, "Ana", "member_analyst")]
