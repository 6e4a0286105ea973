"""Claims through the API, on SQLite and PostgreSQL: a domain proven by a real DNS TXT record, an IP range approved
by a staff abuse manager with its reverse DNS shown, conflicts between organizations, revocation, and another
organization's claims kept out of sight."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from signalement.domain.accounts import Role
from signalement.domain.audit import AuditEntry
from signalement.domain.claims import ClaimKind
from signalement.domain.members import OrgKind
from signalement.platform import Platform
from signalement.store import audit
from signalement.store import claims as store
from signalement.store.db import read
from tests.conftest import Users
from tests.dnsserver import LoopbackDNS
from tests.integration.members.conftest import add_member, add_organization, disable_organization
from tests.integration.web.helpers import assert_problem, assert_unauthorized

API = "/api/v1"


def claim(client: TestClient, headers: dict[str, str], org_id: int, kind: str, value: str, **extra: Any) -> Any:
    response = client.post(f"{API}/organizations/{org_id}/claims", json={"kind": kind, "value": value, **extra},
                           headers=headers)  # fmt: skip
    assert response.status_code == 201, response.text
    return response.json()


def verified_values(platform: Platform, *kinds: ClaimKind) -> set[str]:
    with read(platform.engine) as conn:
        return {c.value for c in store.verified(conn, kinds or tuple(ClaimKind))}


def audit_of(platform: Platform, claim_id: int) -> list[AuditEntry]:
    with read(platform.engine) as conn:
        return [e for e in audit.entries(conn) if e.target == f"claim:{claim_id}"]


def test_a_domain_is_proven_by_its_dns_txt_record(
    client: TestClient, platform: Platform, users: Users, dns_server: LoopbackDNS
) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    made = claim(client, member, org, "domain", "Mail.Example.COM.")
    assert (made["value"], made["state"], made["conflicts"]) == ("mail.example.com", "pending", [])
    how = made["how_to_prove"]
    assert how["proofs"] == ["dns_txt", "postmaster"]
    assert how["postmaster"] == "postmaster@mail.example.com"
    txt = how["dns_txt"]
    assert txt["name"] == "_signalement.mail.example.com"
    assert txt["value"].startswith("signalement-claim=")
    assert txt["zone_line"] == f'_signalement.mail.example.com. 3600 IN TXT "{txt["value"]}"'
    verify = f"{API}/claims/{made['id']}:verify"

    # Nothing published yet: refused, saying where it looked.
    body = assert_problem(client.post(verify, json={"proof": "dns_txt"}, headers=member), 409, "not_proven")
    assert body["looked_up"] == "_signalement.mail.example.com"
    assert body["found"] == []
    assert "no TXT record at _signalement.mail.example.com" in body["detail"]

    # A wrong record (another claim's token): refused, showing what is there.
    dns_server.set_txt(txt["name"], "signalement-claim=not-this-one")
    body = assert_problem(client.post(verify, json={"proof": "dns_txt"}, headers=member), 409, "not_proven")
    assert body["found"] == ["signalement-claim=not-this-one"]
    assert body["expected"] == txt["value"]
    assert "signalement-claim=not-this-one" in body["detail"]
    assert verified_values(platform) == set()

    # Published among other records: proven.
    dns_server.set_txt(txt["name"], "v=spf1 -all", txt["value"])
    response = client.post(verify, json={"proof": "dns_txt"}, headers=member)
    assert response.status_code == 200, response.text
    done = response.json()
    assert (done["state"], done["proof"], done["how_to_prove"]) == ("verified", "dns_txt", None)
    assert verified_values(platform, ClaimKind.DOMAIN) == {"mail.example.com"}
    assert client.get(f"{API}/claims/{made['id']}", headers=member).json()["state"] == "verified"
    # Once verified, there is nothing left to prove.
    assert_problem(client.post(verify, json={"proof": "dns_txt"}, headers=member), 409, "claim_state")

    entries = audit_of(platform, made["id"])
    assert [e.action for e in entries] == ["claim.create", "claim.verify"]
    token = txt["value"].removeprefix("signalement-claim=")
    assert all(token not in str(e.detail) for e in entries)  # the audit log keeps no token


def test_a_list_id_is_proven_at_its_registered_domain(
    client: TestClient, platform: Platform, users: Users, dns_server: LoopbackDNS
) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ABUSE_MANAGER)
    made = claim(client, member, org, "list_id", "<News.Lists.Example.NET>")
    assert made["value"] == "news.lists.example.net"
    txt = made["how_to_prove"]["dns_txt"]
    assert txt["name"] == "_signalement.example.net"
    assert made["how_to_prove"]["postmaster"] == "postmaster@example.net"
    dns_server.set_txt(txt["name"], txt["value"])
    response = client.post(f"{API}/claims/{made['id']}:verify", json={"proof": "dns_txt"}, headers=member)
    assert response.json()["state"] == "verified"


def test_an_ip_range_is_approved_by_a_staff_abuse_manager_shown_its_reverse_dns(
    client: TestClient, platform: Platform, users: Users, dns_server: LoopbackDNS
) -> None:
    org, other = add_organization(platform), add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ABUSE_MANAGER)
    _, member_admin = add_member(platform, users, org, Role.MEMBER_ADMIN)
    _, other_admin = add_member(platform, users, other, Role.MEMBER_ADMIN)
    dns_server.set_ptr("192.0.2.1", "out-1.mail.example.com")
    dns_server.set_ptr("192.0.2.254", "out-254.mail.example.com")
    made = claim(client, member, org, "ip_range", "192.0.2.0/24", statement="Our outbound relays, RIPE org ORG-EX1")
    assert made["how_to_prove"] == {"proofs": ["staff_approval"], "dns_txt": None, "postmaster": None}
    assert made["statement"] == "Our outbound relays, RIPE org ORG-EX1"
    reverse = made["evidence"]["reverse_dns"]
    assert len(reverse) == 8
    assert reverse[0] == {"address": "192.0.2.1", "names": ["out-1.mail.example.com"], "error": None}
    assert reverse[-1] == {"address": "192.0.2.254", "names": ["out-254.mail.example.com"], "error": None}
    assert all(r["names"] == [] for r in reverse[1:-1])

    # Its owner cannot prove it: staff decide.
    verify = client.post(f"{API}/claims/{made['id']}:verify", json={"proof": "dns_txt"}, headers=member)
    assert_problem(verify, 409, "staff_approval")

    approve = f"{API}/claims/{made['id']}:approve"
    for role in (Role.REPORTER, Role.ANALYST):
        assert_problem(client.post(approve, json={}, headers=users.headers(role)), 403)
    for headers in (member, member_admin, other_admin):
        assert_problem(client.post(approve, json={}, headers=headers), 403)
    assert_unauthorized(client.post(approve, json={}))

    # Staff see the evidence (gathered again on request) and decide.
    dns_server.set_ptr("192.0.2.37", "customer-37.isp.example.net")
    manager = users.headers(Role.ABUSE_MANAGER)
    again = client.post(f"{API}/claims/{made['id']}:evidence", headers=manager)
    assert {"address": "192.0.2.37", "names": ["customer-37.isp.example.net"], "error": None} in again.json()[
        "evidence"
    ]["reverse_dns"]
    assert_problem(client.post(f"{API}/claims/{made['id']}:evidence", headers=member), 403)
    response = client.post(approve, json={"reason": "RIPE database agrees"}, headers=manager)
    assert response.status_code == 200, response.text
    assert (response.json()["state"], response.json()["proof"]) == ("verified", "staff_approval")
    assert verified_values(platform, ClaimKind.IP_RANGE) == {"192.0.2.0/24"}
    assert_problem(client.post(approve, json={}, headers=manager), 409, "claim_state")
    assert [e.action for e in audit_of(platform, made["id"])] == ["claim.create", "claim.approve"]


def test_staff_reject_with_a_reason_and_approve_only_what_needs_them(
    client: TestClient, platform: Platform, users: Users
) -> None:
    org = add_organization(platform, OrgKind.MAILBOX_PROVIDER)
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    admin = users.headers(Role.ADMIN)
    sender_id = claim(client, member, org, "feedback_id", "Campaign-Sender-7")
    assert sender_id["evidence"]["reverse_dns"] == []  # a sender id has no DNS: judged on what the member says
    reject = f"{API}/claims/{sender_id['id']}:reject"
    assert_problem(client.post(reject, json={}, headers=admin), 422)  # a reason is required
    assert_problem(client.post(reject, json={"reason": ""}, headers=admin), 422)
    response = client.post(reject, json={"reason": "the sender id is another customer's"}, headers=admin)
    assert (response.json()["state"], response.json()["reason"]) == ("rejected", "the sender id is another customer's")
    assert_problem(client.post(f"{API}/claims/{sender_id['id']}:approve", json={}, headers=admin), 409, "claim_state")

    domain = claim(client, member, org, "domain", "example.org")
    for act in (":approve", ":reject"):
        refused = client.post(f"{API}/claims/{domain['id']}{act}", json={"reason": "x"}, headers=admin)
        assert_problem(refused, 409, "claim_state")  # proven by its owner, not by staff
    relay = claim(client, member, org, "relay_network", "2001:db8:10::/48")
    authserv = claim(client, member, org, "authserv_id", "MX.Example.org")
    assert authserv["value"] == "mx.example.org"
    for made in (relay, authserv):
        assert client.post(f"{API}/claims/{made['id']}:approve", json={}, headers=admin).json()["state"] == "verified"
    assert verified_values(platform, ClaimKind.RELAY_NETWORK, ClaimKind.AUTHSERV_ID) == {
        "2001:db8:10::/48",
        "mx.example.org",
    }


def test_what_an_organization_cannot_claim(client: TestClient, platform: Platform, users: Users) -> None:
    sender = add_organization(platform, OrgKind.SENDER)
    _, member = add_member(platform, users, sender, Role.MEMBER_ADMIN)
    url = f"{API}/organizations/{sender}/claims"
    for kind in ("relay_network", "authserv_id"):  # a mailbox provider's alone
        value = "192.0.2.0/24" if kind == "relay_network" else "mx.example.com"
        body = assert_problem(client.post(url, json={"kind": kind, "value": value}, headers=member), 409)
        assert body["code"] == "claim_not_allowed"
        assert "mailbox provider" in body["detail"]
    body = assert_problem(client.post(url, json={"kind": "ip_range", "value": "192.0.2.1/24"}, headers=member), 422)
    assert (body["code"], "host bits" in body["detail"]) == ("invalid_claim", True)
    body = assert_problem(client.post(url, json={"kind": "domain", "value": "co.uk"}, headers=member), 422)
    assert "public suffix" in body["detail"]
    assert_problem(client.post(url, json={"kind": "asn", "value": "64496"}, headers=member), 422)
    claim(client, member, sender, "domain", "example.com")
    twice = client.post(url, json={"kind": "domain", "value": "EXAMPLE.com"}, headers=member)
    assert_problem(twice, 409, "claim_not_allowed")
    # A member analyst reads claims but makes none.
    _, analyst = add_member(platform, users, sender, Role.MEMBER_ANALYST)
    assert_problem(client.post(url, json={"kind": "domain", "value": "example.net"}, headers=analyst), 403)
    assert len(client.get(url, headers=analyst).json()["items"]) == 1


def test_conflicts_are_shown_to_staff_with_whose_and_to_members_without(
    client: TestClient, platform: Platform, users: Users
) -> None:
    first = add_organization(platform, name="First Hosting SA")
    second = add_organization(platform, name="Second Mail SAS")
    _, one = add_member(platform, users, first, Role.MEMBER_ADMIN)
    _, two = add_member(platform, users, second, Role.MEMBER_ADMIN)
    wide = claim(client, one, first, "ip_range", "198.51.100.0/24")
    narrow = claim(client, two, second, "ip_range", "198.51.100.128/25")
    assert narrow["conflicts"] == [
        {"kind": "ip_range", "value": "198.51.100.0/24", "state": "pending", "claim_id": None, "organization": None}
    ]
    parent = claim(client, one, first, "domain", "example.net")
    child = claim(client, two, second, "domain", "mail.example.net")
    claim(client, two, second, "domain", "notexample.net")  # no overlap: label-wise

    mine = client.get(f"{API}/claims/{parent['id']}", headers=one)
    assert mine.json()["conflicts"] == [
        {"kind": "domain", "value": "mail.example.net", "state": "pending", "claim_id": None, "organization": None}
    ]
    listed = client.get(f"{API}/organizations/{first}/claims", headers=one)
    assert "Second Mail SAS" not in listed.text  # a member never learns who
    assert str(second) not in {str(c.get("organization")) for i in listed.json()["items"] for c in i["conflicts"]}

    staff = users.headers(Role.ANALYST)
    seen = client.get(f"{API}/claims/{child['id']}", headers=staff).json()
    assert seen["conflicts"] == [
        {
            "kind": "domain",
            "value": "example.net",
            "state": "pending",
            "claim_id": parent["id"],
            "organization": {"id": first, "name": "First Hosting SA"},
        }
    ]
    queue = client.get(f"{API}/claims", params={"state": "pending", "kind": "ip_range"}, headers=staff).json()
    assert [c["id"] for c in queue["items"]] == [wide["id"], narrow["id"]]
    assert queue["items"][0]["conflicts"][0]["organization"]["name"] == "Second Mail SAS"
    page = client.get(f"{API}/claims", params={"limit": 1}, headers=staff).json()
    assert ([c["id"] for c in page["items"]], page["next_cursor"]) == ([wide["id"]], wide["id"])
    rest = client.get(f"{API}/claims", params={"after": page["next_cursor"], "kind": "ip_range"}, headers=staff)
    assert ([c["id"] for c in rest.json()["items"]], rest.json()["next_cursor"]) == ([narrow["id"]], None)

    # A conflict stays shown, never resolved: both can be approved, and a revoked one stops conflicting.
    manager = users.headers(Role.ABUSE_MANAGER)
    client.post(f"{API}/claims/{wide['id']}:approve", json={}, headers=manager)
    assert client.get(f"{API}/claims/{narrow['id']}", headers=two).json()["conflicts"][0]["state"] == "verified"
    client.post(f"{API}/claims/{wide['id']}:revoke", json={"reason": "sold the block"}, headers=one)
    assert client.get(f"{API}/claims/{narrow['id']}", headers=two).json()["conflicts"] == []


def test_revocation_takes_effect_on_the_next_request(client: TestClient, platform: Platform, users: Users) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ABUSE_MANAGER)
    made = claim(client, member, org, "ip_range", "203.0.113.0/24")
    client.post(f"{API}/claims/{made['id']}:approve", json={}, headers=users.headers(Role.ABUSE_MANAGER))
    assert verified_values(platform) == {"203.0.113.0/24"}

    revoke = f"{API}/claims/{made['id']}:revoke"
    assert_problem(client.post(revoke, json={}, headers=member), 422)  # why is required
    response = client.post(revoke, json={"reason": "moved to another provider"}, headers=member)
    assert response.status_code == 200, response.text
    assert verified_values(platform) == set()
    shown = client.get(f"{API}/claims/{made['id']}", headers=member).json()
    assert (shown["state"], shown["reason"]) == ("revoked", "moved to another provider")
    assert_problem(client.post(revoke, json={"reason": "again"}, headers=member), 409, "claim_state")
    actions = [e for e in audit_of(platform, made["id"]) if e.action == "claim.revoke"]
    assert actions[0].detail["reason"] == "moved to another provider"

    # Staff revoke too; a member analyst cannot.
    again = claim(client, member, org, "ip_range", "203.0.113.0/24")  # may be claimed again once revoked
    _, analyst = add_member(platform, users, org, Role.MEMBER_ANALYST)
    assert_problem(client.post(f"{API}/claims/{again['id']}:revoke", json={"reason": "x"}, headers=analyst), 403)
    staff = client.post(
        f"{API}/claims/{again['id']}:revoke", json={"reason": "abuse"}, headers=users.headers(Role.ADMIN)
    )
    assert staff.json()["state"] == "revoked"


def test_a_disabled_organizations_claims_stop_counting(client: TestClient, platform: Platform, users: Users) -> None:
    org = add_organization(platform)
    _, member = add_member(platform, users, org, Role.MEMBER_ADMIN)
    made = claim(client, member, org, "feedback_id", "sender-1")
    client.post(f"{API}/claims/{made['id']}:approve", json={}, headers=users.headers(Role.ABUSE_MANAGER))
    assert verified_values(platform) == {"sender-1"}
    disable_organization(platform, org)
    assert verified_values(platform) == set()


def test_another_organizations_claims_are_not_found(client: TestClient, platform: Platform, users: Users) -> None:
    mine, theirs = add_organization(platform), add_organization(platform)
    _, owner = add_member(platform, users, theirs, Role.MEMBER_ADMIN)
    _, stranger = add_member(platform, users, mine, Role.MEMBER_ADMIN)
    made = claim(client, owner, theirs, "domain", "example.com")
    at = f"{API}/claims/{made['id']}"
    for headers in (stranger, users.headers(Role.REPORTER)):
        assert_problem(client.get(at, headers=headers), 404, "not_found")
        assert_problem(client.get(f"{API}/organizations/{theirs}/claims", headers=headers), 404)
    assert_problem(client.post(f"{at}:verify", json={"proof": "dns_txt"}, headers=stranger), 404)
    assert_problem(client.post(f"{at}:revoke", json={"reason": "mine"}, headers=stranger), 404)
    body = {"kind": "domain", "value": "example.org"}
    assert_problem(client.post(f"{API}/organizations/{theirs}/claims", json=body, headers=stranger), 404)
    # Exactly as a claim that does not exist.
    assert_problem(client.get(f"{API}/claims/{made['id'] + 1000}", headers=stranger), 404, "not_found")
    assert_problem(client.get(f"{API}/claims", headers=stranger), 403)
    assert_unauthorized(client.get(at))
    assert client.get(at, headers=users.headers(Role.ANALYST)).status_code == 200
    assert_problem(client.get(f"{API}/organizations/999999/claims", headers=users.headers(Role.ADMIN)), 404)


@pytest.mark.parametrize("path", ["/organizations/{organization_id}/claims", "/claims/{claim_id}:verify", "/claims"])
def test_the_claims_routes_are_documented(client: TestClient, path: str) -> None:
    document = client.get("/openapi.json").json()
    assert f"{API}{path}" in document["paths"]
    assert "ClaimOut" in document["components"]["schemas"]
