"""The half-reported SMS of conversations with the short number (signalement.domain.sms_conversation)."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

from sqlalchemy import Connection, delete, select

from signalement.domain.sms_conversation import Pending
from signalement.store.tables import sms_conversations


def number_hash(secret: bytes, gateway_id: int, number: str) -> str:
    """A keyed hash of the reporter's phone number as one gateway knows it: the number itself is never stored."""
    return hmac.new(secret, f"{gateway_id}:{number.strip()}".encode(), hashlib.sha256).hexdigest()


def load(conn: Connection, key: str) -> Pending | None:
    row = conn.execute(select(sms_conversations).where(sms_conversations.c.number_hash == key)).first()
    if row is None:
        return None
    return Pending(row.started_at, sender=row.sender, text=row.text, text_received_at=row.text_received_at)


def save(conn: Connection, key: str, gateway_id: int, pending: Pending | None) -> None:
    conn.execute(delete(sms_conversations).where(sms_conversations.c.number_hash == key))
    if pending is not None:
        conn.execute(
            sms_conversations.insert().values(
                number_hash=key,
                gateway_id=gateway_id,
                sender=pending.sender,
                text=pending.text,
                text_received_at=pending.text_received_at,
                started_at=pending.started_at,
            )
        )


def gateway_of(conn: Connection, key: str) -> int | None:
    query = select(sms_conversations.c.gateway_id).where(sms_conversations.c.number_hash == key)
    return conn.execute(query).scalar_one_or_none()


def forget(conn: Connection, key: str, started_at: datetime) -> None:
    """Forget a conversation, unless a newer one took its place meanwhile."""
    conn.execute(
        delete(sms_conversations).where(
            sms_conversations.c.number_hash == key, sms_conversations.c.started_at == started_at
        )
    )
