"""Helpers shared by the web integration tests: credentials, problem+json checks, platforms with custom settings."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from signalement.domain.accounts import Role
from signalement.domain.members import Entitlements, OrgKind
from signalement.platform import Platform
from signalement.settings import Settings
from signalement.store import organizations
from signalement.store.migrate import upgrade
from signalement.store.tables import reports, users
from signalement.web.app import create_app
from tests.conftest import Users

PROBLEM_JSON = "application/problem+json"
RFC822 = {"Content-Type": "message/rfc822"}
CLIENT_ADDRESS = ("127.0.0.1", 50000)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def basic(user: str, password: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sha256(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def assert_problem(response: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """An RFC 9457 problem with this status (and code): a clear error, never a stack trace."""
    assert response.status_code == status, f"{response.status_code} {response.text[:500]}"
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["code"], str), body
    assert body["code"], body
    assert isinstance(body["detail"], str), body
    assert body["detail"], body
    assert "Traceback" not in response.text
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_unauthorized(response: httpx.Response, code: str = "unauthorized") -> dict[str, Any]:
    body = assert_problem(response, 401, code)
    challenge = response.headers.get("www-authenticate", "")
    assert "Bearer" in challenge, response.headers
    assert "Basic" in challenge, response.headers
    return body


def message(subject: str, body: str = "Cliquez ici pour confirmer votre compte.") -> bytes:
    """A small, valid RFC 5322 message, distinct for every subject."""
    return (
        "From: Service Client <noreply@bank.example>\r\n"
        "To: victim@example.org\r\n"
        f"Subject: {subject}\r\n"
        "Date: Mon, 02 Nov 2026 10:00:00 +0100\r\n"
        f"Message-ID: <{sha256(subject.encode())[:16]}@bank.example>\r\n"
        "MIME-Version: 1.0\r\n"
        "Content-Type: text/plain; charset=utf-8\r\n"
        "\r\n"
        f"{body}\r\n"
    ).encode()


@contextmanager
def custom_platform(settings: Settings, **overrides: Any) -> Iterator[Platform]:
    """A Platform on the test's database with some settings changed (e.g. a small size limit)."""
    platform = Platform(settings.model_copy(update=overrides))
    upgrade(platform.engine)
    try:
        yield platform
    finally:
        platform.close()


@contextmanager
def app_client(platform: Platform) -> Iterator[TestClient]:
    """A client that shows a server error as the 500 response a real client would get, instead of raising."""
    with TestClient(create_app(platform), client=CLIENT_ADDRESS, raise_server_exceptions=False) as client:
        yield client


def report_count(platform: Platform) -> int:
    with platform.engine.connect() as conn:
        return int(conn.scalar(select(func.count()).select_from(reports)) or 0)


def email_of(platform: Platform, user_id: int) -> str:
    with platform.engine.connect() as conn:
        return str(conn.scalar(select(users.c.email).where(users.c.id == user_id)))


def entitled_member(platform: Platform, users_: Users, **entitled: Any) -> dict[str, str]:
    """The credentials of a member analyst of a new mailbox provider with these entitlements (Entitlements' fields)."""
    user_id, token = users_.create(Role.MEMBER_ANALYST)
    with platform.engine.begin() as conn:
        organization_id = organizations.create(conn, f"Member Co {user_id}", OrgKind.MAILBOX_PROVIDER,
                                               Entitlements(**entitled))  # fmt: skip
        conn.execute(update(users).where(users.c.id == user_id).values(organization_id=organization_id))
    return bearer(token)
