"""A member's customer's view of its own statistics and complaints: a link with a secret token, for one key of the
member's statistics (its Feedback-ID customer, DKIM domain, IP or network), until it expires or is revoked. Only
the token's SHA-256 is kept."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from signalement.domain.stats import Dimension
from signalement.store.sql import utcnow
from signalement.store.tables import stat_shares

TOKEN_PREFIX = "shr_"  # noqa: S105 - a prefix, not a secret: says what a leaked token opens


@dataclass(frozen=True)
class Share:
    id: int
    organization_id: int
    dimension: Dimension
    value: str
    label: str
    expires_at: datetime
    revoked_at: datetime | None
    created_at: datetime

    @property
    def live(self) -> bool:
        return self.revoked_at is None and self.expires_at > utcnow()


def _share(row: Any) -> Share:
    return Share(row.id, row.organization_id, Dimension(row.dimension), row.value, row.label, row.expires_at,
                 row.revoked_at, row.created_at)  # fmt: skip


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def create(
    conn: Connection, organization_id: int, dimension: Dimension, value: str, label: str, days: int, by: int | None
) -> tuple[Share, str]:
    """The share and its token (shown once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = {"organization_id": organization_id, "dimension": dimension, "value": value, "label": label,
           "digest": _digest(token), "expires_at": utcnow() + timedelta(days=days), "created_by": by,
           "created_at": utcnow()}  # fmt: skip
    share_id = conn.execute(stat_shares.insert().returning(stat_shares.c.id), row).scalar_one()
    made = conn.execute(select(stat_shares).where(stat_shares.c.id == share_id)).one()
    return _share(made), token


def find(conn: Connection, token: str) -> Share | None:
    """The live share this token opens; None for an unknown, expired or revoked one."""
    if not token.startswith(TOKEN_PREFIX) or len(token) > 100:
        return None
    row = conn.execute(select(stat_shares).where(stat_shares.c.digest == _digest(token))).first()
    share = _share(row) if row is not None else None
    return share if share is not None and share.live else None


def listed(conn: Connection, organization_id: int) -> list[Share]:
    query = select(stat_shares).where(stat_shares.c.organization_id == organization_id).order_by(stat_shares.c.id)
    return [_share(r) for r in conn.execute(query)]


def revoke(conn: Connection, organization_id: int, share_id: int) -> bool:
    query = update(stat_shares).where(
        stat_shares.c.id == share_id,
        stat_shares.c.organization_id == organization_id,
        stat_shares.c.revoked_at.is_(None),
    )
    return conn.execute(query.values(revoked_at=utcnow())).rowcount == 1
