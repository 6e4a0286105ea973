"""Fixtures of the members' tests: a DNS server and a mail relay on loopback that the platform is set to use, and
organizations and their people made with SQL directly (the tests of claims need no organizations API)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from signalement.domain.accounts import Role
from signalement.domain.members import Entitlements, OrgKind
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store.sql import utcnow
from signalement.store.tables import organizations, users
from tests.conftest import Users
from tests.dnsserver import LoopbackDNS
from tests.relay import Relay

PUBLIC_URL = "https://signalement.example.org"
_names = itertools.count(1)


@pytest.fixture
def dns_server() -> Iterator[LoopbackDNS]:
    with LoopbackDNS({}) as server:
        yield server


@pytest.fixture
def relay() -> Iterator[Relay]:
    with Relay() as running:
        yield running


@pytest.fixture
def settings(settings: Settings, dns_server: LoopbackDNS, relay: Relay) -> Settings:
    return settings.model_copy(
        update={"dns_resolver": dns_server.address, "mail_relay": relay.address, "public_url": PUBLIC_URL}
    )


def add_organization(platform: Platform, kind: OrgKind = OrgKind.SENDER, name: str = "") -> int:
    with platform.engine.begin() as conn:
        return int(
            conn.execute(
                organizations.insert()
                .values(
                    name=name or f"Organization {next(_names)}",
                    kind=kind,
                    entitlements=Entitlements().as_json(),
                    created_at=utcnow(),
                )
                .returning(organizations.c.id)
            ).scalar_one()
        )


def add_member(platform: Platform, users_: Users, organization_id: int, role: Role) -> tuple[int, dict[str, str]]:
    """A person of the organization with this role, and the headers of their token."""
    user_id, token = users_.create(role)
    with platform.engine.begin() as conn:
        conn.execute(update(users).where(users.c.id == user_id).values(organization_id=organization_id))
    return user_id, {"Authorization": f"Bearer {token}"}


def disable_organization(platform: Platform, organization_id: int) -> None:
    with platform.engine.begin() as conn:
        conn.execute(update(organizations).where(organizations.c.id == organization_id).values(disabled_at=utcnow()))
