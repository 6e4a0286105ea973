"""Reporters' secret report addresses: `report+<secret>@<domain>`. Mail sent to one is the reporter's report, as
if they had signed in. The secret is a keyed hash of the row's random nonce under the server secret: it can be
shown again on the reporter's page without being stored, and only its SHA-256 is kept to find the row."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update

from signalement.domain.derived_keys import derive
from signalement.store.sql import utcnow
from signalement.store.tables import report_addresses, users

SECRET_LENGTH = 20  # base32 characters: 100 bits
MAX_LIVE = 5  # addresses a reporter holds at once: enough for each mail client, few to watch for leaks


class TooManyAddressesError(Exception):
    """The reporter already holds MAX_LIVE addresses: one must be revoked first."""


@dataclass(frozen=True)
class ReportAddress:
    id: int
    secret: str


def secret_of(server_secret: bytes, nonce: str) -> str:
    digest = derive(server_secret, "report-address", nonce)
    return base64.b32encode(digest).decode().lower()[:SECRET_LENGTH]


def _digest(secret: str) -> bytes:
    return hashlib.sha256(secret.lower().encode()).digest()


def issue_address(conn: Connection, server_secret: bytes, user_id: int) -> ReportAddress:
    """A new address for the reporter; raises TooManyAddressesError when they hold MAX_LIVE already."""
    live = conn.execute(
        select(func.count()).where(report_addresses.c.user_id == user_id, report_addresses.c.revoked_at.is_(None))
    ).scalar_one()
    if live >= MAX_LIVE:
        raise TooManyAddressesError
    nonce = secrets.token_hex(16)
    secret = secret_of(server_secret, nonce)
    row = {"user_id": user_id, "nonce": nonce, "secret_sha256": _digest(secret), "created_at": utcnow()}
    address_id = conn.execute(report_addresses.insert().returning(report_addresses.c.id), row).scalar_one()
    return ReportAddress(int(address_id), secret)


def addresses_of(conn: Connection, server_secret: bytes, user_id: int) -> list[ReportAddress]:
    """The reporter's live addresses, oldest first."""
    rows = conn.execute(
        select(report_addresses.c.id, report_addresses.c.nonce)
        .where(report_addresses.c.user_id == user_id, report_addresses.c.revoked_at.is_(None))
        .order_by(report_addresses.c.id)
    )
    return [ReportAddress(r.id, secret_of(server_secret, r.nonce)) for r in rows]


def revoke_address(conn: Connection, user_id: int, address_id: int) -> bool:
    result = conn.execute(
        update(report_addresses)
        .where(
            report_addresses.c.id == address_id,
            report_addresses.c.user_id == user_id,
            report_addresses.c.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
    )
    return result.rowcount == 1


def owner_of(conn: Connection, secret: str) -> int | None:
    """The user a live secret belongs to (an enabled account), or None."""
    if not 8 <= len(secret) <= 64:
        return None
    found = conn.execute(
        select(report_addresses.c.user_id)
        .join(users, users.c.id == report_addresses.c.user_id)
        .where(
            report_addresses.c.secret_sha256 == _digest(secret),
            report_addresses.c.revoked_at.is_(None),
            users.c.disabled.is_(False),
        )
    ).scalar()
    return int(found) if found is not None else None
