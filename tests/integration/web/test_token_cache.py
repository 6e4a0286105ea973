"""Tokens are remembered for a few seconds only: a revoked token stops working soon after."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient
from sqlalchemy import update

from signalement.platform import Platform
from signalement.store.credentials import TOKEN_CACHE_SECONDS
from signalement.store.sql import utcnow
from signalement.store.tables import api_tokens
from tests.conftest import Users


def test_a_revoked_token_stops_working_once_its_cache_entry_expires(
    client: TestClient, users: Users, platform: Platform
) -> None:
    assert TOKEN_CACHE_SECONDS <= 10
    client.app.state.authenticator.token_cache.ttl = 0.3  # type: ignore[attr-defined]
    user_id, token = users.create()
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/v1/reports", headers=headers).status_code == 200
    with platform.engine.begin() as conn:
        conn.execute(update(api_tokens).where(api_tokens.c.user_id == user_id).values(revoked_at=utcnow()))
    assert client.get("/api/v1/reports", headers=headers).status_code == 200  # still remembered
    time.sleep(0.4)
    assert client.get("/api/v1/reports", headers=headers).status_code == 401
