"""The job that mails a person a link about their account: confirm the address they signed up with, or set a new
password. The link is made when the mail is sent (store/links.py), in the person's language, and goes only to the
account's own address through the configured relay; without a relay nothing is sent (the log says so, never the
link)."""

from __future__ import annotations

import logging

from sqlalchemy import select

from signalement.smtp.outgoing import platform_mail, send
from signalement.store.db import read
from signalement.store.links import Purpose, make_token
from signalement.store.tables import users
from signalement.ui import i18n
from signalement.work.port import Payload, TaskContext, TaskSpec

ACCOUNT_MAIL_TASK = "account_mail"
PATHS = {Purpose.VERIFY: "/verify", Purpose.RESET: "/reset"}
log = logging.getLogger(__name__)


def account_mail(ctx: TaskContext, payload: Payload) -> None:
    settings = ctx.settings
    if not settings.mail_relay:
        log.warning("no mail relay configured (SIGNALEMENT_MAIL_RELAY): an account mail was not sent")
        return
    purpose, user_id = Purpose(payload["purpose"]), int(payload["user_id"])
    secret = settings.server_secret()
    with read(ctx.engine) as conn:
        email = conn.execute(select(users.c.email).where(users.c.id == user_id)).scalar()
        token = make_token(conn, secret, purpose, user_id)
    if email is None or token is None:  # gone, disabled, or already confirmed
        return
    t = i18n.translator(payload.get("lang") or i18n.DEFAULT)
    link = f"{settings.base_url}{PATHS[purpose]}?token={token}"
    message = platform_mail(
        secret,
        sender=settings.effective_mail_from,
        to=email,
        subject=t(f"mail.{purpose}.subject"),
        text=t(f"mail.{purpose}.text", link=link),
        auto="auto-generated",
    )
    send(settings.mail_relay, message)


ACCOUNT_MAIL = TaskSpec(ACCOUNT_MAIL_TASK, account_mail)
