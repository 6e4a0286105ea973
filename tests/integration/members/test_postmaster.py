"""A domain proven by its postmaster: the mail goes through the queue and a real SMTP relay; its link opens a page
whose button confirms the claim, once; a forged or expired link confirms nothing."""

from __future__ import annotations

import base64
import json
import re
import time
from urllib.parse import parse_qs, urlsplit

from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.members.postmaster import CONFIRM_PATH, make_link_token
from signalement.platform import Platform
from signalement.store import audit
from signalement.store import claims as store
from signalement.store.db import read
from signalement.web.app import create_app
from tests.conftest import Users, run_jobs_until_idle
from tests.integration.members.conftest import PUBLIC_URL, add_member, add_organization
from tests.integration.members.test_claims import API, audit_of, claim
from tests.integration.web.helpers import assert_problem, custom_platform
from tests.relay import Relay


def token_of(path: str) -> str:
    return parse_qs(urlsplit(path).query)["token"][0]


def altered(token: str, **change: int) -> str:
    """The link with its payload changed and its signature kept."""
    body, _, signature = token.partition(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    new = base64.urlsafe_b64encode(json.dumps({**payload, **change}).encode()).decode().rstrip("=")
    return f"{new}.{signature}"


def state_of(client: TestClient, claim_id: int, headers: dict[str, str]) -> str:
    return str(client.get(f"{API}/claims/{claim_id}", headers=headers).json()["state"])


def test_the_postmasters_link_confirms_the_claim_once(
    client: TestClient, platform: Platform, users: Users, relay: Relay
) -> None:
    org = add_organization(platform, name="Example Mail & Co")
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    made = claim(client, member, org, "domain", "example.com")
    response = client.post(f"{API}/claims/{made['id']}:verify", json={"proof": "postmaster"}, headers=member)
    assert response.status_code == 202, response.text
    assert response.json() == {"postmaster": "postmaster@example.com", "expires_in_hours": 72}
    run_jobs_until_idle(platform)

    path = relay.link_for("postmaster@example.com", CONFIRM_PATH)
    mail = relay.parsed()
    assert "example.com" in mail["Subject"]
    text = mail.get_body(("plain",))
    assert text is not None
    assert "'Example Mail & Co'" in text.get_content()  # who claims it
    assert f"{PUBLIC_URL}{path}" in text.get_content()

    # Following the link (as a mail scanner would) shows a page and confirms nothing.
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["referrer-policy"] == "no-referrer"
    assert "Example Mail &amp; Co" in page.text  # escaped
    assert re.search(r'<form method="post" action="/claims/confirm">', page.text)
    assert state_of(client, made["id"], member) == "pending"

    # Its button does: no session, the link is the proof.
    confirmed = client.post(CONFIRM_PATH, data={"token": token_of(path)})
    assert confirmed.status_code == 200, confirmed.text
    shown = client.get(f"{API}/claims/{made['id']}", headers=member).json()
    assert (shown["state"], shown["proof"]) == ("verified", "postmaster")
    entries = audit_of(platform, made["id"])
    assert [e.action for e in entries] == ["claim.create", "claim.postmaster_mail", "claim.confirm"]
    assert entries[-1].actor == "postmaster@example.com"
    assert all(token_of(path) not in str(e.detail) for e in entries)

    # Used once: a second use, by the page or its form, is refused.
    assert client.post(CONFIRM_PATH, data={"token": token_of(path)}).status_code == 400
    assert client.get(path).status_code == 400


def test_a_forged_or_expired_link_confirms_nothing(
    client: TestClient, platform: Platform, users: Users, relay: Relay
) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    first = claim(client, member, org, "domain", "example.com")
    second = claim(client, member, org, "domain", "example.net")
    with read(platform.engine) as conn:
        found = store.get(conn, first["id"])
    assert found is not None
    good = make_link_token(platform.secret, found)
    body, _, signature = good.partition(".")
    forged = [
        "",
        "garbage",
        f"{body}.{signature[:-2]}AA",  # a signature that does not match
        f"{body}.",
        make_link_token(b"another secret", found),  # signed with another key
        altered(good, e=int(time.time()) + 10**6),  # its expiry pushed back
        altered(good, c=second["id"]),  # pointed at another claim
        make_link_token(platform.secret, found, hours=-1),  # expired
    ]
    for token in forged:
        assert client.get(CONFIRM_PATH, params={"token": token}).status_code == 400, token
        assert client.post(CONFIRM_PATH, data={"token": token}).status_code == 400, token
    assert state_of(client, first["id"], member) == state_of(client, second["id"], member) == "pending"
    assert client.post(CONFIRM_PATH, data={"token": good}).status_code == 200
    with read(platform.engine) as conn:
        assert [e.action for e in audit.entries(conn) if e.action == "claim.confirm"] == ["claim.confirm"]


def test_a_revoked_claims_link_no_longer_works(client: TestClient, platform: Platform, users: Users) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    made = claim(client, member, org, "domain", "example.org")
    with read(platform.engine) as conn:
        found = store.get(conn, made["id"])
    assert found is not None
    link = make_link_token(platform.secret, found)
    client.post(f"{API}/claims/{made['id']}:revoke", json={"reason": "typo"}, headers=member)
    assert client.post(CONFIRM_PATH, data={"token": link}).status_code == 400
    assert state_of(client, made["id"], member) == "revoked"


def test_a_postmaster_is_mailed_at_most_once_an_hour_per_claim(
    client: TestClient, platform: Platform, users: Users, relay: Relay
) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ABUSE_MANAGER)
    made = claim(client, member, org, "list_id", "news.example.org")
    verify = f"{API}/claims/{made['id']}:verify"
    assert client.post(verify, json={"proof": "postmaster"}, headers=member).status_code == 202
    assert_problem(client.post(verify, json={"proof": "postmaster"}, headers=member), 429, "postmaster_mailed")
    run_jobs_until_idle(platform)
    assert len(relay.mails) == 1
    assert relay.parsed()["To"] == "postmaster@example.org"  # a List-Id's registered domain
    staff_kind = claim(client, member, org, "feedback_id", "sender-9")
    refused = client.post(f"{API}/claims/{staff_kind['id']}:verify", json={"proof": "postmaster"}, headers=member)
    assert_problem(refused, 409, "staff_approval")


def test_without_a_relay_the_postmaster_proof_is_refused(platform: Platform, users: Users) -> None:
    with custom_platform(platform.settings, mail_relay="") as bare, TestClient(create_app(bare)) as client:
        org = add_organization(bare)
        _, member = add_member(bare, Users(bare), org, Role.MEMBER_ADMIN)
        made = claim(client, member, org, "domain", "example.com")
        refused = client.post(f"{API}/claims/{made['id']}:verify", json={"proof": "postmaster"}, headers=member)
        assert_problem(refused, 503, "no_mail_relay")
