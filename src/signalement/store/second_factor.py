"""The second factor: TOTP (RFC 6238, 30-second steps, 6 digits, one step of drift either way), with pyotp. A
code works once: the last step used is kept, and a code of that step or an earlier one is refused (no replay).
Staff must have one before the pages open for them; anyone else may set one up."""

from __future__ import annotations

import time

import pyotp
import segno
from sqlalchemy import Connection, select, update

from signalement.store.tables import users

ISSUER = "signalement"
STEP_SECONDS = 30


def new_secret() -> str:
    return pyotp.random_base32()


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def qr_svg(uri: str) -> str:
    """The otpauth URI as an inline SVG QR code, for an authenticator app's camera."""
    return str(segno.make(uri, error="m").svg_inline(scale=4, title="TOTP"))


def matching_step(secret: str, code: str, now: float | None = None) -> int | None:
    """The time step the code belongs to (this one or one either side), None if it matches none."""
    code = code.strip().replace(" ", "")
    if not (code.isdigit() and len(code) == 6):
        return None
    totp, now = pyotp.TOTP(secret), time.time() if now is None else now
    for drift in (0, -1, 1):
        at = now + drift * STEP_SECONDS
        if totp.verify(code, for_time=int(at), valid_window=0):
            return int(at // STEP_SECONDS)
    return None


def check(conn: Connection, user_id: int, code: str) -> bool:
    """Whether the code is the user's current one and was never used; a good code is then used up."""
    row = conn.execute(select(users.c.totp_secret, users.c.totp_last_step).where(users.c.id == user_id)).first()
    if row is None or not row.totp_secret:
        return False
    step = matching_step(row.totp_secret, code)
    if step is None or (row.totp_last_step is not None and step <= row.totp_last_step):
        return False
    used = conn.execute(
        update(users)
        .where(users.c.id == user_id, (users.c.totp_last_step.is_(None)) | (users.c.totp_last_step < step))
        .values(totp_last_step=step)
    )
    return used.rowcount == 1  # a concurrent sign-in with the same code loses


def enable(conn: Connection, user_id: int, secret: str, code: str) -> bool:
    """Save a new key once the person proved their app has it (a code from it)."""
    step = matching_step(secret, code)
    if step is None:
        return False
    conn.execute(update(users).where(users.c.id == user_id).values(totp_secret=secret, totp_last_step=step))
    return True


def has_second_factor(conn: Connection, user_id: int) -> bool:
    return bool(conn.execute(select(users.c.totp_secret).where(users.c.id == user_id)).scalar())
