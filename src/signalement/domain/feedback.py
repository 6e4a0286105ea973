"""Feedback loops: a member's subscription to the complaints about its verified claims, granted apart by each
source of complaints, and the signature of its webhook deliveries.

Sources: the association grants its own reporters' complaints (its staff abuse managers decide); each mailbox
provider grants its users' complaints (its member abuse managers decide, case by case, after checking that the
sender follows good practice). A complaint goes to a subscription only through an approved grant of its source.
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum

ASSOCIATION = "association"
WEBHOOK_HEADER = "Signalement-Signature"
REPLAY_WINDOW_SECONDS = 300


class Delivery(StrEnum):
    SMTP = "smtp"
    WEBHOOK = "webhook"
    PULL = "pull"  # GET /api/v1/feedback?cursor=


class Format(StrEnum):
    ARF = "arf"
    XARF = "xarf"


class Content(StrEnum):
    FULL = "full"  # the original message, redacted
    HEADERS = "headers"  # its header block only, redacted


class GrantState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REFUSED = "refused"
    SUSPENDED = "suspended"


class ComplaintState(StrEnum):
    QUEUED = "queued"  # to deliver (smtp, webhook) or to pull
    DELIVERED = "delivered"
    DEAD = "dead"  # delivery failed every attempt: shown to the member and to staff
    UNVERIFIED = "unverified"  # the identity did not authenticate: counted, never delivered


# What a decision does to a grant: from which states, to which state.
DECISIONS: dict[str, tuple[frozenset[GrantState], GrantState]] = {
    "approve": (frozenset({GrantState.PENDING, GrantState.REFUSED}), GrantState.APPROVED),
    "refuse": (frozenset({GrantState.PENDING, GrantState.APPROVED, GrantState.SUSPENDED}), GrantState.REFUSED),
    "suspend": (frozenset({GrantState.APPROVED}), GrantState.SUSPENDED),
    "resume": (frozenset({GrantState.SUSPENDED}), GrantState.APPROVED),
}


def organization_source(organization_id: int) -> str:
    return f"organization:{organization_id}"


def decide(current: GrantState, decision: str) -> GrantState:
    """The grant's next state, or ValueError when the decision does not apply to its current one."""
    allowed, after = DECISIONS[decision]
    if current not in allowed:
        raise ValueError(f"cannot {decision} a grant that is {current}")
    return after


def webhook_signature(secret: bytes, timestamp: int, body: bytes) -> str:
    """`t=<time>,v1=<hex HMAC-SHA256 of "<time>.<body>">`, as Stripe's webhooks sign."""
    mac = hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={mac}"


def webhook_verified(secret: bytes, header: str, body: bytes, now: int, window: int = REPLAY_WINDOW_SECONDS) -> bool:
    """What a member's endpoint checks: a signature of this body under its secret, made within the window."""
    fields = dict(part.split("=", 1) for part in header.split(",") if "=" in part)
    timestamp = fields.get("t", "")
    if not timestamp.isdigit() or abs(now - int(timestamp)) > window:
        return False
    expected = webhook_signature(secret, int(timestamp), body)
    return hmac.compare_digest(expected, header.strip())
