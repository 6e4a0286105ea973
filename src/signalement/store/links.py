"""Links sent by mail (confirm an address, set a new password): signed with the server secret, expiring, and bound
to the state they change, so each works once. A confirmation link is bound to the address it confirms; a password
link to the current password's hash, which it replaces. Nothing is stored: a link is its own proof.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from enum import StrEnum

from sqlalchemy import Connection, select

from signalement.store.tables import users

VERIFY_HOURS = 48
RESET_HOURS = 2


class Purpose(StrEnum):
    VERIFY = "verify"
    RESET = "reset"


_HOURS = {Purpose.VERIFY: VERIFY_HOURS, Purpose.RESET: RESET_HOURS}


def _binding(conn: Connection, purpose: Purpose, user_id: int) -> str | None:
    row = conn.execute(
        select(users.c.email, users.c.password_hash, users.c.email_verified_at).where(
            users.c.id == user_id, users.c.disabled.is_(False)
        )
    ).first()
    if row is None:
        return None
    if purpose is Purpose.VERIFY:
        return None if row.email_verified_at is not None else row.email
    return hashlib.sha256((row.password_hash or "").encode()).hexdigest()


def _signature(secret: bytes, body: str, binding: str) -> str:
    mac = hmac.new(secret, f"{body}\0{binding}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def make_token(conn: Connection, secret: bytes, purpose: Purpose, user_id: int) -> str | None:
    binding = _binding(conn, purpose, user_id)
    if binding is None:
        return None
    payload = {"p": purpose.value, "u": user_id, "e": int(time.time()) + _HOURS[purpose] * 3600}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_signature(secret, body, binding)}"


def user_of(conn: Connection, secret: bytes, purpose: Purpose, token: str) -> int | None:
    """The user a valid, unexpired, unused link of this purpose is for; None otherwise."""
    body, _, signature = token.partition(".")
    if not body or not signature or len(token) > 300:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        user_id, expires = int(payload["u"]), int(payload["e"])
        if payload["p"] != purpose.value or expires < time.time():
            return None
    except (ValueError, KeyError, TypeError):
        return None
    binding = _binding(conn, purpose, user_id)
    if binding is None or not hmac.compare_digest(signature, _signature(secret, body, binding)):
        return None
    return user_id
