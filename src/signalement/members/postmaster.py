"""The postmaster proof of a claim: a mail to postmaster@<domain> (RFC 5321 requires the mailbox) with a signed,
expiring link; whoever follows it and confirms controls the domain's mail. The link is bound to the pending claim,
so it works once, and nothing is stored: it is its own proof. Confirming takes a POST from the page the link opens,
so a link scanner fetching it confirms nothing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import time

from sqlalchemy import Connection

from signalement.domain.claims import ClaimState, proving_domain
from signalement.smtp.outgoing import platform_mail, send
from signalement.store import claims as store
from signalement.store.db import read
from signalement.work.port import JobRequest, Payload, TaskContext, TaskSpec

POSTMASTER_MAIL_TASK = "claim_postmaster_mail"
CONFIRM_PATH = "/claims/confirm"
LINK_HOURS = 72
log = logging.getLogger(__name__)


def postmaster_of(claim: store.Claim) -> str | None:
    domain = proving_domain(claim.kind, claim.value)
    return f"postmaster@{domain}" if domain else None


def _binding(claim: store.Claim) -> str:
    # A confirmed (or revoked) claim no longer matches its links: each works once, and only while it is pending.
    return f"{claim.id}\0{claim.kind}\0{claim.value}\0{claim.token}\0{claim.state}"


def _signature(secret: bytes, body: str, binding: str) -> str:
    mac = hmac.new(secret, f"claim-postmaster\0{body}\0{binding}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac[:24]).decode().rstrip("=")


def make_link_token(secret: bytes, claim: store.Claim, *, hours: float = LINK_HOURS) -> str:
    payload = {"c": claim.id, "e": int(time.time() + hours * 3600)}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_signature(secret, body, _binding(claim))}"


def claim_of_link(conn: Connection, secret: bytes, token: str, *, for_update: bool = False) -> store.Claim | None:
    """The pending claim a valid, unexpired, unused link is for; None otherwise."""
    body, _, signature = token.partition(".")
    if not body or not signature or len(token) > 300:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        claim_id, expires = int(payload["c"]), int(payload["e"])
    except (ValueError, KeyError, TypeError):
        return None
    if expires < time.time():
        return None
    claim = store.get(conn, claim_id, for_update=for_update)
    if claim is None or claim.state is not ClaimState.PENDING:
        return None
    return claim if hmac.compare_digest(signature, _signature(secret, body, _binding(claim))) else None


def mail_job(claim_id: int) -> JobRequest:
    # Keyed by the hour: however often a member asks, a domain's postmaster gets at most one mail an hour per claim.
    hour = int(time.time() // 3600)
    return JobRequest(POSTMASTER_MAIL_TASK, {"claim_id": claim_id}, key=f"claim-postmaster:{claim_id}:{hour}")


def postmaster_mail(ctx: TaskContext, payload: Payload) -> None:
    settings = ctx.settings
    if not settings.mail_relay:
        log.warning("no mail relay configured (SIGNALEMENT_MAIL_RELAY): a claim's postmaster mail was not sent")
        return
    secret = settings.server_secret()
    with read(ctx.engine) as conn:
        claim = store.get(conn, int(payload["claim_id"]))
        if claim is None or claim.state is not ClaimState.PENDING:
            return
        organization = store.organization_names(conn, [claim.organization_id]).get(claim.organization_id, "")
    to = postmaster_of(claim)
    if to is None:
        return
    link = f"{settings.base_url}{CONFIRM_PATH}?token={make_link_token(secret, claim)}"
    text = (
        f"The organization {organization!r} claims the {claim.kind} {claim.value} as its own on signalement.\n"
        f"If it is theirs, confirm it within {LINK_HOURS} hours: {link}\n"
        "If you did not expect this mail, ignore it: nothing is confirmed without you.\n\n"
        f"L'organisation {organization!r} déclare le {claim.kind} {claim.value} comme le sien sur signalement.\n"
        f"Si c'est exact, confirmez-le dans les {LINK_HOURS} heures : {link}\n"
        "Si vous n'attendiez pas ce message, ignorez-le : rien n'est confirmé sans vous.\n"
    )
    subject = f"Confirm a claim of {claim.value} / Confirmez une déclaration de {claim.value}"
    message = platform_mail(
        secret, sender=settings.effective_mail_from, to=to, subject=subject, text=text, auto="auto-generated"
    )
    send(settings.mail_relay, message)


POSTMASTER_MAIL = TaskSpec(POSTMASTER_MAIL_TASK, postmaster_mail)
