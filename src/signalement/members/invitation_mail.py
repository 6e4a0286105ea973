"""The job that mails an invitation's link to the invited person, through the configured relay. The link is made
again from the invitation's nonce (never stored, never in the queue); a used, revoked or expired invitation is not
sent."""

from __future__ import annotations

import logging

from signalement.smtp.outgoing import platform_mail, send
from signalement.store import organizations as orgs
from signalement.store.db import read
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

INVITATION_MAIL_TASK = "invitation_mail"
log = logging.getLogger(__name__)


def invitation_mail_job(invitation_id: int) -> JobRequest:
    return JobRequest(INVITATION_MAIL_TASK, {"invitation_id": invitation_id}, key=f"invitation:{invitation_id}")


def invitation_mail(ctx: TaskContext, payload: Payload) -> None:
    settings = ctx.settings
    if not settings.mail_relay:
        log.warning("no mail relay configured (SIGNALEMENT_MAIL_RELAY): an invitation was not sent")
        return
    secret = settings.server_secret()
    with read(ctx.engine) as conn:
        found = orgs.token_for(conn, secret, int(payload["invitation_id"]))
        organization = orgs.get(conn, found[0].organization_id) if found and found[0].organization_id else None
    if found is None:
        return
    invitation, token = found
    where = f" {organization.name}" if organization else ""
    link = f"{settings.base_url}/invitation?token={token}"
    message = platform_mail(
        secret,
        sender=settings.effective_mail_from,
        to=invitation.email,
        subject=f"Invitation to signalement{where} / Invitation à signalement{where}",
        text=(
            f"You are invited to join{where} on signalement as {invitation.role}.\n"
            f"Accept before {invitation.expires_at:%Y-%m-%d %H:%M} UTC: {link}\n\n"
            f"Vous êtes invité à rejoindre{where} sur signalement ({invitation.role}).\n"
            f"Acceptez avant le {invitation.expires_at:%d/%m/%Y %H:%M} UTC : {link}\n"
        ),
        auto="auto-generated",
    )
    send(settings.mail_relay, message)


INVITATION_MAIL = TaskSpec(INVITATION_MAIL_TASK, invitation_mail)
