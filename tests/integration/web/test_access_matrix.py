"""Authorization as a matrix: every caller (anonymous, bad tokens, a reporter, each staff role, and each member
role of the organization whose resources the path names and of another one) × every route of the app.

The expectation table is keyed by (method, path) and must cover every route the app serves: a route added
without an entry here makes `test_every_route_has_an_expectation` fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.domain.accounts import Role, Scope
from signalement.domain.claims import ClaimKind, Proof
from signalement.domain.feedback import Content, Delivery, Format
from signalement.domain.members import OrgKind
from signalement.domain.stats import Dimension
from signalement.ingest.ratelimit import RateLimiter
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import cases, claims, feedback, organizations, shares, tables
from signalement.store.accounts import create_user, issue_token
from signalement.store.sql import utcnow
from signalement.web.app import create_app
from tests.conftest import Users
from tests.dnsserver import LoopbackDNS
from tests.integration.web.helpers import (
    RFC822,
    app_client,
    assert_problem,
    assert_unauthorized,
    b64,
    bearer,
    custom_platform,
    message,
)

XARF = (Path(__file__).parents[2] / "fixtures" / "xarf" / "content-phishing.json").read_bytes()
ANONYMOUS, UNKNOWN, REVOKED, DISABLED = "anonymous", "unknown token", "revoked token", "disabled user"
REPORTER, ANALYST, ABUSE_MANAGER, ADMIN = "reporter", "analyst", "abuse_manager", "admin"
BAD_CREDENTIALS = (UNKNOWN, REVOKED, DISABLED)
STAFF = (ANALYST, ABUSE_MANAGER, ADMIN)
SHARERS = (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)  # who gives a customer a link
MEMBER_ROLES = (Role.MEMBER_ADMIN, Role.MEMBER_ANALYST, Role.MEMBER_ABUSE_MANAGER)
OWN = tuple(f"{role} (own)" for role in MEMBER_ROLES)  # of the organization the path names
OTHER = tuple(f"{role} (other)" for role in MEMBER_ROLES)  # of another organization
MEMBERS = (*OWN, *OTHER)
CALLERS = (ANONYMOUS, *BAD_CREDENTIALS, REPORTER, *MEMBERS, *STAFF)

Expected = dict[str, int]


def public(status: int = 200) -> Expected:
    """Served to anyone; credentials are not even looked at."""
    return dict.fromkeys(CALLERS, status)


def authenticated(status: int) -> Expected:
    return {
        ANONYMOUS: 401,
        **dict.fromkeys(BAD_CREDENTIALS, 401),
        **dict.fromkeys((REPORTER, *MEMBERS, *STAFF), status),
    }


def staff_only(status: int) -> Expected:
    return {**authenticated(status), REPORTER: 403, **dict.fromkeys(MEMBERS, 403)}


def admin_only(status: int) -> Expected:
    return {**staff_only(status), ANALYST: 403, ABUSE_MANAGER: 403}


def reporters_own(status: int) -> Expected:
    """The reporter's own resource: members (whose reads are scoped to their organization) do not see it."""
    return {**authenticated(status), **dict.fromkeys(MEMBERS, 404)}


def in_organization(status: int, staff: tuple[str, ...] = STAFF, own: tuple[Role, ...] = MEMBER_ROLES) -> Expected:
    """An organization's resource: the staff and own members named get `status`, the other staff and own members
    403; reporters and another organization's members 404, as if it did not exist."""
    allowed = {*staff, *(f"{role} (own)" for role in own)}
    return {**authenticated(404), **{caller: status if caller in allowed else 403 for caller in (*STAFF, *OWN)}}


def claims_write(status: int) -> Expected:
    """Needs `claims:write` (member admins and abuse managers, staff abuse managers and admins), then the claim's
    organization: those of another one get 404."""
    writers = (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)
    return {
        **authenticated(403),
        **dict.fromkeys((*(f"{r} (own)" for r in writers), ABUSE_MANAGER, ADMIN), status),
        **dict.fromkeys((f"{r} (other)" for r in writers), 404),
    }


def claims_judges(status: int) -> Expected:
    """Staff abuse managers and admins decide what needs a staff approval."""
    return {**staff_only(status), ANALYST: 403}


def subscribers(status: int) -> Expected:
    """A member's feedback loops: made and paused by its member admins and abuse managers, nobody else."""
    writers = (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)
    return {
        **authenticated(403),
        **dict.fromkeys((f"{r} (own)" for r in writers), status),
        **dict.fromkeys(OTHER, 404),
    }


def complaint_sources(own: int, status: int = 200) -> Expected:
    """A source of complaints decides: the association's abuse managers and admins, and a mailbox provider's (both
    organizations here are providers; `own` is what the path's own organization gets)."""
    deciders = (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)
    return {
        **authenticated(403),
        ABUSE_MANAGER: status,
        ADMIN: status,
        **dict.fromkeys((f"{r} (other)" for r in deciders), status),
        **dict.fromkeys((f"{r} (own)" for r in deciders), own),
    }


def managed(status: int) -> Expected:
    """An organization's people, invitations and tokens: changed by staff admins and its member admins."""
    return in_organization(status, (ADMIN,), (Role.MEMBER_ADMIN,))


def listed_for_managers(status: int) -> Expected:
    """The lists of its people and invitations: every staff role reads them, of the members its admins only."""
    return in_organization(status, STAFF, (Role.MEMBER_ADMIN,))


# What each caller gets on each route. Paths are the app's templates; the test fills {report_id} with a report
# of the `reporter` caller, {job_id} with an id that is no dead job, {public_id} with no campaign's id (so staff
# get a 404 past authorization) and {address_id} with no report address's id.
EXPECTED: dict[tuple[str, str], Expected] = {
    ("POST", "/api/v1/reports"): authenticated(202),
    ("POST", "/api/v1/reports:batch"): authenticated(200),
    ("POST", "/api/v1/sms-reports"): authenticated(202),
    ("POST", "/api/v1/sms-reports:batch"): authenticated(200),
    ("POST", "/api/v1/sms/inbound"): authenticated(200),
    ("POST", "/api/v1/xarf"): authenticated(202),
    ("POST", "/api/signaler"): authenticated(202),
    ("OPTIONS", "/api/signaler"): authenticated(200),
    ("GET", "/api/v1/reports"): authenticated(200),
    ("GET", "/api/v1/reports/{report_id}"): reporters_own(200),
    ("POST", "/api/v1/reports/{report_id}:reanalyze"): staff_only(202),
    ("GET", "/api/v1/me/mail-hosts"): authenticated(200),
    ("PUT", "/api/v1/me/mail-hosts"): authenticated(200),
    ("GET", "/api/v1/me/report-by-mail"): authenticated(200),
    ("POST", "/api/v1/me/report-addresses"): authenticated(201),
    ("DELETE", "/api/v1/me/report-addresses/{address_id}"): authenticated(404),
    ("PUT", "/api/v1/me/ack-by-mail"): authenticated(200),
    ("GET", "/api/v1/jobs/dead"): staff_only(200),
    ("POST", "/api/v1/jobs/{job_id}:retry"): staff_only(404),
    ("GET", "/api/v1/campaigns"): staff_only(200),
    ("GET", "/api/v1/campaigns/{public_id}"): staff_only(404),
    ("POST", "/api/v1/campaigns/{public_id}:confirm"): staff_only(404),
    ("GET", "/api/v1/audit"): admin_only(200),
    ("GET", "/api/v1/audit/verify"): admin_only(200),
    ("POST", "/api/v1/organizations"): admin_only(201),
    ("GET", "/api/v1/organizations"): authenticated(200),
    ("GET", "/api/v1/organizations/{organization_id}"): in_organization(200),
    ("PATCH", "/api/v1/organizations/{organization_id}"): in_organization(200, (ADMIN,), ()),
    ("PUT", "/api/v1/organizations/{organization_id}/entitlements"): in_organization(200, (ADMIN, ABUSE_MANAGER), ()),
    ("GET", "/api/v1/organizations/{organization_id}/members"): listed_for_managers(200),
    ("PATCH", "/api/v1/organizations/{organization_id}/members/{user_id}"): managed(200),
    ("POST", "/api/v1/organizations/{organization_id}/invitations"): managed(201),
    ("GET", "/api/v1/organizations/{organization_id}/invitations"): listed_for_managers(200),
    ("DELETE", "/api/v1/organizations/{organization_id}/invitations/{invitation_id}"): managed(404),
    ("POST", "/api/v1/invitations:accept"): public(400),  # a link's token is the only credential: none here
    ("GET", "/api/v1/organizations/{organization_id}/tokens"): managed(200),
    ("POST", "/api/v1/organizations/{organization_id}/tokens"): in_organization(201, (), (Role.MEMBER_ADMIN,)),
    ("DELETE", "/api/v1/organizations/{organization_id}/tokens/{token_id}"): managed(404),
    ("GET", "/api/v1/organizations/{organization_id}/link-key"): managed(200),
    ("POST", "/api/v1/organizations/{organization_id}/claims"): claims_write(201),
    ("GET", "/api/v1/organizations/{organization_id}/claims"): in_organization(200),
    ("GET", "/api/v1/claims"): staff_only(200),
    ("GET", "/api/v1/claims/{claim_id}"): in_organization(200),
    ("POST", "/api/v1/claims/{claim_id}:verify"): claims_write(409),  # an IP range: staff approve it, not DNS
    ("POST", "/api/v1/claims/{claim_id}:evidence"): claims_judges(200),
    ("POST", "/api/v1/claims/{claim_id}:approve"): claims_judges(200),
    ("POST", "/api/v1/claims/{claim_id}:reject"): claims_judges(200),
    ("POST", "/api/v1/claims/{claim_id}:revoke"): claims_write(200),
    ("GET", "/claims/confirm"): public(400),  # a postmaster's link is its own credential: none here
    ("POST", "/claims/confirm"): public(400),
    ("POST", "/api/v1/organizations/{organization_id}/subscriptions"): subscribers(201),
    ("GET", "/api/v1/organizations/{organization_id}/subscriptions"): {**in_organization(200), REPORTER: 403},
    ("POST", "/api/v1/subscriptions/{subscription_id}:suspend"): subscribers(200),
    ("POST", "/api/v1/subscriptions/{subscription_id}:resume"): subscribers(200),
    ("GET", "/api/v1/feedback-requests"): complaint_sources(own=200),
    ("GET", "/api/v1/feedback"): {**authenticated(403), **dict.fromkeys(MEMBERS, 200)},  # complaints go to members
    ("GET", "/api/v1/cfbl-complaints"): staff_only(200),
    ("GET", "/api/v1/organizations/{organization_id}/stats"): {**in_organization(200), REPORTER: 403},
    ("GET", "/api/v1/organizations/{organization_id}/alert-settings"): {**in_organization(200), REPORTER: 403},
    ("PUT", "/api/v1/organizations/{organization_id}/alert-settings"): {
        **in_organization(200, (), (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)),
        REPORTER: 403,
    },
    ("GET", "/api/v1/organizations/{organization_id}/alerts"): {**in_organization(200), REPORTER: 403},
    ("POST", "/api/v1/organizations/{organization_id}/shares"): {**in_organization(201, (), SHARERS), REPORTER: 403},
    ("GET", "/api/v1/organizations/{organization_id}/shares"): {**in_organization(200, (), SHARERS), REPORTER: 403},
    ("POST", "/api/v1/organizations/{organization_id}/shares/{share_id}:revoke"): {
        **in_organization(200, (), SHARERS),
        REPORTER: 403,
    },
    ("GET", "/api/v1/shared/{token}/stats"): public(200),  # the link's token is the credential
    ("GET", "/api/v1/shared/{token}/complaints"): public(200),
    ("GET", "/share/{token}"): public(200),
    ("POST", "/api/v1/organizations/{organization_id}/cases"): {**in_organization(201, (), SHARERS), REPORTER: 403},
    ("GET", "/api/v1/organizations/{organization_id}/cases"): in_organization(200),
    ("GET", "/api/v1/cases"): staff_only(200),
    ("GET", "/api/v1/cases/{case_id}"): in_organization(200),
    ("POST", "/api/v1/cases/{case_id}/events"): in_organization(201),
    ("POST", "/api/v1/cases/{case_id}:transition"): in_organization(200, STAFF, SHARERS),  # each call closes its own
    ("POST", "/api/v1/cases/{case_id}:assign"): in_organization(200, STAFF, ()),
    ("GET", "/api/v1/feeds/urls"): staff_only(200),  # members: only if entitled (test_feeds_api)
    ("GET", "/api/v1/feeds/misp/{name}"): staff_only(200),
    ("GET", "/api/v1/feeds/rpz"): staff_only(200),
    ("GET", "/api/v1/feeds/indicators"): staff_only(200),  # members: only if entitled (test_indicators_api)
    ("GET", "/api/v1/feeds/dnsbl/{kind}"): staff_only(200),
    ("GET", "/api/v1/indicators"): staff_only(200),
    # Anyone checks the public lists (rate-limited); a credential must carry lookup:hashes (a reporter's does not).
    ("GET", "/api/v1/lookup/prefixes"): {**authenticated(200), ANONYMOUS: 200, REPORTER: 403},
    ("POST", "/api/v1/lookup/hashes"): {**authenticated(200), ANONYMOUS: 200, REPORTER: 403},
    ("POST", "/api/v1/lookup/urls"): staff_only(200),  # members: only if entitled to lookup:urls (test_lookup_api)
    ("GET", "/api/v1/indicators/{indicator_id}"): staff_only(200),
    ("POST", "/api/v1/indicators/{indicator_id}:change"): staff_only(200),
    ("GET", "/delisting"): public(200),
    ("GET", "/warning"): public(200),  # the warning page, for anyone
    ("GET", "/go"): public(200),  # an unsigned link: the neutral page, whoever follows it
    ("POST", "/delisting"): public(403),  # no form token: refused, whoever asks
    ("GET", "/api/v1/urls"): staff_only(200),
    ("GET", "/api/v1/urls/{url_id}"): staff_only(200),
    ("POST", "/api/v1/urls/{url_id}:change"): staff_only(200),
    ("POST", "/api/v1/delisting-requests"): public(202),
    ("GET", "/api/v1/delisting-requests"): staff_only(200),
    ("POST", "/api/v1/delisting-requests/{request_id}:decide"): staff_only(200),  # a fresh request each call
    ("GET", "/api/v1/stats"): {**authenticated(403), **dict.fromkeys(STAFF, 422), **dict.fromkeys(MEMBERS, 200)},
    ("PUT", "/api/v1/organizations/{organization_id}/volumes"): {
        **in_organization(204, (), (Role.MEMBER_ADMIN, Role.MEMBER_ABUSE_MANAGER)),
        REPORTER: 403,
    },
    ("POST", "/api/v1/subscriptions/{subscription_id}:decide"): complaint_sources(own=403),  # not on its own loop
    ("GET", "/healthz"): public(),
    ("GET", "/readyz"): public(),
    ("GET", "/metrics"): public(),
    ("GET", "/openapi.json"): public(),
    ("GET", "/docs"): public(),
    ("GET", "/docs/oauth2-redirect"): public(),
    ("GET", "/redoc"): public(),
    # The web application's pages read no API credentials, only their session cookie: every caller here has none,
    # is sent to the sign-in page (303, followed) and gets it; the sign-in form refuses a post without its CSRF
    # value. tests/integration/ui checks the pages with sessions.
    **{
        (method, path): public()
        for method, path in (
            ("GET", "/"),
            ("GET", "/signin"),
            ("POST", "/signout"),
            ("GET", "/language/{lang}"),
            ("GET", "/reports"),
            ("GET", "/reports/{report_id}"),
            ("GET", "/reports/{report_id}/timeline"),
            ("GET", "/report"),
            ("POST", "/report"),
            ("POST", "/report/sms"),
            ("GET", "/signup"),
            ("GET", "/forgot"),
            ("GET", "/reset"),
            ("GET", "/account"),
            ("GET", "/account/data"),
            ("POST", "/account/tokens"),
            ("POST", "/account/tokens/{token_id}/revoke"),
            ("POST", "/account/addresses"),
            ("POST", "/account/addresses/{address_id}/revoke"),
            ("POST", "/account/ack"),
            ("POST", "/account/delete"),
            ("POST", "/account/password"),
            ("POST", "/account/second-factor/start"),
            ("GET", "/account/second-factor"),
            ("POST", "/account/second-factor"),
            ("GET", "/signin/code"),
            ("POST", "/signin/code"),
            ("GET", "/signin/enroll"),
            ("POST", "/signin/enroll"),
            ("GET", "/invitation"),
        )
    },
    **{
        (method, path): public(403)
        for method, path in (
            ("POST", "/signin"),
            ("POST", "/signup"),
            ("POST", "/forgot"),
            ("POST", "/reset"),
            ("POST", "/invitation"),
        )
    },
    ("GET", "/verify"): public(400),  # no link: an invalid one
}


def _walk(routes: Iterable[Any], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        included = getattr(route, "original_router", None)  # recent FastAPI keeps an included router as one route
        if included is not None:
            context = getattr(route, "include_context", None)
            yield from _walk(included.routes, prefix + getattr(context, "prefix", ""))
        elif hasattr(route, "routes") and not hasattr(route, "methods"):  # a Mount or a plain sub-router
            yield from _walk(route.routes, prefix + getattr(route, "path", ""))
        elif getattr(route, "methods", None):
            methods = set(route.methods)
            if "GET" in methods:
                methods.discard("HEAD")  # Starlette answers HEAD for every GET route
            for method in methods:
                yield method, prefix + route.path
        else:
            raise AssertionError(f"a route of an unknown kind: {route!r}")


def served_routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the app serves: its routes, walked, and its OpenAPI document's operations."""
    walked = set(_walk(app.routes))
    documented = {(method.upper(), path) for path, item in app.openapi()["paths"].items() for method in item}
    assert documented <= walked, f"the route walk misses documented operations: {documented - walked}"
    return walked | documented


def test_every_route_has_an_expectation(client: TestClient) -> None:
    assert isinstance(client.app, FastAPI)
    served = served_routes(client.app)
    missing = served - EXPECTED.keys()
    stale = EXPECTED.keys() - served
    assert not missing, f"routes without an entry in the access matrix: {sorted(missing)}"
    assert not stale, f"entries for routes the app no longer serves: {sorted(stale)}"
    for route, expected in EXPECTED.items():
        assert set(expected) == set(CALLERS), route


def _nothing() -> dict[str, str]:
    return {}


def test_the_route_walk_finds_new_and_hidden_routes(platform: Platform) -> None:
    app = create_app(platform)
    router = APIRouter(prefix="/api/v1")
    router.add_api_route("/new-thing", _nothing, methods=["DELETE"], include_in_schema=False)
    app.include_router(router)
    app.add_api_route("/top-level", _nothing, methods=["PUT"])
    served = served_routes(app)
    assert {("DELETE", "/api/v1/new-thing"), ("PUT", "/top-level")} <= served
    assert served - EXPECTED.keys() == {("DELETE", "/api/v1/new-thing"), ("PUT", "/top-level")}


# -- the matrix ------------------------------------------------------------------------------------------------


@dataclass
class World:
    client: TestClient
    platform: Platform
    credentials: dict[str, dict[str, str]]
    reporter_report: int
    organization_id: int  # the organization of the OWN callers
    member_id: int  # its member analyst
    claim_id: int  # a pending claim of an IP range of it
    verified_claim: int  # a verified claim of a domain of it
    subscription_id: int  # a feedback loop of it on that claim
    share_token: str = ""  # a live link to one of its customers' statistics
    case_id: int = 0  # an open case of the own organization
    url_id: int = 0  # a suspected URL
    indicator_id: int = 0  # a listed origin IP

    def fresh_delisting(self) -> int:
        with self.platform.engine.begin() as conn:
            return int(conn.execute(tables.delisting_requests.insert().returning(tables.delisting_requests.c.id), {
                "url": "https://matrix.example.com/", "url_id": self.url_id, "contact": "owner@matrix.example.com",
                "reason": "mine", "state": "pending", "created_at": utcnow(),
            }).scalar_one())  # fmt: skip

    def fresh_case(self) -> int:
        """A new open case, for :transition (each caller's call closes its own)."""
        with self.platform.engine.begin() as conn:
            return cases.create(conn, self.organization_id, Dimension.FEEDBACK_ID, f"matrix:{next(_counter)}",
                                subject="matrix", evidence={}, opened_by=self.member_id)  # fmt: skip

    def fresh_share(self) -> int:
        with self.platform.engine.begin() as conn:
            made, _ = shares.create(conn, self.organization_id, Dimension.DKIM, "customer.example", "C", 7,
                                    self.member_id)  # fmt: skip
            return made.id

    def fresh_claim(self) -> int:
        """A new pending claim, for a route that decides one (each caller's call needs its own)."""
        with self.platform.engine.begin() as conn:
            value = f"198.51.{next(_counter) % 250}.0/24"
            return claims.create(conn, self.organization_id, ClaimKind.IP_RANGE, value, created_by=self.member_id).id

    def fresh_subscription(self) -> int:
        with self.platform.engine.begin() as conn:
            return feedback.create(conn, self.organization_id, name="matrix", claim_ids=[self.verified_claim],
                                   delivery=Delivery.PULL, address=None, webhook_url=None, feedback_format=Format.ARF,
                                   content=Content.FULL, recipient_headers=(), unsubscribe=False,
                                   created_by=self.member_id)  # fmt: skip


_counter = itertools.count(1)
DECIDING = {"/api/v1/claims/{claim_id}:approve", "/api/v1/claims/{claim_id}:reject", "/api/v1/claims/{claim_id}:revoke"}


@pytest.fixture
def world(client: TestClient, platform: Platform, users: Users) -> Iterator[World]:
    credentials: dict[str, dict[str, str]] = {ANONYMOUS: {}, UNKNOWN: bearer("sig_" + "0" * 43)}
    for caller, role in ((REPORTER, Role.REPORTER), (ANALYST, Role.ANALYST), (ABUSE_MANAGER, Role.ABUSE_MANAGER)):
        credentials[caller] = bearer(users.create(role)[1])
    credentials[ADMIN] = bearer(users.create(Role.ADMIN)[1])
    revoked_id, revoked = users.create(Role.ADMIN)
    disabled_id, disabled = users.create(Role.ADMIN)
    with platform.engine.begin() as conn:
        tokens, people = tables.api_tokens, tables.users
        conn.execute(update(tokens).where(tokens.c.user_id == revoked_id).values(revoked_at=utcnow()))
        conn.execute(update(people).where(people.c.id == disabled_id).values(disabled=True))
    credentials[REVOKED], credentials[DISABLED] = bearer(revoked), bearer(disabled)
    members: dict[str, int] = {}
    with platform.engine.begin() as conn:
        own, other = (organizations.create(conn, name, OrgKind.MAILBOX_PROVIDER) for name in ("Own", "Other"))
        for organization_id, callers in ((own, OWN), (other, OTHER)):
            for caller, role in zip(callers, MEMBER_ROLES, strict=True):
                members[caller] = create_user(conn, f"{caller.replace(' ', '-')}@org.example", role)
                conn.execute(update(tables.users).where(tables.users.c.id == members[caller])
                             .values(organization_id=organization_id))  # fmt: skip
                credentials[caller] = bearer(issue_token(conn, members[caller], name="matrix"))
    ack = client.post("/api/v1/reports", content=message("the reporter's own"), headers=credentials[REPORTER] | RFC822)
    assert ack.status_code == 202
    with LoopbackDNS({}) as dns:  # reverse DNS of a claimed range's addresses asks this empty server, not the world
        platform.settings.dns_resolver = dns.address
        world = World(client, platform, credentials, ack.json()["id"], own, members[OWN[1]], 0, 0, 0)
        world.claim_id = world.fresh_claim()
        with platform.engine.begin() as conn:
            verified = claims.create(conn, own, ClaimKind.DOMAIN, "matrix.example.com", created_by=None)
            world.verified_claim = claims.mark_verified(conn, verified, Proof.DNS_TXT, by=None).id
        world.subscription_id = world.fresh_subscription()
        with platform.engine.begin() as conn:
            _, world.share_token = shares.create(conn, own, Dimension.DKIM, "customer.example", "C", 7, None)
        world.case_id = world.fresh_case()
        with platform.engine.begin() as conn:
            world.url_id = conn.execute(tables.urls.insert().returning(tables.urls.c.id), {
                "sha256": b"\x01" * 32, "canonical": "https://matrix.example.com/", "host": "matrix.example.com",
                "first_seen": utcnow(), "last_seen": utcnow(),
            }).scalar_one()  # fmt: skip
            world.indicator_id = conn.execute(tables.indicators.insert().returning(tables.indicators.c.id), {
                "kind": "ip", "value": "192.0.2.25", "state": "confirmed", "first_seen": utcnow(),
                "last_seen": utcnow(), "reports": 2, "sources": 2, "campaigns": [],
            }).scalar_one()  # fmt: skip
        app: FastAPI = client.app  # type: ignore[assignment]
        app.state.anonymous_limiter = RateLimiter(10_000)  # the matrix checks who may, not how often
        yield world


def _request(world: World, method: str, path: str, caller: str) -> httpx.Response:
    url = path.format(
        report_id=world.reporter_report,
        job_id=987_654,
        public_id="cmp-000000000000",
        address_id=987_654,
        lang="fr",
        token_id=987_654,
        organization_id=world.organization_id,
        user_id=world.member_id,
        invitation_id=987_654,
        claim_id=world.fresh_claim() if path in DECIDING else world.claim_id,
        subscription_id=world.fresh_subscription() if path.endswith(":decide") else world.subscription_id,
        share_id=world.fresh_share() if "{share_id}" in path else 0,
        token=world.share_token,
        case_id=world.fresh_case() if path.endswith(":transition") else world.case_id,
        url_id=world.url_id,
        indicator_id=world.indicator_id,
        kind="ip",
        name="manifest.json",
        request_id=world.fresh_delisting() if "{request_id}" in path else 0,
    )
    headers = world.credentials[caller]
    raw = message(f"matrix {method} {path}")
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/api/v1/reports"): {"content": raw, "headers": headers | RFC822},
        ("POST", "/api/v1/reports:batch"): {"json": {"reports": [{"message": b64(raw)}]}},
        ("POST", "/api/v1/sms-reports"): {
            "json": {"sender": "+33600000000", "text": "Colis en attente", "received_at": "2026-11-03T08:15:00Z"}
        },
        ("POST", "/api/v1/sms-reports:batch"): {
            "json": {"reports": [{"sender": "38000", "text": "Colis", "received_at": "2026-11-03T08:15:00Z"}]}
        },
        ("POST", "/api/v1/sms/inbound"): {"json": {"from": "+33611111111", "text": "+33600000000"}},
        ("POST", "/api/signaler"): {"data": {"dossier": "0", "message": b64(raw)}},
        ("PUT", "/api/v1/me/mail-hosts"): {"json": {"mail_hosts": ["mx.example.net"]}},
        ("PUT", "/api/v1/me/ack-by-mail"): {"json": {"ack_by_mail": True}},
        ("POST", "/api/v1/xarf"): {"content": XARF, "headers": headers | {"Content-Type": "application/json"}},
        ("POST", "/api/v1/organizations"): {"json": {"name": "New member", "kind": "brand"}},
        ("PATCH", "/api/v1/organizations/{organization_id}"): {"json": {"name": "Own"}},
        ("PUT", "/api/v1/organizations/{organization_id}/entitlements"): {"json": {"max_tlp": "green"}},
        ("PATCH", "/api/v1/organizations/{organization_id}/members/{user_id}"): {"json": {"role": "member_analyst"}},
        ("POST", "/api/v1/organizations/{organization_id}/invitations"): {
            "json": {"email": "new@org.example", "role": "member_analyst"}
        },
        ("POST", "/api/v1/invitations:accept"): {"json": {"token": "inv_1.notavalidlink", "password": "x" * 12}},
        ("POST", "/api/v1/organizations/{organization_id}/tokens"): {
            "json": {"name": "matrix", "scopes": ["reports:read"]}
        },
        ("POST", "/api/v1/organizations/{organization_id}/claims"): {
            "json": {"kind": "domain", "value": f"matrix-{next(_counter)}.example.com"}
        },
        ("POST", "/api/v1/claims/{claim_id}:verify"): {"json": {"proof": "dns_txt"}},
        ("POST", "/api/v1/claims/{claim_id}:approve"): {"json": {}},
        ("POST", "/api/v1/claims/{claim_id}:reject"): {"json": {"reason": "not theirs"}},
        ("POST", "/api/v1/claims/{claim_id}:revoke"): {"json": {"reason": "no longer ours"}},
        ("POST", "/claims/confirm"): {"data": {"token": "not-a-link"}},
        ("POST", "/api/v1/organizations/{organization_id}/subscriptions"): {
            "json": {"name": "matrix", "claim_ids": [world.verified_claim], "delivery": "pull"}
        },
        ("POST", "/api/v1/subscriptions/{subscription_id}:decide"): {"json": {"decision": "approve"}},
        ("PUT", "/api/v1/organizations/{organization_id}/volumes"): {"json": []},
        ("POST", "/api/v1/organizations/{organization_id}/cases"): {
            "json": {"dimension": "feedback_id", "value": f"esp:matrix-{next(_counter)}", "statement": "matrix"}
        },
        ("POST", "/api/v1/cases/{case_id}/events"): {"json": {"text": "matrix"}},
        ("POST", "/api/v1/urls/{url_id}:change"): {"json": {"tlp": "amber", "reason": "matrix"}},
        ("POST", "/api/v1/indicators/{indicator_id}:change"): {"json": {"tlp": "amber", "reason": "matrix"}},
        ("POST", "/api/v1/campaigns/{public_id}:confirm"): {"json": {"reason": "matrix"}},
        ("GET", "/warning"): {"params": {"url": "https://matrix.example.com/"}},
        ("GET", "/go"): {"params": {"url": "https://matrix.example.com/"}},
        ("POST", "/api/v1/lookup/hashes"): {"json": {"prefixes": ["AAAAAA=="]}},
        ("POST", "/api/v1/lookup/urls"): {"json": {"urls": ["https://matrix.example.com/"]}},
        ("POST", "/api/v1/delisting-requests"): {
            "json": {"url": "https://matrix.example.com/", "contact": "owner@matrix.example.com", "reason": "mine"}
        },
        ("POST", "/api/v1/delisting-requests/{request_id}:decide"): {"json": {"decision": "refuse", "reason": "no"}},
        ("POST", "/api/v1/cases/{case_id}:transition"): {"json": {"state": "closed", "resolution": "matrix"}},
        ("POST", "/api/v1/cases/{case_id}:assign"): {"json": {"user_id": None}},
        ("POST", "/api/v1/organizations/{organization_id}/shares"): {
            "json": {"dimension": "feedback_id", "value": "esp1:cust7", "label": "Customer 7"}
        },
        ("PUT", "/api/v1/organizations/{organization_id}/alert-settings"): {"json": {"delivery": "none"}},
    }
    kwargs: dict[str, Any] = {"headers": headers} | bodies.get((method, path), {})
    response: httpx.Response = world.client.request(method, url, **kwargs)
    return response


@pytest.mark.parametrize(("method", "path"), sorted(EXPECTED), ids=[f"{m} {p}" for m, p in sorted(EXPECTED)])
def test_access(world: World, method: str, path: str) -> None:
    expected = EXPECTED[(method, path)]
    got = {caller: _request(world, method, path, caller) for caller in CALLERS}
    statuses = {caller: response.status_code for caller, response in got.items()}
    assert statuses == expected
    for response in got.values():
        if response.status_code == 401:
            assert_unauthorized(response)
        elif response.status_code >= 400 and path.startswith("/api/"):  # the pages answer browsers in HTML
            assert_problem(response, response.status_code)
    missing = {("POST", "/api/v1/jobs/{job_id}:retry"), ("GET", "/api/v1/campaigns/{public_id}"),
               ("POST", "/api/v1/campaigns/{public_id}:confirm")}  # fmt: skip
    if (method, path) in missing:
        for caller in STAFF:  # past authorization: the job or the campaign does not exist
            assert got[caller].json()["code"] == "not_found"


# -- what the routes show to whom ------------------------------------------------------------------------------


def test_someone_elses_report_is_a_404_like_a_missing_one(world: World, users: Users) -> None:
    other = bearer(users.create(Role.REPORTER)[1])
    theirs = world.client.get(f"/api/v1/reports/{world.reporter_report}", headers=other)
    missing = world.client.get("/api/v1/reports/987654", headers=other)
    assert assert_problem(theirs, 404, "not_found") == assert_problem(missing, 404, "not_found")
    mine = world.client.get(f"/api/v1/reports/{world.reporter_report}", headers=world.credentials[REPORTER])
    assert mine.status_code == 200
    assert mine.json()["id"] == world.reporter_report


def _ids(client: TestClient, headers: dict[str, str], query: str = "") -> list[int]:
    response = client.get(f"/api/v1/reports?limit=500{query}", headers=headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


def test_report_list_is_scoped_to_the_reporter(client: TestClient, users: Users) -> None:
    alice_id, alice = users.create(Role.REPORTER)
    bob_id, bob = users.create(Role.REPORTER)
    posted: dict[int, list[int]] = {alice_id: [], bob_id: []}
    for user_id, token in ((alice_id, alice), (bob_id, bob)):
        for n in range(3):
            response = client.post("/api/v1/reports", content=message(f"{user_id}-{n}"), headers=bearer(token) | RFC822)
            posted[user_id].append(response.json()["id"])
    sms = {"sender": "+33600000000", "text": "Votre colis", "received_at": "2026-11-03T08:15:00Z"}
    posted[bob_id].append(client.post("/api/v1/sms-reports", json=sms, headers=bearer(bob)).json()["id"])
    everything = sorted(posted[alice_id] + posted[bob_id], reverse=True)

    assert _ids(client, bearer(alice)) == sorted(posted[alice_id], reverse=True)
    assert _ids(client, bearer(bob)) == sorted(posted[bob_id], reverse=True)
    assert _ids(client, bearer(alice), f"&reporter_id={bob_id}") == []  # a filter cannot widen the scope
    assert _ids(client, bearer(alice), "&kind=sms") == []
    for role in (Role.ANALYST, Role.ABUSE_MANAGER, Role.ADMIN):
        staff = users.headers(role)
        assert _ids(client, staff) == everything
        assert _ids(client, staff, f"&reporter_id={bob_id}") == sorted(posted[bob_id], reverse=True)
        assert _ids(client, staff, "&kind=sms") == posted[bob_id][-1:]
    # Pagination keeps the scope too.
    first = client.get("/api/v1/reports?limit=2", headers=bearer(alice)).json()
    rest = client.get(f"/api/v1/reports?limit=2&after={first['next_cursor']}", headers=bearer(alice)).json()
    assert [i["id"] for i in first["items"] + rest["items"]] == sorted(posted[alice_id], reverse=True)
    assert rest["next_cursor"] is None


def test_token_scopes_narrow_what_a_role_may_do(client: TestClient, platform: Platform, users: Users) -> None:
    def token(role: Role, scopes: set[Scope]) -> dict[str, str]:
        user_id, _ = users.create(role)
        with platform.engine.begin() as conn:
            return bearer(issue_token(conn, user_id, name="narrow", scopes=scopes))

    read_only, write_only = token(Role.REPORTER, {Scope.REPORTS_READ}), token(Role.REPORTER, {Scope.REPORTS_WRITE})
    assert_problem(client.post("/api/v1/reports", content=message("ro"), headers=read_only | RFC822), 403, "forbidden")
    assert client.get("/api/v1/reports", headers=read_only).status_code == 200
    assert client.post("/api/v1/reports", content=message("wo"), headers=write_only | RFC822).status_code == 202
    assert_problem(client.get("/api/v1/reports", headers=write_only), 403, "forbidden")

    analyst_read_only = token(Role.ANALYST, {Scope.REPORTS_READ})
    report_id = client.get("/api/v1/reports", headers=users.headers(Role.ADMIN)).json()["items"][0]["id"]
    assert_problem(client.post(f"/api/v1/reports/{report_id}:reanalyze", headers=analyst_read_only), 403)
    assert client.get("/api/v1/jobs/dead", headers=analyst_read_only).status_code == 200

    admin_without_admin_scope = token(Role.ADMIN, {Scope.REPORTS_READ, Scope.REPORTS_WRITE})
    assert_problem(client.get("/api/v1/audit", headers=admin_without_admin_scope), 403, "forbidden")
    # A token never gets more than its role: asking a reporter token for `admin` grants nothing more.
    reporter_asking_admin = token(Role.REPORTER, {Scope.ADMIN, Scope.REPORTS_READ})
    assert_problem(client.get("/api/v1/audit", headers=reporter_asking_admin), 403, "forbidden")


# -- anonymous reports -----------------------------------------------------------------------------------------

ANON_RATE = 3


@pytest.fixture
def anonymous_client(settings: Settings) -> Iterator[tuple[TestClient, Platform]]:
    with (
        custom_platform(settings, anonymous_reports=True, anonymous_rate_per_minute=ANON_RATE) as platform,
        app_client(platform) as client,
    ):
        yield client, platform


def test_anonymous_reports_when_enabled(anonymous_client: tuple[TestClient, Platform]) -> None:
    client, platform = anonymous_client
    sms = {"sender": "+33600000000", "text": "Votre colis", "received_at": "2026-11-03T08:15:00Z"}
    first = client.post("/api/v1/reports", content=message("anon 1"), headers=RFC822)
    again = client.post("/api/v1/reports", content=message("anon 1"), headers=RFC822)
    second = client.post("/api/v1/sms-reports", json=sms)
    assert [r.status_code for r in (first, again, second)] == [202, 200, 202]
    assert again.json()["id"] == first.json()["id"]  # the same address and bytes: the same report
    assert first.json()["status_url"] is None  # nothing to read it back with

    limited = client.post("/api/v1/reports", content=message("anon 2"), headers=RFC822)
    assert_problem(limited, 429, "rate_limited")
    assert limited.headers["retry-after"] == str(60 // ANON_RATE)
    assert_problem(client.post("/api/signaler", data={"message": b64(message("anon 3"))}), 429, "rate_limited")

    # An anonymous report cannot be read back, neither anonymously nor by a reporter.
    report_id = first.json()["id"]
    assert_unauthorized(client.get(f"/api/v1/reports/{report_id}"))
    assert_unauthorized(client.get("/api/v1/reports"))
    people = Users(platform)
    reporter, analyst = people.headers(Role.REPORTER), people.headers(Role.ANALYST)
    assert_problem(client.get(f"/api/v1/reports/{report_id}", headers=reporter), 404, "not_found")
    assert _ids(client, reporter) == []
    # Staff see it, with no reporter.
    staff_view = client.get(f"/api/v1/reports/{report_id}", headers=analyst)
    assert staff_view.status_code == 200
    assert staff_view.json()["sha256"] == first.json()["sha256"]

    # The budget is for anonymous callers only; and bad credentials are a 401, never an anonymous report.
    assert client.post("/api/v1/reports", content=message("anon 2"), headers=reporter | RFC822).status_code == 202
    assert_unauthorized(client.post("/api/v1/reports", content=message("anon 4"), headers=bearer("sig_x") | RFC822))


def test_anonymous_rate_limit_is_per_address(settings: Settings) -> None:
    with custom_platform(settings, anonymous_reports=True, anonymous_rate_per_minute=1) as platform:
        app = create_app(platform)  # one app, so one rate limiter, for both addresses
        for n, address in enumerate(("192.0.2.1", "192.0.2.2")):
            with TestClient(app, client=(address, 40000)) as client:
                ok = client.post("/api/v1/reports", content=message(f"per address {n}"), headers=RFC822)
                assert ok.status_code == 202, ok.text
                assert_problem(client.post("/api/v1/reports", content=message(f"again {n}"), headers=RFC822), 429)
