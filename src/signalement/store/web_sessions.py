"""Browser sessions of the web application. The cookie carries a random 256-bit token; the database keeps its
SHA-256, the user, a CSRF token of the session's own and when it ends. A session lasts SESSION_HOURS from its last
use (renewed at most every RENEW_MINUTES, not at every page), and never longer than MAX_DAYS."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import Connection, delete, select, update

from signalement.domain.accounts import Role
from signalement.store.accounts import Principal, principal
from signalement.store.sql import utcnow
from signalement.store.tables import users, web_sessions

SESSION_HOURS = 12
RENEW_MINUTES = 10
MAX_DAYS = 7
PENDING_MINUTES = 10


@dataclass(frozen=True)
class WebSession:
    principal: Principal
    csrf_token: str
    pending: str | None = None  # "totp" or "enroll": the pages stay closed until the second factor is done
    enrolling_secret: str | None = None
    renew_due: bool = False


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def open_session(
    conn: Connection, user_id: int, *, pending: str | None = None, enrolling_secret: str | None = None
) -> str:
    """A new session for the user; returns the cookie's token. A pending one (waiting for the second factor)
    lasts PENDING_MINUTES."""
    token, now = secrets.token_urlsafe(32), utcnow()
    conn.execute(
        web_sessions.insert(),
        {
            "token_sha256": _digest(token),
            "user_id": user_id,
            "csrf_token": secrets.token_urlsafe(32),
            "created_at": now,
            "expires_at": now + (timedelta(minutes=PENDING_MINUTES) if pending else timedelta(hours=SESSION_HOURS)),
            "pending": pending,
            "enrolling_secret": enrolling_secret,
        },
    )
    return token


def session_for(conn: Connection, token: str) -> WebSession | None:
    """The live session of an enabled user; None for an unknown, ended or expired one. Reads only: a page view
    takes no write lock (on SQLite it would queue behind the intake's commits); `renew` extends it when due."""
    if not token or len(token) > 100:
        return None
    now = utcnow()
    row = conn.execute(
        select(*_SESSION, *_USER)
        .join(users, users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.token_sha256 == _digest(token), users.c.disabled.is_(False))
    ).first()
    if row is None or row.expires_at <= now:
        return None
    renewed = min(now + timedelta(hours=SESSION_HOURS), row.created_at + timedelta(days=MAX_DAYS))
    due = row.pending is None and renewed - row.expires_at > timedelta(minutes=RENEW_MINUTES)
    caller = principal(conn, row.id, row.email, Role(row.role), row.organization_id)
    if caller is None:  # the person's organization was disabled
        return None
    return WebSession(caller, row.csrf_token, row.pending, row.enrolling_secret, renew_due=due)


def renew(conn: Connection, token: str) -> None:
    """Extend a session by SESSION_HOURS from now, never past MAX_DAYS from its start."""
    now = utcnow()
    row = conn.execute(select(web_sessions.c.created_at).where(web_sessions.c.token_sha256 == _digest(token))).first()
    if row is not None:
        until = min(now + timedelta(hours=SESSION_HOURS), row.created_at + timedelta(days=MAX_DAYS))
        conn.execute(update(web_sessions).where(web_sessions.c.token_sha256 == _digest(token)).values(expires_at=until))


_USER = (users.c.id, users.c.email, users.c.role, users.c.organization_id)
_SESSION = (
    web_sessions.c.csrf_token,
    web_sessions.c.created_at,
    web_sessions.c.expires_at,
    web_sessions.c.pending,
    web_sessions.c.enrolling_secret,
)


def set_enrolling(conn: Connection, token: str, secret: str | None) -> None:
    """Keep (or drop) the second-factor key being set up with this session, until a code confirms it."""
    conn.execute(
        update(web_sessions).where(web_sessions.c.token_sha256 == _digest(token)).values(enrolling_secret=secret)
    )


def close_sessions(conn: Connection, user_id: int, *, keep: str | None = None) -> None:
    """End every session of the user (after a new password), but the one whose token is `keep`."""
    ended = delete(web_sessions).where(web_sessions.c.user_id == user_id)
    conn.execute(ended if keep is None else ended.where(web_sessions.c.token_sha256 != _digest(keep)))


def close_session(conn: Connection, token: str) -> None:
    conn.execute(delete(web_sessions).where(web_sessions.c.token_sha256 == _digest(token)))


def purge_expired(conn: Connection) -> int:
    return conn.execute(delete(web_sessions).where(web_sessions.c.expires_at <= utcnow())).rowcount
